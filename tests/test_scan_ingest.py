"""The scan pipeline on real rendered kit pages (pypdfium2), real files and a real SQLite database."""

from __future__ import annotations

import json
import sqlite3
import struct
import zipfile
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from papier.identity import BLANK_PAGE_REASON, PageIdentity
from papier.render import qr_matrix
from scan_ingest import testing as T
from scan_ingest.pipeline import ingest

DPI = 200


@pytest.fixture(scope="module")
def kit(small_kit):
    return small_kit


@pytest.fixture(scope="module")
def pay(kit):
    """(layout page dict, blank rendered image) of the kit's first payment page."""
    p = T.find_page(kit.out_dir, "paiement", 1)
    return p, T.render(kit.pdf_path, p["pdf_page"], DPI)


def filled(pay):
    """A payment page with known marks: row 1 cheque/creche/total + name + amount; row 2 cancelled;
    row 3 two marks in a single choice."""
    p, blank = pay
    img = blank.copy()
    T.fill_bubble(img, p, 1, "mode", "cheque")
    T.fill_bubble(img, p, 1, "service", "creche")
    T.fill_bubble(img, p, 1, "nature", "total")
    T.scribble(img, p, 1, "payeur")
    T.scribble(img, p, 1, "montant")
    T.tick_box(img, p, 2, "annulee")
    T.fill_bubble(img, p, 3, "mode", "cb")
    T.fill_bubble(img, p, 3, "mode", "especes")
    return img


def rows(db: Path, sql: str, args: tuple = ()) -> list[tuple]:
    with sqlite3.connect(db) as c:
        return c.execute(sql, args).fetchall()


def fields(db: Path, page_seq: int) -> dict[tuple[int, str], tuple]:
    out = {}
    for row, name, value, status, reason, has_ink, snippet in rows(db, (
            "SELECT e.row, f.name, f.value, f.status, f.reason, f.has_ink, f.snippet FROM fields f "
            "JOIN entries e ON e.id = f.entry_id JOIN sheets s ON s.id = e.sheet_id JOIN pages p ON p.id = s.page_id "
            "WHERE p.seq = ?"), (page_seq,)):
        out[(row, name)] = (json.loads(value), status, reason, has_ink, snippet)
    return out


def check_filled_reading(db: Path, seq: int) -> None:
    f = fields(db, seq)
    assert f[(1, "mode")][:2] == ("cheque", "auto")
    assert f[(1, "service")][:2] == ("creche", "auto")
    assert f[(1, "nature")][:2] == ("total", "auto")
    assert f[(1, "payeur")][1] == "review" and f[(1, "payeur")][0] is None and f[(1, "payeur")][4]
    assert f[(1, "montant")][1] == "review" or f[(1, "montant")][0]  # read or flagged, never blank
    assert f[(1, "montant")][3] == 1 and f[(1, "montant")][4]
    assert f[(2, "annulee")][:2] is not None and f[(2, "annulee")][0] is True
    assert f[(3, "mode")][1] == "review" and "plusieurs" in f[(3, "mode")][2]
    # a blank line: no ink anywhere, every field auto and blank
    assert all(v[3] == 0 and v[1] == "auto" for k, v in f.items() if k[0] == 5)
    assert f[(5, "payeur")][0] is None and f[(5, "mode")][0] is None and f[(5, "montant")][0] in ("", None)
    assert (db.parent / f[(1, "payeur")][4]).is_file()
    ink = dict(rows(db, "SELECT e.row, e.has_ink FROM entries e JOIN sheets s ON s.id = e.sheet_id "
                        "JOIN pages p ON p.id = s.page_id WHERE p.seq = ?", (seq,)))
    assert ink[1] == 1 and ink[2] == 1 and ink[3] == 1 and ink[4] == 0


