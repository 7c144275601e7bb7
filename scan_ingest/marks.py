"""Measure ink on the aligned page: bubbles and checkboxes (marks), and writing zones (ink / no ink).

Everything works on *darkness* (0 paper … 1 black) relative to the local paper level, so an uneven phone photo
or a grey photocopy shifts the paper, not the verdict. Bubble measurements are vectorised: one gather for every
bubble of the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from papier.layout import FieldGeom, PageLayout, Rect
from scan_ingest.thresholds import (
    ALIGN_PX_PER_MM, BASELINE_FRACTION, BUBBLE_INNER, CHECKBOX_INNER_MM, INK_DARKNESS, INK_FAINT_FACTOR,
    HALO_INNER, HALO_OUTER, INK_MIN_AREA_MM2, MARK_EMPTY_MAX, MARK_FILLED_MIN, MARK_FRAC_EMPTY, MARK_FRAC_MARKED, SECOND_MARK_RATIO, ZONE_INSET_MM,
)

K = ALIGN_PX_PER_MM
STREAK_ROW_FRACTION = 0.9   # a row of a checkbox this full of ink is a streak candidate (a pen stroke is slanted)
UNSURE_FRAC = (MARK_FRAC_EMPTY + MARK_FRAC_MARKED) / 2  # a measurement that classify() always calls "unsure"


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

    def at(self, flat_idx: np.ndarray) -> np.ndarray:
        a = self.aligned.ravel()[flat_idx].astype(np.float32)
        p = self.paper.ravel()[flat_idx].astype(np.float32)
        return np.clip(1.0 - a / p, 0.0, 1.0)

    def crop(self, ys: slice, xs: slice) -> np.ndarray:
        a = self.aligned[ys, xs].astype(np.float32)
        return np.clip(1.0 - a / self.paper[ys, xs].astype(np.float32), 0.0, 1.0)


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


@lru_cache(maxsize=32)
def mark_plan(layout: PageLayout) -> MarkPlan:
    """Pixel indices of every bubble's inner disk and every checkbox's inner square (cached per layout)."""
    W = int(round(layout.size_mm[0] * K))
    spots: list[MarkSpot] = []
    centres: list[tuple[float, float]] = []
    boxes: list[tuple[int, int, int, int]] = []
    box_spots: list[MarkSpot] = []
    r_in = None
    for e in layout.entries:
        for fi, f in enumerate(e.fields):
            if f.type in ("choice", "multi"):
                for o in f.options:
                    spots.append(MarkSpot((e.row, fi), o.value))
                    centres.append((o.cx * K, o.cy * K))
                    r_in = o.r * BUBBLE_INNER * K
            elif f.type == "checkbox":
                assert f.box is not None
                b = f.box
                m = CHECKBOX_INNER_MM
                boxes.append((int(round((b.y + m) * K)), int(round((b.y + b.h - m) * K)),
                              int(round((b.x + m) * K)), int(round((b.x + b.w - m) * K))))
                box_spots.append(MarkSpot((e.row, fi), None))
    if centres:
        assert r_in is not None
        rr = int(np.ceil(r_in))
        yy, xx = np.mgrid[-rr:rr + 1, -rr:rr + 1]
        sel = (yy + 0.5) ** 2 + (xx + 0.5) ** 2 <= r_in ** 2  # pixel centres at +0.5
        dy, dx = yy[sel], xx[sel]
        c = np.array(centres)
        cy = np.floor(c[:, 1]).astype(np.int64)[:, None] + dy[None, :]
        cx = np.floor(c[:, 0]).astype(np.int64)[:, None] + dx[None, :]
        disk_idx = cy * W + cx
        r_bub = r_in / BUBBLE_INNER
        ro = int(np.ceil(r_bub * HALO_OUTER))
        yy, xx = np.mgrid[-ro:ro + 1, -ro:ro + 1]
        d2 = (yy + 0.5) ** 2 + (xx + 0.5) ** 2
        # the annulus, without the right-hand side where the option's label is printed
        hsel = (d2 >= (r_bub * HALO_INNER) ** 2) & (d2 <= (r_bub * HALO_OUTER) ** 2) & (xx + 0.5 <= 0.3 * r_bub)
        hy = np.floor(c[:, 1]).astype(np.int64)[:, None] + yy[hsel][None, :]
        hx = np.floor(c[:, 0]).astype(np.int64)[:, None] + xx[hsel][None, :]
        halo_idx = hy * W + hx
    else:
        disk_idx = np.zeros((0, 1), np.int64)
        halo_idx = np.zeros((0, 1), np.int64)
    return MarkPlan(tuple(spots + box_spots), disk_idx, tuple(boxes), len(spots), halo_idx)


def measure_halos(dark: Darkness, plan: MarkPlan) -> np.ndarray:
    """Per bubble (plan order): the fraction of its halo's pixels that are ink, minus the page's median."""
    if not plan.n_bubbles:
        return np.zeros(0, np.float32)
    frac = (dark.at(plan.halo_idx) > INK_DARKNESS).mean(axis=1).astype(np.float32)
    return frac - float(np.median(frac))


def measure_marks(dark: Darkness, plan: MarkPlan) -> tuple[np.ndarray, np.ndarray]:
    """Per spot (bubbles then checkboxes, in plan order): mean darkness, and the fraction of its pixels that
    are ink (a thin tick barely moves the mean but always puts ink pixels in the box)."""
    if plan.n_bubbles:
        d = dark.at(plan.disk_idx)
        mean, frac = d.mean(axis=1), (d > INK_DARKNESS).mean(axis=1)
    else:
        mean = frac = np.zeros(0, np.float32)
    bm, bf = [], []
    for (y0, y1, x0, x1) in plan.box_slices:
        c = dark.crop(slice(y0, y1), slice(x0, x1))
        ink = c > INK_DARKNESS
        m, f = float(c.mean()), float(ink.mean())
        if ink.size and ink.shape[0] > 4:
            # A fax or scanner streak: a horizontal line of ink right across the box (it continues outside) and
            # nothing else. Seen on the fax profile (score 0.08, fraction 0.08: read as a tick, silently). A
            # person's tick or cross is not a full-width horizontal line: with no other ink the box goes to review.
            full = ink.mean(axis=1) >= STREAK_ROW_FRACTION
            if full.any():
                near = np.convolve(full.astype(np.uint8), np.ones(3, np.uint8), mode="same") > 0
                rest = float(ink[~near].mean()) if (~near).any() else 0.0
                if rest <= MARK_FRAC_EMPTY:
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
    """empty | marked | unsure from a baseline-corrected mean darkness and ink-pixel fraction."""
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


def second_mark_counts(strongest: float, other: float) -> bool:
    return other >= SECOND_MARK_RATIO * strongest


# --- writing zones ------------------------------------------------------------------------------------------------


def zone_slices(r: Rect, inset: float = ZONE_INSET_MM) -> tuple[slice, slice]:
    return (slice(int(round((r.y + inset) * K)), int(round((r.y + r.h - inset) * K))),
            slice(int(round((r.x + inset) * K)), int(round((r.x + r.w - inset) * K))))


_OPEN = np.ones((2, 2), np.uint8)


def ink_area_mm2(dark: Darkness, zones: list[Rect]) -> float:
    """Ink area (mm²) inside the zones, isolated specks (< 2x2 px) removed."""
    total = 0
    for r in zones:
        ys, xs = zone_slices(r)
        crop = dark.crop(ys, xs)
        if crop.size == 0:
            continue
        mask = (crop > INK_DARKNESS).astype(np.uint8)
        if not mask.any():
            continue
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, _OPEN)
        total += int(mask.sum())
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
