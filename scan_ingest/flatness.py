"""Is the page flat? Where each field's printed frame really is on the aligned page.

The page is aligned on its four corner markers (align.py). A sheet that does not lie flat — folded in four to be
carried, curling up, photographed on a table — keeps its corners where a flat page would put them while its
middle moves by a few millimetres: the homography cannot see it, and the marker residual stays small. A checkbox
read 3 mm off its printed square sees the square's own border as a tick (measured: 20 silent errors on 86 bent
phone photos, bench_scan profile ``phone_photo_bent``, before this check).

So every field's printed frame (comb boxes, writing box, checkbox square, bubble rings) is looked for within
±FLAT_SEARCH_MM of its place on the aligned page, at FLAT_PX_PER_MM, by normalised cross-correlation with a
drawing of the frame as the page shows it. A frame found as well 1.5 mm away or more (comb boxes are periodic),
not found, or found where its neighbours disagree (initials written over a small box) says nothing. On a flat page
the frames sit within 0.4 mm of their place whatever the capture (scanner, photocopy, fax, phone photo; figures in
thresholds.py); a page whose second farthest frame sits farther than BEND_REVIEW_MM is not flat, and every value
read on it goes to review (read.page_doubts).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from papier.layout import PageLayout
from scan_ingest.thresholds import (ALIGN_PX_PER_MM, FIELD_OFF_MM, FLAT_AMBIGUITY, FLAT_MIN_NCC, FLAT_PX_PER_MM,
                                    FLAT_SEARCH_MM)

_LINE_PX = 2         # printed frame lines are about 0.25 mm wide: 2 px of the aligned page
_PAD_MM = 1.0        # paper around a frame in its template (the frame's outside edge counts too)
_NEAR_MM = 60.0      # a frame's neighbours, centre to centre
_AGREE_MM = 1.5      # how far a frame's displacement may be from its neighbours' median and still count
_PEAK_MM = 1.5       # around the best match, what counts as the same match when looking for a second one


@dataclass(frozen=True)
class _Frame:
    key: tuple[int, int]  # (entry row, field index)
    x: int               # template's top-left corner on the measuring image (px)
    y: int
    tmpl: np.ndarray     # float32 drawing of the field's printed frame
    centre: tuple[float, float]  # mm


@dataclass(frozen=True)
class FrameShift:
    key: tuple[int, int]         # (entry row, field index)
    centre: tuple[float, float]  # mm on the page
    dx: float                    # where the frame was found, relative to the layout (mm)
    dy: float
    ncc: float                   # correlation at the best match
    second: float                # best correlation at least _PEAK_MM away from it

    @property
    def reliable(self) -> bool:
        return self.ncc >= FLAT_MIN_NCC and self.second < self.ncc - FLAT_AMBIGUITY


@lru_cache(maxsize=32)
def _frames(layout: PageLayout) -> tuple[_Frame, ...]:
    """The printed frame of every field that has one (comb boxes, writing box, checkbox square, bubble rings), with
    _PAD_MM of paper around: drawn anti-aliased where it is printed on the aligned page (4 fractional bits), then
    reduced to FLAT_PX_PER_MM as the page is, so that a perfect capture is found where the layout says (within
    0.15 mm; cached per layout)."""
    sc, k = FLAT_PX_PER_MM, ALIGN_PX_PER_MM
    n = int(round(k / sc))  # drawn at the aligned page's resolution, then reduced as the page is (INTER_AREA)
    out = []
    for e in layout.entries:
        for fi, f in enumerate(e.fields):
            rects = f.boxes or ((f.box,) if f.box is not None else ())
            if not rects and not f.options:
                continue
            z = f.ink_zone()
            X, Y = int(round((z.x - _PAD_MM) * sc)), int(round((z.y - _PAD_MM) * sc))
            t = np.zeros((int(round((z.h + 2 * _PAD_MM) * sc)) * n, int(round((z.w + 2 * _PAD_MM) * sc)) * n),
                         np.float32)

            def pt(x: float, y: float) -> tuple[int, int]:  # aligned pixel u is the point u / k mm
                return int(round((x * k - X * n) * 16)), int(round((y * k - Y * n) * 16))

            for r in rects:
                cv2.rectangle(t, pt(r.x, r.y), pt(r.x + r.w, r.y + r.h), 1.0, _LINE_PX, cv2.LINE_AA, 4)
            for o in f.options:
                cv2.circle(t, pt(o.cx, o.cy), int(round(o.r * k * 16)), 1.0, _LINE_PX, cv2.LINE_AA, 4)
            t = cv2.resize(t, (t.shape[1] // n, t.shape[0] // n), interpolation=cv2.INTER_AREA)
            out.append(_Frame((e.row, fi), X, Y, t, (z.x + z.w / 2, z.y + z.h / 2)))
    return tuple(out)


def _vertex(v: np.ndarray) -> float:
    """Sub-pixel offset of a peak from its two neighbours (a parabola through three values); 0 at an edge."""
    if len(v) < 3:
        return 0.0
    den = float(v[0] - 2 * v[1] + v[2])
    return 0.5 * float(v[0] - v[2]) / den if den < 0 else 0.0


def frame_shifts(aligned: np.ndarray, layout: PageLayout) -> list[FrameShift]:
    """Where each field's printed frame is found, within ±FLAT_SEARCH_MM of its place on the aligned page."""
    sc = FLAT_PX_PER_MM
    f = sc / ALIGN_PX_PER_MM
    small = cv2.resize(aligned, (int(aligned.shape[1] * f), int(aligned.shape[0] * f)), interpolation=cv2.INTER_AREA)
    dark = 255.0 - small.astype(np.float32)
    S = int(round(FLAT_SEARCH_MM * sc))
    rr = int(round(_PEAK_MM * sc))
    H, W = dark.shape
    out = []
    for fr in _frames(layout):
        h, w = fr.tmpl.shape
        x0, y0 = fr.x - S, fr.y - S
        if x0 < 0 or y0 < 0 or y0 + h + 2 * S > H or x0 + w + 2 * S > W:
            continue
        res = cv2.matchTemplate(dark[y0:y0 + h + 2 * S, x0:x0 + w + 2 * S], fr.tmpl, cv2.TM_CCOEFF_NORMED)
        _, best, _, (bx, by) = cv2.minMaxLoc(res)
        sx, sy = bx + _vertex(res[by, bx - 1:bx + 2]), by + _vertex(res[by - 1:by + 2, bx])
        res[max(0, by - rr):by + rr + 1, max(0, bx - rr):bx + rr + 1] = -1.0
        out.append(FrameShift(fr.key, fr.centre, (sx - S) / sc, (sy - S) / sc, float(best), float(res.max())))
    return out


