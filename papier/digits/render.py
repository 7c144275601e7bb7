"""Synthetic box crops: a handwritten digit written in a printed comb box, then printed/scanned/faxed.

Used by the training script (augmentation), the tests and the benchmark; the page simulator may use it too. The
output is exactly what the reader receives: a crop of the aligned page at ``ALIGN_PX_PER_MM`` covering the box
plus ``CROP_MARGIN_MM`` on every side (72 rows x 56 columns for a 5 x 7 mm box), uint8, paper light, ink dark.

The digit source is a 28 x 28 MNIST-style image (white ink on black, digit fitted in the central 20 x 20).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from papier.layout import BOX_GAP, BOX_H, BOX_W, DROPOUT_GREY, FURNITURE_LINE_PT, MM_PER_PT

ALIGN_PX_PER_MM = 8.0
CROP_MARGIN_MM = 1.0
CROP_H = int(round((BOX_H + 2 * CROP_MARGIN_MM) * ALIGN_PX_PER_MM))  # 72
CROP_W = int(round((BOX_W + 2 * CROP_MARGIN_MM) * ALIGN_PX_PER_MM))  # 56
LINE_MM = FURNITURE_LINE_PT * MM_PER_PT  # 0.247 mm

PROFILES = ("clean300", "scanner200", "jpeg150", "photocopy", "fax", "photo")


@dataclass
class Degradation:
    dpi_x: float
    dpi_y: float
    blur: float          # gaussian sigma at scan resolution, px
    noise: float         # grey levels
    paper: float         # paper grey level 0-255
    jpeg: int | None     # JPEG quality, None = none
    gamma: float = 1.0   # photocopy darkening (>1 darker)
    speckle: float = 0.0  # density of toner specks
    binarise: float | None = None  # fax threshold
    shade: float = 0.0   # illumination gradient amplitude (photo)
    line_grey: float = DROPOUT_GREY  # printed grey of the box lines (0 black - 1 white)


def sample_degradation(rng: np.random.Generator, profile: str) -> Degradation:
    u = rng.uniform
    g = float(np.clip(DROPOUT_GREY + rng.normal(0, 0.04), 0.45, 0.78))
    if profile == "clean300":
        return Degradation(300, 300, u(0.3, 0.6), u(1, 3), u(240, 255), None, line_grey=g)
    if profile == "scanner200":
        return Degradation(200, 200, u(0.35, 0.75), u(2, 5), u(225, 252), int(u(75, 95)) if u() < 0.6 else None,
                           line_grey=g)
    if profile == "jpeg150":
        return Degradation(150, 150, u(0.4, 0.8), u(2, 6), u(220, 250), int(u(45, 75)), line_grey=g)
    if profile == "photocopy":
        d = u(180, 300)
        return Degradation(d, d, u(0.5, 1.0), u(3, 8), u(195, 240), int(u(70, 92)) if u() < 0.5 else None,
                           gamma=u(1.3, 2.6), speckle=u(0.0, 0.004), line_grey=g - u(0.0, 0.2))
    if profile == "fax":
        fine = u() < 0.5
        return Degradation(204, 196 if fine else 98, u(0.3, 0.7), u(4, 14), u(235, 255), None,
                           binarise=u(105, 185), speckle=u(0, 0.002), line_grey=g)
    if profile == "photo":
        d = u(140, 260)
        return Degradation(d, d, u(0.8, 1.7), u(3, 9), u(165, 235), int(u(50, 85)), shade=u(0.0, 0.18),
                           gamma=u(0.8, 1.3), line_grey=g)
    raise ValueError(profile)


@dataclass
class Writing:
    """How a digit is written in its box (all lengths in mm, relative to the box centre)."""
    height: float = 5.2      # height of the MNIST 20-px frame
    dx: float = 0.0
    dy: float = 0.0
    angle: float = 0.0       # degrees
    shear: float = 0.0
    thickness: int = 0       # -1 thinner, 0 as is, +1/+2 thicker (morphology at 2x MNIST resolution)
    ink: float = 0.85        # ink darkness 0-1 (ballpoint black ~0.9, blue ~0.7, pencil ~0.45)


def sample_writing(rng: np.random.Generator) -> Writing:
    u = rng.uniform
    wild = u() < 0.15  # sometimes the digit touches or crosses the box lines
    r = u()
    ink = u(0.8, 0.95) if r < 0.45 else (u(0.55, 0.8) if r < 0.85 else u(0.33, 0.55))
    return Writing(
        height=float(np.clip(rng.normal(5.6, 0.8), 3.6, 7.6)),
        dx=float(rng.normal(0, 0.7 if wild else 0.35)),
        dy=float(rng.normal(0, 0.9 if wild else 0.4)),
        angle=float(rng.normal(0, 7)),
        shear=float(rng.normal(0, 0.12)),
        thickness=int(rng.choice([-1, 0, 0, 1, 1, 2])),
        ink=float(ink),
    )


# --- digit shapes ------------------------------------------------------------------------------------------------

def upscale(digit28: np.ndarray) -> np.ndarray:
    """MNIST 28 x 28 uint8 -> 56 x 56 float32 darkness in [0, 1]."""
    return cv2.resize(digit28.astype(np.float32) / 255.0, (56, 56), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def change_thickness(img56: np.ndarray, t: int) -> np.ndarray:
    if t == 0:
        return img56
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    if t < 0:
        out = cv2.erode(img56, k)
        return out if out.max() > 0.3 else img56
    return cv2.dilate(img56, k, iterations=t)


def _line(img: np.ndarray, p0, p1, width: float) -> None:
    sh = 4
    a = (int(round(p0[0] * 16)), int(round(p0[1] * 16)))
    b = (int(round(p1[0] * 16)), int(round(p1[1] * 16)))
    tmp = np.zeros_like(img)
    cv2.line(tmp, a, b, 1.0, max(1, int(round(width))), cv2.LINE_AA, sh)
    np.maximum(img, tmp, out=img)


def stroke_width(img56: np.ndarray) -> float:
    """Typical stroke width (px) of a 56 x 56 digit: ink area / skeleton-ish length."""
    m = img56 > 0.5
    area = m.sum()
    inner = cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8)).sum()
    edge = max(area - inner, 1)
    return float(np.clip(2.0 * area / edge, 2.0, 8.0))


def loops(ink: np.ndarray) -> int:
    """How many loops a glyph has (background regions of a boolean ink image not connected to its border)."""
    bg = np.pad(~ink, 1, constant_values=True).astype(np.uint8)
    return cv2.connectedComponents(bg, connectivity=4)[0] - 2  # label 0 is the ink, 1 the outer background


def add_seven_bar(img: np.ndarray, thr: float, lo: int, hi: int, near: float, draw) -> np.ndarray:
    """A French writer's bar through the stem of a 7: `draw(row, x_centre)` returns `img` with the bar drawn at
    that row of the stem. Rows of [lo, hi] are tried from the nearest to `near`, where the ink (img > thr) is a
    single stroke; the first whose bar adds no loop is kept. On a 7 whose top stroke curls down, a bar that also
    reaches the curl closes a loop and draws a 9 labelled 7 (it happened in the scan benchmark: read 9, rightly).
    No row qualifies: the 7 is written without a bar."""
    ink = img > thr
    before = loops(ink)
    for r in sorted(range(max(lo, 0), min(hi, ink.shape[0] - 1) + 1), key=lambda r: abs(r - near)):
        row = ink[r]
        if row.any() and np.count_nonzero(row[1:] & ~row[:-1]) + int(row[0]) == 1:
            out = draw(r, float(np.flatnonzero(row).mean()))
            if loops(out > thr) <= before:
                return out
    return img


def french_seven(img56: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add the horizontal bar French writers draw through the stem of a 7."""
    out = img56.copy()
    ys, _ = np.nonzero(out > 0.5)
    if len(ys) < 10:
        return out
    top, bot = ys.min(), ys.max()
    y = top + (bot - top) * rng.uniform(0.42, 0.6)
    half = (bot - top) * rng.uniform(0.16, 0.28)
    tilt = rng.normal(0, 1.5)
    width = stroke_width(img56)

    def draw(r: int, cx: float) -> np.ndarray:
        yy = y + (r - round(y))
        barred = out.copy()
        _line(barred, (cx - half, yy + tilt), (cx + half, yy - tilt), width)
        return barred

    return add_seven_bar(out, 0.5, int(top + (bot - top) * 0.42), int(top + (bot - top) * 0.6), y, draw)


