"""Recollement against a simulated outage whose truth is known (papier.simulate.outage's scenario.json).

Fast path: the entries are built from truth.jsonl as if every value had been read right (status auto), so the
classification logic is checked against the scenario without depending on the reader. The slow end-to-end
test (real ingest, review fields set to their true value the way a reviewer does) is in test_demo.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from papier.reconcile import reconcile_data
from papier.reconcile.library import parse_koc
from papier.reconcile.paper import PaperData
from papier.reconcile.sample import _receipt, _scenario_payments, sample_restored

TODAY = __import__("datetime").date(2026, 11, 22)


@pytest.fixture(scope="module")
def outage(small_kit, tmp_path_factory):
    from papier.simulate.outage import simulate_outage

    out = tmp_path_factory.mktemp("outage")
    truth = simulate_outage(small_kit.out_dir, out, weeks=3, seed=1)
    scenario = json.loads((out / "scenario.json").read_text(encoding="utf-8"))
    lines = [json.loads(x) for x in truth.read_text(encoding="utf-8").splitlines() if x.strip()]
    return small_kit, scenario, lines


def paper_from_truth(lines: list[dict[str, Any]]) -> PaperData:
    entries, pages, sheets = [], [], []
    for t in lines:
        if t["type"] == "page":
            status = "conflict" if t.get("rescan_of") else ("identified" if t.get("page_key") else "unidentified")
            pages.append({"source": t["source"], "index": t["index"], "sha256": f"{t['source']}#{t['index']}",
                          "page_key": t.get("page_key"), "status": status, "reason": t.get("reason")})
            if t.get("page_key"):
                sheets.append({"page_key": t["page_key"], "copy": t.get("copy"),
                               "status": "conflict" if t.get("rescan_of") else "primary"})
        elif t["type"] == "entry":
            entries.append({"page_key": t["page_key"], "form": t["form"], "row": t["row"], "kind": t.get("kind"),
                            "copy": t.get("copy"), "printed": t.get("printed") or {},
                            "sheet_status": "conflict" if t.get("rescan") else "primary",
                            "fields": {k: {"value": v, "status": "auto", "confidence": 1.0}
                                       for k, v in t["fields"].items()}})
    return PaperData(entries, pages, sheets)


def expected_status(scenario: dict[str, Any]) -> dict[str, str]:
    """receipt -> the class each scanned paper payment must get, from the scenario and the sample's re-entries."""
    real = _scenario_payments(scenario)
    reentered = {_receipt(p): ("conflit" if i == 5 else "connu") for i, p in enumerate(real) if i % 12 == 5}
    out = {}
    for p in scenario["payments"]:
        if not p.get("scanned"):
            continue
        r = _receipt(p)
        if p["cancelled"]:
            out[r] = "annulee"
        elif p["duplicate_of"]:
            out[r] = "conflit"
        else:
            out[r] = reentered.get(r, "a_saisir")
    return out


def test_every_paper_payment_is_found_and_classified(outage, tmp_path: Path):
    kit, scenario, lines = outage
    res = reconcile_data(paper_from_truth(lines), sample_restored(scenario), tmp_path / "r", layout=kit.layout,
                         today=TODAY)
    primary = {p.receipt: p for p in res.payments.lines if "feuille en conflit" not in " ".join(p.reasons)}
    expected = expected_status(scenario)
    assert set(primary) == set(expected)
    got = {r: primary[r].status for r in expected}
    assert got == expected
    # figures equal the truth
    real = {_receipt(p): p for p in scenario["payments"] if p.get("scanned")}
    todo = [r for r, s in expected.items() if s == "a_saisir"]
    assert res.figures["paiements"]["a_saisir"] == {
        "nombre": len(todo), "montant_centimes": sum(real[r]["amount_cents"] for r in todo)}
    for r in todo:
        p = primary[r]
        t = real[r]
        assert (p.famille, p.montant, p.date.isoformat(), p.service, p.mode) == (
            t["famille"], t["amount_cents"], t["date"], t["service"], t["mode"])
    # the page scanned twice with another image: its lines are listed for a human, never counted
    rescanned = {(x["page_key"], x["copy"]) for x in scenario["rescanned"]}
    for p in res.payments.lines:
        if p.status in ("a_saisir", "connu"):
            assert (p.page_key, p.copy) not in rescanned or "feuille en conflit" not in " ".join(p.reasons)
    # control totals: the simulator writes right totals
    assert res.figures["paiements"]["totaux_pages"]["ecart"] == 0


