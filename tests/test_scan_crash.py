"""Crash safety: kill -9 in the middle of a batch, run again → the same database as an uninterrupted run."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from scan_ingest import testing as T
from scan_ingest.pipeline import ingest

DPI = 200


def dump(db: Path) -> dict[str, list[tuple]]:
    """Everything that matters, without row ids, run ids and clocks."""
    with sqlite3.connect(db) as c:
        return {
            "pages": c.execute("SELECT seq, source, idx, sha256, status, reason, page_key, copy, orientation, "
                               "residual_mm, align_method, image_path FROM pages ORDER BY seq").fetchall(),
            "sheets": c.execute("SELECT s.page_key, s.copy, s.status, p.seq FROM sheets s JOIN pages p "
                                "ON p.id = s.page_id ORDER BY p.seq").fetchall(),
            "entries": c.execute("SELECT p.seq, e.row, e.kind, e.has_ink, e.printed FROM entries e JOIN sheets s "
                                 "ON s.id = e.sheet_id JOIN pages p ON p.id = s.page_id "
                                 "ORDER BY p.seq, e.row").fetchall(),
            "fields": c.execute("SELECT p.seq, e.row, f.name, f.value, f.status, f.confidence, f.reason, "
                                "f.snippet, f.has_ink FROM fields f JOIN entries e ON e.id = f.entry_id "
                                "JOIN sheets s ON s.id = e.sheet_id JOIN pages p ON p.id = s.page_id "
                                "ORDER BY p.seq, e.row, f.name").fetchall(),
            "scans": c.execute("SELECT source, sha256, status FROM scans ORDER BY source").fetchall(),
        }


def assert_same(got: dict[str, list[tuple]], want: dict[str, list[tuple]], *folders: str) -> None:
    """Every table of two dumps equal, the databases' own folder names aside."""
    def norm(x: object) -> str:
        text = str(x)
        for f in folders:
            text = text.replace(f, "")
        return text

    def rel(rows: list[tuple]) -> list[tuple]:
        return [tuple(norm(x) for x in row) for row in rows]

    for table in want:
        assert rel(got[table]) == rel(want[table]), table


@pytest.fixture(scope="module")
def batch(small_kit, tmp_path_factory):
    d = tmp_path_factory.mktemp("crash")
    imgs = []
    for form in ("paiement", "pret", "main_courante"):
        for serial in (1, 2):
            p = T.find_page(small_kit.out_dir, form, serial)
            img = T.render(small_kit.pdf_path, p["pdf_page"], DPI)
            e = next(e for e in p["entries"] if e.get("kind") != "page")
            for f in e["fields"]:
                if f["type"] in ("text", "digits"):
                    T.scribble(img, p, e["row"], f["name"])
                elif f["type"] == "choice":
                    T.fill_bubble(img, p, e["row"], f["name"], f["options"][0]["value"])
            imgs.append(T.rotate(img, 180) if serial == 2 else img)
    return T.save_pdf(imgs, d / "lot.pdf"), d


def _cli(args: list[str], env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, **env_extra)
    return subprocess.run([sys.executable, "-m", "papier.cli", "scan", "ingest", *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("kill_after", [0, 3])
def test_kill_mid_batch_then_rerun(tmp_path, batch, kill_after):
    pdf, _ = batch
    ref = tmp_path / "ref" / "p.db"
    ingest([str(pdf)], db_path=ref, workers=1)
    db = tmp_path / "crash" / "p.db"
    r = _cli(["--db", str(db), "--workers", "2", str(pdf)], {"PAPIER_FAULT_KILL_AFTER_PAGES": str(kill_after)})
    assert r.returncode == -9, r.stderr
    partial = dump(db)
    assert len(partial["pages"]) == kill_after  # the page being written when killed left nothing behind
    r = _cli(["--db", str(db), "--workers", "2", str(pdf)], {})
    assert r.returncode == 0, r.stderr
    assert "6 page(s)" in r.stdout
    assert_same(dump(db), dump(ref), "crash/", "ref/")


def test_worker_crash_costs_one_page(tmp_path, batch, monkeypatch):
    pdf, _ = batch
    monkeypatch.setenv("PAPIER_FAULT_CRASH_ON_PAGE", "2")
    db = tmp_path / "p.db"
    rep = ingest([str(pdf)], db_path=db, workers=2)
    with sqlite3.connect(db) as c:
        got = c.execute("SELECT idx, status, reason FROM pages ORDER BY seq").fetchall()
    assert len(got) == 6 and rep.pages_seen == 6
    assert got[1][1] == "unidentified" and "brutalement" in got[1][2]
    assert all(g[1] == "identified" for i, g in enumerate(got) if i != 1)


def test_full_disk_stops_cleanly_then_carries_on(tmp_path, batch, small_disk):
    """The disk of the database fills up mid-batch: a French message, exit 1, every stored page whole (its
    evidence file complete, no temporary file left); once there is room, the same command carries on and the
    database is the one an uninterrupted run gives."""
    import hashlib
    import shutil

    pdf, _ = batch
    ref = tmp_path / "ref" / "p.db"
    ingest([str(pdf)], db_path=ref, workers=1)
    disk = small_disk("2m")
    db = disk / "p.db"
    r = _cli(["--db", str(db), "--workers", "2", str(pdf)], {})
    assert r.returncode == 1, r.stdout + r.stderr
    assert "disque plein" in r.stderr and "relancez la même commande" in r.stderr and "Traceback" not in r.stderr
    partial = dump(db)
    assert 0 < len(partial["pages"]) < 6
    for page in partial["pages"]:  # each page's evidence is whole: the file's hash is the page's
        assert hashlib.sha256((disk / page[-1]).read_bytes()).hexdigest() == page[3]
    assert not [p for p in disk.rglob("*") if p.name.endswith(".tmp")]
    big = tmp_path / "big"
    shutil.copytree(disk, big)  # room made: the database and its files moved to a larger disk
    r = _cli(["--db", str(big / "p.db"), "--workers", "2", str(pdf)], {})
    assert r.returncode == 0, r.stderr
    got = dump(big / "p.db")
    assert len(got["pages"]) == 6
    assert_same(got, dump(ref), "big/", "ref/")
