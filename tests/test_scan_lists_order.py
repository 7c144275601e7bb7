"""The kit's lists (roster, catalogue, readers' cards) come from its manifest pages: the order pages are scanned in
must not change what is read. Registers read before the manifest are read again from their kept images once it
is known — in the same batch or in a later one — and give exactly what they give with the manifest scanned first;
a person's decision survives that re-read."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import cv2
import pytest

from scan_ingest import testing as T

PAGES = 6
LIST_FORMS = {"paiement", "pret", "retour"}  # the built-in registers with a field read against a kit list


def _kit_of(db: Path) -> str:
    """The kit id of the sheets stored in `db` (one kit)."""
    c = sqlite3.connect(db)
    try:
        return c.execute("SELECT DISTINCT kit_id FROM sheets").fetchone()[0]
    finally:
        c.close()


def _fields(db: Path) -> dict[tuple, tuple]:
    c = sqlite3.connect(db)
    try:
        rows = c.execute(
            "SELECT s.page_key, s.copy, e.row, f.name, f.value, f.status, f.confidence, f.alternatives, f.reason "
            "FROM fields f JOIN entries e ON e.id = f.entry_id JOIN sheets s ON s.id = e.sheet_id").fetchall()
    finally:
        c.close()
    return {r[:4]: r[4:] for r in rows}


@pytest.fixture(scope="module", params=["scanner_300", "fax"])
def batch(request, small_kit, tmp_path_factory):
    """A batch of filled register pages of a profile, as a PDF (scanner_300: JPEG pages, kept as they are; fax:
    1-bit pages, rendered with grey edges, so their kept PNG no longer looks bilevel) and the kit's manifest pages
    as 200-dpi PNGs."""
    from papier.simulate import simulate_batch

    tmp = tmp_path_factory.mktemp(f"lists_{request.param}")
    simulate_batch(small_kit.out_dir, tmp / "registres", profile=request.param, n_pages=PAGES, seed=11,
                   fmt="pdf")
    regs = sorted(str(p) for p in (tmp / "registres").iterdir() if p.name != "truth.jsonl")
    truth = [json.loads(line) for line in (tmp / "registres" / "truth.jsonl").read_text().splitlines()]
    with_lists = sum(1 for t in truth if t["type"] == "page" and t["form"] in LIST_FORMS)
    man = tmp / "manifeste"
    man.mkdir()
    for m in small_kit.layout["manifest_pages"]:
        cv2.imwrite(str(man / f"z_manifeste_{m['pdf_page']:03d}.png"),
                    T.render(small_kit.pdf_path, m["pdf_page"], 200))
    mans = sorted(str(p) for p in man.iterdir())
    from scan_ingest.pipeline import ingest

    first = tmp / "first.db"  # as the kit says: the manifest pages first, in a batch of their own
    ingest(mans, db_path=first, workers=1)
    ingest(regs, db_path=first, workers=2)
    return regs, mans, _fields(first), with_lists


def test_manifest_at_the_end_of_the_batch_reads_the_registers_again(batch, tmp_path):
    from scan_ingest.pipeline import ingest

    regs, mans, expected, with_lists = batch
    db = tmp_path / "end.db"
    rep = ingest(regs + mans, db_path=db, workers=2)
    assert rep.reread_this_run == with_lists > 0 and rep.reread_earlier == 0
    assert _fields(db) == expected
    assert "Relues avec les listes du kit" in rep.summary()
    c = sqlite3.connect(db)
    try:  # what a re-read needs besides the image: a fax page's kept PNG has grey edges, its row says bilevel
        bilevel = {r[0] for r in c.execute("SELECT bilevel FROM pages WHERE sheet_id IS NOT NULL")}
    finally:
        c.close()
    assert bilevel == ({1} if "fax" in regs[0] else {0})
    again = ingest(regs + mans, db_path=db, workers=2)  # nothing new, nothing read again
    assert again.statuses["skip"] == PAGES + len(mans) and again.reread_this_run == again.reread_earlier == 0


def test_manifest_first_in_the_same_batch_reaches_the_pages_after_it(batch, tmp_path):
    from scan_ingest.pipeline import ingest

    regs, mans, expected, with_lists = batch
    db = tmp_path / "same.db"
    rep = ingest(mans + regs, db_path=db, workers=1)
    assert rep.reread_this_run == 0  # one worker: every register page was read after the manifest
    assert _fields(db) == expected


def test_manifest_in_a_later_batch_updates_earlier_pages_but_keeps_decisions(batch, tmp_path):
    from papier.db import open_db
    from papier.review.queue import decide
    from scan_ingest.pipeline import ingest

    regs, mans, expected, with_lists = batch
    db = tmp_path / "later.db"
    rep = ingest(regs, db_path=db, workers=2)
    kit = _kit_of(db)
    assert rep.without_lists == {kit: with_lists} and not rep.manifest_incomplete
    assert f"{with_lists} page(s) du kit {kit} lue(s) sans ses listes" in rep.summary()
    assert "n'ont pas encore été scannées" in rep.summary()
    rep = ingest(mans[:1], db_path=db, workers=1)  # one manifest page of several: still no lists
    assert rep.manifest_incomplete and rep.manifest_incomplete[kit][0] < rep.manifest_incomplete[kit][1]
    assert rep.reread_earlier == 0 and not rep.without_lists  # (this batch read no register page)
    without = _fields(db)
    changed = [k for k in expected if expected[k] != without[k]]
    assert changed, "the lists changed nothing: this test would not see a re-read"
    # a person settles one value the lists would have changed, before the manifest is scanned
    key = changed[0]
    con = open_db(db)
    fid, rev = con.execute(
        "SELECT f.id, f.rev FROM fields f JOIN entries e ON e.id = f.entry_id JOIN sheets s ON s.id = e.sheet_id "
        "WHERE s.page_key = ? AND e.row = ? AND f.name = ?", [key[0], key[2], key[3]]).fetchone()
    assert decide(con, fid, rev, "accept", "agent A")["ok"]
    con.conn.close()
    decided = _fields(db)[key]
    assert decided[1] == "verified"

    rep = ingest(mans[1:], db_path=db, workers=2)
    assert not rep.manifest_incomplete and not rep.without_lists
    assert rep.fields_review == 0 and rep.review_earlier > 0  # a batch of manifest pages still points at the review
    assert f"Encore {rep.review_earlier} valeur(s) à vérifier" in rep.summary() and "papier review" in rep.summary()
    assert rep.reread_earlier == with_lists and rep.reread_changed >= len(changed) - 1
    after = _fields(db)
    assert after[key] == decided  # the person's decision stands
    assert {k: v for k, v in after.items() if k != key} == {k: v for k, v in expected.items() if k != key}
    c = sqlite3.connect(db)
    try:
        revs = c.execute("SELECT COUNT(*) FROM fields WHERE rev > 0 AND decision IS NULL").fetchone()[0]
    finally:
        c.close()
    assert revs == len(changed) - 1  # every machine reading replaced is a new revision (stale review posts fail)
    assert ingest(mans, db_path=db, workers=2).reread_earlier == 0  # once is enough


def test_a_kept_jpeg_first_read_at_half_size_is_read_again_at_half_size(small_kit, tmp_path):
    """A scan over sources.DOWNSCALE_ABOVE_DPI is decoded at half size; its kept JPEG carries no trace of that."""
    from PIL import Image

    from scan_ingest.sources import DOWNSCALE_ABOVE_DPI, PageRef, evidence_bytes, load_kept, load_page

    dpi = 400
    assert dpi > DOWNSCALE_ABOVE_DPI
    p = T.find_page(small_kit.out_dir, "paiement", 1)
    path = tmp_path / "scan.jpg"
    Image.fromarray(T.render(small_kit.pdf_path, p["pdf_page"], dpi)).save(path, quality=90, dpi=(dpi, dpi))
    page = load_page(PageRef("scan.jpg", str(path), 1, "jpeg"))
    kept = tmp_path / "kept.jpg"
    kept.write_bytes(evidence_bytes(page))
    again = load_kept(kept, page.gray.shape)
    assert again.shape == page.gray.shape and (again == page.gray).all()
    assert load_kept(kept).shape[0] in (2 * page.gray.shape[0], 2 * page.gray.shape[0] - 1)  # not told: full size


def test_killed_while_reading_again_then_run_again_gives_the_same_readings(batch, tmp_path):
    """kill -9 inside the re-read of the second register page: the first one's new reading is kept, the rest
    resume on the next run, and the result is the uninterrupted one."""
    import os
    import subprocess
    import sys

    from scan_ingest.pipeline import ingest

    regs, mans, expected, with_lists = batch
    assert with_lists >= 2
    db = tmp_path / "crash.db"
    ingest(regs, db_path=db, workers=2)

    def cli(env_extra: dict[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "papier.cli", "scan", "ingest", "--db", str(db),
                               "--workers", "2", *mans], env=dict(os.environ, **env_extra),
                              capture_output=True, text=True, timeout=300)

    r = cli({"PAPIER_FAULT_KILL_AFTER_PAGES": str(len(mans) + 1)})
    assert r.returncode == -9, r.stderr
    c = sqlite3.connect(db)
    try:
        done = c.execute("SELECT COUNT(*) FROM pages WHERE known_sets LIKE '%familles%'").fetchone()[0]
    finally:
        c.close()
    assert done == 1
    r = cli({})
    assert r.returncode == 0, r.stderr
    assert f"Relues avec les listes du kit (familles, catalogue, lecteurs) : {with_lists - 1} page(s)" in r.stdout
    assert _fields(db) == expected
