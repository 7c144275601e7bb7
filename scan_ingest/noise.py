"""Is the image's grain fine enough to tell a thin tick from noise? A dark phone photo.

A photo taken in a dim office without a flash is dark, and the phone's gain makes its grain coarse: relative to
the paper's level, the noise is several times what a scanner or a daylight photo shows. A checkbox or a bubble is
read as marked either by its mean darkness (a filled mark) or by the share of its pixels darker than the ink level
(a thin tick barely moves the mean); grain alone reaches that share where the noise is strongest (bench_scan
profile ``phone_photo_dim``, seed 5, before this check: 5 silent errors on 83 photos, all unticked « Annulé »
boxes read as ticked, two of them on lines otherwise empty).

The noise is measured where the marks are: the image minus a slightly blurred copy, the 25th percentile of its
absolute value in tiles of NOISE_TILE_MM (print and ink edges, a minority of a tile's pixels, lie above it: the
low quantile is the grain's), relative to the local paper level (marks.Darkness), scaled to a standard deviation.
A mark field with a spot in a tile above NOISE_REVIEW is read noise-aware (marks.classify(noisy=True)): a spot
counts as marked only by its mean darkness, not by its ink-pixel share alone, so a thin tick there is « à
vérifier » instead of a guess either way.

Not measured on a page captured in black and white (a fax: its pixels are 0 or 255, noise is not grain there).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from papier.layout import PageLayout
from scan_ingest.marks import Darkness, mark_plan
from scan_ingest.thresholds import ALIGN_PX_PER_MM, NOISE_REVIEW, NOISE_TILE_MM

K = ALIGN_PX_PER_MM
_TILE = int(round(NOISE_TILE_MM * K))  # tile side, aligned pixels
_MARGIN = 4  # px around each tile: the blur's reach (sigma 1 px)
_QUANTILE = 0.25
_HALF_NORMAL_Q = 0.3186  # the 25th percentile of |N(0, 1)|


@dataclass(frozen=True)
class _Spots:
    keys: tuple[tuple[int, int], ...]  # (entry row, field index) of each mark field
    field_of: np.ndarray               # (spots,) index into keys
    tile: np.ndarray                   # (spots, 2) tile row, column of each spot's centre


@lru_cache(maxsize=32)
def _spots(layout: PageLayout) -> _Spots:
    """The mark plan's bubbles and checkboxes (marks.mark_plan), each with the tile its centre falls in."""
    plan = mark_plan(layout)
    keys = tuple(dict.fromkeys(sp.field_key for sp in plan.spots))
    index = {k: i for i, k in enumerate(keys)}
    field_of = np.array([index[sp.field_key] for sp in plan.spots], np.int64)
    tile = (np.asarray(plan.spot_xy)[:, ::-1] / (K * NOISE_TILE_MM)).astype(np.int64).reshape(-1, 2)
    return _Spots(keys, field_of, tile)


def tile_noise(aligned: np.ndarray, dark: Darkness, tiles: np.ndarray) -> np.ndarray:
    """The grain's standard deviation relative to the local paper, in each tile (row, column) of `tiles`: the
    tiles, each with a margin, side by side in one image, high-passed in one call; a low quantile of the absolute
    high-pass (print and ink edges, a minority of a tile's pixels, sit above it) scaled to a standard deviation."""
    h, w = aligned.shape
    t, m = _TILE, _MARGIN
    y0 = np.clip(tiles[:, 0] * t, m, h - t - m)
    x0 = np.clip(tiles[:, 1] * t, m, w - t - m)
    rows = np.arange(-m, t + m)
    mosaic = aligned[(y0[:, None] + rows[None, :])[:, :, None], (x0[:, None] + rows[None, :])[:, None, :]]
    flat = np.ascontiguousarray(mosaic.reshape(-1, t + 2 * m))
    hp = cv2.absdiff(flat, cv2.GaussianBlur(flat, (0, 0), 1.0)).reshape(len(tiles), t + 2 * m, t + 2 * m)
    inner = hp[:, m:m + t, m:m + t].reshape(len(tiles), -1)
    k = int(inner.shape[1] * _QUANTILE)
    q = np.partition(inner, k, axis=1)[:, k].astype(np.float32)
    paper = np.maximum(dark.paper[y0 + t // 2, x0 + t // 2].astype(np.float32), 1.0)
    return q / _HALF_NORMAL_Q / paper


def noisy_fields(aligned: np.ndarray, dark: Darkness, layout: PageLayout) -> dict[tuple[int, int], float]:
    """(row, field index) → the grain at its noisiest spot, for the mark fields above NOISE_REVIEW."""
    sp = _spots(layout)
    if not len(sp.field_of):
        return {}
    uniq, inv = np.unique(sp.tile, axis=0, return_inverse=True)
    per_spot = tile_noise(aligned, dark, uniq)[inv.ravel()]
    worst = np.zeros(len(sp.keys), np.float32)
    np.maximum.at(worst, sp.field_of, per_spot)
    return {k: round(float(v), 3) for k, v in zip(sp.keys, worst) if v > NOISE_REVIEW}
