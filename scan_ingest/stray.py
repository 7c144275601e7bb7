"""Does a long stroke cross a bubble? A rubber stamp pressed over a line.

Pages of a journal are closed with the régie's or the mairie's stamp near their foot. The stamp's border and its
letters are strokes like a pen's: where one crosses a bubble, the bubble reads as marked (bench_scan profile
``scanner_200_stamp``, seeds 5 / 6 / 7 before this check: 4 / 10 / 2 silent errors, choices and multi-choices of the
last lines). A mark stays near its bubble — a tick's far end reaches about 1.6 radii from the centre — while a
stamp's stroke goes on for centimetres.

So around every bubble, in a wide ring STRAY_RING (in bubble radii, well beyond a tick), the share of ink pixels is
measured and compared with the same ring around the bubbles of the same option down the column (the same printed
labels and frames fall in it: their median is the print). A marked or unsure bubble whose ring holds
STRAY_REVIEW more ink than that median sends its field to review. A column of fewer than three bubbles (a fiche
form's single line) has no reference and is not measured.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from papier.layout import PageLayout
from scan_ingest import marks as mk
from scan_ingest.thresholds import BUBBLE_INNER, INK_DARKNESS, STRAY_REVIEW, STRAY_RING


@lru_cache(maxsize=32)
def _ring_idx(layout: PageLayout) -> np.ndarray:
    """(bubbles, k) flat aligned-page indices of each bubble's wide ring (mark_plan's order)."""
    plan = mk.mark_plan(layout)
    if not plan.n_bubbles:
        return np.zeros((0, 1), np.int64)
    r = float(plan.disk_r.max()) / BUBBLE_INNER  # the printed bubble's radius (px)
    t = int(np.ceil(r * STRAY_RING[1])) + 1
    yy, xx = np.mgrid[-t:t + 1, -t:t + 1]
    d = np.hypot(yy + 0.5, xx + 0.5)
    sel = (d >= STRAY_RING[0] * r) & (d <= STRAY_RING[1] * r)
    c = plan.spot_xy[:plan.n_bubbles]
    y0, x0 = np.floor(c[:, 1]).astype(np.int64)[:, None], np.floor(c[:, 0]).astype(np.int64)[:, None]
    return (y0 + yy[sel][None, :]) * plan.width + x0 + xx[sel][None, :]


def crossed(dark: mk.Darkness, layout: PageLayout) -> dict[tuple[int, int], dict[str, float]]:
    """(row, field index) → {option value: excess ink in its wide ring}, for the bubbles at or above STRAY_REVIEW
    (whatever they read: the caller keeps those read marked or unsure)."""
    plan = mk.mark_plan(layout)
    idx = _ring_idx(layout)
    if not plan.n_bubbles or len(plan.label_group) != plan.n_bubbles:
        return {}
    h, w = dark.aligned.shape
    frac = (dark.at(np.clip(idx, 0, h * w - 1)) > INK_DARKNESS).mean(axis=1)
    excess = mk.over_column(frac, plan.label_group)
    out: dict[tuple[int, int], dict[str, float]] = {}
    for i in np.flatnonzero(excess >= STRAY_REVIEW):
        sp = plan.spots[i]
        out.setdefault(sp.field_key, {})[str(sp.value)] = round(float(excess[i]), 3)
    return out
