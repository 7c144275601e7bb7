"""Journal order (papier.digits.journal): dates and times never go back down a register's page, so the lines of
a page are read together."""

from __future__ import annotations

import itertools
import json
import sqlite3

import numpy as np
import pytest

from papier.digits.journal import ORDER_PRIOR, Cell, posteriors, sort_key
from papier.forms import FormDefinitionError, builtin_form, parse_form

D = "date_ddmmyy"


def _sure(value: str, prefix: tuple[str, ...] = ()) -> Cell:
    return Cell(prefix, ((value, 0.9999),))


def test_sort_keys_sort_like_the_moments():
    assert sort_key("311226", D) < sort_key("010127", D)
    assert sort_key("05012027", "date_ddmmyyyy") == "2027-01-05"
    assert sort_key("0905", "time_hhmm") < sort_key("1400", "time_hhmm")
    assert sort_key("310226", D) is None and sort_key("12", "time_hhmm") is None and sort_key("1200", None) is None


def test_the_order_settles_a_month_the_reader_hesitated_on():
    cells = [_sure("270926"), Cell((), (("280926", 0.97), ("280426", 0.0299))), _sure("290926")]
    post = posteriors(cells, D)
    assert post[1] is not None and post[1] > 0.999
    # read alone, or with nothing on one side to bracket it, it stays as sure as the reader was
    assert posteriors(cells[1:2], D) == [None]
    assert posteriors(cells[1:], D)[0] == pytest.approx(0.97, abs=0.002)


def test_a_rival_inside_the_bracket_is_not_settled():
    cells = [_sure("250926"), Cell((), (("260926", 0.97), ("280926", 0.029))), _sure("290926")]
    assert posteriors(cells, D)[1] == pytest.approx(0.97, abs=1e-4)


def test_what_the_reader_did_not_list_counts_as_in_order():
    # 2 % of the mass unlisted: even with every listed rival out of order, the best reading stays below 0.98 / 1
    cells = [_sure("270926"), Cell((), (("280926", 0.90), ("280426", 0.08))), _sure("290926")]
    assert posteriors(cells, D)[1] == pytest.approx(0.90 / (0.90 + 0.08 * ORDER_PRIOR + 0.02), rel=1e-3)


def test_a_line_written_late_is_not_pushed_into_order():
    """A forgotten line written days later, read clearly: it stays a sure reading out of order, so the pipeline
    sends it to review rather than trusting either the reader or the order."""
    late = Cell((), (("200926", 0.9995), ("290926", 0.0004)))
    post = posteriors([_sure("270926"), late, _sure("290926")], D)[1]
    assert 0.5 < post < 0.99


def test_a_time_is_ordered_only_within_its_day():
    day1, day2 = ("2026-09-27",), ("2026-09-28",)
    cells = [_sure("1700", day1), Cell(day2, (("0900", 0.97), ("0400", 0.0299))), _sure("1000", day2)]
    assert posteriors(cells, "time_hhmm")[1] == pytest.approx(0.97, abs=1e-4)  # both before 10:00
    cells[2] = _sure("0930", day2)
    assert posteriors(cells, "time_hhmm")[1] == pytest.approx(0.97, abs=1e-4)
    cells[0] = _sure("0830", day2)  # now 08:30 <= t <= 09:30 on the same day: 04:00 is out of order
    assert posteriors(cells, "time_hhmm")[1] > 0.999
    # a line whose date is not certain is out of the chain
    assert posteriors([Cell(None, (("0900", 0.9),)), *cells[1:]], "time_hhmm")[0] is None


