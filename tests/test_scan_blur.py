"""A blurred phone photo (a moving hand, the focus not settled): its QR codes are read on a sharpened copy when
the plain search finds none, and what is read from the page is right or in review, never silently wrong."""

from __future__ import annotations

import json
import sqlite3

import cv2
import numpy as np
import zxingcpp

from papier.identity import BLANK_PAGE_REASON, decode_payload
from papier.simulate.degrade import _shake
from scan_ingest import testing as T
from scan_ingest.identify import _page_qrs, _read_qrs, blank_page, find_qrs, identify

DPI = 300


def _blurred(img: np.ndarray, sigma_px: float, shake_px: float = 0.0, quality: int = 85) -> np.ndarray:
    f = cv2.GaussianBlur(img.astype(np.float32), (0, 0), sigma_px)
    if shake_px:
        f = _shake(f, shake_px, np.random.default_rng(1))
    ok, buf = cv2.imencode(".jpg", np.clip(f, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


def _plain_search_finds_nothing(gray: np.ndarray) -> bool:
    """Neither the downscaled nor the full-resolution search (what find_qrs does before sharpening) reads a code,
    nor does zxing-cpp left to its own defaults."""
    factor = max(1, max(gray.shape) // 1100)
    return (not _page_qrs(_read_qrs(gray, factor)) and not _page_qrs(_read_qrs(gray, 1))
            and not zxingcpp.read_barcodes(gray))


def test_a_blurred_page_is_identified_on_a_sharpened_copy(small_kit):
    page = T.find_page(small_kit.out_dir, "paiement")
    img = T.render(small_kit.pdf_path, page["pdf_page"], DPI)
    for sigma, shake in ((3.5, 0.0), (3.0, 9.0)):  # defocus 0.3 mm; defocus 0.25 mm and a 0.75 mm shake
        g = _blurred(img, sigma, shake)
        assert _plain_search_finds_nothing(g), (sigma, shake)
        qrs = find_qrs(g)
        assert _page_qrs(qrs) >= 1
        assert {decode_payload(q.text).page_key for q in qrs} == {page["page_key"]}
        # the corners are in the full image's pixels, where the page's QR codes are printed
        mm = DPI / 25.4
        printed = [((q["x"] + q["w"] / 2) * mm, (q["y"] + q["h"] / 2) * mm) for q in page["qr"]]
        for q in qrs:
            c = q.corners.mean(axis=0)
            assert min(np.hypot(c[0] - x, c[1] - y) for x, y in printed) < 3 * mm
        ident = identify(g)
        assert ident.ok and ident.ident.page_key == page["page_key"]


def test_too_blurred_says_so_and_a_blank_sheet_is_blank(small_kit):
    page = T.find_page(small_kit.out_dir, "paiement")
    g = _blurred(T.render(small_kit.pdf_path, page["pdf_page"], DPI), 4.0, 14.0)  # 0.35 mm defocus, 1.2 mm shake
    ident = identify(g)
    assert not ident.ok and "floue" in ident.reason and "renumérisez" in ident.reason
    assert ident.reason != BLANK_PAGE_REASON and not blank_page(g)
    blank = _blurred(np.full((3508, 2480), 250, np.uint8), 3.0)
    assert identify(blank).reason == BLANK_PAGE_REASON


def test_a_blurred_photo_through_the_pipeline_is_read_or_flagged(small_kit, tmp_path):
    """Ticks and digits on a régie page, blurred until the plain QR search fails: the page is identified and
    every value the machine accepts is what is on the paper (the rest waits for a person)."""
    from scan_ingest.pipeline import ingest

    page = T.find_page(small_kit.out_dir, "paiement")
    img = T.render(small_kit.pdf_path, page["pdf_page"], DPI)
    T.tick_box(img, page, 1, "annulee", dpi=DPI)
    T.fill_bubble(img, page, 2, "service", T.field_of(page, 2, "service")["options"][1]["value"], dpi=DPI)
    T.scribble(img, page, 2, "montant", dpi=DPI)
    g = _blurred(img, 3.5)
    assert _plain_search_finds_nothing(g)
    path = T.save_image(g, tmp_path / "photo.jpg", dpi=DPI)
    report = ingest([str(path)], tmp_path / "p.db", workers=1)
    assert report.statuses.get("unidentified", 0) == 0
    con = sqlite3.connect(tmp_path / "p.db")
    (key,) = con.execute("select page_key from pages").fetchone()
    assert key == page["page_key"]
    rows = con.execute("select e.row, f.name, f.type, f.value, f.status from fields f "
                       "join entries e on f.entry_id = e.id").fetchall()
    con.close()
    got = {(r, n): (t, json.loads(v), s) for r, n, t, v, s in rows}
    assert got[(1, "annulee")][1:] in ((True, "auto"), (True, "review"), (False, "review"))
    service = T.field_of(page, 2, "service")["options"][1]["value"]
    assert got[(2, "service")][2] == "review" or got[(2, "service")][1] == service
    boxes = len(T.field_of(page, 2, "montant")["boxes"])
    written = "".join(str((k * 7 + 3) % 10) for k in range(boxes))  # what T.scribble writes in the boxes
    assert got[(2, "montant")][2] == "review" or got[(2, "montant")][1] == written
    for (row, name), (ftype, value, status) in got.items():
        if (row, name) in ((1, "annulee"), (2, "service"), (2, "montant")) or status != "auto":
            continue
        assert value in (None, "", [], False), (row, name, value)  # nothing else was written


def test_a_washed_out_kit_page_is_not_taken_for_blank(small_kit):
    """A register page captured so pale that its solid black reads at 4 % of the paper: no QR code and no ink at
    the ink level, but its corner markers show once its contrast is stretched. It is not blank (a blank page asks
    nothing of anyone): it is unidentified, with a reason that says what to do."""
    page = T.find_page(small_kit.out_dir, "paiement")
    img = T.render(small_kit.pdf_path, page["pdf_page"], 200).astype(np.float32)
    rng = np.random.default_rng(0)
    pale = np.clip(255 - (255 - img) * 0.04 + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8)
    assert not _page_qrs(find_qrs(pale))
    assert not blank_page(pale)
    ident = identify(pale)
    assert not ident.ok and "trop pâle" in ident.reason and ident.reason != BLANK_PAGE_REASON
    white = np.clip(np.full(img.shape, 250.0) + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8)
    assert blank_page(white)  # the same noise on a sheet with nothing printed
