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

from papier.layout import PageLayout, Rect
from scan_ingest.thresholds import (ALIGN_PX_PER_MM, FIELD_OFF_MM, FLAT_AMBIGUITY, FLAT_IN_PLACE_MM, FLAT_MARK_OFF_MM,
                                    FLAT_MIN_NCC, FLAT_PX_PER_MM, FLAT_SEARCH_MM, FLATTEN_MIN_SAMPLES)

_LINE_PX = 2         # printed frame lines are about 0.25 mm wide: 2 px of the aligned page
_PAD_MM = 1.0        # paper around a frame in its template (the frame's outside edge counts too)
_NEAR_MM = 60.0      # a frame's neighbours, centre to centre
_OTHER_K = 3         # the frames of other fields that confirm a frame's distance from its place (measure)
_AGREE_MM = 1.5      # how far a frame's displacement may be from its neighbours' median and still count
_PEAK_MM = 1.5       # around the best match, what counts as the same match when looking for a second one
_GRID_MM = 4.0       # the displacement field's grid
_SMOOTH_MM = 12.0    # its Gaussian neighbourhood, at least
_SMOOTH_K = 5        # ... or out to the 5th nearest sample where they are sparse
_X_WHOLE_MM = 40.0   # a frame up to this wide tells its column whole; a wider writing box, by its ends:
_END_MM = 3.0        # ... each end line with this much on either side
_Y_PIECE_MM = 30.0   # a frame's horizontal lines tell its row in pieces up to this long
_CHECK_MM = 20.0     # a flattened page's mark: a piece of frame found in place at most this far away
_OPENINGS_MM = (3.0, 4.0, 6.0, 10.0)  # lengths of dark runs kept as lines (the lines-only images for flattening)
_SLOPE_RIDGE = 0.05  # damps a fit's slopes where the frames around a node lie on a line


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


@dataclass(frozen=True)
class _Piece:
    """A part of a field's printed frame that tells where the page really is along one axis (for flattening)."""
    key: tuple[int, int]          # (entry row, field index)
    axis: int                     # 0: x (vertical lines), 1: y (horizontal lines), 2: both (bubble rings)
    x: int                        # template's top-left corner on the measuring image (px)
    y: int
    tmpl: np.ndarray
    centre: tuple[float, float]   # mm: where the shift it measures is
    run_mm: float                 # the lines image it is looked for in (_OPENINGS_MM); 0: the page itself


