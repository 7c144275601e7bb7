"""Is a box sitting on a tint? A line gone over with a fluorescent marker, a coffee stain.

Agents flag lines with a fluorescent marker. Scanned or photographed in grey, a pink, orange, green or blue marker
is a mid grey, darker than the ink level of the mark reader over the whole box: an unticked « Quittance annulée »
box under a highlighted line reads as ticked — a payment silently counted as cancelled (bench_scan profile
``scanner_200_marker``, seed 5, before this check: 22 silent errors on 83 pages, checkboxes and multi-choice
bubbles read as marked under a band).

A mark is local: a tick, a cross or a fill lies in its box, and what strays out of it is a pen stroke, thin. A
tint is wide and goes on beyond the box. So around every bubble and checkbox, in a ring just outside it (beyond
its printed outline), the share of pixels that belong to wide dark areas is measured: pixels darker than
TINT_DARKNESS of the local paper, after an opening by a disk TINT_WIDTH_MM across (pen strokes, print and letters
are thinner and vanish). A mark field with a spot whose ring is at least TINT_RING_FRAC wide-dark goes to review,
whatever it reads: under a tint a tick and its absence both look like ink, and a pencil tick may not stand out.

Measured at 4 px/mm (the aligned page halved): cheap, and still finer than the opening.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from papier.layout import PageLayout
from scan_ingest.marks import Darkness, mark_plan
from scan_ingest.thresholds import (ALIGN_PX_PER_MM, TINT_BAND_COVER, TINT_BAND_GAP_MM, TINT_BAND_INSIDE_FRAC,
                                    TINT_BAND_SIDE_MM, TINT_DARKNESS, TINT_EDGE_RING_FRAC, TINT_INSIDE_FRAC,
                                    TINT_INSIDE_INSET_MM, TINT_LABEL_INSIDE_FRAC, TINT_LABEL_RING_FRAC,
                                    TINT_MIN_EXTENT_MM, TINT_RING_FRAC, TINT_RING_MM, TINT_WIDTH_MM)

_F = 2  # the aligned page (8 px/mm) halved
_LABEL_SIDE = 0.3  # rings stop this share of their inner size right of the spot's centre: the label is beyond
_WHOLE = 1e3  # the whole ring
# for each paper level p, pixel values below limit[p] are darker than TINT_DARKNESS of it (1 - a / p > TINT_DARKNESS)
_TINT_LIMIT = np.ceil(np.maximum(np.arange(256), 1) * (1.0 - TINT_DARKNESS)).astype(np.uint8)
S = ALIGN_PX_PER_MM / _F  # px/mm where the tint is measured


@dataclass(frozen=True)
class _Rings:
    keys: tuple[tuple[int, int], ...]  # (entry row, field index) of each mark field
    field_of: np.ndarray               # (spots,) index into keys
    spot_of: np.ndarray                # (ring pixels,) the spot each ring pixel belongs to
    yx: np.ndarray                     # (ring pixels, 2) at S px/mm


def _annulus(cx: float, cy: float, r0: float, r1: float, side: float = _LABEL_SIDE) -> np.ndarray:
    """Pixel (y, x) at S px/mm whose centres lie between radii r0 and r1 mm of (cx, cy) mm, left of the label
    (printed to the right of every bubble)."""
    t = int(np.ceil(r1 * S)) + 1
    yy, xx = np.mgrid[-t:t + 1, -t:t + 1]
    y0, x0 = int(round(cy * S)), int(round(cx * S))
    dx, dy = (xx + x0 + 0.5) / S - cx, (yy + y0 + 0.5) / S - cy
    d = np.hypot(dx, dy)
    sel = (d >= r0) & (d <= r1) & (dx <= side * r0)
    return np.c_[yy[sel] + y0, xx[sel] + x0]


def _frame(x: float, y: float, w: float, h: float, m0: float, m1: float, side: float = _LABEL_SIDE) -> np.ndarray:
    """Pixels between the rectangle grown by m0 mm and grown by m1 mm, left of the label (printed to the right of
    every checkbox)."""
    ya, yb = int(np.floor((y - m1) * S)), int(np.ceil((y + h + m1) * S))
    xa, xb = int(np.floor((x - m1) * S)), int(np.ceil((x + w + m1) * S))
    yy, xx = np.mgrid[ya:yb, xa:xb]
    py, px = (yy + 0.5) / S, (xx + 0.5) / S
    inner = (py >= y - m0) & (py <= y + h + m0) & (px >= x - m0) & (px <= x + w + m0)
    keep = ~inner & (px <= x + w / 2 + side * (w / 2 + m0))
    return np.c_[yy[keep], xx[keep]]


def _by_spot(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each spot's pixels (`parts`, yx arrays in spot order) as one array: (spot of each pixel, yx)."""
    if not parts:
        return np.zeros(0, np.int64), np.zeros((0, 2), np.int64)
    return np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)]), np.concatenate(parts)


