"""A tick drawn beside its bubble (inner disk nearly empty) must go to review, never read as 'nothing marked'."""

from __future__ import annotations

import numpy as np

from papier.forms import builtin_form
from papier.layout import layout_form, text_width
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
    # the option's printed label, right of the bubble, on every line of the page: must not count
    for e in layout.line_entries:
        p = e.field("service").options[0]
        lx = int((p.cx + p.r + 1.0) * K)
        page[int((p.cy - 1) * K):int((p.cy + 1) * K), lx:lx + int(8 * K)] = 0
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


def test_ink_on_the_label_side_counts_against_that_column_of_labels():
    """A half fill pushed off the bubble toward its own label (seen on fax: ink over the ring's right edge and the
    label's first letter, inner disk empty) must reach the halo; the label printed on every line must not."""
    layout = layout_form(builtin_form("paiement"))
    W, H = (int(round(v * K)) for v in layout.size_mm)
    page = np.full((H, W), 255, np.uint8)
    plan = mk.mark_plan(layout)
    services = [e.field("service") for e in layout.line_entries]
    for f in services:  # every line's printed option labels, right of their bubbles
        for o in f.options:
            lx = int((o.cx + o.r + 0.9) * K)
            page[int((o.cy - 1) * K):int((o.cy + 1) * K), lx:lx + int(6 * K)] = 0
    base = mk.measure_halos(mk.darkness(page), plan)
    assert np.all(base < HALO_INK_MIN)
    o = services[0].options[-1]
    yy, xx = np.mgrid[0:H, 0:W]
    blob = (xx - (o.cx + 2.4) * K) ** 2 + (yy - (o.cy - 1.3) * K) ** 2 <= (1.1 * K) ** 2
    page[blob] = 0
    halos = mk.measure_halos(mk.darkness(page), plan)
    row = layout.line_entries[0].row
    i = next(i for i, s in enumerate(plan.spots[:plan.n_bubbles]) if s.value == o.value and s.field_key[0] == row
             and layout.line_entries[0].fields[s.field_key[1]].name == "service")
    assert halos[i] >= HALO_INK_MIN
    others = np.delete(halos, i)
    assert np.all(others < HALO_INK_MIN)
    f = services[0]
    r = _read_marks(f, [(v.value, 0.0, 0.0) for v in f.options], [float(halos[j]) for j in
                    [k for k, s in enumerate(plan.spots[:plan.n_bubbles]) if s.field_key == plan.spots[i].field_key]])
    assert r.status == "review" and r.value is None and r.alternatives[0] == o.value


def test_a_fill_beside_a_fiche_forms_single_bubble_counts_but_its_label_does_not():
    """A fiche form has one line: no column of labels to compare with. The label side outside the band of the
    label's letters is measured against the page (seen: a half fill pushed below-right of « Célibataire »)."""
    layout = layout_form(builtin_form("deces"))
    W, H = (int(round(v * K)) for v in layout.size_mm)
    page = np.full((H, W), 255, np.uint8)
    plan = mk.mark_plan(layout)
    opts = [(fi, o) for e in layout.entries for fi, f in enumerate(e.fields) if f.type in ("choice", "multi")
            for o in f.options]
    for _, o in opts:  # every option's label, where and as wide as render.py prints it (6.5 pt from r + 0.9 mm)
        lx = int((o.cx + o.r + 0.9) * K)
        page[int((o.cy - 1.5) * K):int((o.cy + 1.3) * K), lx:lx + int(text_width(o.label, 6.5) * K)] = 0
    base = mk.measure_halos(mk.darkness(page), plan)
    assert np.all(base < HALO_INK_MIN)
    i, (fi, o) = next((i, t) for i, t in enumerate(opts) if t[1].value == "celibataire")
    yy, xx = np.mgrid[0:H, 0:W]
    blob = (xx - (o.cx + 1.6) * K) ** 2 + (yy - (o.cy + 2.4) * K) ** 2 <= (0.9 * K) ** 2
    page[blob] = 0
    halos = mk.measure_halos(mk.darkness(page), plan)
    assert plan.spots[i].value == "celibataire" and halos[i] >= HALO_INK_MIN
    assert np.all(np.delete(halos, i) < HALO_INK_MIN)