@dataclass(frozen=True)
class Flatness:
    bend_mm: float                       # second largest distance of a frame from the page's common offset
    off: dict[tuple[int, int], float]    # (row, field index) → distance, for frames farther than FIELD_OFF_MM


def measure(aligned: np.ndarray, layout: PageLayout) -> Flatness:
    """How far from its place on the layout each reliable frame was found. A frame whose displacement disagrees
    with its neighbours' (within _NEAR_MM) by more than _AGREE_MM is left out — a fold moves neighbouring frames
    together, while handwritten initials over a small box can pull its match away alone — and so is a frame with
    no reliable neighbour. The page's measure is the second largest distance left; 0 (nothing to tell) when fewer
    than three frames are reliable or fewer than two are left."""
    ok = [s for s in frame_shifts(aligned, layout) if s.reliable]
    if len(ok) < 3:
        return Flatness(0.0, {})
    c = np.array([s.centre for s in ok])
    d = np.array([(s.dx, s.dy) for s in ok])
    near = np.hypot(*(c[:, None, :] - c[None, :, :]).transpose(2, 0, 1)) < _NEAR_MM
    np.fill_diagonal(near, False)
    keep = []
    for i in range(len(ok)):
        if near[i].any() and np.hypot(*(d[i] - np.median(d[near[i]], axis=0))) <= _AGREE_MM:
            keep.append(i)
    if len(keep) < 2:
        return Flatness(0.0, {})
    dev = np.hypot(*d[keep].T)
    off = {ok[i].key: round(float(v), 2) for i, v in zip(keep, dev) if v > FIELD_OFF_MM}
    return Flatness(float(np.sort(dev)[-2]), off)
