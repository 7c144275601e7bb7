"""A tick drawn beside its bubble (inner disk nearly empty) must go to review, never read as 'nothing marked'."""

from __future__ import annotations

import numpy as np

from papier.forms import builtin_form
from papier.layout import layout_form
from scan_ingest import marks as mk
from scan_ingest.read import _read_marks
from scan_ingest.thresholds import ALIGN_PX_PER_MM, HALO_INK_MIN

K = ALIGN_PX_PER_MM


def _service(layout):
    e = layout.line_entries[0]
    return e.field("service")


def test_empty_choice_with_ink_beside_a_bubble_goes_to_review():
    f = _service(layout_form(builtin_form("paiement")))
    empty = [(o.value, 0.0, 0.0) for o in f.options]
    r = _read_marks(f, empty, [0.0, HALO_INK_MIN + 0.05, 0.0, 0.0, 0.0])
    assert r.status == "review" and r.value is None and r.alternatives[0] == f.options[1].value
    r = _read_marks(f, empty, [0.0] * len(f.options))
    assert r.status == "auto" and r.value is None


def test_halo_measures_a_stroke_left_of_the_bubble_not_the_label():
    layout = layout_form(builtin_form("paiement"))
    W, H = (int(round(v * K)) for v in layout.size_mm)
    page = np.full((H, W), 255, np.uint8)
    plan = mk.mark_plan(layout)
    f = _service(layout)
    o = f.options[0]
    # the option's printed label, right of the bubble: must not count
    lx = int((o.cx + o.r + 1.0) * K)
    page[int((o.cy - 1) * K):int((o.cy + 1) * K), lx:lx + int(8 * K)] = 0
    base = mk.measure_halos(mk.darkness(page), plan)
    assert np.all(base < HALO_INK_MIN)
    # a tick stroke beside the bubble, bottom-left, outside the inner disk
    for t in np.linspace(0, 1, 40):
        x = int((o.cx - 3.4 + 1.5 * t) * K)
        y = int((o.cy + 1.2 + 1.4 * t) * K)
        page[y - 2:y + 2, x - 2:x + 2] = 0
    halos = mk.measure_halos(mk.darkness(page), plan)
    i = next(i for i, s in enumerate(plan.spots[:plan.n_bubbles]) if s.value == o.value and s.field_key[0] == 1
             and layout.entries[0].fields[s.field_key[1]].name == "service")
    assert halos[i] >= HALO_INK_MIN
