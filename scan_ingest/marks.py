"""Measure ink on the aligned page: bubbles and checkboxes (marks), and writing zones (ink / no ink).

Everything works on *darkness* (0 paper … 1 black) relative to the local paper level, so an uneven phone photo
or a grey photocopy shifts the paper, not the verdict. Bubble measurements are vectorised: one gather for every
bubble of the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from papier.layout import FieldGeom, PageLayout, Rect
from scan_ingest.thresholds import (
    ALIGN_PX_PER_MM, BASELINE_FRACTION, BILEVEL_DOT_MIN_PX, BILEVEL_DOT_RADIUS, BLANK_REF_MAX,
    BLANK_REF_MIN_BUBBLES, BUBBLE_INNER, CHECKBOX_INNER_MM, HALO_INNER, HALO_LABEL_MIN_ROWS, HALO_OUTER,
    INK_DARKNESS, INK_FAINT_FACTOR, INK_MIN_AREA_MM2, LABEL_ABOVE_MM, LABEL_BELOW_MM, LABEL_GAP_MM, MARK_EMPTY_MAX,
    MARK_FILLED_MIN, MARK_FRAC_EMPTY, MARK_FRAC_MARKED, REG_MAX_SHIFT_PX, REG_MIN_BUBBLES, REG_MIN_CONTRAST,
    REG_OUTLIER_PX, SPECK_MAX_COUNT, SPECK_MAX_PX, SPECK_MAX_SIDE, STREAK_CHECK_MAX,
    STREAK_MAX_ROWS, STREAK_ROW_SPAN, ZONE_INSET_MM,
)

K = ALIGN_PX_PER_MM
UNSURE_FRAC = (MARK_FRAC_EMPTY + MARK_FRAC_MARKED) / 2  # a measurement that classify() always calls "unsure"


def _darkness_of(a: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Darkness of pixel values `a` on paper level `p` (float32 arrays): the one formula of this module."""
    return np.clip(1.0 - a / p, 0.0, 1.0)


def _ink_limits() -> np.ndarray:
    """For each paper level p (uint8), the number of pixel values a (0…255) that are ink on it: the pixel is ink
    (darkness > INK_DARKNESS) exactly when a < limit[p]. Built from the float formula itself for all 256 x 256
    pairs, so the integer test gives the same answer pixel for pixel without computing any darkness."""
    a = np.arange(256, dtype=np.float32)[:, None]
    p = np.maximum(np.arange(256, dtype=np.float32), 1.0)[None, :]  # paper levels are >= 40 (Darkness)
    ink = _darkness_of(a, p) > INK_DARKNESS
    limit = ink.sum(axis=0)
    # darkness falls as a rises: the ink values of each paper level are a prefix 0 … limit - 1
    assert (ink == (np.arange(256)[:, None] < limit[None, :])).all() and limit.max() <= 255
    return limit.astype(np.uint8)


_INK_LIMIT = _ink_limits()