def french_one(img56: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Turn a 1 into the French 1: a long up-stroke from the top of the stem going down-left (drawn like ^|)."""
    out = img56.copy()
    ys, xs = np.nonzero(out > 0.5)
    if len(ys) < 10:
        return out
    top, bot = ys.min(), ys.max()
    tx = float(xs[ys <= top + 2].mean())
    h = bot - top
    length = h * rng.uniform(0.3, 0.55)
    ang = np.deg2rad(rng.uniform(30, 60))  # from vertical
    end = (tx - length * np.sin(ang), top + length * np.cos(ang))
    _line(out, (tx, top), end, stroke_width(img56))
    return out


def cross_out(img56: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A digit the writer struck through (should read 'unsure')."""
    out = img56.copy()
    w = stroke_width(img56)
    kind = rng.integers(3)
    if kind == 0:  # big X
        _line(out, (rng.uniform(4, 12), rng.uniform(4, 12)), (rng.uniform(44, 52), rng.uniform(44, 52)), w)
        _line(out, (rng.uniform(44, 52), rng.uniform(4, 12)), (rng.uniform(4, 12), rng.uniform(44, 52)), w)
    elif kind == 1:  # scribble
        n = rng.integers(4, 8)
        x = np.linspace(rng.uniform(6, 14), rng.uniform(42, 50), n)
        y = np.where(np.arange(n) % 2 == 0, rng.uniform(8, 16, n), rng.uniform(40, 50, n))
        for i in range(n - 1):
            _line(out, (x[i], y[i]), (x[i + 1], y[i + 1]), w)
    else:  # two strokes through the whole digit
        for _ in range(2):
            y0 = rng.uniform(10, 46)
            _line(out, (rng.uniform(2, 8), y0), (rng.uniform(48, 54), y0 + rng.normal(0, 10)), w)
    return out


def stray_mark(rng: np.random.Generator, kind: str) -> np.ndarray:
    """Non-digit ink in a box (56 x 56 frame). kind: 'dot' (reads blank), 'dash', 'tick', 'curve' (unsure)."""
    img = np.zeros((56, 56), np.float32)
    w = rng.uniform(2.5, 5)
    c = rng.uniform(16, 40, 2)
    if kind == "dot":
        cv2.circle(img, (int(c[0] * 16), int(c[1] * 16)), int(rng.uniform(0.6, 2.0) * 16), 1.0, -1, cv2.LINE_AA, 4)
    elif kind == "dash":
        L = rng.uniform(12, 30)
        a = np.deg2rad(rng.normal(0, 12))
        d = np.array([np.cos(a), np.sin(a)]) * L / 2
        _line(img, c - d, c + d, w)
    elif kind == "tick":
        _line(img, c, c + rng.uniform(6, 12, 2) * [1, 1], w)
        _line(img, c + rng.uniform(6, 12, 2) * [1, 1], c + [rng.uniform(14, 22), -rng.uniform(8, 18)], w)
    else:  # curve / loop fragment
        center = (int(c[0] * 16), int(c[1] * 16))
        axes = (int(rng.uniform(6, 16) * 16), int(rng.uniform(4, 12) * 16))
        a0 = rng.uniform(0, 360)
        cv2.ellipse(img, center, axes, rng.uniform(0, 180), a0, a0 + rng.uniform(60, 140), 1.0,
                    max(1, int(round(w))), cv2.LINE_AA, 4)
    return img


# --- the crop ----------------------------------------------------------------------------------------------------

def render_crop(ink56: np.ndarray | None, writing: Writing, deg: Degradation, rng: np.random.Generator,
                align: tuple[float, float] = (0.0, 0.0), neighbours: tuple[np.ndarray | None, np.ndarray | None]
                = (None, None), gaps: tuple[float, float] = (BOX_GAP, BOX_GAP)) -> np.ndarray:
    """Render one box crop (uint8, CROP_H x CROP_W at ALIGN_PX_PER_MM).

    ink56: the digit/mark as a 56 x 56 darkness image (MNIST frame at 2x: nominal 40-px box, centre at 28, 28)
    or None for an empty box. align: alignment error of the page (mm). neighbours: ink of the digits written in the
    boxes left and right (their strokes may enter the crop margins)."""
    sx, sy = deg.dpi_x / 25.4, deg.dpi_y / 25.4
    W_mm, H_mm = CROP_W / ALIGN_PX_PER_MM, CROP_H / ALIGN_PX_PER_MM
    W, H = int(round(W_mm * sx)), int(round(H_mm * sy))
    bx, by = CROP_MARGIN_MM + align[0], CROP_MARGIN_MM + align[1]   # box top-left in crop mm

    # printed furniture, supersampled 4x
    ss = 4
    fur = np.zeros((H * ss, W * ss), np.uint8)
    lw = max(1, int(round(LINE_MM * sx * ss * rng.uniform(0.85, 1.25))))

    def rect(x0, y0, x1, y1):
        cv2.rectangle(fur, (int(round(x0 * sx * ss)), int(round(y0 * sy * ss))),
                      (int(round(x1 * sx * ss)), int(round(y1 * sy * ss))), 255, lw)

    rect(bx, by, bx + BOX_W, by + BOX_H)
    rect(bx - gaps[0] - BOX_W, by, bx - gaps[0], by + BOX_H)
    rect(bx + BOX_W + gaps[1], by, bx + 2 * BOX_W + gaps[1], by + BOX_H)
    fur_f = cv2.resize(fur, (W, H), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    line_dark = 1.0 - deg.line_grey

    # ink
    ink = np.zeros((H, W), np.float32)

    def place(img56: np.ndarray, cx_mm: float, cy_mm: float, w: Writing) -> None:
        k = w.height / 40.0  # mm per source px
        a = np.deg2rad(w.angle)
        R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ np.array([[1, w.shear], [0, 1]])
        A = np.diag([sx, sy]) @ (R * k)
        t = np.array([cx_mm * sx, cy_mm * sy]) - A @ np.array([28.0, 28.0])
        M = np.hstack([A, t[:, None]]).astype(np.float32)
        np.maximum(ink, cv2.warpAffine(img56, M, (W, H), flags=cv2.INTER_LINEAR, borderValue=0) * w.ink, out=ink)

    if ink56 is not None:
        place(ink56, bx + BOX_W / 2 + writing.dx, by + BOX_H / 2 + writing.dy, writing)
    for side, nb in zip((-1, 1), neighbours):
        if nb is not None:
            w2 = sample_writing(rng)
            w2.ink = writing.ink
            place(nb, bx + BOX_W / 2 + side * (BOX_W + gaps[0 if side < 0 else 1]) + w2.dx,
                  by + BOX_H / 2 + w2.dy, w2)

    img = deg.paper * (1 - line_dark * fur_f) * (1 - ink)
    if deg.shade:
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        th = rng.uniform(0, 2 * np.pi)
        img *= 1 - deg.shade * (0.5 + 0.5 * (np.cos(th) * xx / W + np.sin(th) * yy / H))
    if deg.blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), deg.blur)
    if deg.gamma != 1.0:
        img = 255.0 * (np.clip(img, 0, 255) / 255.0) ** deg.gamma
    img = img + rng.normal(0, deg.noise, img.shape).astype(np.float32)
    if deg.speckle:
        n = rng.binomial(H * W, deg.speckle)
        if n:
            ys, xs = rng.integers(0, H, n), rng.integers(0, W, n)
            img[ys, xs] *= rng.uniform(0.1, 0.6, n)
    if deg.binarise is not None:
        img = np.where(img < deg.binarise, 0.0, 255.0).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if deg.jpeg is not None:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(deg.jpeg)])
        img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    interp = cv2.INTER_AREA if (W > CROP_W and H > CROP_H) else cv2.INTER_LINEAR
    return cv2.resize(img, (CROP_W, CROP_H), interpolation=interp)


