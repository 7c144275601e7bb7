"""Can ink be seen everywhere on the page? A reflection on a phone photo.

A lamp or a window reflected on the sheet adds light to paper and ink alike: where the reflection is, ink fades into
the white (the sensor saturates there) and a tick, a digit or a whole line reads as blank — an unticked box or a
missed entry, accepted without a flag (bench_scan profile ``phone_photo_glare``, seed 5, before this check: 3 silent
errors on 86 photos, all three a mark under the reflection).

The page's own print says where that happens. Every field's frame (comb boxes, writing box, checkbox square, bubble
rings) is printed in one grey, so the darkness of its lines relative to the local paper (marks.Darkness) is about
the same all over a page, whatever the light, the shadow or the capture: it falls where the ink's contrast falls.
Each frame is cut into pieces (a box, a bubble, about FADE_PIECE_MM of a writing box); a piece's darkness is the
median, along its lines, of the darkest pixel across each line within ±FADE_BAND_MM (so an alignment off by a few
tenths of a millimetre does not matter). A field with a piece fainter than FADE_REVIEW times the page's median goes
to review, even when it reads blank: its line then shows as an entry to look at.

Not measured where it cannot tell: a page captured in black and white (a fax dithers the grey print into dots), a
page whose print is too faint everywhere to compare (median below FADE_MIN_PRINT), and a page that is badly aligned
or not flat (its frames are not where they are looked for; every value of such a page is in review already).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from papier.layout import Bubble, PageLayout, Rect
from scan_ingest.marks import Darkness
from scan_ingest.thresholds import (ALIGN_PX_PER_MM, FADE_BAND_MM, FADE_MIN_PRINT, FADE_PIECE_MM, FADE_REVIEW,
                                    FADE_STEP_MM)

K = ALIGN_PX_PER_MM
_CORNER_MM = 0.6  # a box's corners are left out: the perpendicular line makes them darker than a line
_MARKED = ("text", "digits", "choice", "multi", "checkbox")
_ACROSS = np.arange(-round(FADE_BAND_MM * K), round(FADE_BAND_MM * K) + 1) / K  # mm across a line, 1 px apart


def _line(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """Sample points (mm, as y, x) along a segment, every FADE_STEP_MM, each with its points across the line
    within ±FADE_BAND_MM, one aligned pixel apart: shape (n, band, 2)."""
    length = math.hypot(x1 - x0, y1 - y0)
    n = max(1, int(length / FADE_STEP_MM))
    t = (np.arange(n) + 0.5) / n
    ny, nx = (x1 - x0) / length, -(y1 - y0) / length  # unit normal
    ys = (y0 + t * (y1 - y0))[:, None] + _ACROSS[None] * ny
    xs = (x0 + t * (x1 - x0))[:, None] + _ACROSS[None] * nx
    return np.stack([ys, xs], -1)


def _rect_pieces(r: Rect) -> list[np.ndarray]:
    """A box's outline in pieces about FADE_PIECE_MM wide (a comb box, a checkbox: one piece)."""
    c = _CORNER_MM
    n = max(1, round(r.w / FADE_PIECE_MM))
    out = []
    for i in range(n):
        xa, xb = max(r.x + i * r.w / n, r.x + c), min(r.x + (i + 1) * r.w / n, r.x + r.w - c)
        parts = [_line(xa, r.y, xb, r.y), _line(xa, r.y + r.h, xb, r.y + r.h)]
        if i == 0:
            parts.append(_line(r.x, r.y + c, r.x, r.y + r.h - c))
        if i == n - 1:
            parts.append(_line(r.x + r.w, r.y + c, r.x + r.w, r.y + r.h - c))
        out.append(np.concatenate(parts))
    return out


def _ring(o: Bubble) -> np.ndarray:
    n = max(8, int(2 * math.pi * o.r / FADE_STEP_MM))
    th = (np.arange(n) + 0.5) / n * 2 * math.pi
    rr = o.r + _ACROSS
    return np.stack([o.cy + np.sin(th)[:, None] * rr[None], o.cx + np.cos(th)[:, None] * rr[None]], -1)


@dataclass(frozen=True)
class _Pieces:
    keys: tuple[tuple[int, int], ...]  # (entry row, field index) of each field measured
    field_of: np.ndarray               # (pieces,) index into keys
    yx: np.ndarray                     # (pieces, samples, band, 2) aligned px; padded samples repeat the last one
    valid: np.ndarray                  # (pieces, samples) which samples are real


@lru_cache(maxsize=32)
def _pieces(layout: PageLayout) -> _Pieces:
    keys: list[tuple[int, int]] = []
    field_of: list[int] = []
    pieces: list[np.ndarray] = []
    for e in layout.entries:
        for fi, f in enumerate(e.fields):
            if f.type not in _MARKED:
                continue
            if f.boxes:
                mine = [p for b in f.boxes for p in _rect_pieces(b)]
            elif f.options:
                mine = [_ring(o) for o in f.options]
            elif f.box is not None:
                mine = _rect_pieces(f.box)
            else:
                continue
            keys.append((e.row, fi))
            field_of += [len(keys) - 1] * len(mine)
            pieces += mine
    if not pieces:
        return _Pieces((), np.zeros(0, np.int64), np.zeros((0, 1, 1, 2), np.int64), np.zeros((0, 1), bool))
    m = max(len(p) for p in pieces)
    yx = np.stack([np.concatenate([p, np.repeat(p[-1:], m - len(p), 0)]) for p in pieces])
    valid = np.arange(m)[None, :] < np.array([len(p) for p in pieces])[:, None]
    return _Pieces(tuple(keys), np.array(field_of), np.round(yx * K).astype(np.int64), valid)


@dataclass(frozen=True)
class Fade:
    print_darkness: float                    # the page's median print darkness (0 when not measured)
    faded: dict[tuple[int, int], float]      # (row, field index) → its faintest piece / the page's median


def measure(dark: Darkness, layout: PageLayout) -> Fade:
    """The fields whose printed frame is fainter somewhere than FADE_REVIEW times the page's median (see the module
    docstring); nothing when the page's print is fainter than FADE_MIN_PRINT everywhere."""
    pc = _pieces(layout)
    if not len(pc.field_of):
        return Fade(0.0, {})
    h, w = dark.aligned.shape
    yy = np.clip(pc.yx[..., 0], 0, h - 1)
    xx = np.clip(pc.yx[..., 1], 0, w - 1)
    d = dark.at((yy * w + xx).ravel()).reshape(yy.shape).max(axis=2)  # darkest pixel across each line
    d = np.where(pc.valid, d, np.nan)
    piece = np.nanmedian(d, axis=1)
    ref = float(np.median(piece))
    if ref < FADE_MIN_PRINT:
        return Fade(ref, {})
    worst = np.full(len(pc.keys), np.inf)
    np.minimum.at(worst, pc.field_of, piece / ref)
    return Fade(ref, {k: round(float(v), 2) for k, v in zip(pc.keys, worst) if v < FADE_REVIEW})