class Darkness:
    """Darkness in [0, 1] relative to the local paper level (a max filter at 1/8 scale, blurred), computed only
    where it is asked for (bubbles, writing zones): most of a page is never looked at."""

    def __init__(self, aligned: np.ndarray):
        h, w = aligned.shape
        small = cv2.resize(aligned, (w // 8, h // 8), interpolation=cv2.INTER_AREA)
        paper = cv2.dilate(small, np.ones((7, 7), np.uint8))
        paper = cv2.GaussianBlur(paper, (0, 0), 3)
        paper = np.maximum(paper, 40)
        self.aligned = aligned
        self.paper = cv2.resize(paper, (w, h), interpolation=cv2.INTER_LINEAR)
        self._inks: dict[tuple[tuple[int, ...], ...], list[np.ndarray]] = {}

    def at(self, flat_idx: np.ndarray) -> np.ndarray:
        a = self.aligned.ravel()[flat_idx].astype(np.float32)
        p = self.paper.ravel()[flat_idx].astype(np.float32)
        return _darkness_of(a, p)

    def crop(self, ys: slice, xs: slice) -> np.ndarray:
        return _darkness_of(self.aligned[ys, xs].astype(np.float32), self.paper[ys, xs].astype(np.float32))

    def ink(self, ys: slice, xs: slice) -> np.ndarray:
        """`crop(ys, xs) > INK_DARKNESS` (the same pixels, bool, read-only), by integer comparison: no float image."""
        a, p = self.aligned[ys, xs], self.paper[ys, xs]
        m = np.less(a, cv2.LUT(p, _INK_LIMIT)) if a.size else np.zeros(a.shape, bool)
        m.flags.writeable = False
        return m

    def inks(self, zones: list[Rect]) -> list[np.ndarray]:
        """`ink` of each zone (zone_slices), the zones of one field (a digit field's boxes side by side) in one
        comparison over their bounding rectangle: the masks are views of it, the same pixels. Kept for the page
        when there are several (a digit field's boxes: measured again for the trace of a blank field)."""
        sl = [zone_slices(r) for r in zones]
        if len(sl) < 2:
            return [self.ink(ys, xs) for ys, xs in sl]
        key = tuple((ys.start, ys.stop, xs.start, xs.stop) for ys, xs in sl)
        out = self._inks.get(key)
        if out is None:
            h, w = self.aligned.shape
            y0, x0 = min(k[0] for k in key), min(k[2] for k in key)
            y1, x1 = max(k[1] for k in key), max(k[3] for k in key)
            if y0 < 0 or x0 < 0 or y1 > h or x1 > w or any(k[1] <= k[0] or k[3] <= k[2] for k in key):
                return [self.ink(ys, xs) for ys, xs in sl]  # at the page's edge or empty: one by one
            big = self.ink(slice(y0, y1), slice(x0, x1))
            out = [big[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0] for ys, xs in sl]
            self._inks[key] = out
        return out


def darkness(aligned: np.ndarray) -> Darkness:
    return Darkness(aligned)


@dataclass(frozen=True)
class MarkSpot:
    """One bubble or checkbox of the page: its field index and option value."""
    field_key: tuple[int, int]  # (entry row, field index in entry)
    value: str | None           # option value (None for a checkbox)


@dataclass(frozen=True)
class MarkPlan:
    spots: tuple[MarkSpot, ...]
    disk_idx: np.ndarray        # (n_bubbles, k) flat pixel indices of inner disks
    box_slices: tuple[tuple[int, int, int, int], ...]  # checkboxes: y0, y1, x0, x1
    n_bubbles: int
    halo_idx: np.ndarray        # (n_bubbles, k2) flat pixel indices of each bubble's halo (see thresholds)
    width: int = 0              # aligned page width (px): a shift (dx, dy) moves flat indices by dy * width + dx
    spot_xy: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # (n_spots, 2) centres (px)
    disk_r: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (k,) radius (px) of each disk pixel
    ring_tmpl: np.ndarray = field(default_factory=lambda: np.zeros((1, 1), np.float32))  # printed ring, zero-mean
    disk_yx: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))  # (k, 2) disk pixels on a grid
    # the label side of each bubble's halo (where the option's printed label is), and which bubbles share a label
    # position down the page (same field, same option, same column): their median is that label's printed ink
    label_idx: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), np.int64))
    label_group: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    label_free_idx: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), np.int64))  # label side, no letters
    # each spot's printed outline in mm: a bubble (cx, cy, r, 0, True), a checkbox (x, y, w, h, False)
    outlines: tuple[tuple[float, float, float, float, bool], ...] = ()


def _ring_template(r_bub: float) -> np.ndarray:
    """A blank bubble's printed ring as a matched filter: +1 (normalised) on the ring, -1 on a band either side."""
    t = int(np.ceil(r_bub + 4.5))
    yy, xx = np.mgrid[-t:t + 1, -t:t + 1]
    d = np.hypot(yy, xx)
    on = np.abs(d - r_bub) <= 1.5
    off = (np.abs(d - r_bub) >= 2.5) & (np.abs(d - r_bub) <= 4.5)
    tm = np.zeros(d.shape, np.float32)
    tm[on] = 1.0 / on.sum()
    tm[off] = -1.0 / off.sum()
    return tm


