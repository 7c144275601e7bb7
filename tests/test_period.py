"""The crisis period: `recent` date fields are read with it as their known set (scan_ingest + papier.digits)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

from click.testing import CliRunner

from papier.cli import main
from papier.simulate import simulate_batch
from scan_ingest.pipeline import default_period, ingest

OUT = "date hors de la période de la crise"


def _date_reasons(db_path) -> list[tuple[str, str | None]]:
    c = sqlite3.connect(db_path)
    try:
        return c.execute("SELECT f.status, f.reason FROM fields f JOIN entries e ON e.id = f.entry_id "
                         "JOIN sheets s ON s.id = e.sheet_id WHERE s.form = 'paiement' AND f.name = 'date' "
                         "AND f.has_ink").fetchall()
    finally:
        c.close()


def test_dates_outside_the_period_go_to_review(small_kit, tmp_path):
    truth = simulate_batch(small_kit.out_dir, tmp_path / "scans", profile="scanner_300", n_pages=6, seed=3)
    pdfs = sorted(str(p) for p in (tmp_path / "scans").iterdir() if p.suffix == ".pdf")
    days = [json.loads(line) for line in truth.read_text(encoding="utf-8").splitlines()]
    assert any(t.get("form") == "paiement" for t in days)
    ingest(pdfs, db_path=tmp_path / "a.db", workers=1, period=(dt.date(2031, 1, 1), dt.date(2031, 12, 31)))
    outside = _date_reasons(tmp_path / "a.db")
    assert outside and all(st == "review" for st, _ in outside)
    assert sum(r == OUT for _, r in outside) >= len(outside) // 2  # others: a doubtful box, said first
    ingest(pdfs, db_path=tmp_path / "b.db", workers=1)  # default period: around today
    inside = _date_reasons(tmp_path / "b.db")
    assert len(inside) == len(outside) and not any(r == OUT for _, r in inside)


def test_default_period_surrounds_the_reading_day():
    a, b = default_period(dt.date(2026, 11, 22))
    assert a == dt.date(2024, 11, 22) and b == dt.date(2027, 1, 23)


def test_bad_period_is_refused_in_french(tmp_path):
    db = str(tmp_path / "x.db")
    r = CliRunner().invoke(main, ["scan", "ingest", "--db", db, "--periode", "2026-13-01:2026-12-01", str(tmp_path)])
    assert r.exit_code == 2 and "AAAA-MM-JJ:AAAA-MM-JJ" in r.output
    r = CliRunner().invoke(main, ["scan", "ingest", "--db", db, "--periode", "2026-12-01:2026-09-01", str(tmp_path)])
    assert r.exit_code == 2 and "avant son début" in r.output


def test_the_summary_says_which_period_was_used(tmp_path):
    empty = tmp_path / "vide"
    empty.mkdir()
    rep = ingest([str(empty)], db_path=tmp_path / "p.db", workers=1,
                 period=(dt.date(2026, 9, 14), dt.date(2026, 11, 30)))
    assert "Dates de la crise attendues du 14/09/2026 au 30/11/2026" in rep.summary()
