"""Marks measured where the printed bubbles really are, above the page's own blank bubble; toner specks are paper;
a filled checkbox is not a fax streak. Real rendered pages (the kit PDF rendered straight into the aligned mm
frame, 8 px/mm), no mocks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from scan_ingest import marks as mk
from scan_ingest import testing as T
from scan_ingest.thresholds import ALIGN_PX_PER_MM

K = ALIGN_PX_PER_MM


@pytest.fixture(scope="module")
def paiement(small_kit):
    return T.aligned_render(small_kit, "paiement")


def _dark_copy(page: np.ndarray) -> np.ndarray:
    """A dark photocopy's tone curve: the light printed rings come out much darker and a little wider."""
    f = 255.0 * (page.astype(np.float32) / 255.0) ** 1.8
    f = ((f - 128.0) * 1.25 + 128.0) * (240 / 255)  # the photocopy profile's contrast and grey paper
    f = cv2.GaussianBlur(f, (0, 0), 0.8)
    return np.clip(f, 0, 255).astype(np.uint8)


def _shift(page: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The printed content `dx, dy` px away from where the layout puts it (an imperfect alignment)."""
    M = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(page, M, (page.shape[1], page.shape[0]), borderValue=255)


def _index(plan, layout, row, name, value=None):
    e = next(e for e in layout.entries if e.row == row)
    fi = [f.name for f in e.fields].index(name)
    return next(i for i, s in enumerate(plan.spots) if s.field_key == (row, fi) and s.value == value)


def _verdicts(page, plan, shifts):
    dark = mk.darkness(page)
    raw, frac = mk.measure_marks(dark, plan, shifts)
    b, bf = mk.baseline(raw), mk.baseline(frac)
    return [mk.classify(float(r) - b, float(f) - bf) for r, f in zip(raw, frac)]


def test_dark_copy_three_px_off_the_layout_reads_empty_bubbles_as_empty(paiement):
    layout, page = paiement
    plan = mk.mark_plan(layout)
    img = _shift(_dark_copy(page), 3, 3)
    # one pen-filled bubble, where the (shifted) printed bubble is
    f = layout.line_entries[0].field("mode")
    o = f.options[2]
    cv2.circle(img, (int(round(o.cx * K)) + 3, int(round(o.cy * K)) + 3), int(o.r * 0.9 * K), 40, -1)
    dark = mk.darkness(img)
    shifts = mk.registration(dark, plan)
    # the displacement found is the 3 px, relative to the same page in place (± 1 px of rounding)
    ref = mk.registration(mk.darkness(_dark_copy(page)), plan)
    assert np.all(np.abs(shifts - ref - 3) <= 1)
    v = _verdicts(img, plan, shifts)
    filled = _index(plan, layout, 1, "mode", o.value)
    assert v[filled] == "marked"
    assert all(c == "empty" for i, c in enumerate(v) if i != filled)
    # the page's blank bubble is only ever subtracted in the outer band, where a printed ring can bleed in
    d = dark.at(mk._shifted(plan.disk_idx, np.zeros_like(shifts[:plan.n_bubbles]), plan.width))
    ref = mk.blank_reference(d, plan)
    assert ref.max() > 0.02
    assert np.all(ref[plan.disk_r < plan.disk_r.max() - 3] == 0)


def test_a_tick_across_the_disk_still_counts_after_registration(paiement):
    layout, page = paiement
    plan = mk.mark_plan(layout)
    img = _shift(_dark_copy(page), -2, 1)
    o = layout.line_entries[1].field("service").options[1]
    cx, cy, r = o.cx * K - 2, o.cy * K + 1, o.r * K
    pts = np.array([(cx - 0.8 * r, cy), (cx - 0.15 * r, cy + 0.7 * r), (cx + 1.1 * r, cy - 1.1 * r)], np.int32)
    cv2.polylines(img, [pts], False, 60, 3, cv2.LINE_AA)
    dark = mk.darkness(img)
    v = _verdicts(img, plan, mk.registration(dark, plan))
    assert v[_index(plan, layout, 2, "service", o.value)] == "marked"


def test_toner_specks_are_paper_but_a_stroke_from_outside_is_not(paiement):
    layout, page = paiement
    plan = mk.mark_plan(layout)
    img = page.copy()
    opts = layout.line_entries[2].field("service").options
    # two toner specks (0.3 mm) inside an empty bubble
    a = opts[0]
    for ddx, ddy in ((-0.7, -0.6), (0.5, 0.4)):
        cv2.circle(img, (int((a.cx + ddx) * K), int((a.cy + ddy) * K)), 1, 30, -1, cv2.LINE_AA)
    # a short pen stroke entering the next bubble from outside: not a speck, whatever its size inside
    b = opts[1]
    cv2.line(img, (int((b.cx - 2.6) * K), int((b.cy + 1.2) * K)), (int((b.cx - 1.3) * K), int((b.cy + 0.5) * K)),
             30, 3, cv2.LINE_AA)
    # a blot of 1 mm inside a third bubble: too big for a speck
    c = opts[2]
    cv2.circle(img, (int(c.cx * K), int(c.cy * K)), 4, 60, -1, cv2.LINE_AA)
    dark = mk.darkness(img)
    v = _verdicts(img, plan, mk.registration(dark, plan))
    assert v[_index(plan, layout, 3, "service", a.value)] == "empty"
    assert v[_index(plan, layout, 3, "service", b.value)] != "empty"
    assert v[_index(plan, layout, 3, "service", c.value)] != "empty"


def test_a_filled_checkbox_is_marked_and_a_thin_streak_is_unsure(paiement):
    layout, page = paiement
    plan = mk.mark_plan(layout)
    img = page.copy()
    boxes = [(i, s) for i, s in enumerate(plan.spots) if s.value is None]
    (i1, s1), (i2, s2) = boxes[0], boxes[1]
    rows = {e.row: e for e in layout.entries}
    b1 = rows[s1.field_key[0]].fields[s1.field_key[1]].box
    b2 = rows[s2.field_key[0]].fields[s2.field_key[1]].box
    # a box filled solid with a blue pen (every row full of ink: once taken for a fax streak)
    img[int(b1.y * K) + 2:int((b1.y + b1.h) * K) - 2, int(b1.x * K) + 2:int((b1.x + b1.w) * K) - 2] = 70
    # a fax transmission streak: one line of black right across the other box, and beyond
    y = int((b2.y + b2.h / 2) * K)
    img[y:y + 2, int((b2.x - 5) * K):int((b2.x + b2.w + 5) * K)] = 0
    dark = mk.darkness(img)
    v = _verdicts(img, plan, mk.registration(dark, plan))
    assert v[i1] == "marked"
    assert v[i2] == "unsure"


def test_a_fax_streak_across_a_bubble_or_part_of_a_box_is_never_a_mark(paiement):
    """Fax, seed 2: a transmission streak (a 2 px line of black across the page) through an empty bubble, and over
    the left 70 % of an empty box, were read as marks, silently; seed 3: one over the right half of a box."""
    layout, page = paiement
    plan = mk.mark_plan(layout)
    img = page.copy()
    o = layout.line_entries[3].field("mode").options[4]
    y = int((o.cy + 0.8) * K)
    img[y:y + 2, int((o.cx - 6) * K):int((o.cx + 6) * K)] = 0
    i_box, s_box = [(i, s) for i, s in enumerate(plan.spots) if s.value is None][2]
    b = {e.row: e for e in layout.entries}[s_box.field_key[0]].fields[s_box.field_key[1]].box
    y = int((b.y + b.h * 0.6) * K)
    img[y:y + 2, int((b.x - 8) * K):int((b.x + 0.7 * b.w) * K)] = 0
    # fax, seed 3 (session 7): a streak from the middle of an « Annulé » box off its right edge, read as a tick
    i_half, s_half = [(i, s) for i, s in enumerate(plan.spots) if s.value is None][3]
    bh = {e.row: e for e in layout.entries}[s_half.field_key[0]].fields[s_half.field_key[1]].box
    y = int((bh.y + bh.h * 0.5) * K)
    img[y:y + 4, int((bh.x + 0.5 * bh.w) * K):int((bh.x + bh.w + 4) * K)] = 0  # 2 fax lines at 100 dpi
    dark = mk.darkness(img)
    v = _verdicts(img, plan, mk.registration(dark, plan))
    assert v[_index(plan, layout, 4, "mode", o.value)] == "unsure"
    assert v[i_box] == "unsure"
    assert v[i_half] == "unsure"