def test_lost_sheets_and_receipts(outage, tmp_path: Path):
    kit, scenario, lines = outage
    res = reconcile_data(paper_from_truth(lines), sample_restored(scenario), tmp_path / "r", layout=kit.layout,
                         today=TODAY)
    lost = {(m["page_key"], m["copy"]) for m in scenario["missing_pages"]}
    flagged = {(ln.page_key, 0) for ln in res.ledger.lines if ln.kind == "manquante"}
    # a lost original sheet before the last scanned page of its register is reported missing
    scanned_serials = [int(p["page_key"][-3:]) for p in scenario["pages"] if p["form"] == "paiement" and p["scanned"]]
    for key, copy in lost:
        if copy == 0 and int(key[-3:]) < max(scanned_serials):
            assert (key, 0) in flagged
            receipts = {m.quittance for m in res.ledger.missing_receipts if m.page_key == key}
            on_it = {p["receipt"] for p in scenario["payments"] if p["page_key"] == key and p["copy"] == 0}
            assert on_it <= receipts
        elif copy:
            # the journal continued on photocopies of the whole register: a lost copy before the last one scanned
            later = [p for p in scenario["pages"] if p["form"] == "paiement" and p["scanned"]
                     and (p["copy"], p["page_key"]) > (copy, key)]
            if later:
                assert any(ln.kind == "manquante" and ln.page_key == key and f"photocopie n° {copy} " in ln.detail
                           for ln in res.ledger.lines), (key, copy)
                receipts = {m.quittance for m in res.ledger.missing_receipts if m.page_key == key}
                assert {f"{p['receipt']}-c{copy}" for p in scenario["payments"]
                        if p["page_key"] == key and p["copy"] == copy} <= receipts
    assert res.figures["feuilles"]["conflits"] == len(scenario["rescanned"])


def test_library_replay_matches_the_scenario(outage, tmp_path: Path):
    kit, scenario, lines = outage
    res = reconcile_data(paper_from_truth(lines), sample_restored(scenario), tmp_path / "r", layout=kit.layout,
                         today=TODAY)
    header, cmds = parse_koc((tmp_path / "r" / "prets.koc").read_text(encoding="utf-8"))
    assert header["Version"] == "1.0"
    loans = [x for x in scenario["loans"] if x.get("scanned") and not x.get("cancelled")]
    issues = sorted((c["date"], c["cardnumber"], c["barcode"]) for c in cmds if c["command"] == "issue")
    assert issues == sorted((x["date"], x["carte"], x["code_barres"]) for x in loans)
    returns = sorted((c["date"], c["barcode"]) for c in cmds if c["command"] == "return")
    exp_returns = [(x["returned"], x["code_barres"]) for x in loans if x.get("returned")]
    exp_returns += [(x["date"], x["code_barres"]) for x in scenario["returns"] if x.get("scanned")]
    assert returns == sorted(exp_returns)
    assert [(c["date"], c["time"], c["id"]) for c in cmds] == sorted((c["date"], c["time"], c["id"]) for c in cmds)
    # every item lent on paper and not returned is still out
    out = {s.barcode for s in res.library.still_out}
    assert {x["code_barres"] for x in loans if not x.get("returned")} <= out


def test_civil_status_fiches(outage, tmp_path: Path):
    kit, scenario, lines = outage
    res = reconcile_data(paper_from_truth(lines), sample_restored(scenario), tmp_path / "r", layout=kit.layout,
                         today=TODAY)
    births = [b for b in scenario["births"] if b.get("scanned")]
    deaths = [d for d in scenario["deaths"] if d.get("scanned")]
    fiches = [f for f in res.civil.fiches if "feuille en conflit" not in " ".join(f.review)]
    assert sorted(f.event.isoformat() for f in fiches if f.type == "naissance") == \
        sorted(b["date_naissance"] for b in births)
    assert sorted(f.event.isoformat() for f in fiches if f.type == "deces") == sorted(d["date_deces"] for d in deaths)
    assert all(f.status == "a_dresser" and f.passed for f in fiches)  # nothing drawn up, all late by November
