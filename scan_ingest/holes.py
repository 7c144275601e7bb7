"""Holes punched for a ring binder: paper that is not there.

Registers are kept in ring binders, their sheets punched in the left margin (ISO 838: 2 or 4 holes 6 mm across,
80 mm apart, 12 mm from the edge, give or take a sheet not pushed home). Through a hole an automatic feeder shows
its dark background: a black disk 6 mm across in the margin, 1 mm from the death form's « Certificat de décès vu »
and « Domicile dans une autre commune » boxes, read as ink that comes from elsewhere (foreign.py, read._spill_mm2):
both boxes to review on every punched death page (bench_scan profile ``scanner_200_punched``, seeds 5 / 6 / 7: mark
review 2.0 / 5.6 / 2.8 % before this, 0.7 / 4.7 / 1.4 % after; 0 silent errors either way).

So dark disks HOLE_DIAMETER_MM across, centred HOLE_CENTRE_MM from the page's left edge (a sheet fed the other
way round is turned back by the alignment) and away from every field, are found on the aligned page and painted as
paper before anything is measured on it: a bubble filled past its ring is not a hole. A hole over a bubble, a box
or a digit box may hide what was written there: that field goes to review (« trou de perforation sur la case »).
A flatbed's white lid shows a hole as paper with a thin grey rim. That rim alone still sent those boxes to review
and made a régie page look bent to flatness.py (seed 6); on a page with no black hole, rims of a hole's size are
looked for by normalised correlation in the same margin (_rims) and painted the same way. Mark review on seeds
5 / 6 / 7 with both: 0.2 / 3.3 / 0.5 %; seed 6's rest is one page whose fourth hole bites the bottom-left corner
marker: aligned 0.5 mm off, it goes to review as not flat, rightly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from papier.layout import PageLayout, Rect
from scan_ingest.thresholds import (ALIGN_PX_PER_MM, HOLE_CENTRE_MM, HOLE_COVER_REVIEW, HOLE_DARK, HOLE_DIAMETER_MM,
                                    HOLE_FILL, HOLE_PAINT_PAD_MM, HOLE_RIM_CONTRAST, HOLE_RIM_NCC,
                                    HOLE_RIM_RADII_MM)

K = ALIGN_PX_PER_MM


@dataclass(frozen=True)
class Hole:
    cx: float  # mm on the page
    cy: float
    r: float


def find(aligned: np.ndarray, layout: PageLayout) -> list[Hole]:
    """Dark disks of a punched hole's size in the left margin of the aligned page, away from the fields; looked for
    at half its resolution (4 px/mm: about 1.5 ms a page)."""
    lo, hi = HOLE_DIAMETER_MM
    s = K / 2
    strip = aligned[:aligned.shape[0] // 2 * 2, :int(round((HOLE_CENTRE_MM[1] + hi / 2) * s)) * 2]
    strip = cv2.resize(strip, (strip.shape[1] // 2, strip.shape[0] // 2), interpolation=cv2.INTER_AREA)
    paper = float(np.percentile(strip[::2, ::2], 90))
    dark = (strip < HOLE_DARK * paper).view(np.uint8)
    k = int(round(lo / 2 * s)) | 1  # a square half a hole across: a rule or a stroke the hole touches is cut off
    n, _, st, cen = cv2.connectedComponentsWithStats(cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((k, k), np.uint8)),
                                                       connectivity=8)
    zones = _not_holes(layout)
    out: list[Hole] = []
    for i in range(1, n):
        w, h, a = st[i, cv2.CC_STAT_WIDTH], st[i, cv2.CC_STAT_HEIGHT], st[i, cv2.CC_STAT_AREA]
        x, y = cen[i][0] / s, cen[i][1] / s
        # the opening by a square trims a disk's rim by up to a pixel each side: the size test allows for it
        if not (lo - 1 <= w / s <= hi and lo - 1 <= h / s <= hi and a / (w * h) >= HOLE_FILL
                and HOLE_CENTRE_MM[0] <= x <= HOLE_CENTRE_MM[1]):
            continue
        if any(z.x <= x <= z.x + z.w and z.y <= y <= z.y + z.h for z in zones):
            continue  # ink inside a field (a bubble filled past its ring) or a marker is never a hole
        m = int(np.ceil(hi / 2 * s)) + 1  # its radius from its area before the opening
        cy, cx = int(round(cen[i][1])), int(round(cen[i][0]))
        r = float(np.sqrt(dark[max(0, cy - m):cy + m + 1, max(0, cx - m):cx + m + 1].sum() / np.pi)) / s
        if lo / 2 <= r <= hi / 2:
            out.append(Hole(x, y, r))
    if out:  # one background per page: a page with black holes has no white ones
        return out
    return [h for h in _rims(strip, paper, s) if not any(z.x <= h.cx <= z.x + z.w and z.y <= h.cy <= z.y + z.h
                                                        for z in zones)]


@lru_cache(maxsize=32)
def _not_holes(layout: PageLayout) -> tuple[Rect, ...]:
    """Where a hole's centre never is: inside a field (a bubble filled past its ring) or a corner marker (opened, a
    black blob)."""
    return tuple([f.ink_zone() for e in layout.entries for f in e.fields]
                 + [Rect(m.x, m.y, m.size, m.size) for m in layout.fiducials])


@lru_cache(maxsize=8)
def _ring(r_px: float) -> np.ndarray:
    """A hole's rim as a matched filter: a thin circle of radius r_px (a Gaussian profile across it)."""
    t = int(np.ceil(r_px + 3))
    yy, xx = np.mgrid[-t:t + 1, -t:t + 1]
    return np.exp(-((np.hypot(yy, xx) - r_px) ** 2) / (2 * 0.6 ** 2)).astype(np.float32)


