"""The page control total as a check over every amount of the page (papier.digits.page_sum, scan_ingest.read)."""

from __future__ import annotations

import numpy as np

import papier.digits as digits
from papier.digits import BoxReading, SumTerm, joint_confidence
from papier.digits.field import decide
from papier.forms import builtin_form
from papier.layout import layout_form
from scan_ingest.model import EntryResult, FieldResult
from scan_ingest.read import _check_totals, _joint_totals


def _term(best: str, p: float, *alts: tuple[str, float], sign: int = 1) -> SumTerm:
    return SumTerm(((best, p), *alts), sign)


def test_best_readings_that_add_up_are_trusted():
    terms = [_term("1250", 0.97, ("1750", 0.02)), _term("0800", 0.98, ("0900", 0.01)),
             _term("2050", 0.95, ("2950", 0.03), sign=-1)]
    c = joint_confidence(terms)
    assert c > 0.995
    # ... more than any of the fields alone
    assert c > max(t.candidates[0][1] for t in terms)


def test_readings_that_do_not_add_up_give_nothing():
    assert joint_confidence([_term("1250", 0.999), _term("0800", 0.999), _term("2000", 0.999, sign=-1)]) == 0.0


def test_two_compensating_misreads_lower_the_confidence():
    # line 1 could be 1750 (+500) and line 2 0300 (-500): the sum would hold with both misread
    safe = joint_confidence([_term("1250", 0.9, ("1950", 0.099)), _term("0800", 0.9, ("0300", 0.099)),
                             _term("2050", 0.999, sign=-1)])
    risky = joint_confidence([_term("1250", 0.9, ("1750", 0.099)), _term("0800", 0.9, ("0300", 0.099)),
                              _term("2050", 0.999, sign=-1)])
    assert risky < 0.99 < safe


def test_unexplored_mass_is_counted_against():
    full = joint_confidence([_term("1250", 0.99, ("1750", 0.01)), _term("1250", 0.99, ("1750", 0.01), sign=-1)])
    leaky = joint_confidence([_term("1250", 0.9), _term("1250", 0.9, sign=-1)])
    assert leaky < full


def test_cancelled_line_hypothesis_needs_one_misread_only():
    # the total may or may not count a cancelled line of 500: one misread of +500 would explain the other reading
    base = joint_confidence([_term("1250", 0.95, ("1750", 0.04)), _term("1250", 0.95, sign=-1)])
    alt = joint_confidence([_term("1250", 0.95, ("1750", 0.04)), _term("1250", 0.95, sign=-1)], alt_offsets=[500])
    assert alt < base
    assert alt < 0.97


# --- in the page reader ------------------------------------------------------------------------------------------

def _boxes(s: str, p: float, alt: dict[int, int] | None = None) -> list[BoxReading]:
    out = []
    for i, ch in enumerate(s):
        probs = np.full(10, 1e-7)
        probs[int(ch)] = p
        if alt and i in alt:
            probs[alt[i]] = 1 - p
        out.append(BoxReading("digit", probs / probs.sum(), 0.2))
    return out


def _page(amounts: list[str], total: str, p: float):
    """Real paiement layout; fields as the reader would leave them (digits decided by papier.digits.field)."""
    layout = layout_form(builtin_form("paiement"))
    raw: dict[int, object] = {}
    entries = []
    for e in layout.line_entries[:len(amounts)]:
        fr = []
        for f in e.fields:
            if f.name == "montant":
                r = decide(_boxes(amounts[e.row - 1], p, {3: 7}), semantic="amount_cents", check=None)
                x = FieldResult(f.name, f.type, r.value, r.status, r.confidence, r.alternatives, r.reason, True)
                raw[id(x)] = r
                fr.append(x)
            elif f.name == "annulee":
                fr.append(FieldResult(f.name, f.type, False, "auto", 0.99, [], None, False))
        entries.append(EntryResult(e.row, e.kind, {}, True, fr))
    r = decide(_boxes(total, p, {4: 3}), semantic="amount_cents", check=None)
    t = FieldResult("total", "digits", r.value, r.status, r.confidence, r.alternatives, r.reason, True)
    raw[id(t)] = r
    entries.append(EntryResult(layout.page_entry.row, "page", {}, True, [t]))
    return layout, entries, raw


def _statuses(entries):
    return [fr.status for en in entries for fr in en.fields if fr.type == "digits"]


def test_page_total_accepts_uncertain_amounts_that_add_up():
    layout, entries, raw = _page(["001250", "000800", "003000"], "0005050", 0.995)
    assert set(_statuses(entries)) == {"review"}  # each alone is below the unchecked threshold
    _joint_totals(layout, entries, digits, raw)
    _check_totals(layout, entries)
    assert set(_statuses(entries)) == {"auto"}
    assert [fr.value for en in entries for fr in en.fields if fr.type == "digits"] == \
        ["001250", "000800", "003000", "0005050"]
    assert all(fr.confidence >= digits.PAGE_TOTAL_CONFIDENCE for en in entries for fr in en.fields
               if fr.type == "digits")


def test_page_total_that_does_not_add_up_changes_nothing():
    layout, entries, raw = _page(["001250", "000800", "003000"], "0005060", 0.995)
    _joint_totals(layout, entries, digits, raw)
    assert set(_statuses(entries)) == {"review"}


def test_uncertain_cancel_tick_leaves_the_page_in_review():
    layout, entries, raw = _page(["001250", "000800"], "0002050", 0.995)
    for fr in entries[0].fields:
        if fr.name == "annulee":
            fr.status = "review"
    _joint_totals(layout, entries, digits, raw)
    assert set(_statuses(entries)) == {"review"}


def test_amount_in_review_for_a_structural_reason_is_not_rescued():
    layout, entries, raw = _page(["001250", "000800"], "0002050", 0.995)
    amount = entries[0].fields[0]
    r = raw[id(amount)]
    raw[id(amount)] = type(r)(r.value, "review", r.confidence, r.alternatives, "case douteuse (rature ou trait)",
                              False, r.candidates, False)
    _joint_totals(layout, entries, digits, raw)
    assert amount.status == "review"


def test_three_compensating_misreads_are_counted():
    # +500 on line 1, +300 on line 2, and the total read 800 too high would also add up
    base = [_term("1250", 0.9, ("1750", 0.09)), _term("0800", 0.9, ("1100", 0.09)),
            _term("2050", 0.9, ("2850", 0.09), sign=-1)]
    other = [_term("1250", 0.9, ("1750", 0.09)), _term("0800", 0.9, ("1100", 0.09)),
             _term("2050", 0.9, ("2950", 0.09), sign=-1)]
    assert joint_confidence(base) < joint_confidence(other) - 0.0005