@pytest.mark.parametrize("angle", [0, 90, 180, 270, 3.5, 183])
def test_any_orientation_and_skew(tmp_path, pay, angle):
    p, _ = pay
    T.save_image(T.rotate(filled(pay), angle), tmp_path / "scan.png", DPI)
    db = tmp_path / "p.db"
    rep = ingest([str(tmp_path / "scan.png")], db_path=db, workers=1)
    assert rep.statuses["identified"] == 1, rep.summary()
    (key, orient, residual, copy), = rows(db, "SELECT page_key, orientation, residual_mm, copy FROM pages")
    assert key == p["page_key"] and copy == 0
    assert orient == int(round(angle / 90)) % 4 * 90
    assert residual < 0.3
    check_filled_reading(db, 1)


def test_one_qr_covered_and_hidden_corner(tmp_path, pay):
    p, _ = pay
    a = filled(pay)
    T.cover(a, p, "qr:0")
    b = filled(pay)
    T.cover(b, p, "fid:2")  # a thumb over the bottom-right marker
    c = filled(pay)
    T.cover(c, p, "fid:0")
    T.cover(c, p, "fid:1")  # two corners hidden: QR corners help
    imgs = [T.rotate(a, 180), T.rotate(b, 2.0), c]
    for i, im in enumerate(imgs):
        T.save_image(im, tmp_path / f"s{i}.png", DPI)
    db = tmp_path / "p.db"
    ingest([str(tmp_path / f"s{i}.png") for i in range(3)], db_path=db, workers=1)
    got = rows(db, "SELECT seq, status, page_key, align_method, residual_mm FROM pages ORDER BY seq")
    assert [g[2] for g in got] == [p["page_key"]] * 3
    assert got[1][3] in ("affine-3", "homography-3+qr")
    assert "qr" in got[2][3]
    for seq, *_ in got:
        f = fields(db, seq)
        assert f[(1, "mode")][0] == "cheque" and f[(1, "service")][0] == "creche"


def _paint_qr(img: np.ndarray, rect: dict, payload: str) -> None:
    bits = qr_matrix(payload)
    n = bits.shape[0]
    x0, y0 = T._px(rect["x"], DPI), T._px(rect["y"], DPI)
    size = T._px(rect["w"], DPI)
    tile = np.where(bits, 0, 255).astype(np.uint8)
    import cv2

    img[y0:y0 + size, x0:x0 + size] = cv2.resize(tile, (size, size), interpolation=cv2.INTER_NEAREST)
    assert n > 20