@lru_cache(maxsize=32)
def _rings(layout: PageLayout, side: float = _LABEL_SIDE) -> _Rings:
    """Each spot's ring (marks.mark_plan's spots and printed outlines), grouped by mark field."""
    plan = mark_plan(layout)
    if not plan.spots:
        return _Rings((), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 2), np.int64))
    keys = tuple(dict.fromkeys(sp.field_key for sp in plan.spots))
    index = {k: i for i, k in enumerate(keys)}
    m0, m1 = TINT_RING_MM
    parts = [_annulus(a, b, c + m0, c + m1, side) if round_ else _frame(a, b, c, d, m0, m1, side)
             for a, b, c, d, round_ in plan.outlines]
    return _Rings(keys, np.array([index[sp.field_key] for sp in plan.spots], np.int64), *_by_spot(parts))


def wide_dark(aligned: np.ndarray, dark: Darkness) -> np.ndarray:
    """At S px/mm: pixels darker than TINT_DARKNESS of the local paper that belong to an area at least
    TINT_WIDTH_MM across and TINT_MIN_EXTENT_MM long (bool): a marker's band, a stain."""
    h, w = aligned.shape[0] // _F * _F, aligned.shape[1] // _F * _F
    a = cv2.resize(aligned[:h, :w], (w // _F, h // _F), interpolation=cv2.INTER_AREA)
    p = cv2.resize(dark.paper[:h, :w], (w // _F, h // _F), interpolation=cv2.INTER_AREA)
    m = cv2.compare(a, cv2.LUT(p, _TINT_LIMIT), cv2.CMP_LT) // 255  # darker than TINT_DARKNESS of the paper
    k = max(3, int(round(TINT_WIDTH_MM * S)) | 1)
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    # ... and at least TINT_MIN_EXTENT_MM long one way: a band, a stain; not a filled bubble pushed off its ring
    _, lab, st, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    keep = np.maximum(st[:, cv2.CC_STAT_WIDTH], st[:, cv2.CC_STAT_HEIGHT]) >= TINT_MIN_EXTENT_MM * S
    keep[0] = False
    return keep[lab]


def page_rows(wide: np.ndarray, y0: int, y1: int, width: int) -> np.ndarray:
    """Rows y0:y1 of the aligned page (8 px/mm, `width` px wide) of wide_dark's mask, as uint8 0/1."""
    m = wide[y0 // _F:-(-y1 // _F)].view(np.uint8)
    m = np.repeat(np.repeat(m, _F, axis=0), _F, axis=1)[y0 - y0 // _F * _F:][:y1 - y0, :width]
    out = np.zeros((y1 - y0, width), np.uint8)
    out[:m.shape[0], :m.shape[1]] = m
    return out


@lru_cache(maxsize=32)
def _insides(layout: PageLayout) -> tuple[np.ndarray, np.ndarray]:
    """Each spot's inside at S px/mm, TINT_INSIDE_INSET_MM within its printed outline: (spot of each pixel, yx)."""
    plan = mark_plan(layout)
    parts = []
    m = TINT_INSIDE_INSET_MM
    for a, b, c, d, round_ in plan.outlines:
        if round_:
            t = int(np.ceil(c * S)) + 1
            yy, xx = np.mgrid[-t:t + 1, -t:t + 1]
            y0, x0 = int(round(b * S)), int(round(a * S))
            sel = np.hypot((xx + x0 + 0.5) / S - a, (yy + y0 + 0.5) / S - b) <= c - m
            parts.append(np.c_[yy[sel] + y0, xx[sel] + x0])
        else:
            yy, xx = np.mgrid[int(np.ceil((b + m) * S)):int((b + d - m) * S),
                              int(np.ceil((a + m) * S)):int((a + c - m) * S)]
            parts.append(np.c_[yy.ravel(), xx.ravel()])
    return _by_spot(parts)


@lru_cache(maxsize=32)
def _label_sides(layout: PageLayout) -> tuple[np.ndarray, np.ndarray]:
    """Each spot's label side at S px/mm: from TINT_BAND_GAP_MM right of its printed outline to TINT_BAND_SIDE_MM
    beyond, over the spot's height (where its label is printed): (spot of each pixel, yx)."""
    plan = mark_plan(layout)
    parts = []
    for a, b, c, d, round_ in plan.outlines:
        x, y, w, h = (a - c, b - c, 2 * c, 2 * c) if round_ else (a, b, c, d)
        yy, xx = np.mgrid[int(np.ceil(y * S)):int(np.floor((y + h) * S)),
                          int(np.ceil((x + w + TINT_BAND_GAP_MM) * S)):int((x + w + TINT_BAND_SIDE_MM) * S)]
        parts.append(np.c_[yy.ravel(), xx.ravel()])
    return _by_spot(parts)


def _on_wide(wide: np.ndarray, yx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels `yx` (at S px/mm) clipped to the page: their rows, and whether each is on `wide` (1.0 / 0.0)."""
    y = np.clip(yx[:, 0], 0, wide.shape[0] - 1)
    x = np.clip(yx[:, 1], 0, wide.shape[1] - 1)
    return y, wide[y, x].astype(np.float64)


def _row_shares(wide: np.ndarray, spot_of: np.ndarray, yx: np.ndarray, n_spots: int) -> tuple[np.ndarray, np.ndarray]:
    """(n_spots, page rows) pixel counts and wide-dark counts of each spot's pixels, row by row."""
    y, on = _on_wide(wide, yx)
    key = spot_of * wide.shape[0] + y
    size = n_spots * wide.shape[0]
    return (np.bincount(key, minlength=size).reshape(n_spots, -1),
            np.bincount(key, weights=on, minlength=size).reshape(n_spots, -1))


def band_through(wide: np.ndarray, layout: PageLayout) -> np.ndarray:
    """(spots,) the share of each spot's label side that is wide-dark on the rows where the spot's inside is (at
    least TINT_LABEL_INSIDE_FRAC of that row of it): a band that runs through the spot from the label's side goes on
    over the label on those rows, while a bubble filled and merged with its label by a blur covers only the label's
    letters there; 0 where the inside is not covered."""
    n_spots = len(mark_plan(layout).spots)
    in_spot, in_yx = _insides(layout)
    lb_spot, lb_yx = _label_sides(layout)
    if not n_spots or not len(in_spot) or not len(lb_spot):
        return np.zeros(n_spots)
    n_in, on_in = _row_shares(wide, in_spot, in_yx, n_spots)
    n_lb, on_lb = _row_shares(wide, lb_spot, lb_yx, n_spots)
    rows = (n_in > 0) & (on_in >= TINT_LABEL_INSIDE_FRAC * n_in)
    return np.sum(on_lb * rows, axis=1) / np.maximum(np.sum(n_lb * rows, axis=1), 1)


def inside_fractions(wide: np.ndarray, layout: PageLayout) -> np.ndarray:
    """(spots,) the share of each spot's inside on `wide` (wide_dark's mask): a band whose edge runs through a
    bubble or a box covers part of it while its ring, the label's side left out, stays mostly clear."""
    spot_of, yx = _insides(layout)
    n_spots = len(mark_plan(layout).spots)
    return _shares(wide, spot_of, yx, n_spots) if len(spot_of) else np.zeros(n_spots)


def _shares(wide: np.ndarray, spot_of: np.ndarray, yx: np.ndarray, n_spots: int) -> np.ndarray:
    """(n_spots,) the share of each spot's pixels (`yx` at S px/mm, `spot_of` naming their spot) on `wide`."""
    n = np.bincount(spot_of, minlength=n_spots)
    on = np.bincount(spot_of, weights=_on_wide(wide, yx)[1], minlength=n_spots)
    return on / np.maximum(n, 1)


def ring_fractions(wide: np.ndarray, layout: PageLayout,
                   whole: bool = False) -> tuple[tuple[tuple[int, int], ...], np.ndarray, np.ndarray]:
    """(field keys, field of each spot, share of each spot's ring on `wide` (wide_dark's mask)); `whole`: the whole
    ring, the label's side included."""
    rg = _rings(layout, _WHOLE if whole else _LABEL_SIDE)
    if not len(rg.field_of):
        return rg.keys, rg.field_of, np.zeros(0)
    return rg.keys, rg.field_of, _shares(wide, rg.spot_of, rg.yx, len(rg.field_of))


def tinted_fields(wide: np.ndarray, layout: PageLayout) -> dict[tuple[int, int], float]:
    """(row, field index) → the largest wide-dark share of its spots' rings (`wide`: wide_dark's mask), for the
    mark fields with a spot at or above TINT_RING_FRAC, or whose inside is TINT_INSIDE_FRAC wide-dark with
    TINT_EDGE_RING_FRAC of its ring (a band's edge through the spot), or TINT_LABEL_INSIDE_FRAC with
    TINT_LABEL_RING_FRAC of its whole ring, or TINT_BAND_INSIDE_FRAC with its label side TINT_BAND_COVER covered
    (`band_through`): a band coming from the label's side."""
    keys, field_of, frac = ring_fractions(wide, layout)
    if not len(keys):
        return {}
    inside = inside_fractions(wide, layout)
    whole = ring_fractions(wide, layout, whole=True)[2]
    across = inside >= TINT_LABEL_INSIDE_FRAC
    hit = ((frac >= TINT_RING_FRAC) | ((inside >= TINT_INSIDE_FRAC) & (frac >= TINT_EDGE_RING_FRAC))
           | (across & (whole >= TINT_LABEL_RING_FRAC)))
    banded = inside >= TINT_BAND_INSIDE_FRAC
    if banded.any():
        hit |= banded & (band_through(wide, layout) >= TINT_BAND_COVER)
    worst = np.zeros(len(keys))
    np.maximum.at(worst, field_of, np.where(hit, np.maximum(frac, 1e-3), 0.0))
    return {k: round(float(v), 2) for k, v in zip(keys, worst) if v > 0}