@lru_cache(maxsize=32)
def mark_plan(layout: PageLayout) -> MarkPlan:
    """Pixel indices of every bubble's inner disk and every checkbox's inner square (cached per layout)."""
    W = int(round(layout.size_mm[0] * K))
    spots: list[MarkSpot] = []
    centres: list[tuple[float, float]] = []
    boxes: list[tuple[int, int, int, int]] = []
    box_spots: list[MarkSpot] = []
    box_centres: list[tuple[float, float]] = []
    groups: dict[tuple[int, str, float], int] = {}
    group_of: list[int] = []
    r_in = None
    bubble_outlines: list[tuple[float, float, float, float, bool]] = []
    box_outlines: list[tuple[float, float, float, float, bool]] = []
    for e in layout.entries:
        for fi, f in enumerate(e.fields):
            if f.type in ("choice", "multi"):
                for o in f.options:
                    spots.append(MarkSpot((e.row, fi), o.value))
                    centres.append((o.cx * K, o.cy * K))
                    group_of.append(groups.setdefault((fi, o.value, round(o.cx, 1)), len(groups)))
                    bubble_outlines.append((o.cx, o.cy, o.r, 0.0, True))
                    r_in = o.r * BUBBLE_INNER * K
            elif f.type == "checkbox":
                assert f.box is not None
                b = f.box
                m = CHECKBOX_INNER_MM
                boxes.append((int(round((b.y + m) * K)), int(round((b.y + b.h - m) * K)),
                              int(round((b.x + m) * K)), int(round((b.x + b.w - m) * K))))
                box_spots.append(MarkSpot((e.row, fi), None))
                box_centres.append(((b.x + b.w / 2) * K, (b.y + b.h / 2) * K))
                box_outlines.append((b.x, b.y, b.w, b.h, False))
    disk_r = np.zeros(0)
    disk_yx = np.zeros((0, 2), np.int64)
    tmpl = np.zeros((1, 1), np.float32)
    if centres:
        assert r_in is not None
        rr = int(np.ceil(r_in))
        yy, xx = np.mgrid[-rr:rr + 1, -rr:rr + 1]
        sel = (yy + 0.5) ** 2 + (xx + 0.5) ** 2 <= r_in ** 2  # pixel centres at +0.5
        dy, dx = yy[sel], xx[sel]
        disk_r = np.hypot(dy + 0.5, dx + 0.5)
        disk_yx = np.c_[dy + rr, dx + rr]
        c = np.array(centres)
        cy = np.floor(c[:, 1]).astype(np.int64)[:, None] + dy[None, :]
        cx = np.floor(c[:, 0]).astype(np.int64)[:, None] + dx[None, :]
        disk_idx = cy * W + cx
        r_bub = r_in / BUBBLE_INNER
        ro = int(np.ceil(r_bub * HALO_OUTER))
        yy, xx = np.mgrid[-ro:ro + 1, -ro:ro + 1]
        d2 = (yy + 0.5) ** 2 + (xx + 0.5) ** 2
        annulus = (d2 >= (r_bub * HALO_INNER) ** 2) & (d2 <= (r_bub * HALO_OUTER) ** 2)
        # the annulus, without the right-hand side where the option's label is printed; that side on its own
        hsel = annulus & (xx + 0.5 <= 0.3 * r_bub)
        lsel = annulus & (xx + 0.5 > 0.3 * r_bub)
        # ... and that side without the band where the label's letters are printed (render.py: from r + 0.9 mm,
        # baseline 0.8 mm below the centre; accents above, descenders below): measurable on every page
        text = ((xx + 0.5 >= r_bub + LABEL_GAP_MM * K) & (yy + 0.5 >= -LABEL_ABOVE_MM * K)
                & (yy + 0.5 <= LABEL_BELOW_MM * K))
        fsel = lsel & ~text
        y0, x0 = np.floor(c[:, 1]).astype(np.int64)[:, None], np.floor(c[:, 0]).astype(np.int64)[:, None]

        def around(sel: np.ndarray) -> np.ndarray:  # flat page indices of `sel`'s offsets around every bubble
            return (y0 + yy[sel][None, :]) * W + x0 + xx[sel][None, :]

        halo_idx, label_idx, free_idx = around(hsel), around(lsel), around(fsel)
        tmpl = _ring_template(r_bub)
    else:
        disk_idx = np.zeros((0, 1), np.int64)
        halo_idx = np.zeros((0, 1), np.int64)
        label_idx = np.zeros((0, 1), np.int64)
        free_idx = np.zeros((0, 1), np.int64)
    xy = np.array(centres + box_centres, np.float64).reshape(-1, 2)
    return MarkPlan(tuple(spots + box_spots), disk_idx, tuple(boxes), len(spots), halo_idx, W, xy, disk_r, tmpl,
                    disk_yx, label_idx, np.array(group_of, np.int64), free_idx,
                    tuple(bubble_outlines + box_outlines))