def digit_crop(digit28: np.ndarray, rng: np.random.Generator, profile: str, *, french: bool = True,
               neighbours: bool = False, all_neighbours: list[np.ndarray] | None = None) -> np.ndarray:
    """Convenience: one MNIST digit (label unknown here) written in a box and degraded under `profile`."""
    img = change_thickness(upscale(digit28), int(rng.choice([-1, 0, 0, 1, 1, 2])))
    w = sample_writing(rng)
    deg = sample_degradation(rng, profile)
    align = tuple(rng.uniform(-0.5, 0.5, 2))
    nbs = (None, None)
    if neighbours and all_neighbours is not None and len(all_neighbours):
        nbs = tuple(upscale(all_neighbours[rng.integers(len(all_neighbours))]) if rng.uniform() < 0.5 else None
                    for _ in range(2))
    return render_crop(img, w, deg, rng, align, nbs)


def blank_crop(rng: np.random.Generator, profile: str) -> np.ndarray:
    deg = sample_degradation(rng, profile)
    return render_crop(None, Writing(), deg, rng, tuple(rng.uniform(-0.5, 0.5, 2)))


# --- labelled samples (training, calibration, tests, benchmark) --------------------------------------------------

BLANK = -1  # target of an empty box (or one with a dot of dust)
MARK = 10   # target of a struck-out digit or a stray mark (the reader must say "unsure")