@lru_cache(maxsize=32)
def _pieces(layout: PageLayout) -> tuple[_Piece, ...]:
    """What measures a page's bend, field by field (cached per layout):
    - x: a box frame's vertical lines, on the page's vertical lines (`_Lines`) — a frame up to _X_WHOLE_MM wide
      whole, a wider writing box by each of its two ends (a bend stretches a wide box: matched whole, it fits
      neither end); a wide comb gives none (its boxes repeat every 6 mm);
    - y: a box frame's horizontal lines, on the page's horizontal lines, in pieces up to _Y_PIECE_MM long (a bend
      tilts a long line);
    - both: each bubble's ring, on the page."""
    sc, k = FLAT_PX_PER_MM, ALIGN_PX_PER_MM
    n = int(round(k / sc))
    out = []

    def piece(key: tuple[int, int], axis: int, zone: Rect, run: float, hlines: list, vlines: list,
              rings: list) -> None:
        X, Y = int(round((zone.x - _PAD_MM) * sc)), int(round((zone.y - _PAD_MM) * sc))
        t = np.zeros((int(round((zone.h + 2 * _PAD_MM) * sc)) * n, int(round((zone.w + 2 * _PAD_MM) * sc)) * n),
                     np.float32)

        def pt(x: float, y: float) -> tuple[int, int]:
            return int(round((x * k - X * n) * 16)), int(round((y * k - Y * n) * 16))

        for (x0, y0, x1, y1) in hlines + vlines:
            cv2.line(t, pt(x0, y0), pt(x1, y1), 1.0, _LINE_PX, cv2.LINE_AA, 4)
        for (cx, cy, r) in rings:
            cv2.circle(t, pt(cx, cy), int(round(r * k * 16)), 1.0, _LINE_PX, cv2.LINE_AA, 4)
        t = cv2.resize(t, (t.shape[1] // n, t.shape[0] // n), interpolation=cv2.INTER_AREA)
        out.append(_Piece(key, axis, X, Y, t, (zone.x + zone.w / 2, zone.y + zone.h / 2), run))

    for e in layout.entries:
        for fi, f in enumerate(e.fields):
            key = (e.row, fi)
            if f.options:  # each ring alone: a row of them repeats
                for o in f.options:
                    piece(key, 2, Rect(o.cx - o.r, o.cy - o.r, 2 * o.r, 2 * o.r), 0.0, [], [], [(o.cx, o.cy, o.r)])
                continue
            rects = list(f.boxes or ((f.box,) if f.box is not None else ()))
            if not rects:
                continue
            x0, x1 = min(r.x for r in rects), max(r.x + r.w for r in rects)
            y0, y1 = min(r.y for r in rects), max(r.y + r.h for r in rects)
            run_v, run_h = _opening(min(r.h for r in rects)), _opening(min(r.w for r in rects))
            vlines = [(x, r.y, x, r.y + r.h) for r in rects for x in (r.x, r.x + r.w)]
            if x1 - x0 <= _X_WHOLE_MM:
                piece(key, 0, Rect(x0, y0, x1 - x0, y1 - y0), run_v, [], vlines, [])
            elif len(rects) == 1:
                for x in (x0, x1):
                    piece(key, 0, Rect(x - _END_MM, y0, 2 * _END_MM, y1 - y0), run_v, [],
                          [v for v in vlines if v[0] == x], [])
            parts = max(1, int(np.ceil((x1 - x0) / _Y_PIECE_MM)))
            step = (x1 - x0) / parts
            for p in range(parts):
                a, b = x0 + p * step, x0 + (p + 1) * step
                hl = [(max(r.x, a), y, min(r.x + r.w, b), y) for r in rects for y in (r.y, r.y + r.h)
                      if min(r.x + r.w, b) - max(r.x, a) > 0.5]
                piece(key, 1, Rect(a, y0, b - a, y1 - y0), _opening(min(h[2] - h[0] for h in hl)), hl, [], [])
    return tuple(out)


def _vertex(v: np.ndarray) -> float:
    """Sub-pixel offset of a peak from its two neighbours (a parabola through three values); 0 at an edge."""
    if len(v) < 3:
        return 0.0
    den = float(v[0] - 2 * v[1] + v[2])
    return 0.5 * float(v[0] - v[2]) / den if den < 0 else 0.0


def _small_dark(aligned: np.ndarray) -> np.ndarray:
    """The aligned page's darkness at FLAT_PX_PER_MM (float32, ink high)."""
    f = FLAT_PX_PER_MM / ALIGN_PX_PER_MM
    small = cv2.resize(aligned, (int(aligned.shape[1] * f), int(aligned.shape[0] * f)), interpolation=cv2.INTER_AREA)
    return 255.0 - small.astype(np.float32)


def _search(img: np.ndarray, x: int, y: int, tmpl: np.ndarray) -> np.ndarray | None:
    """Normalised cross-correlation of `tmpl`, whose place is (x, y) px on `img`, over ±FLAT_SEARCH_MM around it
    (offset (S, S) of the result is the place itself); None when that window leaves the image."""
    S = int(round(FLAT_SEARCH_MM * FLAT_PX_PER_MM))
    h, w = tmpl.shape
    x0, y0 = x - S, y - S
    if x0 < 0 or y0 < 0 or y0 + h + 2 * S > img.shape[0] or x0 + w + 2 * S > img.shape[1]:
        return None
    return cv2.matchTemplate(img[y0:y0 + h + 2 * S, x0:x0 + w + 2 * S], tmpl, cv2.TM_CCOEFF_NORMED)


def frame_shifts(aligned: np.ndarray, layout: PageLayout) -> list[FrameShift]:
    """Where each field's printed frame is found, within ±FLAT_SEARCH_MM of its place on the aligned page."""
    sc = FLAT_PX_PER_MM
    dark = _small_dark(aligned)
    S = int(round(FLAT_SEARCH_MM * sc))
    rr = int(round(_PEAK_MM * sc))
    out = []
    for fr in _frames(layout):
        res = _search(dark, fr.x, fr.y, fr.tmpl)
        if res is None:
            continue
        _, best, _, (bx, by) = cv2.minMaxLoc(res)
        sx, sy = bx + _vertex(res[by, bx - 1:bx + 2]), by + _vertex(res[by - 1:by + 2, bx])
        res[max(0, by - rr):by + rr + 1, max(0, bx - rr):bx + rr + 1] = -1.0
        out.append(FrameShift(fr.key, fr.centre, (sx - S) / sc, (sy - S) / sc, float(best), float(res.max())))
    return out


@dataclass(frozen=True)
class Flatness:
    bend_mm: float                       # second largest distance of a frame from the page's common offset
    off: dict[tuple[int, int], float]    # (row, field index) → distance, for frames farther than FIELD_OFF_MM
    flattened_from: float = 0.0          # the bend measured before the page was flattened (0: it was not)
    unchecked: frozenset[tuple[int, int]] = frozenset()  # flattened page: mark fields not all found in place


def measure(aligned: np.ndarray, layout: PageLayout) -> Flatness:
    """How far from its place on the layout each reliable frame was found (`consistent`). The page's measure is
    the second largest distance as far as the paper around confirms it (`_confirmed`); 0 (nothing to tell) when
    fewer than two frames are left. A field is off by its own frame's distance, confirmed or not."""
    keep = consistent(frame_shifts(aligned, layout))
    if len(keep) < 2:
        return Flatness(0.0, {})
    dev = np.array([np.hypot(s.dx, s.dy) for s in keep])
    off = {s.key: round(float(v), 2) for s, v in zip(keep, dev) if v > FIELD_OFF_MM}
    return Flatness(float(np.sort(_confirmed(keep, dev))[-2]), off)


def _confirmed(keep: list[FrameShift], dev: np.ndarray) -> np.ndarray:
    """Each frame's distance from its place, unless the frames of *other* fields around it (its _OTHER_K nearest
    within _NEAR_MM) sit in place (their median displacement within FLAT_IN_PLACE_MM): then only as far as they
    moved. A bend moves the paper whatever is printed on it; a capture can misplace one kind of frame alone: a fax
    samples the page at 100 dpi down it, so a thin grey box line between two sampled rows vanishes, and the same
    line of every identical box down a column (the loan returns' « Initiales ») with it: the box's template then
    fits 1.0-1.2 mm lower, on the row's rule (8 flat fax pages sent whole to review, bench_scan seed 5)."""
    c = np.array([s.centre for s in keep], np.float64)
    d = np.array([(s.dx, s.dy) for s in keep], np.float64)
    field = np.array([s.key[1] for s in keep])
    dist = _distances(c)
    dist[field[:, None] == field[None, :]] = np.inf  # the same field of other rows, and the frame itself
    out = dev.copy()
    for i in range(len(keep)):
        nn = np.argsort(dist[i])[:_OTHER_K]
        nn = nn[dist[i, nn] < _NEAR_MM]
        moved = float(np.hypot(*np.median(d[nn], axis=0))) if len(nn) else 0.0
        if moved <= FLAT_IN_PLACE_MM:
            out[i] = min(dev[i], moved)
    return out


def consistent(shifts: list[FrameShift]) -> list[FrameShift]:
    """The reliable frames whose displacement agrees with their neighbours' (within _NEAR_MM) to _AGREE_MM — a fold
    moves neighbouring frames together, while handwritten initials over a small box can pull its match away
    alone; a frame with no reliable neighbour is left out too. None left when fewer than three are reliable."""
    ok = [s for s in shifts if s.reliable]
    keep = _agreeing(np.array([s.centre for s in ok]).reshape(-1, 2), np.array([(s.dx, s.dy) for s in ok]))
    return [s for s, k in zip(ok, keep) if k]


@dataclass(frozen=True)
class AxisShift:
    key: tuple[int, int]         # (entry row, field index)
    centre: tuple[float, float]  # mm on the page
    dx: float                    # where the frame was found, relative to the layout (mm)
    dy: float
    x_ok: bool                   # dx can be trusted: no other match along x as good (a long writing box's dx cannot)
    y_ok: bool                   # dy can be trusted (a comb of digit boxes written in often gives only dx)


def _opening(length_mm: float) -> float:
    """The longest of _OPENINGS_MM within 90 % of a printed line's length."""
    return max((o for o in _OPENINGS_MM if o <= 0.9 * length_mm), default=_OPENINGS_MM[0])


class _Lines:
    """The page's horizontal lines and its vertical lines: darkness that runs on along a row, along a column, for
    as long as a frame's lines do (computed on demand, once per length). Handwriting in a box is mostly shorter
    strokes (a written comb's frame matched the page at correlation 0.16 instead of 0.8 empty; a digit's stroke is
    shorter than its box), and a long writing box matched whole fixes its row but hardly its column: its two short
    ends weigh little against its long lines."""

    def __init__(self, dark: np.ndarray) -> None:
        self.dark = dark
        self._done: dict[tuple[bool, float], np.ndarray] = {}

    def get(self, vertical: bool, length_mm: float) -> np.ndarray:
        if (vertical, length_mm) not in self._done:
            n = int(round(length_mm * FLAT_PX_PER_MM))
            k = cv2.getStructuringElement(cv2.MORPH_RECT, (1, n) if vertical else (n, 1))
            self._done[vertical, length_mm] = cv2.morphologyEx(self.dark, cv2.MORPH_OPEN, k)
        return self._done[vertical, length_mm]


def _peak(res: np.ndarray, axis: int, rr: int) -> tuple[float, bool]:
    """Along one axis of a correlation map (0: columns, x; 1: rows, y): the best offset (px, sub-pixel) and
    whether no other offset rr px away or more comes within FLAT_AMBIGUITY of it."""
    prof = res.max(axis=axis)
    i = int(np.argmax(prof))
    best = float(prof[i])
    pos = i + _vertex(prof[i - 1:i + 2]) if 0 < i < len(prof) - 1 else float(i)
    rest = prof.copy()
    rest[max(0, i - rr):i + rr + 1] = -1.0
    return pos, best >= FLAT_MIN_NCC and float(rest.max()) < best - FLAT_AMBIGUITY


def axis_shifts(aligned: np.ndarray, layout: PageLayout) -> list[AxisShift]:
    """Where the pieces of the page's printed frames are found (`_pieces`, within ±FLAT_SEARCH_MM), for flattening
    the page, each axis on its own. A shift is kept along an axis when no other offset _PEAK_MM away matches within
    FLAT_AMBIGUITY of the best (a comb written over, its boxes 6 mm apart, often gives no column)."""
    sc = FLAT_PX_PER_MM
    dark = _small_dark(aligned)
    lines = _Lines(dark)
    S, rr = int(round(FLAT_SEARCH_MM * sc)), int(round(_PEAK_MM * sc))
    out = []
    for pc in _pieces(layout):
        src = dark if pc.axis == 2 else lines.get(vertical=pc.axis == 0, length_mm=pc.run_mm)
        res = _search(src, pc.x, pc.y, pc.tmpl)
        if res is None:
            continue
        x, x_ok = _peak(res, 0, rr) if pc.axis != 1 else (S, False)
        y, y_ok = _peak(res, 1, rr) if pc.axis != 0 else (S, False)
        out.append(AxisShift(pc.key, pc.centre, (x - S) / sc, (y - S) / sc, x_ok, y_ok))
    return out


def _distances(centres: np.ndarray) -> np.ndarray:
    """(n, n) distances (mm) between the points `centres` (n × 2)."""
    return np.hypot(*(centres[:, None, :] - centres[None, :, :]).transpose(2, 0, 1))


def _agreeing(centres: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Which samples (`values`: one row of displacements per sample, one or two axes) agree with the median of
    their neighbours (within _NEAR_MM) to _AGREE_MM, a mask; none when fewer than three samples."""
    if len(values) < 3:
        return np.zeros(len(values), bool)
    v = values.reshape(len(values), -1)
    near = _distances(centres) < _NEAR_MM
    np.fill_diagonal(near, False)
    return np.array([near[i].any() and float(np.sqrt(np.sum((v[i] - np.median(v[near[i]], axis=0)) ** 2)))
                     <= _AGREE_MM for i in range(len(v))])


def _along(shifts: list[AxisShift], axis: int) -> tuple[list[AxisShift], np.ndarray, np.ndarray]:
    """The shifts trusted along `axis` (0: x, 1: y) that agree with their neighbours, their centres and values."""
    use = [s for s in shifts if (s.x_ok, s.y_ok)[axis]]
    c = np.array([s.centre for s in use], np.float64).reshape(-1, 2)
    v = np.array([(s.dx, s.dy)[axis] for s in use], np.float64)
    keep = _agreeing(c, v)
    return [s for s, k in zip(use, keep) if k], c[keep], v[keep]


def displacement(shifts: list[AxisShift], size_mm: tuple[float, float]) -> np.ndarray | None:
    """Where each point of the page really is, from where its frames were found (`axis_shifts`): (dx, dy) mm on a
    grid over the page (rows × cols × 2, nodes at `grid_mm`); None when fewer
    than FLATTEN_MIN_SAMPLES shifts agree with their neighbours along either axis."""
    grid = []
    for axis in (0, 1):
        _, c, v = _along(shifts, axis)
        if len(v) < FLATTEN_MIN_SAMPLES:
            return None
        grid.append(_smooth(c, v, size_mm))
    return np.stack(grid, axis=2)


def grid_mm(size_mm: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The displacement grid's nodes (mm), x along columns and y along rows: every _GRID_MM, placed where an integer
    upscaling of the grid by _GRID_MM * ALIGN_PX_PER_MM with bilinear interpolation (cv2.resize) puts its samples,
    so that align.warp can spread the grid to every pixel in one call."""
    s = _GRID_MM * ALIGN_PX_PER_MM
    cols, rows = int(np.ceil(size_mm[0] / _GRID_MM)), int(np.ceil(size_mm[1] / _GRID_MM))
    off = (s - 1) / 2 / ALIGN_PX_PER_MM
    return np.arange(cols) * _GRID_MM + off, np.arange(rows) * _GRID_MM + off


def _smooth(c: np.ndarray, v: np.ndarray, size_mm: tuple[float, float]) -> np.ndarray:
    """A smooth field through samples `v` at `c` (mm), on the `grid_mm` nodes. A sheet's bend moves neighbouring
    frames together and varies slowly across the page (a fold's ridge over tens of mm), so each node takes a linear
    fit of the samples around it, weighted by a Gaussian of _SMOOTH_MM or, where samples are sparse, of the distance
    to its _SMOOTH_K-th nearest (a fit, not a mean, so that the field follows its slope to the page's edges; slopes
    damped where the samples around lie on a line)."""
    xs, ys = grid_mm(size_mm)
    gx, gy = np.meshgrid(xs, ys)
    g = np.stack([gx.ravel(), gy.ravel()], axis=1)
    r2 = (g[:, 0:1] - c[None, :, 0]) ** 2 + (g[:, 1:2] - c[None, :, 1]) ** 2  # nodes × samples
    k = min(_SMOOTH_K, len(v)) - 1
    sig2 = np.maximum(_SMOOTH_MM ** 2, np.partition(r2, k, axis=1)[:, k])
    w = np.exp(-r2 / (2 * sig2[:, None]))
    # weighted sums of 1, x, y, x², xy, y², v, vx, vy over the samples, for every node at once
    cx, cy = c[:, 0], c[:, 1]
    m = w @ np.stack([np.ones_like(cx), cx, cy, cx * cx, cx * cy, cy * cy, v, v * cx, v * cy], axis=1)
    s0, sx, sy, sxx, sxy, syy, sv, svx, svy = m.T
    X, Y = g[:, 0], g[:, 1]  # moments about the node: Σw(x - X) = sx - X s0, ...
    mx, my = sx - X * s0, sy - Y * s0
    mxx = sxx - 2 * X * sx + X * X * s0 + _SLOPE_RIDGE * sig2 * s0
    myy = syy - 2 * Y * sy + Y * Y * s0 + _SLOPE_RIDGE * sig2 * s0
    mxy = sxy - X * sy - Y * sx + X * Y * s0
    bx, by = svx - X * sv, svy - Y * sv
    A = np.stack([np.stack([s0 + 1e-12, mx, my], 1), np.stack([mx, mxx, mxy], 1), np.stack([my, mxy, myy], 1)], 1)
    b = np.stack([sv, bx, by], 1)[:, :, None]
    return np.linalg.solve(A, b)[:, 0, 0].reshape(len(ys), len(xs))


def after_flattening(aligned: np.ndarray, layout: PageLayout, before: float) -> Flatness:
    """How flat a flattened page is: the frames measured as on any page (`measure`) and the pieces that flattened
    it (`axis_shifts`, those that agree with their neighbours: a lone match on a written stroke says nothing),
    each along its own axis; the page's bend is the larger of the two measures, a field is off where either finds
    it off."""
    flat = measure(aligned, layout)
    dev: dict[tuple[int, int], float] = {}
    shifts = axis_shifts(aligned, layout)
    seen: set[tuple[tuple[int, int], tuple[float, float], int]] = set()
    for axis in (0, 1):
        use, _, v = _along(shifts, axis)
        for s, d in zip(use, np.abs(v)):
            dev[s.key] = max(dev.get(s.key, 0.0), float(d))
            seen.add((s.key, s.centre, axis))
    bend = max(flat.bend_mm, float(np.sort(list(dev.values()))[-2]) if len(dev) >= 2 else 0.0)
    off = dict(flat.off)
    marks = _mark_fields(layout)
    for key, d in dev.items():
        if d > (FLAT_MARK_OFF_MM if key in marks else FIELD_OFF_MM):
            off[key] = max(off.get(key, 0.0), round(d, 2))
    # a mark read a little off its place reads its own printed outline as a tick: on a page that was bent, every
    # bubble and box of a mark field must have a piece of frame found in place, along each axis, within _CHECK_MM
    # (its own, or a neighbour's: a ticked box or a filled bubble often gives no clear match of its own)
    found = [np.array([c for (_, c, a) in seen if a == axis], np.float64).reshape(-1, 2) for axis in (0, 1)]

    def near(c: tuple[float, float], axis: int) -> bool:
        return bool(len(found[axis])) and float(np.hypot(*(found[axis] - c).T).min()) <= _CHECK_MM

    unchecked = frozenset(pc.key for pc in _pieces(layout) if pc.key in marks
                          and not all(near(pc.centre, a) for a in ((0, 1) if pc.axis == 2 else (pc.axis,))))
    return Flatness(bend, off, before, unchecked)


@lru_cache(maxsize=32)
def _mark_fields(layout: PageLayout) -> frozenset[tuple[int, int]]:
    return frozenset((e.row, fi) for e in layout.entries for fi, f in enumerate(e.fields)
                     if f.options or f.type == "checkbox")

