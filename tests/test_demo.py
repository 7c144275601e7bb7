"""`papier demo` end to end (slow): the real chain kit → simulated outage → ingest → review → reconcile, in under
two minutes; then every field still awaiting review is set to its true value the way a reviewer does (through
papier.review.queue.decide), and the recollement must classify every scanned payment exactly as the scenario says.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from papier.demo import run_demo

    out = tmp_path_factory.mktemp("demo") / "demo-out"
    buf = io.StringIO()
    t = time.perf_counter()
    res = run_demo(out, console=Console(file=buf, width=120))
    return res, time.perf_counter() - t, buf.getvalue()


def test_demo_runs_end_to_end_in_under_two_minutes(demo):
    res, seconds, text = demo
    assert not res.unavailable, res.unavailable
    assert seconds < 120, f"démo trop lente : {seconds:.0f} s ({res.steps})"
    assert f"papier review --db {res.db_path}" in text
    assert "rapport.html" in text and "Paiements à saisir" in text
    for name in ("rapport.html", "paiements_a_saisir.csv", "a_verifier.csv", "prets.koc", "summary.json",
                 "actes_a_dresser.csv", "soldes_familles.csv", "feuilles.csv"):
        assert (res.report_dir / name).is_file(), name
    s = json.loads((res.report_dir / "summary.json").read_text(encoding="utf-8"))
    assert s["paiements"]["lignes"] > 50
    assert s["feuilles"]["conflits"] + s["feuilles"]["doublons"] >= 1   # the page scanned twice


def test_demo_scans_the_kit_manifest_and_reads_every_register_with_its_lists(demo):
    """Staff scan the manifest pages with the registers: the family numbers, barcodes and card numbers are read
    against the kit's lists, every one of them (the pages read before the manifest was complete included)."""
    import sqlite3

    res, _, text = demo
    assert "lot0_manifeste" in text
    c = sqlite3.connect(res.db_path)
    try:
        chunks = c.execute("SELECT COUNT(*), MAX(count) FROM manifests").fetchone()
        lists = [json.loads(r[0]) if r[0] else None for r in c.execute(
            "SELECT p.known_sets FROM pages p JOIN sheets s ON s.id = p.sheet_id "
            "WHERE s.form IN ('paiement', 'pret', 'retour')")]
    finally:
        c.close()
    assert chunks[0] == chunks[1] > 0
    assert lists and all(ks is not None and {"familles", "documents", "lecteurs"} <= set(ks) for ks in lists)


def _truth_by_place(scans: Path) -> dict[tuple[str, int, int], dict[str, Any]]:
    out = {}
    for line in (scans / "truth.jsonl").read_text(encoding="utf-8").splitlines():
        t = json.loads(line)
        if t["type"] == "entry":
            out[(Path(t["source"]).name, t["index"], t["row"])] = t["fields"]
    return out


def _review_everything(db_path: Path, truth: dict[tuple[str, int, int], dict[str, Any]]) -> list[str]:
    """Set each field in review to its true value; return the auto values that differ from the truth."""
    from papier.db import jload, open_db
    from papier.review.queue import decide

    db = open_db(db_path, create=False)
    silent = []
    try:
        rows = db.execute(
            "SELECT f.id, f.rev, f.name, f.type, f.value, f.status, e.row, p.source, p.idx, s.form "
            "FROM fields f JOIN entries e ON e.id = f.entry_id JOIN sheets s ON s.id = e.sheet_id "
            "JOIN pages p ON p.id = s.page_id WHERE e.has_ink = 1").fetchall()
        for fid, rev, name, ftype, value, status, row, source, idx, form in rows:
            t = truth.get((Path(source).name, idx, row))
            true = None if t is None else t.get(name)
            if status == "review":
                blank = true in (None, "", [], False)
                if blank and ftype in ("text", "digits", "choice"):
                    decide(db, fid, rev or 0, "blank", "test", force=True)
                else:
                    decide(db, fid, rev or 0, "set", "test", true, force=True)
            elif status == "auto" and t is not None and jload(value) != true and not (
                    jload(value) in (None, "", [], False) and true in (None, "", [], False)):
                silent.append(f"{source} p.{idx} l.{row} {form}.{name}: lu {jload(value)!r}, vrai {true!r}")
    finally:
        db.conn.close()
    return silent


def test_after_review_every_payment_is_classified_as_the_truth_says(demo, tmp_path: Path):
    from papier.reconcile import reconcile
    from papier.reconcile.sample import mapping_path
    from test_reconcile_truth import expected_status

    res, _, _ = demo
    scenario = json.loads((res.scans_dir / "scenario.json").read_text(encoding="utf-8"))
    silent = _review_everything(res.db_path, _truth_by_place(res.scans_dir))
    rr = reconcile(res.db_path, res.backup_path, out_dir=tmp_path / "apres", mapping=mapping_path(),
                   kit_layout=res.kit_dir / "layout.json")
    primary = {p.receipt: p for p in rr.payments.lines if "feuille en conflit" not in " ".join(p.reasons)}
    expected = expected_status(scenario)
    got = {r: (primary[r].status if r in primary else "absent") for r in expected}
    wrong = {r: (got[r], s, primary[r].reasons if r in primary else None) for r, s in expected.items()
             if got[r] != s}
    assert not wrong, f"{len(wrong)} paiement(s) mal classé(s) : {wrong} ; valeurs lues fausses : {silent[:20]}"
    assert rr.figures["paiements"]["a_verifier"] == sum(1 for p in rr.payments.lines
                                                        if "feuille en conflit" in " ".join(p.reasons))
