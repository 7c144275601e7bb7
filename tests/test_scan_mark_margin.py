"""A mark read with a small margin goes to review (scan_ingest.read.MARK_REVIEW_CONFIDENCE). The spots' measures
below are the pipeline's own, from the scan benchmark's pages (seed 15, 240 pages): a pencil bubble half filled on a
blurred photo, read empty at 0.918 (a payment's service lost); two empty « Vir. » bubbles of a flattened bent photo,
read marked at 0.919 and 0.931 (two phantom payments)."""

from __future__ import annotations

import pytest

from papier.forms import builtin_form
from papier.layout import layout_form
from scan_ingest import read as R

NONE = [0.0] * 5
CASES = [  # (field, measures (value, darkness, ink share) per spot, halos, value read without the rule)
    ("service", [("restauration", 0.0411, 0.0), ("creche", 0.0007, 0.0), ("centre_loisirs", 0.0003, 0.0),
                 ("periscolaire", 0.0009, 0.0), ("autre", 0.0017, 0.0)], NONE, None),
    ("mode", [("especes", -0.0002, 0.0), ("cheque", 0.0015, 0.0), ("cb", 0.0035, 0.0), ("cesu", 0.003, 0.0),
              ("virement", 0.0263, 0.0594)], [0.002, 0.0, 0.0, 0.0, 0.01], "virement"),
    ("mode", [("especes", 0.0142, 0.0), ("cheque", 0.022, 0.0), ("cb", 0.0306, 0.0), ("cesu", 0.0343, 0.0),
              ("virement", 0.0603, 0.0766)], [0.0, 0.003, 0.003, 0.012, 0.012], "virement"),
]


def _field(name: str):
    return layout_form(builtin_form("paiement")).line_entries[0].field(name)


@pytest.mark.parametrize("name,scores,halos,silent", CASES)
def test_a_mark_read_with_a_small_margin_goes_to_review(name, scores, halos, silent, monkeypatch):
    r = R._read_marks(_field(name), scores, halos)
    assert r.status == "review" and r.reason == R.NEAR_FIELD and r.has_ink
    if silent is None:  # the half-filled bubble is offered
        assert r.value is None and r.alternatives == ["restauration"]
    monkeypatch.setattr(R, "MARK_REVIEW_CONFIDENCE", 0.0)  # the rule off: what the benchmark stored
    r = R._read_marks(_field(name), scores, halos)
    assert r.status == "auto" and r.value == silent


def test_clear_marks_and_clear_blanks_are_still_accepted():
    f = _field("mode")
    blank = [(o.value, 0.0, 0.0) for o in f.options]
    assert R._read_marks(f, blank, NONE).status == "auto"
    ticked = [(o.value, 0.3 if i == 1 else 0.0, 0.4 if i == 1 else 0.0) for i, o in enumerate(f.options)]
    r = R._read_marks(f, ticked, NONE)
    assert (r.status, r.value) == ("auto", f.options[1].value)
