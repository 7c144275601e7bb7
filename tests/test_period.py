"""The crisis period: `recent` date fields are read with it as their known set (scan_ingest + papier.digits)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

from click.testing import CliRunner

from papier.checks import OUT_OF_PERIOD as OUT
from papier.cli import main
from papier.forms import builtin_form
from papier.simulate import simulate_batch
from scan_ingest.pipeline import default_period, ingest
from scan_ingest.read import ReadContext, _known_of, _near_period


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
    rep = ingest(pdfs, db_path=tmp_path / "a.db", workers=1, period=(dt.date(2031, 1, 1), dt.date(2031, 12, 31)))
    outside = _date_reasons(tmp_path / "a.db")
    assert outside and all(st == "review" for st, _ in outside)
    assert sum(r == OUT for _, r in outside) >= len(outside) // 2  # others: a doubtful box, said first
    # the summary counts them (every form's recent dates, the payments' among them) and says what it may mean
    assert rep.out_of_period >= sum(r == OUT for _, r in outside)
    assert f"{rep.out_of_period} date(s) lue(s) hors de cette période" in rep.summary()
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


def test_the_period_given_once_is_kept_for_the_next_batches(tmp_path):
    empty = tmp_path / "vide"
    empty.mkdir()
    db = tmp_path / "p.db"
    first = ingest([str(empty)], db_path=db, workers=1)
    assert first.period_source == "default" and "par défaut" in first.summary()
    given = ingest([str(empty)], db_path=db, workers=1, period=(dt.date(2026, 9, 14), dt.date(2026, 11, 30)))
    assert given.period_source == "given" and "gardée pour les prochains lots" in given.summary()
    later = ingest([str(empty)], db_path=db, workers=1)  # the next day's batch, --periode not retyped
    assert later.period == ("2026-09-14", "2026-11-30") and later.period_source == "stored"
    assert "lot précédent" in later.summary() and "du 14/09/2026 au 30/11/2026" in later.summary()
    changed = ingest([str(empty)], db_path=db, workers=1, period=(dt.date(2026, 9, 1), dt.date(2026, 12, 15)))
    assert changed.period == ("2026-09-01", "2026-12-15")
    assert ingest([str(empty)], db_path=db, workers=1).period == ("2026-09-01", "2026-12-15")
    assert ingest([str(empty)], db_path=tmp_path / "other.db", workers=1).period_source == "default"


def test_a_due_date_may_lie_after_the_period():
    """A loan's due date (`due`) is set during the crisis for later: its known set runs PERIOD_AFTER_DAYS past the
    period, the loan date's does not."""
    from papier.digits.policy import PERIOD_AFTER_DAYS

    form = builtin_form("pret")
    ctx = ReadContext(files_dir="/nonexistent", rel_prefix="x", period=("2026-09-14", "2026-10-31"))
    loan, due = _known_of(form.field("date"), ctx), _known_of(form.field("retour_prevu"), ctx)
    assert form.field("retour_prevu").due and not form.field("date").due
    assert "311026" in loan and "011126" not in loan and "130926" not in loan
    last = dt.date(2026, 10, 31) + dt.timedelta(days=PERIOD_AFTER_DAYS)
    assert "011126" in due and last.strftime("%d%m%y") in due
    assert (last + dt.timedelta(days=1)).strftime("%d%m%y") not in due and "130926" not in due


def test_a_date_just_before_the_period_still_counts_as_a_rival():
    """13/09 written on a page read with a period from 14/09 (a forgotten line written late on the crisis's first
    day), its "3" read 5 at 0.91 and 3 at 0.08 (bench seed 11): a date outside the period weighs 1/1,000, which made
    15/09 certain (0.9997, accepted). A date just outside it is a plausible slip: it weighs NEAR_PERIOD_PRIOR, and
    the field goes to review with 13/09 offered. A date far outside (a year off) stays as unlikely as before."""
    import numpy as np

    from papier.digits import BoxReading, policy, read_digit_field
    from papier.digits.field import decide

    def box(probs: dict[int, float]) -> BoxReading:
        p = np.full(10, 1e-6)
        for d, v in probs.items():
            p[d] = v
        return BoxReading("digit", p / p.sum(), 0.2)

    def field(second: dict[int, float]) -> list[BoxReading]:
        return [box({1: 0.9999}), box(second), box({0: 0.9999}), box({9: 0.9999}), box({2: 0.9999}),
                box({6: 0.9999})]

    ctx = ReadContext(files_dir="/nonexistent", rel_prefix="x", period=("2026-09-14", "2026-11-23"))
    d = builtin_form("paiement").field("date")
    known = _known_of(d, ctx)
    near = _near_period(d, ctx)
    assert "130926" in near and "140926" not in near and "040926" in near and "030926" not in near
    assert "241126" in near and "031226" in near and "041226" not in near
    readings = field({5: 0.913, 3: 0.08})
    before = read_digit_field(readings, semantic="date_ddmmyy", check=None, known=known)
    assert before.value == "150926" and before.status == "auto"  # what the bench accepted
    after = read_digit_field(readings, semantic="date_ddmmyy", check=None, known=known, near=near)
    assert after.value == "150926" and after.status == "review" and after.alternatives[0] == "130926"
    year = [box({1: 0.9999}), box({5: 0.9999}), box({0: 0.9999}), box({9: 0.9999}), box({2: 0.9999}),
            box({6: 0.913, 5: 0.08})]  # 15/09/26 or 15/09/25: a year off, far outside: settled as before
    a = read_digit_field(year, semantic="date_ddmmyy", check=None, known=known, near=near)
    b = decide(year, semantic="date_ddmmyy", check=None, known=known)
    assert a.status == b.status == "auto" and abs(a.confidence - b.confidence) < 1e-6
    assert policy.UNKNOWN_PRIOR < policy.NEAR_PERIOD_PRIOR < 1