# --- local registration: where the printed rings really are ------------------------------------------------------


def ring_offsets(dark: Darkness, plan: MarkPlan) -> tuple[np.ndarray, np.ndarray]:
    """Per bubble: where its printed ring is relative to the layout's position ((dx, dy) px, sub-pixel), and the
    ring's contrast there (matched filter: ring minus its surroundings; ≈ 0 when ink hides the ring)."""
    n = plan.n_bubbles
    off = np.zeros((n, 2), np.float64)
    peak = np.zeros(n, np.float64)
    if not n:
        return off, peak
    S = REG_MAX_SHIFT_PX
    t = plan.ring_tmpl.shape[0] // 2
    h, w = dark.aligned.shape
    for i in range(n):
        x, y = (int(np.floor(v)) for v in plan.spot_xy[i])
        y0, y1, x0, x1 = y - t - S, y + t + S + 1, x - t - S, x + t + S + 1
        if y0 < 0 or x0 < 0 or y1 > h or x1 > w:
            continue
        res = cv2.matchTemplate(dark.crop(slice(y0, y1), slice(x0, x1)), plan.ring_tmpl, cv2.TM_CCORR)
        _, mv, _, (bx, by) = cv2.minMaxLoc(res)
        sx, sy = float(bx - S), float(by - S)
        if 0 < bx < res.shape[1] - 1:  # parabola through the peak and its neighbours: sub-pixel
            a, b, c = res[by, bx - 1], res[by, bx], res[by, bx + 1]
            den = a - 2 * b + c
            sx += 0.5 * (a - c) / den if den < 0 else 0.0
        if 0 < by < res.shape[0] - 1:
            a, b, c = res[by - 1, bx], res[by, bx], res[by + 1, bx]
            den = a - 2 * b + c
            sy += 0.5 * (a - c) / den if den < 0 else 0.0
        off[i] = (sx, sy)
        peak[i] = mv
    return off, peak


def registration(dark: Darkness, plan: MarkPlan) -> np.ndarray:
    """Integer (dx, dy) px for every spot (bubbles then checkboxes): the page's printed rings, found one by one,
    summarised as a smooth (affine) displacement over the page, so a mark can never pull its own bubble.

    Why: after the page-level alignment, the printed bubbles can still sit a few pixels off the layout (a page
    aligned on 3 markers + QR corners, or a blank photocopied with its own skew): measured up to 3.4 px (0.4 mm)
    on the photocopy profile. The inner disk (0.85 r) then takes in the printed ring and an empty bubble looks
    'barely marked'."""
    out = np.zeros((len(plan.spots), 2), np.float64)
    if not plan.n_bubbles:
        return out.astype(np.int64)
    off, peak = ring_offsets(dark, plan)
    xy = plan.spot_xy[:plan.n_bubbles]
    off = off - (xy - np.floor(xy))  # ring offsets are found relative to the pixel floor(centre): displacement
    ok = peak >= REG_MIN_CONTRAST
    if ok.sum() >= 3:
        sel = ok.copy()
        spread = np.ptp(xy[sel], axis=0) if sel.any() else np.zeros(2)
        affine = sel.sum() >= REG_MIN_BUBBLES and spread.min() >= 40 * K
        for _ in range(3):
            if affine:
                A = np.c_[np.ones(sel.sum()), xy[sel]]
                coef, *_ = np.linalg.lstsq(A, off[sel], rcond=None)
                pred = np.c_[np.ones(len(xy)), xy] @ coef
            else:
                pred = np.repeat(np.median(off[sel], axis=0)[None, :], len(xy), axis=0)
            bad = np.hypot(*(off - pred).T) > REG_OUTLIER_PX
            new = ok & ~bad
            if new.sum() < 3 or (new == sel).all():
                break
            sel = new
            affine = affine and sel.sum() >= REG_MIN_BUBBLES
        if affine:
            out = np.c_[np.ones(len(plan.spot_xy)), plan.spot_xy] @ coef
        else:
            out[:] = np.median(off[sel], axis=0)
    out = np.clip(out, -REG_MAX_SHIFT_PX, REG_MAX_SHIFT_PX)
    # a bubble's disk pixels (mark_plan) are centred on the pixel corner floor(c) - 0.5 in sampling coordinates
    # (pixel u of the aligned page samples the point u / K mm): move it onto the ring's true centre
    nb = plan.n_bubbles
    out[:nb] += plan.spot_xy[:nb] - np.floor(plan.spot_xy[:nb]) + 0.5
    return np.rint(out).astype(np.int64)


