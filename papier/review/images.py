"""Images for the review page: snippets, whole-line crops and whole pages, always looked up by database id.

No path ever comes from the client: a URL names a field or page id, the path comes from the database, and it is
served only if it resolves (symlinks followed) inside the database's folder.

The stored page image is the original scan (any orientation, skew, perspective). To draw values on it and to cut
"the whole line" around a field, the page is aligned here from its four corner markers (ArUco, the same markers
the reader uses; three are enough): the result is the page in its layout's mm frame, so the layout's geometry
applies directly. Alignments and aligned pages are cached in memory (a few pages: the queue hops between
sheets, the browser prefetches the next items).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

VIEW_PX_PER_MM = 5.0      # whole-page view (127 dpi): sharp enough to read a digit, ~150 KB as JPEG
LINE_PX_PER_MM = 8.0      # line crops: the reader's resolution
MAX_IMAGE_PIXELS = 80_000_000
CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".tif": "image/tiff",
                 ".tiff": "image/tiff", ".webp": "image/webp"}


class ImageNotFound(Exception):
    pass


def safe_path(base_dir: Path, rel: str | None) -> Path:
    """`rel` (from the database) resolved inside `base_dir`, or ImageNotFound. Symlinks are followed first."""
    if not rel:
        raise ImageNotFound("pas d'image")
    base = Path(os.path.realpath(base_dir))
    p = Path(os.path.realpath(base / rel))
    try:
        p.relative_to(base)
    except ValueError:
        raise ImageNotFound("chemin hors du dossier de la base") from None
    if not p.is_file():
        raise ImageNotFound("fichier introuvable")
    return p


class _LRU:
    def __init__(self, size: int):
        self.size = size
        self.d: OrderedDict[Any, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, k: Any) -> Any:
        with self.lock:
            if k in self.d:
                self.d.move_to_end(k)
                return self.d[k]
        return None

    def put(self, k: Any, v: Any) -> None:
        with self.lock:
            self.d[k] = v
            self.d.move_to_end(k)
            while len(self.d) > self.size:
                self.d.popitem(last=False)


def _detect_markers(gray: np.ndarray) -> dict[int, np.ndarray]:
    try:  # the reader's detector (corner crops first, then the whole page)
        from scan_ingest.align import find_markers

        return find_markers(gray)
    except ImportError:  # pragma: no cover - scan_ingest is part of the package
        pass
    import cv2

    det = cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50),
                                  cv2.aruco.DetectorParameters())
    corners, ids, _ = det.detectMarkers(gray)
    out: dict[int, np.ndarray] = {}
    if ids is not None:
        for c, i in zip(corners, ids.ravel()):
            if int(i) <= 3:
                out[int(i)] = c.reshape(4, 2).astype(np.float64)
    return out


def fit_page(gray: np.ndarray, layout: Any) -> np.ndarray | None:
    """3x3 transform mm → image px from the corner markers, or None when fewer than 3 are found."""
    import cv2

    markers = _detect_markers(gray)
    if len(markers) < 3:
        return None
    by_id = {m.id: m for m in layout.fiducials}
    mm, px = [], []
    for i, pts in markers.items():
        if i not in by_id:
            continue
        m = by_id[i]
        mm.append([[m.x, m.y], [m.x + m.size, m.y], [m.x + m.size, m.y + m.size], [m.x, m.y + m.size]])
        px.append(pts)
    mm_a = np.asarray(mm, np.float64).reshape(-1, 2)
    px_a = np.asarray(px, np.float64).reshape(-1, 2)
    if len(markers) >= 4:
        H, _ = cv2.findHomography(mm_a, px_a, 0)
    else:
        A, _ = cv2.estimateAffine2D(mm_a.astype(np.float32), px_a.astype(np.float32), method=cv2.LMEDS)
        H = None if A is None else np.vstack([A, [0, 0, 1]])
    return H


class PageImages:
    """Decoded, aligned page images for one database (thread-safe, bounded memory)."""

    def __init__(self, db_dir: Path, cache_pages: int = 6):
        self.db_dir = Path(db_dir)
        self._gray = _LRU(cache_pages)
        self._align = _LRU(512)
        self._jpeg = _LRU(16)
        self._locks: dict[int, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def _lock(self, page_id: int) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(page_id, threading.Lock())

    def gray(self, page_id: int, image_path: str | None) -> np.ndarray:
        g = self._gray.get(page_id)
        if g is not None:
            return g
        with self._lock(page_id):
            g = self._gray.get(page_id)
            if g is not None:
                return g
            from scan_ingest.sources import decode_gray, pillow

            p = safe_path(self.db_dir, image_path)
            pillow().MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS  # for what OpenCV does not decode (TIFF, HEIC…)
            g = decode_gray(p.read_bytes())
            if g is None:
                raise ImageNotFound("image illisible")
            self._gray.put(page_id, g)
            return g

    def transform(self, page_id: int, image_path: str | None, layout: Any) -> np.ndarray | None:
        """mm → px transform of a stored page image (cached; None when the page can't be aligned)."""
        hit = self._align.get(page_id)
        if hit is not None:
            return hit[0]
        g = self.gray(page_id, image_path)
        H = fit_page(g, layout) if layout is not None else None
        self._align.put(page_id, (H,))
        return H

    def crop_mm(self, page_id: int, image_path: str | None, layout: Any, rect: dict[str, float],
                px_per_mm: float = LINE_PX_PER_MM) -> np.ndarray | None:
        """The rectangle `rect` (mm, page frame) cut from the page, straightened; None without alignment."""
        import cv2

        H = self.transform(page_id, image_path, layout)
        if H is None:
            return None
        g = self.gray(page_id, image_path)
        k = px_per_mm
        # output px (u, v) → mm (x + u/k, y + v/k) → image px
        S = np.array([[1.0 / k, 0, rect["x"]], [0, 1.0 / k, rect["y"]], [0, 0, 1.0]])
        M = H @ S
        w, h = max(1, int(round(rect["w"] * k))), max(1, int(round(rect["h"] * k)))
        return cv2.warpPerspective(g, M, (w, h), flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP,
                                   borderMode=cv2.BORDER_CONSTANT, borderValue=255)

    def page_jpeg(self, page_id: int, image_path: str | None, layout: Any) -> tuple[bytes, bool]:
        """The page as a JPEG: aligned to its layout when possible (True), else the original scan (False)."""
        import cv2

        hit = self._jpeg.get(page_id)
        if hit is not None:
            return hit
        aligned = None
        if layout is not None:
            W, H = layout.size_mm
            aligned = self.crop_mm(page_id, image_path, layout, {"x": 0.0, "y": 0.0, "w": W, "h": H},
                                   VIEW_PX_PER_MM)
        img = aligned if aligned is not None else self.gray(page_id, image_path)
        if aligned is None and max(img.shape) > 2000:
            s = 2000 / max(img.shape)
            img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 82])
        out = (buf.tobytes(), aligned is not None)
        self._jpeg.put(page_id, out)
        return out


def png_bytes(img: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    return buf.tobytes()


def jpeg_bytes(img: np.ndarray, quality: int = 85) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return buf.tobytes()