def test_unidentified_pages_with_reasons(tmp_path, kit, pay):
    p, blank = pay
    other = T.find_page(kit.out_dir, "paiement", 2)
    disagree = blank.copy()
    _paint_qr(disagree, p["qr"][1], other["qr_payload"])
    corrupt = blank.copy()
    bad = p["qr_payload"][:-5] + ("AAAAA" if not p["qr_payload"].endswith("AAAAA") else "BBBBB")
    _paint_qr(corrupt, p["qr"][0], bad)
    _paint_qr(corrupt, p["qr"][1], bad)
    unknown = blank.copy()
    future = PageIdentity("paiement", 99, "TESTKIT2", 1).encode()
    _paint_qr(unknown, p["qr"][0], future)
    _paint_qr(unknown, p["qr"][1], future)
    white = np.full_like(blank, 255)  # the back of a sheet scanned recto verso
    note = np.full_like(blank, 255)  # another document: a handwritten note, no code
    cv2.putText(note, "Appeler la mairie", (200, 900), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.2, 40, 2, cv2.LINE_AA)
    foreign = blank.copy()
    alien = PageIdentity("paiement", 1, "ZZZZZZZZ", 1).encode()
    _paint_qr(foreign, p["qr"][0], alien)
    _paint_qr(foreign, p["qr"][1], alien)
    T.save_pdf([disagree, corrupt, unknown, white, foreign, note], tmp_path / "lot.pdf")
    # two whole sheets photographed side by side: each with both its codes
    two = np.hstack([blank, np.full((blank.shape[0], 60), 255, np.uint8),
                     T.render(kit.pdf_path, other["pdf_page"], DPI)])
    T.save_image(two, tmp_path / "deux.png", DPI)
    db = tmp_path / "p.db"
    rep = ingest([str(tmp_path / "lot.pdf"), str(tmp_path / "deux.png")], db_path=db, workers=1,
                 kits={"TESTKIT2"})
    got = rows(db, "SELECT idx, status, page_key, reason, image_path FROM pages ORDER BY seq")
    assert [g[1] for g in got] == ["unidentified"] * 7, got
    assert got[6][3].startswith("2 feuilles sur la même image (TESTKIT2-paiement-001 / TESTKIT2-paiement-002)")
    assert "une par une" in got[6][3]
    got = got[:6]
    assert all(g[2] is None for g in got)
    assert "ne concordent pas" in got[0][3]
    assert "contrôle" in got[1][3]
    assert "version 99" in got[2][3]
    assert got[3][3] == BLANK_PAGE_REASON
    assert "autre kit" in got[4][3]
    assert "aucun QR" in got[5][3] and "blanche" not in got[5][3]
    for g in got:  # the image is kept as evidence
        assert (db.parent / g[4]).is_file()
    assert len(rep.problems) == 7
    # the summary lists the six pages a person must look at, and the blank one apart, with nothing to do
    summary = rep.summary()
    unread = summary.split("Pages non identifiées :")[1].split("page(s) blanche(s)")[0]
    assert unread.count("lot.pdf page") == 5 and "lot.pdf page 4 " not in unread and "deux.png page 1" in unread
    assert "1 page(s) blanche(s)" in summary and "rien à faire" in summary
    assert "lot.pdf : page 4\n" in summary and "7 non identifiée(s) (dont 1 blanche(s))" in summary, summary
    assert rows(db, "SELECT count(*) FROM sheets") == [(0,)]


def test_blank_page_reads_blank(tmp_path, pay):
    _, blank = pay
    T.save_image(blank, tmp_path / "b.png", DPI)
    db = tmp_path / "p.db"
    ingest([str(tmp_path / "b.png")], db_path=db, workers=1)
    assert rows(db, "SELECT count(*), sum(has_ink) FROM entries") == [(len(rows(db, "SELECT id FROM entries")), 0)]
    assert rows(db, "SELECT DISTINCT status FROM fields") == [("auto",)]
    assert rows(db, "SELECT count(*) FROM fields WHERE snippet IS NOT NULL") == [(0,)]


def test_idempotent_duplicate_conflict(tmp_path, pay):
    p, _ = pay
    img = filled(pay)
    T.save_pdf([img], tmp_path / "a.pdf")
    T.save_pdf([img], tmp_path / "copy_of_a.pdf")  # the same JPEG bytes in another file
    rescan = T.rotate(img, 1.0)
    T.save_pdf([rescan], tmp_path / "rescan.pdf")
    db = tmp_path / "p.db"
    ingest([str(tmp_path / "a.pdf")], db_path=db, workers=1)
    snap = rows(db, "SELECT count(*) FROM fields"), rows(db, "SELECT count(*) FROM pages")
    ingest([str(tmp_path / "a.pdf")], db_path=db, workers=1)
    assert (rows(db, "SELECT count(*) FROM fields"), rows(db, "SELECT count(*) FROM pages")) == snap
    ingest([str(tmp_path / "copy_of_a.pdf"), str(tmp_path / "rescan.pdf")], db_path=db, workers=1)
    got = rows(db, "SELECT source, status, page_key, reason FROM pages ORDER BY seq")
    assert [g[1] for g in got] == ["identified", "duplicate", "conflict"]
    assert "même image" in got[1][3] and "déjà lue" in got[2][3]
    assert rows(db, "SELECT status FROM sheets ORDER BY id") == [("primary",), ("conflict",)]
    assert rows(db, "SELECT count(*) FROM fields") == [(2 * snap[0][0][0],)]


