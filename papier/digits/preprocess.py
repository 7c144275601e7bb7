"""From a box crop to an MNIST-like 28 x 28 image: remove the printed box, keep the ink, normalise.

Steps (per crop, mostly vectorised over the batch):
1. darkness relative to the paper (the paper level is a high percentile of the crop: a dark photocopy is still
   "paper");
2. find the printed box lines near their expected places (a box line is dark along most of its length, unlike a
   pen stroke: a robust row/column median finds it) and erase them — except pixels clearly darker than the line
   itself (ink crossing it); ink interrupted by an erased line is bridged across it;
3. threshold the ink, keep connected components anchored inside the box (a neighbour's digit entering the margin
   and specks of dust are dropped);
4. crop the ink, scale its larger side to 20 px, centre its centre of mass in 28 x 28 (the MNIST convention);
5. a second view where a stroke may lie along a printed line (the line is thicker than the print over at least
   ALONG_RUN_PX): that stretch of line is kept as ink instead of erased. A 7 whose bar lies on the top line reads
   1 without it, a 6 whose stem lies on the left line 0; where the two views read different digits, the reader
   gives each half of the box's probability (papier.digits.reader).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from papier.digits.render import ALIGN_PX_PER_MM, CROP_H, CROP_W, CROP_MARGIN_MM

# Expected line positions (px) in a crop: the box occupies [M, M + 56) x [M, M + 40)
_M = int(round(CROP_MARGIN_MM * ALIGN_PX_PER_MM))        # 8
_TOP, _BOT = _M, CROP_H - _M                              # 8, 64
_LEFT, _RIGHT = _M, CROP_W - _M                           # 8, 48
_SEARCH = 6            # +- px around the expected line (alignment error is +- 0.5 mm = 4 px)
_BAND = 2              # erase +- this many px around a found line centre
_LINE_MIN = 0.06       # median darkness above which a row/column is a printed line
INK_THRESHOLD = 0.20   # darkness (0 paper - 1 black) above which a pixel is ink
MIN_COMPONENT_PX = 7   # smaller connected components are dust
# A binarised capture (a fax; a scanner in black-and-white mode): more than FLAT_PAPER_SHARE of the crop is at its
# lightest grey and less than FLAT_MID_SHARE is clearly grey (between MID_DARK and 40 below the lightest: printed
# lines and ink edges on a grey capture). Measured (6 profiles, 900 crops each): fax 98-100 % of crops flat; grey
# captures 0 %, though 1.7 % of clean 300-dpi blank boxes have their paper saturated white (their printed lines
# stay grey: 9.6-21 % of the crop).
FLAT_PAPER_SHARE = 0.5
FLAT_MID_SHARE = 0.08
MID_DARK = 60
FAINT_MIN_COMPONENT_PX = 12  # a pale stroke at least this big (px at 8 px/mm) counts as pale ink
FAINT_THRESHOLD = 0.10  # darkness of pale ink (pencil on a fax, light ballpoint on grey paper)
BLANK_MAX_PX = 32      # at most this much kept ink (px at 8 px/mm, i.e. 0.5 mm2) -> blank
# A stroke along a printed line: across +- ALONG_HALF px of a found line, the darkness summed over the line's width
# exceeds the print's (the median of the box's two parallel lines) by ALONG_EXTRA (about one px of black ink) over a
# run of ALONG_RUN_PX (1 mm; a pen stroke crossing the line is narrower); the second view keeps that stretch and the
# ink it joins to the digit, and is read only when it adds at least ALONG_MIN_EXTRA_PX to the digit's ink.
# Measured (session 9, with a prototype of this step using the same parameters; 1,600 calibration crops per profile,
# 6 profiles): the second view exists for about half the digits (they touch a line); it changes the reading of 28
# of 9,388 correctly read digits (0.3 %) and of 45 of the 176 misread ones (in 41 of them to the right digit); it
# changes both benchmark errors it was made for (7 -> 1, 6 -> 0).
ALONG_HALF = 3
ALONG_EXTRA = 0.8
ALONG_RUN_PX = 8
ALONG_MIN_EXTRA_PX = 10


@dataclass
class Prepared:
    images: np.ndarray      # (B, 28, 28) float32 in [0, 1], white ink on black
    ink_px: np.ndarray      # (B,) kept ink pixels
    ink: np.ndarray         # (B,) fraction of the inner box covered by ink
    extent: np.ndarray      # (B,) larger side of the kept ink bounding box, px
    loose_px: np.ndarray    # (B,) ink pixels inside the box, printed lines erased, every component (dust too)
    faint_px: np.ndarray    # (B,) pale strokes inside the box (FAINT_THRESHOLD, FAINT_MIN_COMPONENT_PX): pale ink
    #                          the ink threshold leaves out (measured on boxes read blank only, else 0)
    flat: np.ndarray        # (B,) bool: a binarised capture (fax, scanner background removal): most of the crop is
    #                          exactly the paper's white, so pale ink may have been thresholded away before us
    alt: np.ndarray         # (B,) bool: the box has a second view (stroke along a line, step 5)
    alt_images: np.ndarray  # (alt.sum(), 28, 28) the second views, in box order
    alt_logits: np.ndarray  # (B, 11) the network's logits for the second view (zeros without one; set by the reader)
    apart_px: np.ndarray    # (B,) length (px) of the top and bottom lines thickened (step 5) by ink that is not the
    #                          digit's kept strokes: a part of the digit drawn apart from it on a line (a 5's bar),
    #                          or a stroke from elsewhere (0 where the second view joins it to the digit)


def _quantile(a: np.ndarray, q: float) -> np.ndarray:
    """Quantile along the last axis (lower order statistic, fast)."""
    k = int(q * (a.shape[-1] - 1))
    return np.partition(a, k, axis=-1)[..., k]


def _mosaic(mask: np.ndarray) -> np.ndarray:
    """(B, H, W) masks as one uint8 image, the crops stacked with an empty row and column after each, so that one
    OpenCV call (connected components, dilation) works on the whole batch without joining neighbouring crops.
    Shape (B * (H + 1), W + 1)."""
    B, H, W = mask.shape
    m = np.zeros((B, H + 1, W + 1), np.uint8)
    m[:, :H, :W] = mask
    return m.reshape(B * (H + 1), W + 1)


def _bridge(Dc: np.ndarray, band: np.ndarray, axis: int) -> np.ndarray:
    """Restore ink across erased line bands: a band pixel takes the weaker of the two pixels just outside the
    band on either side when both are ink (a stroke crossing the printed line). band: (B, L) along `axis`."""
    B, L = band.shape
    idx = np.broadcast_to(np.arange(L), (B, L))
    above = np.maximum.accumulate(np.where(band, -1, idx), axis=1)
    below = np.minimum.accumulate(np.where(band, L, idx)[:, ::-1], axis=1)[:, ::-1]
    valid = band & (above >= 0) & (below < L) & (below - above <= 9)
    above = np.clip(above, 0, L - 1)
    below = np.clip(below, 0, L - 1)
    bi, li = np.nonzero(valid)
    ai, zi = above[bi, li], below[bi, li]
    if axis == 1:   # horizontal lines: bands of rows, Dc (B, H, W)
        a, b, cur = Dc[bi, ai, :], Dc[bi, zi, :], Dc[bi, li, :]
    else:           # vertical lines: bands of columns
        a, b, cur = Dc[bi, :, ai], Dc[bi, :, zi], Dc[bi, :, li]
    val = np.minimum(a, b)
    new = np.where(val > INK_THRESHOLD, np.maximum(cur, val), cur)
    if axis == 1:  # in place: the pixels read (outside the bands) are never written
        Dc[bi, li, :] = new
    else:
        Dc[bi, :, li] = new
    return Dc


def _line_band(prof: np.ndarray, pos: np.ndarray, strength: np.ndarray, ok: np.ndarray, band: np.ndarray) -> None:
    """Mark in `band` (B, L) the rows/columns of a printed line found at `pos` (only where `ok`)."""
    B, L = prof.shape
    ar = np.arange(B)
    for off in range(-_BAND - 1, _BAND + 2):
        p = np.clip(pos + off, 0, L - 1)
        sel = ok & ((abs(off) <= 1) | (prof[ar, p] > 0.3 * strength))
        band[ar[sel], p[sel]] = True


def _faint_strokes(faint: np.ndarray, t0, b0, l0, r0) -> np.ndarray:
    """Pixels of pale strokes inside each box: connected components of the pale-ink mask, cut to the inner box,
    of at least FAINT_MIN_COMPONENT_PX (a grey photocopy or a shaded photo leaves scattered pixels, a pale pen a
    stroke)."""
    B, H, W = faint.shape
    yy = np.arange(H)[None, :, None]
    xx = np.arange(W)[None, None, :]
    inner = (yy >= t0[:, None, None]) & (yy < b0[:, None, None]) & (xx >= l0[:, None, None]) & (xx < r0[:, None, None])
    n, lab, stats, _ = cv2.connectedComponentsWithStats(_mosaic(faint & inner), connectivity=8,
                                                        ltype=cv2.CV_32S)
    big = stats[:, cv2.CC_STAT_AREA] >= FAINT_MIN_COMPONENT_PX
    big[0] = False
    return big[lab].reshape(B, H + 1, W + 1).sum(axis=(1, 2))


def _binarised(sub: np.ndarray) -> np.ndarray:
    """(B, n) grey pixels of B crops -> (B,) bool: a binarised capture (FLAT_PAPER_SHARE, FLAT_MID_SHARE)."""
    lightest = sub.max(axis=1)[:, None].astype(np.int16)
    return (((sub >= lightest - 1).mean(axis=1) > FLAT_PAPER_SHARE)
            & (((sub > MID_DARK) & (sub < lightest - 40)).mean(axis=1) < FLAT_MID_SHARE))


def binarised(crops: np.ndarray) -> np.ndarray:
    """Which crops (B, H, W) uint8 come from a binarised capture (a fax, a black-and-white scan), where pale ink
    may have vanished without a trace."""
    crops = np.asarray(crops)
    return _binarised(crops.reshape(len(crops), -1)[:, ::3])


def prepare(crops: np.ndarray) -> Prepared:
    crops = np.asarray(crops)
    if crops.ndim == 2:
        crops = crops[None]
    if crops.shape[1:] != (CROP_H, CROP_W):
        crops = np.stack([cv2.resize(c, (CROP_W, CROP_H), interpolation=cv2.INTER_AREA) for c in crops])
    B, H, W = crops.shape
    ar = np.arange(B)
    sub = crops.reshape(B, -1)[:, ::3]  # a subsample is enough for the paper level
    k = int(0.85 * sub.shape[1])
    paper = np.maximum(np.partition(sub, k, axis=1)[:, k].astype(np.float32), 40.0)
    flat = _binarised(sub)
    D = crops.astype(np.float32)
    D *= (-1.0 / paper)[:, None, None]
    D += 1.0
    np.clip(D, 0.0, 1.0, out=D)

    # Robust line profiles: a low quantile along the line (a pen stroke rarely covers most of a line's length).
    # (only where lines are searched: the bands around the expected box lines and the margins)
    rows = np.zeros((B, H), np.float32)
    cols = np.zeros((B, W), np.float32)
    for lo, hi_ in ((0, _TOP + _SEARCH + 6), (_BOT - _SEARCH - 6, H)):
        rows[:, lo:hi_] = _quantile(D[:, lo:hi_, _LEFT + 4:_RIGHT - 4], 0.35)
    for lo, hi_ in ((0, _LEFT + _SEARCH + 6), (_RIGHT - _SEARCH - 6, W)):
        cols[:, lo:hi_] = _quantile(D[:, _TOP + 4:_BOT - 4, lo:hi_].transpose(0, 2, 1), 0.35)
    row_band = np.zeros((B, H), bool)
    col_band = np.zeros((B, W), bool)
    found = {}
    for (n0, n1), prof, c0, size, band, axis in ((("top", "bot"), rows, _TOP, _BOT - _TOP, row_band, 0),
                                                 (("left", "right"), cols, _LEFT, _RIGHT - _LEFT, col_band, 1)):
        L = prof.shape[1]
        # the box's two parallel lines are found together (a neighbour box's line is only 1 mm away)
        starts = np.arange(c0 - _SEARCH, c0 + _SEARCH + 1)
        a = prof[:, starts]                                                   # (B, S)
        ends = np.stack([prof[:, np.clip(starts + size + d, 0, L - 1)] for d in (-1, 0, 1)], axis=2)
        b = ends.max(axis=2)
        bd = ends.argmax(axis=2) - 1
        kk = (a + b).argmax(axis=1)
        p0 = starts[kk]
        p1 = np.clip(p0 + size + bd[ar, kk], 0, L - 1)
        s0, s1 = a[ar, kk], b[ar, kk]
        ok0, ok1 = s0 > _LINE_MIN, s1 > _LINE_MIN
        found[n0] = np.where(ok0, p0, c0)
        found[n1] = np.where(ok1, p1, c0 + size)
        _line_band(prof, p0, s0, ok0, band)
        _line_band(prof, p1, s1, ok1, band)
        if axis == 1:  # neighbour boxes' lines in the margins, 1 mm (or more) outside ours
            ref = 0.5 * np.maximum(s0, s1)
            for pos_, side in ((p0, -1), (p1, 1)):
                seg_idx = np.clip(pos_[:, None] + side * np.arange(5, 14)[None, :], 0, L - 1)
                seg = prof[ar[:, None], seg_idx]
                j = seg.argmax(axis=1)
                st = seg[ar, j]
                _line_band(prof, seg_idx[ar, j], st, (st > _LINE_MIN) & (st > ref), band)

    # Erase the printed lines, then bridge the strokes that crossed them.
    Dc = D.copy()
    Dc *= ~row_band[:, :, None]
    Dc *= ~col_band[:, None, :]
    Dc = _bridge(Dc, row_band, 1)
    Dc = _bridge(Dc, col_band, 2)
    ink_mask = Dc > INK_THRESHOLD

    # Connected components of all crops at once
    mosaic = _mosaic(ink_mask)
    n, lab = cv2.connectedComponents(mosaic, connectivity=8, ltype=cv2.CV_32S)
    t0 = found["top"] + _BAND + 1
    b0 = found["bot"] - _BAND
    l0 = found["left"] + _BAND + 1
    r0 = found["right"] - _BAND
    bad = (b0 - t0 < 20) | (r0 - l0 < 14)
    t0 = np.where(bad, _TOP + 3, t0)
    b0 = np.where(bad, _BOT - 2, b0)
    l0 = np.where(bad, _LEFT + 3, l0)
    r0 = np.where(bad, _RIGHT - 2, r0)
    # statistics over the ink pixels only (a few % of the crops)
    nzm = np.flatnonzero(mosaic.ravel())
    L = lab.ravel()[nzm]
    bi, rem = np.divmod(nzm, (H + 1) * (W + 1))
    yi, xi = np.divmod(rem, W + 1)
    nz = (bi * H + yi) * W + xi
    in_box = (yi >= t0[bi]) & (yi < b0[bi]) & (xi >= l0[bi]) & (xi < r0[bi])
    loose_px = np.bincount(bi[in_box], minlength=B)
    area = np.bincount(L, minlength=n)
    inside = np.bincount(L[in_box], minlength=n)
    keep = (inside >= 0.4 * area) & (area >= MIN_COMPONENT_PX)
    keep[0] = False
    kept = keep[L]
    km = np.zeros(B * H * W, bool)
    km[nz[kept]] = True
    km = km.reshape(B, H, W)
    ink_px = np.bincount(bi[kept], minlength=B)
    faint_px = np.zeros(B, np.int64)
    pale = np.flatnonzero(ink_px <= BLANK_MAX_PX)  # only a box read blank needs it
    if len(pale):
        faint_px[pale] = _faint_strokes(Dc[pale] > FAINT_THRESHOLD, t0[pale], b0[pale], l0[pale], r0[pale])
    inner_area = ((b0 - t0) * (r0 - l0)).astype(np.float32)
    ink_frac = np.bincount(bi[kept & in_box], minlength=B) / inner_area
    todo = np.flatnonzero(ink_px > BLANK_MAX_PX)
    alt = np.zeros(B, bool)
    alt_images = np.zeros((0, 28, 28), np.float32)
    apart_px = np.zeros(B, np.int64)
    if len(todo):
        alt_box, alt_km, alt_D = _along_line_views(D, Dc, km, found, todo, apart_px)
        if len(alt_box):
            alt[alt_box] = True
            alt_images, _ = _images(alt_D, alt_km, np.arange(len(alt_box)))
    images, extent = _images(Dc, km, todo)
    return Prepared(images, ink_px, ink_frac.astype(np.float32), extent, loose_px, faint_px, flat, alt, alt_images,
                    np.zeros((B, 11), np.float32), apart_px)


def _along_line_views(D: np.ndarray, Dc: np.ndarray, km: np.ndarray, found: dict[str, np.ndarray],
                      todo: np.ndarray, apart_px: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step 5 for the inked boxes `todo` of the batch (Dc and km before step 4): which of them have a second
    view (indices into the batch, ascending), its kept-ink mask and its darkness. `apart_px` (B,) gets, per box,
    the length of its top and bottom lines thickened by ink that is not the digit's kept strokes."""
    B, H, W = D.shape
    offs = np.arange(-ALONG_HALF, ALONG_HALF + 1)
    sides = []  # (horizontal, line rows/columns (n, 2 * HALF + 1), positions along it, runs (n, len(along)))
    Dt = D[todo]
    Dk = Dt * ~km[todo]               # without the digit's kept strokes
    nt = np.arange(len(todo))[:, None, None]
    lone_len = np.zeros(len(todo), np.int64)

    def mass(src: np.ndarray, pos: np.ndarray, along: np.ndarray, horizontal: bool) -> np.ndarray:
        """Darkness summed across the line (rows or columns `pos`) at each position `along` it: (n, len(along))."""
        if horizontal:
            return src[nt, pos[:, :, None], along[None, None, :]].sum(axis=1)
        return src[nt, along[None, None, :], pos[:, :, None]].sum(axis=1)

    def runs(m: np.ndarray, printed: np.ndarray) -> np.ndarray:
        """Where the line is ALONG_EXTRA thicker than the print over at least ALONG_RUN_PX (an opening keeps exactly
        those runs): (n, len(along)) uint8."""
        thick = (m >= printed + ALONG_EXTRA).astype(np.uint8)
        return cv2.morphologyEx(thick, cv2.MORPH_OPEN, np.ones((1, ALONG_RUN_PX), np.uint8))

    for (a, b), horizontal in ((("top", "bot"), True), (("left", "right"), False)):
        along = np.arange(_LEFT + 3, _RIGHT - 3) if horizontal else np.arange(_TOP + 3, _BOT - 3)
        L = H if horizontal else W
        poss = [np.clip(found[name][todo][:, None] + offs, 0, L - 1) for name in (a, b)]
        masses = [mass(Dt, pos, along, horizontal) for pos in poss]
        printed = np.median(np.concatenate(masses, axis=1), axis=1)[:, None]
        for m, pos in zip(masses, poss):
            sides.append((horizontal, pos, along, runs(m, printed).astype(bool)))
        # the top and bottom lines thickened by ink that is not the digit's kept strokes (the side lines are left
        # out: a neighbour's digit comes close to them)
        if horizontal:
            for pos in poss:
                lone_len += runs(mass(Dk, pos, along, True), printed).sum(axis=1, dtype=np.int64)
    has = np.zeros(len(todo), bool)
    for *_, run in sides:
        has |= run.any(axis=1)
    c = np.flatnonzero(has)           # among todo
    cand = todo[c]                    # in the batch
    k = len(cand)
    apart_px[todo] = lone_len         # boxes whose second view joins the digit are set back to 0 below
    if k == 0:
        return cand, np.zeros((0, H, W), bool), np.zeros((0, H, W), np.float32)
    restore = np.zeros((k, H, W), bool)
    ak = np.arange(k)[:, None]
    for horizontal, pos, along, run in sides:
        across = np.zeros((k, H if horizontal else W), bool)
        across[ak, pos[c]] = True
        stretch = np.zeros((k, W if horizontal else H), bool)
        stretch[:, along] = run[c]
        if horizontal:
            restore |= across[:, :, None] & stretch[:, None, :]
        else:
            restore |= stretch[:, :, None] & across[:, None, :]
    Db = Dc[cand]
    np.maximum(Db, D[cand], out=Db, where=restore)
    mosaic = _mosaic(Db > INK_THRESHOLD)
    nl, lab = cv2.connectedComponents(mosaic, connectivity=8, ltype=cv2.CV_32S)
    kmc = km[cand]
    near = cv2.dilate(_mosaic(kmc), np.ones((5, 5), np.uint8))
    keep = np.zeros(nl, bool)
    keep[lab[(near > 0) & (mosaic > 0)]] = True
    keep &= np.bincount(lab.ravel(), minlength=nl) >= MIN_COMPONENT_PX
    keep[0] = False
    kmb = keep[lab].reshape(k, H + 1, W + 1)[:, :H, :W] | kmc
    ok = (kmb & ~kmc).sum(axis=(1, 2)) >= ALONG_MIN_EXTRA_PX
    apart_px[cand[ok]] = 0
    return cand[ok], kmb[ok], Db[ok]