def blank_reference(d: np.ndarray, plan: MarkPlan) -> np.ndarray:
    """The page's own blank bubble, per disk pixel: the median over the page's bubbles (most are empty) of each
    pixel's darkness, averaged by radius, kept only in the outer band where the printed ring can bleed in (blur,
    a dark photocopy, JPEG ringing), capped. Subtracted from every bubble before its ink is measured."""
    if len(d) < BLANK_REF_MIN_BUBBLES:
        return np.zeros(d.shape[1], np.float32)
    med = np.median(d, axis=0)
    rb = np.rint(plan.disk_r).astype(np.int64)
    ref = np.zeros_like(med)
    for r in np.unique(rb):
        m = rb == r
        ref[m] = med[m].mean()
    outer = plan.disk_r >= plan.disk_r.max() - 3.0  # the 3 px next to the ring
    return np.where(outer, np.minimum(ref, BLANK_REF_MAX), 0.0).astype(np.float32)


def drop_specks(d: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Darkness of a bubble or box (2-D) with toner specks removed: when every ink blob is a speck — small
    (SPECK_MAX_PX, SPECK_MAX_SIDE), not touching the measured area's edge (a stroke coming from outside is never a
    speck) — and there are at most SPECK_MAX_COUNT of them, they (and their blurred rim) count as paper. Anything
    else is returned unchanged. `inside`: the measured pixels (the disk, or the whole box)."""
    rim = speck_rim((d > INK_DARKNESS) & inside, inside)
    if rim is None:
        return d
    out = d.copy()
    out[rim] = 0.0
    return out


def speck_rim(ink: np.ndarray, inside: np.ndarray) -> np.ndarray | None:
    """drop_specks on an ink mask (ink pixels inside the measured area): the pixels that count as paper (the
    specks and their rim) when every blob is a speck, else None (nothing dropped)."""
    n, lab, st, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    if n <= 1 or n - 1 > SPECK_MAX_COUNT:
        return None
    edge = inside & ~cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT,
                               borderValue=0).astype(bool)
    for j in range(1, n):
        if (st[j, cv2.CC_STAT_AREA] > SPECK_MAX_PX or max(st[j, cv2.CC_STAT_WIDTH], st[j, cv2.CC_STAT_HEIGHT])
                > SPECK_MAX_SIDE or (edge & (lab == j)).any()):
            return None
    return cv2.dilate((lab > 0).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)


def is_streak(d: np.ndarray, inside: np.ndarray) -> bool:
    """A fax transmission streak across a bubble or box: a thin horizontal band of ink (at most STREAK_MAX_ROWS
    rows, each inked over ≥ STREAK_ROW_SPAN of the area's width there and running off its edge: the line goes on
    outside) with next to no other ink. A person's tick, cross or fill is never a flat line of ink."""
    if not inside.size:
        return False
    ink = (d > INK_DARKNESS) & inside
    width = inside.sum(axis=1)
    run = ink.sum(axis=1)
    # is the row's first (last) measured pixel ink? (rows with no measured pixel: no)
    ri = np.arange(len(inside))
    first = inside.argmax(axis=1)
    last = inside.shape[1] - 1 - inside[:, ::-1].argmax(axis=1)
    left = (width > 0) & ink[ri, first]
    right = (width > 0) & ink[ri, last]
    band = (width > 0) & (run >= STREAK_ROW_SPAN * np.maximum(width, 1)) & (left | right)
    rows = np.flatnonzero(band)
    if not len(rows) or rows[-1] - rows[0] + 1 > STREAK_MAX_ROWS:
        return False
    near = np.zeros(len(band), bool)
    near[max(0, rows[0] - 1):rows[-1] + 2] = True
    rest = ink[~near].sum() / max(1, inside[~near].sum())
    return bool(rest <= MARK_FRAC_EMPTY)