def test_photocopied_blank_is_its_own_sheet(tmp_path, pay):
    from scan_ingest.read import _digits_api

    p, blank = pay
    orig = filled(pay)
    photocopy = blank.copy()
    T.fill_bubble(photocopy, p, 1, "mode", "especes")
    T.scribble(photocopy, p, 99 if False else len(p["entries"]), "copie")
    T.save_pdf([orig, photocopy], tmp_path / "lot.pdf")
    db = tmp_path / "p.db"
    ingest([str(tmp_path / "lot.pdf")], db_path=db, workers=1)
    sheets = rows(db, "SELECT page_key, copy, status FROM sheets ORDER BY id")
    assert len(sheets) == 2 and sheets[0] == (p["page_key"], 0, "primary")
    copie = fields(db, 2)[(len(p["entries"]), "copie")]
    assert copie[3] == 1 and copie[4]  # ink seen, snippet kept
    if _digits_api() is not None and copie[1] == "auto":
        assert sheets[1][1] == int(copie[0]) and sheets[1][2] == "primary"
    else:  # the copy number is not certain: kept, flagged, never merged with the original
        assert sheets[1][1] is None and copie[1] == "review"


def test_bad_inputs_do_not_stop_the_batch(tmp_path, pay, kit):
    good = T.save_image(filled(pay), tmp_path / "good.png", DPI)
    raw = kit.pdf_path.read_bytes()
    (tmp_path / "truncated.pdf").write_bytes(raw[: len(raw) // 3])
    (tmp_path / "empty.pdf").write_bytes(b"")
    with zipfile.ZipFile(tmp_path / "lettre.docx", "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    # a PNG that claims 60000 x 60000 pixels (a decompression bomb): only its header is read
    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)  # noqa: E731
    (tmp_path / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100))
                                        + chunk(b"IEND", b""))
    from reportlab.pdfgen.canvas import Canvas

    c = Canvas(str(tmp_path / "secret.pdf"), encrypt="motdepasse")
    c.drawString(100, 100, "secret")
    c.showPage()
    c.save()
    T.save_image(np.full((2000, 1400), 255, np.uint8), tmp_path / "blank.png", DPI)
    (tmp_path / "broken.jpg").write_bytes(good.read_bytes()[:10])
    inputs = ["truncated.pdf", "empty.pdf", "lettre.docx", "bomb.png", "secret.pdf", "blank.png", "missing.pdf",
              "good.png"]
    db = tmp_path / "p.db"
    rep = ingest([str(tmp_path / n) for n in inputs], db_path=db, workers=2)
    by_source = {Path(s).name: (st, r) for s, st, r in rows(db, "SELECT source, status, reason FROM pages")}
    assert by_source["good.png"][0] == "identified"
    assert "vide" in by_source["empty.pdf"][1]
    assert "Word" in by_source["lettre.docx"][1]
    assert "démesurée" in by_source["bomb.png"][1]
    assert "mot de passe" in by_source["secret.pdf"][1]
    assert by_source["blank.png"][1] == BLANK_PAGE_REASON
    assert "introuvable" in by_source["missing.pdf"][1]
    assert any("truncated.pdf" in s for s in by_source) and all(
        st == "unidentified" for n, (st, _) in by_source.items() if n.startswith("truncated"))
    assert "good.png" not in " ".join(s for s, _, _ in rep.problems)
    assert "lettre.docx" in rep.summary()


def test_reader_failure_is_a_recorded_problem(tmp_path, pay, monkeypatch):
    img = filled(pay)
    T.save_pdf([img, T.rotate(img, 90), T.rotate(img, 180)], tmp_path / "lot.pdf")
    monkeypatch.setenv("PAPIER_FAULT_RAISE_ON_PAGE", "2")
    db = tmp_path / "p.db"
    rep = ingest([str(tmp_path / "lot.pdf")], db_path=db, workers=2)
    got = rows(db, "SELECT idx, status, reason FROM pages ORDER BY seq")
    assert [g[1] for g in got] == ["identified", "unidentified", "conflict"]
    assert "panne simulée" in got[1][2]
    assert rep.pages_seen == 3


