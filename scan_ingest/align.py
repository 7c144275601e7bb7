"""Align a page: corner markers (ArUco DICT_4X4_50, ids 0–3) → mm→px transform → the page warped to the
layout's mm frame at ALIGN_PX_PER_MM.

- 4 markers: homography (16 corner points, least squares).
- 3 markers (a thumb, a fold over one corner): affine from their 12 corners, plus the QR corners when readable
  (then a homography).
- fewer: the QR codes' corners and whatever marker remains (homography when ≥ 8 points).
The residual (RMS distance, in mm on the paper, between the points found and where the transform puts them) is
stored per page; above RESIDUAL_REVIEW_MM every field of the page goes to review.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from papier.layout import PageLayout, Rect
from papier.render import qr_matrix
from scan_ingest.identify import FoundQR
from scan_ingest.thresholds import ALIGN_PX_PER_MM

CORNER_CROP = 0.20   # markers are searched first in the four corner crops (this fraction of each side)
FULL_SEARCH_LONG_SIDE = 1800


class AlignError(Exception):
    """The page cannot be aligned (message in French)."""


@dataclass
class Alignment:
    H: np.ndarray          # 3x3, mm → image px
    method: str            # homography-4 | affine-3 | homography-3+qr | qr…
    residual_mm: float
    orientation: int       # 0, 90, 180, 270: rotation of the page on the image
    markers: dict[int, np.ndarray]
    px_per_mm: float


@lru_cache(maxsize=1)
def _detector() -> cv2.aruco.ArucoDetector:
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    return cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50), params)


def _detect(img: np.ndarray, ox: float = 0.0, oy: float = 0.0, scale: float = 1.0) -> dict[int, np.ndarray]:
    corners, ids, _ = _detector().detectMarkers(img)
    out: dict[int, np.ndarray] = {}
    if ids is None:
        return out
    for c, i in zip(corners, ids.ravel()):
        i = int(i)
        if i > 3:
            continue
        pts = c.reshape(4, 2).astype(np.float64) / scale + (ox, oy)
        if i in out:  # two markers with one id: keep the larger (a printed example is smaller)
            if cv2.contourArea(pts.astype(np.float32)) <= cv2.contourArea(out[i].astype(np.float32)):
                continue
        out[i] = pts
    return out


def find_markers(gray: np.ndarray) -> dict[int, np.ndarray]:
    """Marker id → its 4 corners (px, the marker's own TL, TR, BR, BL)."""
    h, w = gray.shape
    cw, ch = int(w * CORNER_CROP), int(h * CORNER_CROP)
    # a marker is 10 mm: at ≥ 6 px/mm it is still found at half size (4x fewer pixels), then refined at full size
    ppm = max(h, w) / 297.0
    s = 0.5 if ppm >= 6.0 else 1.0
    found: dict[int, np.ndarray] = {}
    for x0, y0 in ((0, 0), (w - cw, 0), (w - cw, h - ch), (0, h - ch)):
        crop = gray[y0:y0 + ch, x0:x0 + cw]
        if s < 1.0:
            crop = cv2.resize(crop, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        for k, v in _detect(crop, x0, y0, s).items():
            found.setdefault(k, v)
    if s < 1.0 and found:
        ids = sorted(found)
        pts = np.vstack([found[i] for i in ids]).astype(np.float32).reshape(-1, 1, 2)
        win = max(2, int(round(ppm * 0.6)))
        cv2.cornerSubPix(gray, pts, (win, win), (-1, -1),
                         (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.05))
        for j, i in enumerate(ids):
            found[i] = pts[4 * j:4 * j + 4].reshape(4, 2).astype(np.float64)
    if len(found) < 4:
        scale = min(1.0, FULL_SEARCH_LONG_SIDE / max(h, w))
        img = gray if scale >= 1.0 else cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        for k, v in _detect(img, scale=scale).items():
            found.setdefault(k, v)
    return found


@lru_cache(maxsize=256)
def _qr_modules(payload: str) -> int:
    return int(qr_matrix(payload, border=0).shape[0])


def _qr_symbol_mm(rect: Rect, payload: str) -> np.ndarray:
    """The 4 corners (mm) of the QR symbol proper inside its printed square (which includes a 4-module margin)."""
    n = _qr_modules(payload)
    cell = rect.w / (n + 8)
    x0, y0, s = rect.x + 4 * cell, rect.y + 4 * cell, n * cell
    return np.array([[x0, y0], [x0 + s, y0], [x0 + s, y0 + s], [x0, y0 + s]], np.float64)


def _fit(mm: np.ndarray, px: np.ndarray, affine: bool) -> np.ndarray:
    if affine:
        A, _ = cv2.estimateAffine2D(mm.astype(np.float32), px.astype(np.float32), method=cv2.LMEDS)
        if A is None:
            raise AlignError("transformation impossible")
        return np.vstack([A, [0, 0, 1]])
    H, _ = cv2.findHomography(mm, px, 0)
    if H is None:
        raise AlignError("transformation impossible")
    return H


def _project(H: np.ndarray, mm: np.ndarray) -> np.ndarray:
    p = np.hstack([mm, np.ones((len(mm), 1))]) @ H.T
    return p[:, :2] / p[:, 2:3]


def _scale(H: np.ndarray, size: tuple[float, float]) -> float:
    """Mean px per mm of the transform over the page."""
    W, Hh = size
    c = _project(H, np.array([[0, 0], [W, 0], [W, Hh], [0, Hh]], np.float64))
    return float((np.linalg.norm(c[1] - c[0]) + np.linalg.norm(c[2] - c[3])) / (2 * W) / 2
                 + (np.linalg.norm(c[3] - c[0]) + np.linalg.norm(c[2] - c[1])) / (2 * Hh) / 2)


def _orientation(H: np.ndarray) -> int:
    p = _project(H, np.array([[0.0, 0.0], [100.0, 0.0]]))
    ang = math.degrees(math.atan2(p[1, 1] - p[0, 1], p[1, 0] - p[0, 0]))
    return int(round(ang / 90.0)) % 4 * 90


def align(gray: np.ndarray, layout: PageLayout, qrs: list[FoundQR], payload: str) -> Alignment:
    """Fit mm → px for this page; raises AlignError when not enough landmarks are visible."""
    markers = find_markers(gray)
    mm_pts, px_pts = [], []
    by_id = {m.id: m for m in layout.fiducials}
    for i, pts in markers.items():
        m = by_id[i]
        mm_pts.append(np.array([[m.x, m.y], [m.x + m.size, m.y], [m.x + m.size, m.y + m.size],
                                [m.x, m.y + m.size]], np.float64))
        px_pts.append(pts)
    n = len(markers)
    if n == 4:
        mm, px = np.vstack(mm_pts), np.vstack(px_pts)
        H = _fit(mm, px, affine=False)
        method = "homography-4"
    else:
        # QR corners: assign each found symbol to the nearer layout QR square under a rough transform.
        rough: np.ndarray | None = None
        if n >= 2:
            rough = _fit(np.vstack(mm_pts), np.vstack(px_pts), affine=True)
        qr_mm, qr_px = [], []
        symbols = [_qr_symbol_mm(r, payload) for r in layout.qr]
        if rough is None and len(qrs) >= 2:
            # no markers to guide: the two QR squares are at opposite corners; try both assignments
            best = None
            for order in ((0, 1), (1, 0)):
                mm = np.vstack([symbols[order[0]], symbols[order[1]]])
                px = np.vstack([qrs[0].corners, qrs[1].corners]).astype(np.float64)
                Ht = _fit(mm, px, affine=False)
                err = float(np.sqrt(np.mean(np.sum((_project(Ht, mm) - px) ** 2, axis=1))))
                if best is None or err < best[0]:
                    best = (err, mm, px)
            assert best is not None
            qr_mm, qr_px = [best[1]], [best[2]]
        elif rough is not None:
            for q in qrs:
                centre = q.corners.mean(axis=0)
                d = [np.linalg.norm(_project(rough, s).mean(axis=0) - centre) for s in symbols]
                k = int(np.argmin(d))
                qr_mm.append(symbols[k])
                qr_px.append(q.corners.astype(np.float64))
        if n == 3 and not qr_mm:
            mm, px = np.vstack(mm_pts), np.vstack(px_pts)
            H = _fit(mm, px, affine=True)
            method = "affine-3"
        else:
            mm = np.vstack(mm_pts + qr_mm) if (mm_pts or qr_mm) else np.zeros((0, 2))
            px = np.vstack(px_pts + qr_px) if (px_pts or qr_px) else np.zeros((0, 2))
            if len(mm) < 8:
                raise AlignError(f"repères d'angle introuvables ({n} sur 4) et QR codes insuffisants")
            H = _fit(mm, px, affine=len(mm) < 12)
            method = f"homography-{n}+qr" if len(mm) >= 12 else f"affine-{n}+qr"
    proj = _project(H, mm)
    ppm = _scale(H, layout.size_mm)
    residual = float(np.sqrt(np.mean(np.sum((proj - px) ** 2, axis=1)))) / ppm
    if not (2.0 < ppm < 200.0):
        raise AlignError(f"échelle de page invraisemblable ({ppm:.1f} px/mm)")
    return Alignment(H, method, residual, _orientation(H), markers, ppm)


def warp(gray: np.ndarray, al: Alignment, size_mm: tuple[float, float], shift_mm: np.ndarray | None = None,
         grid: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """The page in its mm frame: pixel (u, v) of the result is the point (u, v) / ALIGN_PX_PER_MM mm.
    `shift_mm` (rows × cols × 2 at the nodes `grid`, x and y in mm: flatness.displacement, flatness.grid_mm): where
    each point of a page that does not lie flat really is, relative to that point — the page is then read there, in
    one resampling."""
    k = ALIGN_PX_PER_MM
    S = np.diag([1.0 / k, 1.0 / k, 1.0])
    M = al.H @ S  # aligned px → image px
    W, H = int(round(size_mm[0] * k)), int(round(size_mm[1] * k))
    if shift_mm is None:
        return cv2.warpPerspective(gray, M, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                   borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    assert grid is not None
    # where each node is read on the image, then spread to every pixel by an integer upscaling (the nodes sit where
    # cv2.resize puts its samples: flatness.grid_mm); a homography is smooth enough to be linear between nodes
    gx, gy = np.meshgrid(grid[0], grid[1])
    pts = np.stack([(gx + shift_mm[..., 0]) * k, (gy + shift_mm[..., 1]) * k, np.ones_like(gx)], axis=-1) @ M.T
    src = (pts[..., :2] / pts[..., 2:]).astype(np.float32)
    step = int(round((grid[0][1] - grid[0][0]) * k))
    big = cv2.resize(src, (src.shape[1] * step, src.shape[0] * step), interpolation=cv2.INTER_LINEAR)[:H, :W]
    return cv2.remap(gray, np.ascontiguousarray(big[..., 0]), np.ascontiguousarray(big[..., 1]), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=255)