def _shifted(idx: np.ndarray, shifts: np.ndarray, width: int) -> np.ndarray:
    return idx + (shifts[:, 1] * width + shifts[:, 0])[:, None]


def measure_halos(dark: Darkness, plan: MarkPlan, shifts: np.ndarray | None = None) -> np.ndarray:
    """Per bubble (plan order): ink beside the bubble, as the largest of
    - the fraction of its halo's pixels (away from the label) that are ink, minus the page's median,
    - the same on the label side outside the band of the label's letters, minus the page's median, and
    - the fraction of its label-side halo that is ink, minus the median of the bubbles printed with the same label
      in the same column (that median is the label's own print); only where at least HALO_LABEL_MIN_ROWS bubbles
      share it (a fiche form's single bubble has no reference: its label side is not measured)."""
    if not plan.n_bubbles:
        return np.zeros(0, np.float32)
    sh = None if shifts is None else shifts[:plan.n_bubbles]
    idx = plan.halo_idx if sh is None else _shifted(plan.halo_idx, sh, plan.width)
    frac = (dark.at(idx) > INK_DARKNESS).mean(axis=1).astype(np.float32)
    out = frac - float(np.median(frac))
    if plan.label_free_idx.shape[0] == plan.n_bubbles:
        fidx = plan.label_free_idx if sh is None else _shifted(plan.label_free_idx, sh, plan.width)
        free = (dark.at(fidx) > INK_DARKNESS).mean(axis=1).astype(np.float32)
        np.maximum(out, free - float(np.median(free)), out=out)
    if plan.label_idx.shape[0] == plan.n_bubbles and len(plan.label_group) == plan.n_bubbles:
        lidx = plan.label_idx if sh is None else _shifted(plan.label_idx, sh, plan.width)
        lab = (dark.at(lidx) > INK_DARKNESS).mean(axis=1).astype(np.float32)
        np.maximum(out, over_column(lab, plan.label_group), out=out)
    return out