def test_keep_work_pictures(tmp_path, pay):
    p, _ = pay
    T.save_image(filled(pay), tmp_path / "s.png", DPI)
    ingest([str(tmp_path / "s.png")], db_path=tmp_path / "p.db", keep_work=tmp_path / "work", workers=1)
    assert [x.name for x in (tmp_path / "work").iterdir()] == [f"000001_{p['page_key']}.png"]


def test_folder_input_and_tiff(tmp_path, pay):
    img = filled(pay)
    d = tmp_path / "scans" / "lot"
    d.mkdir(parents=True)
    T.save_tiff([img, T.rotate(img, 180)], d / "b.tif")
    T.save_image(img, d / "a.jpg", DPI)
    (d / ".DS_Store").write_bytes(b"junk")
    db = tmp_path / "p.db"
    ingest([str(tmp_path / "scans")], db_path=db, workers=1)
    got = rows(db, "SELECT source, idx, status FROM pages ORDER BY seq")
    assert [(Path(s).name, i) for s, i, _ in got] == [("a.jpg", 1), ("b.tif", 1), ("b.tif", 2)]
    assert got[0][0] == str(tmp_path / "scans" / "lot" / "a.jpg")
    assert [g[2] for g in got] == ["identified", "conflict", "conflict"]


def test_iphone_photos_heic_and_live_photo_video(tmp_path, pay):
    """An iPhone's photos copied by cable are HEIC files (with a .MOV beside each « Live Photo »): the HEIC is read
    like a JPEG photo, its own bytes kept as the evidence; the video and an AVIF get a message each."""
    import hashlib

    from papier.review.images import PageImages
    from scan_ingest.sources import load_kept, pillow

    p, _ = pay
    img = T.rotate(filled(pay), 90)  # a photo taken in landscape
    d = tmp_path / "DCIM"
    d.mkdir()
    pillow().fromarray(img).convert("RGB").save(d / "IMG_0001.HEIC", quality=80)  # libheif (x265), as a phone
    assert (d / "IMG_0001.HEIC").read_bytes()[4:12] == b"ftypheic"
    (d / "IMG_0001.MOV").write_bytes(b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  " + bytes(4096))
    (d / "IMG_0002.AVIF").write_bytes(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(4096))
    db = tmp_path / "p.db"
    rep = ingest([str(d)], db_path=db, workers=1)
    by_name = {Path(s).name: (st, r, path, sha, w, h) for s, st, r, path, sha, w, h in rows(
        db, "SELECT source, status, reason, image_path, sha256, width, height FROM pages")}
    st, _, path, sha, w, h = by_name["IMG_0001.HEIC"]
    assert st == "identified", rep.summary()
    assert rows(db, "SELECT page_key, orientation FROM pages WHERE status = 'identified'") == [(p["page_key"], 90)]
    check_filled_reading(db, 1)
    kept = db.parent / path
    assert kept.suffix == ".heic" and kept.read_bytes() == (d / "IMG_0001.HEIC").read_bytes()
    assert sha == hashlib.sha256(kept.read_bytes()).hexdigest()
    assert load_kept(kept).shape == img.shape  # what a re-read decodes
    assert PageImages(db.parent).gray(1, path).shape == img.shape  # what the review page shows
    assert "vidéo" in by_name["IMG_0001.MOV"][1] and "AVIF" in by_name["IMG_0002.AVIF"][1]
    snap = rows(db, "SELECT count(*) FROM pages"), rows(db, "SELECT count(*) FROM fields")
    ingest([str(d)], db_path=db, workers=1)  # the same folder again: nothing changes
    assert (rows(db, "SELECT count(*) FROM pages"), rows(db, "SELECT count(*) FROM fields")) == snap