def labelled_crop(rng: np.random.Generator, profile: str, digit28: np.ndarray | None, label: int | None,
                  *, mark: str | None = None, french: float = 0.5, neighbours: list[np.ndarray] | None = None,
                  thick: bool = True) -> tuple[np.ndarray, int]:
    """One crop and its target: a digit (label), MARK, or BLANK.

    mark: None (the digit as written), "crossed" (the digit struck out), "dash"/"tick"/"curve" (stray marks),
    "dot" (a small dot: blank), "blank" (empty box). french: probability of writing 7 and 1 the French way."""
    img: np.ndarray | None
    target: int
    if mark == "blank":
        img, target = None, BLANK
    elif mark in ("dash", "tick", "curve", "dot"):
        img, target = stray_mark(rng, mark), (BLANK if mark == "dot" else MARK)
    else:
        assert digit28 is not None and label is not None
        img = upscale(digit28)
        if label == 7 and rng.uniform() < french:
            img = french_seven(img, rng)
        elif label == 1 and rng.uniform() < french:
            img = french_one(img, rng)
        if thick:
            img = change_thickness(img, int(rng.choice([-1, 0, 0, 1, 1, 2])))
        target = int(label)
        if mark == "crossed":
            img, target = cross_out(img, rng), MARK
    w = sample_writing(rng)
    deg = sample_degradation(rng, profile)
    if profile == "fax":
        w.ink = max(w.ink, 0.6)  # pencil does not survive a fax; nobody faxes pencil on purpose
    nbs: tuple = (None, None)
    if neighbours is not None and len(neighbours) and rng.uniform() < 0.3:
        nbs = tuple(upscale(neighbours[rng.integers(len(neighbours))]) if rng.uniform() < 0.5 else None
                    for _ in range(2))
    gaps = (BOX_GAP if rng.uniform() < 0.8 else 3.4, BOX_GAP if rng.uniform() < 0.8 else 3.4)
    crop = render_crop(img, w, deg, rng, tuple(rng.uniform(-0.5, 0.5, 2)), nbs, gaps)
    return crop, target