def test_forward_backward_is_the_exact_sum_over_every_combination():
    rng = np.random.default_rng(3)
    days = ["250926", "260926", "270926", "280926", "280426"]
    for _ in range(30):
        cells = []
        for _ in range(4):
            vals = list(rng.choice(days, size=int(rng.integers(1, 4)), replace=False))
            p = rng.dirichlet(np.ones(len(vals) + 1))
            cells.append(Cell((), tuple((v, float(s)) for v, s in zip(vals, p[:-1]))))
        # brute force: every combination of readings, the unlisted one (None) in order with anything
        options = [[(v, s) for v, s in c.candidates] + [(None, 1 - sum(s for _, s in c.candidates))] for c in cells]
        marg = np.zeros(len(cells))
        total = 0.0
        for combo in itertools.product(*options):
            w = np.prod([s for _, s in combo])
            for (a, _), (b, _) in zip(combo, combo[1:]):
                if a is not None and b is not None and sort_key(b, D) < sort_key(a, D):
                    w *= ORDER_PRIOR
            total += w
            marg += [w if v == c.candidates[0][0] else 0.0 for (v, _), c in zip(combo, cells)]
        assert posteriors(cells, D) == pytest.approx(list(marg / total), rel=1e-9)


def test_ordered_applies_to_dates_and_times_of_a_register():
    assert [f.name for f in builtin_form("main_courante").fields if f.ordered] == ["date", "heure"]
    assert [f.name for f in builtin_form("paiement").fields if f.ordered] == ["date"]
    assert not any(f.ordered for f in builtin_form("naissance").fields)
    base = ('format = "papier.form/1"\nname = "x"\nversion = 1\ntitle = "X"\nkind = "{kind}"\n'
            '[[fields]]\nname = "n"\ntype = "digits"\nlabel = "N"\n{shape}\nordered = true\n')
    assert parse_form(base.format(kind="table", shape='semantic = "date_ddmmyy"')).fields[0].ordered
    with pytest.raises(FormDefinitionError, match="ordered"):
        parse_form(base.format(kind="table", shape="length = 5"))
    with pytest.raises(FormDefinitionError, match="ordered"):
        parse_form(base.format(kind="fiche", shape='semantic = "date_ddmmyy"'))


def test_the_scan_pipeline_reads_a_journal_page_as_a_whole(small_kit, first_versions_kit, tmp_path, monkeypatch):
    """Real pages through the real pipeline, with and without the journal order: more dates accepted with it, and
    every date accepted either way is the one on the paper (late lines included). The register pages of two kits
    (today's forms and the first versions: 24 pages; the gain on 12 pages varied from +4 to +6 with their random
    content as the forms changed)."""
    import papier.digits as digits
    from papier.simulate import simulate_batch
    from papier.simulate.batch import read_truth
    from scan_ingest.pipeline import ingest

    truth_rows, files = [], []
    for k, kit in enumerate((small_kit, first_versions_kit)):
        out = tmp_path / f"scans{k}"
        truth_rows += read_truth(simulate_batch(kit.out_dir, out, profile="scanner_200", n_pages=12, seed=5))
        files += sorted(str(p) for p in out.iterdir() if p.name != "truth.jsonl")
    keys = [t["page_key"] for t in truth_rows if t["type"] == "page"]
    assert len(keys) == len(set(keys)) == 24  # one sheet per page key: the copy number need not be read
    truth = {(t["page_key"], t["row"]): t["fields"] for t in truth_rows if t["type"] == "entry"}

    def accepted(db) -> dict[tuple[str, int, str], str]:
        con = sqlite3.connect(db)
        rows = con.execute("select s.page_key, e.row, f.name, f.value from fields f join entries e on f.entry_id = e.id "
                           "join sheets s on e.sheet_id = s.id where f.status = 'auto' and f.has_ink = 1 and "
                           "s.form in ('paiement', 'pret', 'retour', 'main_courante') and f.name in ('date', 'heure')")
        return {(k, r, n): json.loads(v) for k, r, n, v in rows}

    ingest(files, tmp_path / "on.db", workers=1)
    monkeypatch.delattr(digits, "journal_verdicts")
    ingest(files, tmp_path / "off.db", workers=1)
    on, off = accepted(tmp_path / "on.db"), accepted(tmp_path / "off.db")
    assert len(on) >= len(off) + 5, (len(on), len(off))
    for (key, row, name), value in {**off, **on}.items():
        assert truth[(key, row)][name] == value, json.dumps([key, row, name, value])