def over_column(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each bubble's `values` minus their median over its group (the same option's bubbles down the column, printed
    alike: the median is what the print alone gives); -inf where the group has fewer than HALO_LABEL_MIN_ROWS
    bubbles (no reference: not measured)."""
    med = np.full(int(groups.max()) + 1, np.inf, values.dtype)
    for g in np.flatnonzero(np.bincount(groups) >= HALO_LABEL_MIN_ROWS):
        med[g] = np.median(values[groups == g])
    return values - med[groups]


def measure_marks(dark: Darkness, plan: MarkPlan, shifts: np.ndarray | None = None,
                  bilevel: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per spot (bubbles then checkboxes, in plan order): mean darkness, and the fraction of its pixels that
    are ink (a thin tick barely moves the mean but always puts ink pixels in the box). Bubbles are measured where
    their printed ring is (`shifts`, from registration) and above the page's blank bubble (blank_reference).
    `bilevel`: the page was captured in black and white, where a pale mark can survive as a few dots (below)."""
    if shifts is None:
        shifts = np.zeros((len(plan.spots), 2), np.int64)
    if plan.n_bubbles:
        d = dark.at(_shifted(plan.disk_idx, shifts[:plan.n_bubbles], plan.width))
        d = np.clip(d - blank_reference(d, plan)[None, :], 0.0, 1.0)
        frac = (d > INK_DARKNESS).mean(axis=1)
        dots = np.zeros(len(d), bool)
        if bilevel:  # dots in the centre of a bubble on a fax: a dithered pale mark? (thresholds: BILEVEL_DOT_*)
            centre = plan.disk_r <= BILEVEL_DOT_RADIUS * plan.disk_r.max()
            dots = (d[:, centre] > INK_DARKNESS).sum(axis=1) >= BILEVEL_DOT_MIN_PX
        some = np.flatnonzero((frac > 0) & (d.mean(axis=1) < STREAK_CHECK_MAX))
        streak = np.zeros(len(d), bool)
        if len(some):  # a little ink: toner specks? a fax streak?
            g = int(plan.disk_yx.max()) + 1
            inside = np.zeros((g, g), bool)
            inside[plan.disk_yx[:, 0], plan.disk_yx[:, 1]] = True
            for i in some:
                img = np.zeros((g, g), np.float32)
                img[plan.disk_yx[:, 0], plan.disk_yx[:, 1]] = d[i]
                if frac[i] < MARK_FRAC_MARKED:
                    img = drop_specks(img, inside)
                    d[i] = img[plan.disk_yx[:, 0], plan.disk_yx[:, 1]]
                streak[i] = is_streak(img, inside)
        mean, frac = d.mean(axis=1), (d > INK_DARKNESS).mean(axis=1)
        # a streak across a bubble (seen on fax, seed 2: read as marked, silently) → always 'unsure'
        mean = np.where(streak, np.minimum(mean, MARK_FILLED_MIN * 0.99), mean)
        frac = np.where(streak, UNSURE_FRAC, frac)
        # dots a bilevel capture left of a pale mark (fax, seed 4: two dots of a faint blot, read empty) → 'unsure'
        # unless the bubble is already more than that
        faint = dots & (mean < MARK_FILLED_MIN) & (frac < UNSURE_FRAC)
        frac = np.where(faint, UNSURE_FRAC, frac)
    else:
        mean = frac = np.zeros(0, np.float32)
    bm, bf = [], []
    h, w = dark.aligned.shape
    for (y0, y1, x0, x1), (sx, sy) in zip(plan.box_slices, shifts[plan.n_bubbles:]):
        y0, y1 = max(0, y0 + int(sy)), min(h, y1 + int(sy))
        x0, x1 = max(0, x0 + int(sx)), min(w, x1 + int(sx))
        c = dark.crop(slice(y0, y1), slice(x0, x1))
        ink = c > INK_DARKNESS
        if 0 < ink.mean() < MARK_FRAC_MARKED:
            c = drop_specks(c, np.ones(c.shape, bool))
            ink = c > INK_DARKNESS
        m, f = float(c.mean()), float(ink.mean())
        if ink.size and ink.shape[0] > 4:
            # A fax or scanner streak: a horizontal line of ink right across the box (it continues outside) and
            # nothing else. Seen on the fax profile (score 0.08, fraction 0.08: read as a tick, silently). A
            # person's tick or cross is not a full-width horizontal line: with no other ink the box goes to review.
            # A filled box is full-width on every row: a streak is thin (STREAK_MAX_ROWS).
            # (fax, seed 2: a streak over 70 % of a box, from its left edge, was read as a tick: is_streak takes a
            # band running off either edge over ≥ STREAK_ROW_SPAN of the width.)
            if m < STREAK_CHECK_MAX and is_streak(c, np.ones(c.shape, bool)):
                m, f = min(m, MARK_FILLED_MIN * 0.99), UNSURE_FRAC
        bm.append(m)
        bf.append(f)
    return (np.concatenate([mean, np.array(bm, np.float32)]).astype(np.float32),
            np.concatenate([frac, np.array(bf, np.float32)]).astype(np.float32))


def baseline(values: np.ndarray) -> float:
    """The page's blank level: median of its least-inked marks."""
    if len(values) == 0:
        return 0.0
    s = np.sort(values)
    n = max(1, int(len(s) * BASELINE_FRACTION))
    return float(np.median(s[:n]))


def classify(score: float, frac: float = 0.0) -> str:
    """empty | marked | unsure from a baseline-corrected mean darkness and ink-pixel fraction (on a grainy image,
    noise.py, the fraction is measured once a median has taken the grain out: read.read_fields)."""
    if score >= MARK_FILLED_MIN or frac >= MARK_FRAC_MARKED:
        return "marked"
    if score <= MARK_EMPTY_MAX and frac <= MARK_FRAC_EMPTY:
        return "empty"
    return "unsure"


