"""Ink that is not print around a mark: a stroke that comes from elsewhere and crosses a bubble or a box.

Pages of a journal are closed with the régie's or the mairie's rubber stamp near their foot; writing runs on
past its box. Where such a stroke crosses a bubble or a checkbox, the mark reads as made (bench_scan profile
``scanner_200_stamp``: a stamp's letters in a « Quittance annulée » box, its border across the bubbles of a birth
declaration's « Pièces vues »). A mark stays near its box — a tick strays a millimetre or so past the outline —
while such a stroke goes on across paper where the form prints nothing and nobody writes.

The print is known exactly: papier.render draws the form's furniture (what every page of the register shares:
markers, boxes, bubbles, labels, rules) into a PDF, rendered by pdfium at the aligned page's resolution once per
form and process. Around every bubble and checkbox, its *free ring* is the paper between FOREIGN_RING_MM (from,
to) beyond its printed outline where none of that print lies (grown by FOREIGN_PRINT_PAD_MM: alignment is not
perfect), where no other mark reaches (FOREIGN_RING_MM[0] past its outline) and no writing zone is (grown by
FOREIGN_WRITE_PAD_MM: digits stick out of their boxes). The ink there (isolated specks dropped), in mm², is the
spot's foreign ink; a marked or unsure mark with FOREIGN_REVIEW_MM2 of it or more sends its field to review.

Unlike a comparison with the other bubbles of a column, this needs no other line: it works on a fiche form's
single line and on a checkbox as on a bubble.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from papier.forms import FormDef
from papier.layout import PageLayout, Rect
from scan_ingest import marks as mk
from scan_ingest import tint
from scan_ingest.thresholds import (ALIGN_PX_PER_MM, BOX_LINE_BAND_MM, BOX_LINE_EXTRA, BOX_LINE_INSET_MM,
                                    FOREIGN_PRINT_LEVEL, FOREIGN_PRINT_PAD_MM, FOREIGN_REVIEW_MM2,
                                    FOREIGN_RING_MM, FOREIGN_STREAK_MM, FOREIGN_STREAK_PX,
                                    FOREIGN_WRITE_PAD_MM, TOUCH_RING_MM, TOUCH_RUN_ON_MM)

K = ALIGN_PX_PER_MM


@dataclass(frozen=True)
class _Rings:
    idx: np.ndarray     # flat aligned-page indices of every spot's free ring, spot after spot (mark_plan's order)
    starts: np.ndarray  # (spots,) where each spot's indices start in idx
    bands: tuple[tuple[int, int], ...]  # the page's row ranges the rings span (ink is measured there only)
    paper: tuple[np.ndarray, ...]       # each band's rows: where the form prints nothing (bits packed along rows)


def print_mask(form: FormDef, layout: PageLayout) -> np.ndarray:
    """Where the form prints something on every page (bool, the aligned page's size), grown by
    FOREIGN_PRINT_PAD_MM."""
    import pypdfium2 as pdfium

    from papier.render import furniture_pdf

    W, H = int(round(layout.size_mm[0] * K)), int(round(layout.size_mm[1] * K))
    pdf = pdfium.PdfDocument(furniture_pdf(form, layout))
    try:
        img = pdf[0].render(scale=K * 25.4 / 72, grayscale=True).to_numpy()
    finally:
        pdf.close()
    img = img.reshape(img.shape[0], img.shape[1], -1)[:, :, 0]
    out = np.full((H, W), 255, np.uint8)
    h, w = min(H, img.shape[0]), min(W, img.shape[1])
    out[:h, :w] = img[:h, :w]
    printed = (out < FOREIGN_PRINT_LEVEL).astype(np.uint8)
    pad = int(round(FOREIGN_PRINT_PAD_MM * K))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pad + 1, 2 * pad + 1))
    return cv2.dilate(printed, disk).astype(bool)


def _outline_distance(shape: tuple[float, float, float, float, bool], ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """mm from the printed outline of a bubble (cx, cy, r, _, True) or a box (x, y, w, h, False), outwards (≤ 0
    inside), at aligned pixels (ys, xs) (pixel u is the point u / K mm)."""
    a, b, c, d, round_ = shape
    y, x = ys / K, xs / K
    if round_:
        return np.hypot(x - a, y - b) - c
    return np.hypot(np.maximum(np.maximum(a - x, x - a - c), 0.0), np.maximum(np.maximum(b - y, y - b - d), 0.0))


def _patch(shape: tuple[float, float, float, float, bool], reach: float, H: int, W: int) -> tuple[slice, slice]:
    a, b, c, d, round_ = shape
    x0, y0, x1, y1 = (a - c, b - c, a + c, b + c) if round_ else (a, b, a + c, b + d)
    return (slice(max(0, int((y0 - reach) * K)), min(H, int(np.ceil((y1 + reach) * K)) + 1)),
            slice(max(0, int((x0 - reach) * K)), min(W, int(np.ceil((x1 + reach) * K)) + 1)))


def _writing_zones(layout: PageLayout) -> list[Rect]:
    """Where people write or numbers are printed on the page: every text, digits and printed field's ink zone."""
    return [f.ink_zone() for e in layout.entries for f in tuple(e.fields) + tuple(e.printed)
            if f.type in ("text", "digits", "printed")]


@lru_cache(maxsize=8)
def _rings(form: FormDef, layout: PageLayout) -> _Rings:
    """Every spot's free ring (cached per layout: about 2 MB of indices and 0.3 MB of paper mask for a régie
    page)."""
    paper = ~print_mask(form, layout)
    free = paper.copy()
    H, W = free.shape
    grow = FOREIGN_WRITE_PAD_MM
    for z in _writing_zones(layout):
        free[max(0, int((z.y - grow) * K)):int(np.ceil((z.y + z.h + grow) * K)) + 1,
             max(0, int((z.x - grow) * K)):int(np.ceil((z.x + z.w + grow) * K)) + 1] = False
    shapes = mk.mark_plan(layout).outlines
    near, far = FOREIGN_RING_MM
    for s in shapes:  # no mark's own reach is anyone's free ring
        ys, xs = _patch(s, near, H, W)
        yy, xx = np.mgrid[ys, xs]
        free[ys, xs] &= _outline_distance(s, yy, xx) >= near
    parts, starts, n = [], [], 0
    for s in shapes:
        ys, xs = _patch(s, far, H, W)
        yy, xx = np.mgrid[ys, xs]
        d = _outline_distance(s, yy, xx)
        sel = (d >= near) & (d <= far) & free[ys, xs]
        parts.append(yy[sel] * W + xx[sel])
        starts.append(n)
        n += int(sel.sum())
    idx = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    rows = np.unique(idx // W)
    cuts = np.flatnonzero(np.diff(rows) > 1)
    bands = tuple((int(a), int(b) + 1) for a, b in zip(rows[np.r_[0, cuts + 1]], rows[np.r_[cuts, len(rows) - 1]])) \
        if len(rows) else ()
    return _Rings(idx.astype(np.int32), np.array(starts, np.int64), bands,
                  tuple(np.packbits(paper[a:b], axis=1) for a, b in bands))


def _without_streaks(ink: np.ndarray) -> np.ndarray:
    """`ink` (uint8 0/1, the form's print taken out) without thin straight lines along the page's axes: a fax's
    transmission errors (across the page), dust on a scanner's sensor (down it): straight runs at least
    FOREIGN_STREAK_MM long, thinner than FOREIGN_STREAK_PX. A stamp's border is as long only when pressed exactly
    square with the page. Odd kernels: OpenCV's opening by an even one shifts its result by a pixel."""
    n, t = int(round(FOREIGN_STREAK_MM * K)) | 1, FOREIGN_STREAK_PX | 1
    out = ink
    for run, across in (((1, n), (t, 1)), ((n, 1), (1, t))):  # (rows, cols) of the kernels: along, then across
        if ink.shape[0] < run[0]:  # a band lower than a streak is long: none down it
            continue
        core = cv2.erode(ink, np.ones(run, np.uint8))
        if not core.any():  # no run that long: most pages
            continue
        line = cv2.dilate(core, np.ones(run, np.uint8))
        thin = line & ~cv2.morphologyEx(line, cv2.MORPH_OPEN, np.ones(across, np.uint8))
        out = out & ~thin
    return out


def foreign_mm2(dark: mk.Darkness, form: FormDef, layout: PageLayout, wide: np.ndarray | None = None) -> np.ndarray:
    """(spots,) ink (mm²) in each spot's free ring, mark_plan's order: isolated specks (< 2 × 2 px) and streaks
    dropped, and the wide dark areas `wide` (tint.wide_dark's mask at half the resolution: a marker's band, a stain,
    which tint.py judges) when given."""
    rings = _rings(form, layout)
    n = len(rings.starts)
    if not n or not len(rings.idx):
        return np.zeros(n)
    ink = np.zeros(dark.aligned.shape, np.uint8)
    W = ink.shape[1]
    for (y0, y1), paper in zip(rings.bands, rings.paper):  # the lines of bubbles and boxes, not the writing between
        band = dark.ink(slice(y0, y1), slice(None)).view(np.uint8) & np.unpackbits(paper, axis=1, count=W)
        if wide is not None:
            band &= 1 - tint.page_rows(wide, y0, y1, band.shape[1])
        band = _without_streaks(band)
        ink[y0:y1] = cv2.morphologyEx(band, cv2.MORPH_OPEN, mk.OPEN_2X2)
    hits = ink.ravel()[rings.idx].astype(np.int64)
    counts = np.add.reduceat(hits, np.minimum(rings.starts, len(hits) - 1))
    counts[np.diff(np.r_[rings.starts, len(hits)]) == 0] = 0  # an empty ring (reduceat gives the next one's first)
    return counts / (K * K)


@lru_cache(maxsize=8)
def _edges(form: FormDef, layout: PageLayout) -> tuple[tuple[int, slice, slice, np.ndarray], ...]:
    """Each checkbox's *edge band*: paper TOUCH_RING_MM (from, to) beyond its printed outline, off the print (grown
    by FOREIGN_PRINT_PAD_MM), off writing zones (grown by FOREIGN_WRITE_PAD_MM) and off other marks' own band:
    (spot index in mark_plan's order, rows, columns, mask of the patch)."""
    paper = ~print_mask(form, layout)
    H, W = paper.shape
    plan = mk.mark_plan(layout)
    zones = _writing_zones(layout)
    near, far = TOUCH_RING_MM
    grow = FOREIGN_WRITE_PAD_MM
    out = []
    for i, s in enumerate(plan.outlines):
        if s[4]:  # bubbles have their halo (marks.measure_halos)
            continue
        ys, xs = _patch(s, far, H, W)
        yy, xx = np.mgrid[ys, xs]
        d = _outline_distance(s, yy, xx)
        sel = (d >= near) & (d <= far) & paper[ys, xs]
        for j, o in enumerate(plan.outlines):  # another mark's own band is not this one's
            if j != i and abs(o[0] - s[0]) < 30 and abs(o[1] - s[1]) < 30:
                sel &= _outline_distance(o, yy, xx) > far
        for z in zones:
            zy = (yy / K >= z.y - grow) & (yy / K <= z.y + z.h + grow)
            zx = (xx / K >= z.x - grow) & (xx / K <= z.x + z.w + grow)
            sel &= ~(zy & zx)
            if mk.ends_left_of(z, Rect(*s[:4]), TOUCH_RUN_ON_MM):
                sel &= ~(zy & (xx / K < s[0]))  # writing ends there, run on from its box: not a mark of this one
        out.append((i, ys, xs, sel))
    return tuple(out)


def touching(dark: mk.Darkness, form: FormDef, layout: PageLayout,
             wide: np.ndarray | None = None) -> dict[tuple[int, int], float]:
    """(row, field index) of every checkbox → ink (mm²) in its edge band: a mark made across the box's edge or just
    beside it, which the box's inside does not show (isolated specks and, when given, the wide dark areas of
    tint.wide_dark dropped)."""
    plan = mk.mark_plan(layout)
    out: dict[tuple[int, int], float] = {}
    for i, ys, xs, sel in _edges(form, layout):
        ink = dark.ink(ys, xs).view(np.uint8) & sel
        if wide is not None:
            ink &= 1 - tint.page_rows(wide, ys.start, ys.stop, dark.aligned.shape[1])[:, xs]
        ink = cv2.morphologyEx(ink, cv2.MORPH_OPEN, mk.OPEN_2X2)
        out[plan.spots[i].field_key] = float(ink.sum()) / (K * K)
    return out


def crossed(dark: mk.Darkness, form: FormDef, layout: PageLayout,
            wide: np.ndarray | None = None) -> dict[tuple[int, int], dict[str, float]]:
    """(row, field index) → {option value ("" for a checkbox): foreign ink, mm²}, for the spots at or above
    FOREIGN_REVIEW_MM2 (whatever they read: the caller keeps those read marked or unsure)."""
    plan = mk.mark_plan(layout)
    area = foreign_mm2(dark, form, layout, wide)
    out: dict[tuple[int, int], dict[str, float]] = {}
    for i in np.flatnonzero(area >= FOREIGN_REVIEW_MM2):
        sp = plan.spots[i]
        out.setdefault(sp.field_key, {})["" if sp.value is None else str(sp.value)] = round(float(area[i]), 2)
    return out


def widened(dark: mk.Darkness, layout: PageLayout) -> dict[tuple[int, int], float]:
    """(row, field index) of every checkbox → the longest stretch (mm) of its printed sides darkened past the
    print of the page's checkboxes (marks.line_runs_mm): a blot laid over the box's corner or line, most of it on
    the paper around, where writing zones or a run-on's rows keep touching() from seeing it."""
    found = [((e.row, fi), f.box) for e in layout.entries for fi, f in enumerate(e.fields)
             if f.type == "checkbox" and f.box is not None]
    if not found:
        return {}
    keys, boxes = zip(*found)
    runs = mk.line_runs_mm(dark, list(boxes), BOX_LINE_BAND_MM, BOX_LINE_INSET_MM, BOX_LINE_EXTRA)
    return {k: float(v) for k, v in zip(keys, runs)}