def _rims(strip: np.ndarray, paper: float, s: float) -> list[Hole]:
    """White holes (a flatbed's lid behind them): thin grey circles of a hole's size, found by normalised
    correlation with a rim at HOLE_RIM_RADII_MM (each peak at HOLE_RIM_NCC or more, its rim darker than the paper
    inside and outside it by HOLE_RIM_CONTRAST), in `strip` (the margin at s px/mm, its paper level `paper`)."""
    dk = np.clip(1.0 - strip.astype(np.float32) / max(paper, 1.0), 0.0, 1.0)
    lo, hi = HOLE_DIAMETER_MM
    best = np.full((dk.shape[0], dk.shape[1]), -1.0, np.float32)
    radius = np.zeros(best.shape, np.float32)
    for r in HOLE_RIM_RADII_MM:
        t = _ring(r * s)
        res = np.nan_to_num(cv2.matchTemplate(dk, t, cv2.TM_CCOEFF_NORMED), nan=0.0, posinf=0.0, neginf=0.0)
        o = t.shape[0] // 2
        view = best[o:o + res.shape[0], o:o + res.shape[1]]
        better = res > view
        view[better] = res[better]
        radius[o:o + res.shape[0], o:o + res.shape[1]][better] = r
    yy, xx = np.mgrid[-12:13, -12:13]
    d = np.hypot(yy, xx)
    out: list[Hole] = []
    x_lo, x_hi = int(HOLE_CENTRE_MM[0] * s), int(HOLE_CENTRE_MM[1] * s)
    band = best[:, x_lo:x_hi + 1]
    for _ in range(6):  # at most 4 holes, and a few peaks that fail the contrast test
        y, x = np.unravel_index(int(np.argmax(band)), band.shape)
        if band[y, x] < HOLE_RIM_NCC:
            break
        cx = x + x_lo
        r = float(radius[y, cx]) * s
        band[max(0, y - int(hi * s)):y + int(hi * s) + 1, max(0, x - int(hi * s)):x + int(hi * s) + 1] = -1.0
        if y < 12 or y + 13 > dk.shape[0] or cx < 12 or cx + 13 > dk.shape[1]:
            continue
        win = dk[y - 12:y + 13, cx - 12:cx + 13]
        rim = win[np.abs(d - r) <= 1.0].mean()
        around = max(win[d <= r - 2.5].mean(), win[(d >= r + 2.5) & (d <= r + 4.5)].mean())
        if rim - around >= HOLE_RIM_CONTRAST:
            out.append(Hole(cx / s, y / s, r / s))
    return out


def paint(aligned: np.ndarray, holes: list[Hole]) -> None:
    """Each hole (grown by HOLE_PAINT_PAD_MM: its blurred edge) painted with the paper around it, in place."""
    for hole in holes:
        c = (int(round(hole.cx * K)), int(round(hole.cy * K)))
        r = int(round((hole.r + HOLE_PAINT_PAD_MM) * K))
        y0, y1 = max(0, c[1] - 2 * r), min(aligned.shape[0], c[1] + 2 * r)
        x0, x1 = max(0, c[0] - 2 * r), min(aligned.shape[1], c[0] + 2 * r)
        level = int(np.percentile(aligned[y0:y1, x0:x1], 90))
        cv2.circle(aligned, c, r, level, -1)


def _covered(hole: Hole, r: Rect) -> float:
    """Share of the rectangle `r` (mm) under the hole grown by HOLE_PAINT_PAD_MM (sampled every 0.25 mm)."""
    ys = np.arange(r.y + 0.125, r.y + r.h, 0.25)
    xs = np.arange(r.x + 0.125, r.x + r.w, 0.25)
    if not len(ys) or not len(xs):
        return 0.0
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    return float((np.hypot(xx - hole.cx, yy - hole.cy) <= hole.r + HOLE_PAINT_PAD_MM).mean())


def covered_fields(holes: list[Hole], layout: PageLayout) -> dict[tuple[int, int], float]:
    """(row, field index) → the largest share of one of its bubbles, boxes or digit boxes under a hole, for the
    fields at HOLE_COVER_REVIEW or more."""
    out: dict[tuple[int, int], float] = {}
    for e in layout.entries:
        for fi, f in enumerate(e.fields):
            if f.type in ("choice", "multi"):
                rects = [Rect(o.cx - o.r, o.cy - o.r, 2 * o.r, 2 * o.r) for o in f.options]
            elif f.type == "checkbox" and f.box is not None:
                rects = [f.box]
            elif f.type == "digits":
                rects = list(f.boxes)
            else:
                continue
            worst = max((_covered(h, r) for h in holes for r in rects), default=0.0)
            if worst >= HOLE_COVER_REVIEW:
                out[(e.row, fi)] = round(worst, 2)
    return out