def mark_confidence(score: float, frac: float = 0.0) -> float:
    """How far a spot sits from the unsure band, mapped to (0.5, 1): 0.5 inside the band."""
    c = classify(score, frac)
    if c == "empty":
        margin = min((MARK_EMPTY_MAX - score) / MARK_EMPTY_MAX, (MARK_FRAC_EMPTY - frac) / MARK_FRAC_EMPTY)
    elif c == "marked":
        margin = max((score - MARK_FILLED_MIN) / MARK_FILLED_MIN, (frac - MARK_FRAC_MARKED) / MARK_FRAC_MARKED)
    else:
        return 0.5
    return round(0.9 + 0.099 * max(0.0, min(1.0, margin)), 3)


# --- writing zones ------------------------------------------------------------------------------------------------


def zone_slices(r: Rect, inset: float = ZONE_INSET_MM) -> tuple[slice, slice]:
    return (slice(int(round((r.y + inset) * K)), int(round((r.y + r.h - inset) * K))),
            slice(int(round((r.x + inset) * K)), int(round((r.x + r.w - inset) * K))))


def ends_left_of(z: Rect, b: Rect, within: float) -> bool:
    """Whether zone `z` ends at most `within` mm left of box `b`, beside it (their rows overlap): writing run on
    past `z` comes into `b` (read._run_on_into, foreign.touching)."""
    return 0 <= b.x - (z.x + z.w) <= within and z.y < b.y + b.h and b.y < z.y + z.h


def line_runs_mm(dark: Darkness, boxes: list[Rect], band_mm: float, inset_mm: float, extra: float) -> np.ndarray:
    """(boxes,) the longest stretch (mm) of each box's printed sides where the darkness summed across the line
    (± band_mm) is `extra` more than the print's: ink drawn along or over a line. The print's is the median over
    all the boxes' vertical (horizontal) sides: one side covered does not move it, and a fax's halved vertical
    resolution thickens the horizontal lines only. Corners (inset_mm) are left out: the other line widens them."""
    def px(mm: float) -> int:
        return int(round(mm * K))

    half = px(band_mm)
    mass: dict[str, list[tuple[int, np.ndarray]]] = {"v": [], "h": []}
    for i, b in enumerate(boxes):
        along_y = slice(px(b.y + inset_mm), px(b.y + b.h - inset_mm))
        along_x = slice(px(b.x + inset_mm), px(b.x + b.w - inset_mm))
        for x in (b.x, b.x + b.w):
            mass["v"].append((i, dark.crop(along_y, slice(px(x) - half, px(x) + half + 1)).sum(axis=1)))
        for y in (b.y, b.y + b.h):
            mass["h"].append((i, dark.crop(slice(px(y) - half, px(y) + half + 1), along_x).sum(axis=0)))
    longest = np.zeros(len(boxes))
    for sides in mass.values():
        if not any(len(m) for _, m in sides):
            continue
        printed = float(np.median(np.concatenate([m for _, m in sides])))
        for i, m in sides:
            wide = np.r_[False, m >= printed + extra, False]
            edges = np.flatnonzero(np.diff(wide.astype(np.int8)))
            if len(edges):
                longest[i] = max(longest[i], int((edges[1::2] - edges[0::2]).max()))
    return longest / K


OPEN_2X2 = np.ones((2, 2), np.uint8)  # drops isolated specks (a pixel or a line of pixels)


def ink_area_mm2(dark: Darkness, zones: list[Rect]) -> float:
    """Ink area (mm²) inside the zones, isolated specks (< 2x2 px) removed."""
    total = 0
    for ink in dark.inks(zones):
        if ink.size == 0 or not ink.any():
            continue
        mask = cv2.morphologyEx(ink.view(np.uint8), cv2.MORPH_OPEN, OPEN_2X2)
        total += cv2.countNonZero(mask)
    return total / (K * K)


def ink_verdict(area_mm2: float) -> str:
    """blank | ink | faint (faint is treated as ink: never silently blank)."""
    if area_mm2 >= INK_MIN_AREA_MM2:
        return "ink"
    if area_mm2 >= INK_MIN_AREA_MM2 * INK_FAINT_FACTOR:
        return "faint"
    return "blank"


def field_zones(f: FieldGeom) -> list[Rect]:
    """Where ink is looked for in a text or digit field (each digit box separately)."""
    if f.boxes:
        return list(f.boxes)
    assert f.box is not None
    return [f.box]