def _images(Dc: np.ndarray, km: np.ndarray, todo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step 4: the kept ink (mask km, darkness Dc, modified in place) of the boxes `todo` as (B, 28, 28) images,
    and every box's ink extent (larger side of the kept ink's bounding box, px; 0 without ink)."""
    B, H, W = km.shape
    rows_any = km.any(axis=2)
    cols_any = km.any(axis=1)
    y0 = rows_any.argmax(axis=1)
    y1 = H - rows_any[:, ::-1].argmax(axis=1)
    x0 = cols_any.argmax(axis=1)
    x1 = W - cols_any[:, ::-1].argmax(axis=1)
    extent = np.where(rows_any.any(axis=1), np.maximum(y1 - y0, x1 - x0), 0)
    images = np.zeros((B, 28, 28), np.float32)
    if len(todo) == 0:
        return images, extent
    Dk = Dc
    Dk *= km
    hi = (Dk * Dk).sum(axis=(1, 2)) / np.maximum(Dk.sum(axis=(1, 2)), 1e-6)   # typical stroke darkness
    Dk /= np.maximum(hi, 0.2)[:, None, None]
    np.clip(Dk, 0, 1, out=Dk)
    # scale and centre of mass for every crop at once; the loop only resizes and pastes
    hh, ww = (y1 - y0)[todo], (x1 - x0)[todo]
    sc = 20.0 / np.maximum(hh, ww)
    nh = np.maximum(1, np.round(hh * sc)).astype(int)
    nw = np.maximum(1, np.round(ww * sc)).astype(int)
    Ds = Dk[todo]
    tot = np.maximum(Ds.sum(axis=(1, 2)), 1e-6)
    my = Ds.sum(axis=2) @ np.arange(H, dtype=np.float32) / tot          # centre of mass in crop pixels
    mx = Ds.sum(axis=1) @ np.arange(W, dtype=np.float32) / tot
    cy = (my - y0[todo] + 0.5) * (nh / hh) - 0.5                         # ... in the resized patch
    cx = (mx - x0[todo] + 0.5) * (nw / ww) - 0.5
    oy = np.minimum(np.maximum(np.round(13.5 - cy).astype(int), 0), 28 - nh)
    ox = np.minimum(np.maximum(np.round(13.5 - cx).astype(int), 0), 28 - nw)
    resize, area = cv2.resize, cv2.INTER_AREA
    for k, i in enumerate(todo.tolist()):
        a, b_, c, d = int(oy[k]), int(nh[k]), int(ox[k]), int(nw[k])
        images[i, a:a + b_, c:c + d] = resize(Dk[i, y0[i]:y1[i], x0[i]:x1[i]], (d, b_), interpolation=area)
    return images, extent
