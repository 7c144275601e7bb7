"""Degrading a filled page like machines do: scanners, photocopiers, fax, phone photos."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np


@dataclass(frozen=True)
class Profile:
    name: str
    dpi: float                              # resolution the page is rendered (and scanned) at
    skew_deg: float = 0.0                   # max |rotation|
    shift_mm: float = 0.0                   # max paper offset in the feeder
    noise: float = 0.0                      # gaussian sensor noise (grey levels)
    blur: float = 0.0                       # optics blur sigma (px)
    paper: tuple[float, float] = (245, 255)  # white level range
    jpeg: tuple[int, int] | None = (80, 92)  # JPEG quality range (None: lossless / bilevel)
    gamma: tuple[float, float] = (1.0, 1.0)  # > 1 darkens mid-greys
    contrast: float = 1.0
    speckle: float = 0.0                    # toner specks per cm2
    fax: bool = False                       # 200 x 100 dpi, dithered bilevel
    upside_down: bool = False
    photo: bool = False                     # perspective, light, background, colour
    photo_width: int = 3000
    bend_mm: float = 0.0                    # a page that does not lie flat (folded, curled): interior shift, mm
    glare: float = 0.0                      # a lamp's reflection on the page: light added at its centre (0-255)
    shake_mm: float = 0.0                   # a photo taken with a moving hand: motion blur up to this long on paper
    send_long_px: int = 0                   # a photo sent by a messaging app: long side resized to this (0: kept)
    perspective: tuple[float, float] = (0.02, 0.07)  # far edge's corners moved in by this share of the page width
    exposure: float = 1.0                   # light on the page (a dim office: < 1; the sensor's noise stays)
    marker: float = 0.0                     # highlighted lines per page (Poisson mean): a fluorescent marker's band
    stamp: float = 0.0                      # probability that a page carries a rubber stamp (the régie's, the
                                            # mairie's) pressed near its foot, where a page is closed
    punch: float = 0.0                      # probability that a page was punched for a ring binder (2 or 4 holes in
                                            # its left margin, ISO 838), showing the scanner's background
    sprawl: float = 0.0                     # share of texts written on past their box (a habit of the writers, not
                                            # of the machine: simulate_batch hands it to fill_page)
    default_fmt: str = "pdf"


PROFILES: dict[str, Profile] = {
    "scanner_300": Profile("scanner_300", 300, skew_deg=1.5, shift_mm=2, noise=2.5, blur=0.5, jpeg=(85, 92)),
    "scanner_200": Profile("scanner_200", 200, skew_deg=2.0, shift_mm=2, noise=3.0, blur=0.4, jpeg=(75, 90)),
    "scanner_150_jpeg": Profile("scanner_150_jpeg", 150, skew_deg=2.0, shift_mm=2, noise=3.0, blur=0.3,
                                jpeg=(60, 72)),
    "photocopy": Profile("photocopy", 200, skew_deg=2.0, shift_mm=3, noise=5.0, blur=0.8, paper=(232, 250),
                         jpeg=(70, 85), gamma=(1.3, 1.8), contrast=1.25, speckle=0.25),
    "fax": Profile("fax", 200, skew_deg=1.5, shift_mm=2, noise=4.0, blur=0.6, jpeg=None, fax=True,
                   default_fmt="tiff"),
    "upside_down": Profile("upside_down", 200, skew_deg=2.0, shift_mm=2, noise=3.0, blur=0.4, jpeg=(75, 90),
                           upside_down=True),
    "phone_photo": Profile("phone_photo", 300, skew_deg=5.0, noise=5.0, blur=1.2, jpeg=(78, 90), photo=True,
                           default_fmt="jpg"),
    # a sheet that was folded in four to be carried, or curls up, photographed on a table: the corners (and
    # their markers) lie nearly where a flat page would put them, the middle of the page does not
    "phone_photo_bent": Profile("phone_photo_bent", 300, skew_deg=5.0, noise=5.0, blur=1.2, jpeg=(78, 90),
                                photo=True, default_fmt="jpg", bend_mm=3.0),
    # a ceiling lamp or the window reflected on the sheet: where the reflection is, paper and ink alike send back
    # the light, and the ink fades into the white
    "phone_photo_glare": Profile("phone_photo_glare", 300, skew_deg=5.0, noise=5.0, blur=1.2, jpeg=(78, 90),
                                 photo=True, default_fmt="jpg", glare=230.0),
    # taken in a dim office with a moving hand or before the focus settled: the whole photo is soft
    "phone_photo_blurred": Profile("phone_photo_blurred", 300, skew_deg=5.0, noise=5.0, blur=2.4, jpeg=(78, 90),
                                   photo=True, default_fmt="jpg", shake_mm=0.8),
    # lines flagged with a fluorescent marker by the agents, scanned in grey
    "scanner_200_marker": Profile("scanner_200_marker", 200, skew_deg=2.0, shift_mm=2, noise=3.0, blur=0.4,
                                  jpeg=(75, 90), marker=1.5),
    # the same highlighted lines, photographed (not in make bench by default: run with --profiles)
    "phone_photo_marker": Profile("phone_photo_marker", 300, skew_deg=5.0, noise=5.0, blur=1.2, jpeg=(78, 90),
                                  photo=True, default_fmt="jpg", marker=1.5),
    # pages closed with the régie's or the mairie's rubber stamp near their foot
    "scanner_200_stamp": Profile("scanner_200_stamp", 200, skew_deg=2.0, shift_mm=2, noise=3.0, blur=0.4,
                                 jpeg=(75, 90), stamp=0.8),
    # hurried agents whose writing runs on past its box (initials into the next box, « Quittance annulée »...)
    # pages kept in a ring binder: punched in the left margin, the holes dark (an ADF's black background) or light
    "scanner_200_punched": Profile("scanner_200_punched", 200, skew_deg=2.0, shift_mm=2, noise=3.0, blur=0.4,
                                   jpeg=(75, 90), punch=1.0),
    "scanner_200_sprawl": Profile("scanner_200_sprawl", 200, skew_deg=2.0, shift_mm=2, noise=3.0, blur=0.4,
                                  jpeg=(75, 90), sprawl=0.3),
    # taken standing beside the desk: the sheet seen at a slant, its far edge much shorter than its near one
    "phone_photo_oblique": Profile("phone_photo_oblique", 300, skew_deg=5.0, noise=5.0, blur=1.2, jpeg=(78, 90),
                                   photo=True, default_fmt="jpg", perspective=(0.12, 0.25)),
    # a dim office, no flash: a dark, noisy photo
    "phone_photo_dim": Profile("phone_photo_dim", 300, skew_deg=5.0, noise=12.0, blur=1.2, jpeg=(70, 85),
                               photo=True, default_fmt="jpg", exposure=0.45),
    # sent from the phone by a messaging app (WhatsApp and the like): resized to 1600 px, compressed again
    "phone_photo_sent": Profile("phone_photo_sent", 300, skew_deg=5.0, noise=5.0, blur=1.2, jpeg=(55, 75),
                                photo=True, default_fmt="jpg", send_long_px=1600),
}
# A photocopied blank (before anyone writes on it): furniture a bit darker, a few specks, no skew of the
# content relative to the printed grid beyond a little.
PHOTOCOPY_BLANK = Profile("photocopy_blank", 0, skew_deg=0.4, shift_mm=1.0, noise=0.0, blur=0.5, paper=(250, 255),
                          jpeg=None, gamma=(1.1, 1.4), contrast=1.1, speckle=0.08)


def get_profile(profile: str | Profile) -> Profile:
    if isinstance(profile, Profile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise ValueError(f"unknown profile {profile!r} (known: {', '.join(PROFILES)})") from None


def _jpeg(img: np.ndarray, q: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(q)])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def _rotate(img: np.ndarray, deg: float, dx: float, dy: float, border: float) -> np.ndarray:
    h, w = img.shape[:2]
    M = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    M[0, 2] += dx
    M[1, 2] += dy
    return cv2.warpAffine(img, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=border)


def _speckle(img: np.ndarray, per_cm2: float, dpi: float, rng: np.random.Generator) -> None:
    h, w = img.shape[:2]
    area_cm2 = (h / dpi * 2.54) * (w / dpi * 2.54)
    n = int(rng.poisson(per_cm2 * area_cm2))
    if not n:
        return
    ys = rng.integers(0, h, n)
    xs = rng.integers(0, w, n)
    rs = rng.uniform(0.5, 1.8, n) * dpi / 200
    gs = rng.uniform(0, 120, n)
    for x, y, r, g in zip(xs, ys, rs, gs):
        cv2.circle(img, (int(x), int(y)), max(int(r), 1), float(g), -1, cv2.LINE_AA)


BAYER4 = (np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], np.float32) + 0.5) / 16


def fax_bits(img: np.ndarray) -> np.ndarray:
    """A fax's bilevel image of `img` at half its vertical resolution (200 x 100 dpi from 200 dpi): mid-greys
    ordered-dithered, the rest thresholded; uint8 0 / 255."""
    h, w = img.shape
    half = cv2.resize(img, (w, h // 2), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    # fax "text" mode keeps a band of thresholded tones; mid-greys get an ordered dither ("photo" mode)
    thr = np.tile(BAYER4, (half.shape[0] // 4 + 1, w // 4 + 1))[: half.shape[0], :w]
    lo, hi = 0.42, 0.82
    t = np.where(half < lo, 1.0, np.where(half > hi, 0.0, thr * (hi - lo) + lo))
    return (half >= t).astype(np.uint8) * 255


def _fax(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """200 x 100 dpi fax (fax_bits) with a few transmission streaks, stretched back to 200 x 200."""
    h, w = img.shape
    bits = fax_bits(img)
    # transmission errors: a few streaked lines
    for _ in range(int(rng.poisson(1.5))):
        y = int(rng.integers(0, bits.shape[0]))
        x0 = int(rng.integers(0, w - 50))
        bits[y, x0:x0 + int(rng.integers(20, 300))] ^= 255
    return cv2.resize(bits, (w, h), interpolation=cv2.INTER_NEAREST)


def _bend(img: np.ndarray, bend_mm: float, rng: np.random.Generator) -> np.ndarray:
    """The page as seen from above when it does not lie flat: a fold (a ridge across the sheet, where it was
    folded to be carried) or a curl, drawn as a smooth displacement that is zero at the page's edges and reaches
    up to ``bend_mm`` inside, both along the page (foreshortening) and across it (the raised part looks larger).
    A homography from the corner markers cannot undo it."""
    h, w = img.shape[:2]
    mm = max(h, w) / 297.0  # px per mm (A4, either orientation)
    amp = rng.uniform(0.4, 1.0) * bend_mm * mm
    across = bool(rng.integers(2))  # the fold/curl line runs across the page's width (True) or down its height
    pos = rng.uniform(0.3, 0.7)     # where the ridge is, as a share of the page
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = (yy / h, xx / w) if across else (xx / w, yy / h)   # u runs across the ridge, v along it
    # ridge profile: 0 at both edges, 1 at the ridge, smooth (a tent rounded by a sine on each side)
    prof = np.where(u < pos, np.sin(0.5 * np.pi * u / pos), np.sin(0.5 * np.pi * (1 - u) / (1 - pos)))
    prof *= np.sin(np.pi * v) ** 0.5  # the corners stay put (the sheet is held flat at its corners)
    du = amp * prof * rng.choice([-1.0, 1.0])                 # shift across the ridge
    dv = 0.5 * amp * prof * (v - 0.5) * 2                      # raised part looks larger along the ridge
    if across:
        map_x, map_y = xx - dv, yy - du
    else:
        map_x, map_y = xx - du, yy - dv
    return cv2.remap(img, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def _highlight(g: np.ndarray, per_page: float, dpi: float, rng: np.random.Generator) -> np.ndarray:
    """Lines an agent went over with a fluorescent marker (to flag them): a translucent band 4–7 mm tall along
    part of a line, which a grey capture sees as a mid grey (pink, orange, green or blue: 55–80 % of the paper's
    light; yellow would hardly show); ink under it stays dark."""
    n = int(rng.poisson(per_page))
    if not n:
        return g
    h, w = g.shape
    mm = dpi / 25.4
    f = g.astype(np.float32)
    for _ in range(n):
        y = rng.uniform(35, 265) * mm
        tall = rng.uniform(4, 7) * mm
        x0 = rng.uniform(0.05, 0.5) * w
        x1 = rng.uniform(max(x0 / w + 0.2, 0.6), 0.97) * w
        xs = np.arange(int(x0), int(x1))
        wob = np.cumsum(rng.normal(0, 0.02 * mm, len(xs))) + rng.uniform(-1, 1) * mm * (xs - x0) / max(x1 - x0, 1)
        shade = np.float32(rng.uniform(0.55, 0.8))
        for x, dy in zip(xs[::2], wob[::2]):
            ya, yb = int(max(0, y + dy)), int(min(h, y + dy + tall))
            f[ya:yb, x:x + 2] *= shade
    return np.clip(f, 0, 255).astype(np.uint8)


def stamp_patch(dpi: float, w_mm: float, h_mm: float, oval: bool, second_line: str, angle: float) -> np.ndarray:
    """A rubber stamp's print (uint8, 255 where its ink lies) on a square patch, its centre the patch's: an oval or a
    rectangle w_mm x h_mm with a second border 1.5 mm inside, « MAIRIE » and `second_line` in capitals 2.8 mm tall
    (narrowed to fit), 0.5 mm strokes, turned by `angle` degrees."""
    mm = dpi / 25.4
    size = int(max(w_mm, h_mm) * 1.3 * mm)
    c = size // 2
    patch = np.zeros((size, size), np.uint8)
    t = max(1, int(round(0.5 * mm)))
    axes = (int(w_mm / 2 * mm), int(h_mm / 2 * mm))
    if oval:
        cv2.ellipse(patch, (c, c), axes, 0, 0, 360, 255, t, cv2.LINE_AA)
        cv2.ellipse(patch, (c, c), (axes[0] - int(1.5 * mm), axes[1] - int(1.5 * mm)), 0, 0, 360, 255, t,
                    cv2.LINE_AA)
    else:
        cv2.rectangle(patch, (c - axes[0], c - axes[1]), (c + axes[0], c + axes[1]), 255, t, cv2.LINE_AA)
        cv2.rectangle(patch, (c - axes[0] + int(1.5 * mm), c - axes[1] + int(1.5 * mm)),
                      (c + axes[0] - int(1.5 * mm), c + axes[1] - int(1.5 * mm)), 255, t, cv2.LINE_AA)
    for k, text in enumerate(("MAIRIE", second_line)):
        scale = 2.8 * mm / cv2.getTextSize("H", cv2.FONT_HERSHEY_SIMPLEX, 1.0, 1)[0][1]
        tw = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, t)[0][0]
        if tw > 1.6 * axes[0]:
            scale *= 1.6 * axes[0] / tw
            tw = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, t)[0][0]
        cv2.putText(patch, text, (c - tw // 2, int(c + (k - 0.2) * 4.5 * mm)), cv2.FONT_HERSHEY_SIMPLEX, scale, 255,
                    t, cv2.LINE_AA)
    M = cv2.getRotationMatrix2D((c, c), angle, 1.0)
    return cv2.warpAffine(patch, M, (size, size))


def _stamp(g: np.ndarray, dpi: float, rng: np.random.Generator) -> np.ndarray:
    """A rubber stamp pressed near the foot of the page (where a page of a journal is closed and signed): an oval or
    a rectangle 35–50 mm wide, a double border and two lines of capitals, violet or blue ink (a grey capture sees
    45–65 % of the paper's light), unevenly inked, turned up to 25 degrees."""
    mm = dpi / 25.4
    w_mm, h_mm = rng.uniform(35, 50), rng.uniform(18, 26)
    oval = rng.random() < 0.5
    second = "REGIE DE RECETTES" if rng.random() < 0.5 else "SERVICE ETAT CIVIL"
    patch = stamp_patch(dpi, w_mm, h_mm, oval, second, rng.uniform(-25, 25))
    size = patch.shape[0]
    c = size // 2
    inked = cv2.resize(rng.uniform(0.6, 1.0, (size // 8 + 1, size // 8 + 1)).astype(np.float32), (size, size))
    cover = patch.astype(np.float32) / 255.0 * inked * (1.0 - rng.uniform(0.45, 0.65))
    h, w = g.shape
    y0 = int(rng.uniform(195, 265) * mm) - c
    x0 = int(rng.uniform(55, 165) * mm) - c
    ya, yb, xa, xb = max(0, y0), min(h, y0 + size), max(0, x0), min(w, x0 + size)
    if ya >= yb or xa >= xb:
        return g
    f = g.astype(np.float32)
    f[ya:yb, xa:xb] *= 1.0 - cover[ya - y0:yb - y0, xa - x0:xb - x0]
    return np.clip(f, 0, 255).astype(np.uint8)


def _punch(g: np.ndarray, dpi: float, rng: np.random.Generator) -> np.ndarray:
    """Holes punched for a ring binder (ISO 838): 2 holes 80 mm apart or 4 holes at 80 mm intervals, centred on the
    sheet's height, 6 mm across, 12 mm from its left edge — give or take the 2–3 mm of a sheet not pushed home
    against the punch's guide. Through a hole the scanner shows its background: an automatic feeder's dark grey, or
    a flatbed lid's white with the hole's rim as a thin shadow."""
    mm = dpi / 25.4
    h = g.shape[0]
    n = 2 if rng.random() < 0.5 else 4
    offsets = (-40.0, 40.0) if n == 2 else (-120.0, -40.0, 40.0, 120.0)
    x = rng.uniform(9.5, 14.0)
    y = h / mm / 2 + rng.uniform(-3.0, 3.0)
    r = rng.uniform(2.75, 3.25)
    dark = rng.random() < 0.5
    out = g.copy()
    for dy in offsets:
        c = (int(round(x * mm)), int(round((y + dy) * mm)))
        if dark:
            cv2.circle(out, c, int(round(r * mm)), int(rng.uniform(30, 80)), -1, cv2.LINE_AA)
        else:
            cv2.circle(out, c, int(round(r * mm)), int(rng.uniform(225, 250)), -1, cv2.LINE_AA)
            cv2.circle(out, c, int(round(r * mm)), int(rng.uniform(120, 170)), max(1, int(round(0.2 * mm))),
                       cv2.LINE_AA)
    return out


def _glare(xx: np.ndarray, yy: np.ndarray, corners: np.ndarray, peak: float, rng: np.random.Generator) -> np.ndarray:
    """A specular reflection (a lamp, a window) on the photographed sheet, as light added to paper and ink alike:
    an elongated soft spot of `peak` (times 0.6-1) at its centre, somewhere on the page (`corners`, photo px), from
    2 to 6 cm long on an A4 sheet, on a grid (xx, yy)."""
    a, b = rng.uniform(0.15, 0.85, 2)
    top = corners[0] + a * (corners[1] - corners[0])
    bottom = corners[3] + a * (corners[2] - corners[3])
    cx, cy = top + b * (bottom - top)
    page_w = float(np.linalg.norm(corners[1] - corners[0]))  # 210 mm
    long_ = rng.uniform(20, 60) / 210 * page_w / 2.5          # Gaussian sigma: about 2.5 sigma either side
    short = long_ * rng.uniform(0.35, 0.8)
    ang = rng.uniform(0, np.pi)
    u = (xx - cx) * np.cos(ang) + (yy - cy) * np.sin(ang)
    v = -(xx - cx) * np.sin(ang) + (yy - cy) * np.cos(ang)
    return (peak * rng.uniform(0.6, 1.0) * np.exp(-0.5 * ((u / long_) ** 2 + (v / short) ** 2))).astype(np.float32)


def _photo(img: np.ndarray, p: Profile, rng: np.random.Generator) -> np.ndarray:
    """A phone photo: the page on a table, perspective, uneven light and a shadow, blur, colour, ~3000 px wide."""
    cv2.setRNGSeed(int(rng.integers(2**31 - 1)))
    h, w = img.shape[:2]
    portrait = h >= w
    W = p.photo_width if portrait else int(p.photo_width * 4 / 3)
    H = int(W * 4 / 3) if portrait else int(W * 3 / 4)
    fill = rng.uniform(0.78, 0.9)  # share of the frame the page takes
    s = min(W * fill / w, H * fill / h)
    pw, ph = w * s, h * s
    cx, cy = W / 2 + rng.uniform(-0.04, 0.04) * W, H / 2 + rng.uniform(-0.04, 0.04) * H
    ang = math.radians(rng.uniform(-p.skew_deg, p.skew_deg))
    ca, sa = math.cos(ang), math.sin(ang)
    corners = []
    for ux, uy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        x, y = ux * pw / 2, uy * ph / 2
        corners.append((cx + x * ca - y * sa, cy + x * sa + y * ca))
    # perspective: the far edge looks shorter
    k = rng.uniform(*p.perspective) * pw
    side = int(rng.integers(4))
    dst = np.array(corners, np.float32)
    a, b = side, (side + 1) % 4
    mid = (dst[a] + dst[b]) / 2
    for i in (a, b):
        d = mid - dst[i]
        dst[i] += d / (np.linalg.norm(d) + 1e-9) * k
    dst += rng.uniform(-0.01, 0.01, dst.shape).astype(np.float32) * W
    src = np.array([(0, 0), (w, 0), (w, h), (0, h)], np.float32)
    M = cv2.getPerspectiveTransform(src, dst)
    gray = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    if p.bend_mm:
        gray = _bend(gray, p.bend_mm, rng)
    warped = cv2.warpPerspective(gray, M, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                 borderValue=0)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), M, (W, H), flags=cv2.INTER_LINEAR)
    # table: a darker textured background
    small = rng.normal(0, 1, (H // 64 + 2, W // 64 + 2)).astype(np.float32)
    tex = cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC) * 10 + rng.uniform(70, 130)
    # the warped page is already weighted by its own (anti-aliased) mask: the border is black
    f = warped.astype(np.float32)
    f += tex * (1.0 - mask.astype(np.float32) * np.float32(1 / 255))
    # light: a gradient, a vignette and a soft shadow (a hand or the phone), computed coarse then smoothed up
    cs = 8
    yy, xx = np.mgrid[0:H:cs, 0:W:cs].astype(np.float32)
    g_ang = rng.uniform(0, 2 * math.pi)
    grad = ((xx - W / 2) * math.cos(g_ang) + (yy - H / 2) * math.sin(g_ang)) / max(W, H)
    light = (0.88 + 0.18 * grad * rng.uniform(0.6, 1.4)) * p.exposure
    r2 = ((xx - W / 2) / W) ** 2 + ((yy - H / 2) / H) ** 2
    light *= 1.0 - 0.35 * r2
    if rng.random() < 0.8:
        s_ang = rng.uniform(0, 2 * math.pi)
        off = rng.uniform(0.2, 0.45) * max(W, H)
        proj = (xx - W / 2) * math.cos(s_ang) + (yy - H / 2) * math.sin(s_ang)
        edge = 1.0 / (1.0 + np.exp(-(proj - off) / (0.03 * W)))
        light *= 1.0 - rng.uniform(0.2, 0.4) * edge
    f *= cv2.resize(light.astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
    if p.glare:
        f += cv2.resize(_glare(xx, yy, dst, p.glare, rng), (W, H), interpolation=cv2.INTER_LINEAR)
        np.minimum(f, 255.0, out=f)  # the sensor saturates: paper and ink alike
    if p.blur:
        f = cv2.GaussianBlur(f, (0, 0), p.blur * rng.uniform(0.6, 1.3))
    if p.shake_mm:
        f = _shake(f, p.shake_mm * rng.uniform(0.25, 1.0) * pw / 210.0, rng)
    noise = np.empty(f.shape, np.float32)
    cv2.randn(noise, 0.0, float(p.noise))  # seeded below from rng, fast
    f += noise
    del noise
    # colour: warm indoor light
    tint = (rng.uniform(0.96, 1.0), rng.uniform(0.9, 0.97), rng.uniform(0.78, 0.9))
    out = cv2.merge([cv2.convertScaleAbs(f, alpha=float(t)) for t in tint])
    if p.send_long_px and max(W, H) > p.send_long_px:
        k = p.send_long_px / max(W, H)
        out = cv2.resize(out, (int(round(W * k)), int(round(H * k))), interpolation=cv2.INTER_AREA)
    return out


def _shake(f: np.ndarray, length_px: float, rng: np.random.Generator) -> np.ndarray:
    """Motion blur: the image averaged along a straight path `length_px` long in a random direction."""
    n = max(int(math.ceil(length_px)) | 1, 3)
    k = np.zeros((n, n), np.float32)
    ang = rng.uniform(0, math.pi)
    c = (n - 1) / 2
    dx, dy = math.cos(ang) * length_px / 2, math.sin(ang) * length_px / 2
    cv2.line(k, (int(round((c - dx) * 16)), int(round((c - dy) * 16))),
             (int(round((c + dx) * 16)), int(round((c + dy) * 16))), 1.0, 1, cv2.LINE_AA, 4)
    k /= k.sum()
    return cv2.filter2D(f, -1, k, borderType=cv2.BORDER_REPLICATE)


def degrade(img: np.ndarray, profile: str | Profile, rng: np.random.Generator, *, upside_down: bool | None = None,
            dpi: float | None = None) -> np.ndarray:
    """A filled page image (rendered at the profile's dpi) as the machine gives it back.

    Scanner-like profiles keep the page's pixel size (A4 at their dpi); the phone photo is ~3000 px wide, RGB;
    the fax is bilevel (0/255) at 200 dpi with 100 dpi vertical detail. JPEG artefacts are applied here when the
    profile has a quality (the writer saves the result losslessly or as JPEG at that quality)."""
    p = get_profile(profile)
    dpi = dpi or p.dpi
    g = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    if p.marker:
        g = _highlight(g, p.marker, dpi, rng)
    if p.stamp and rng.random() < p.stamp:
        g = _stamp(g, dpi, rng)
    if p.punch and rng.random() < p.punch:
        g = _punch(g, dpi, rng)
    f = g.astype(np.float32)
    if p.photo:
        out = _photo(g, p, rng)
        if upside_down or (upside_down is None and p.upside_down):
            out = out[::-1, ::-1].copy()
        return out
    # toner / lamp: tone curve
    gam = rng.uniform(*p.gamma)
    if gam != 1.0 or p.contrast != 1.0:
        f = 255.0 * (f / 255.0) ** gam
        f = (f - 128.0) * p.contrast + 128.0
    paper = rng.uniform(*p.paper)
    f = f * (paper / 255.0)
    f = np.clip(f, 0, 255).astype(np.uint8)
    if p.speckle:
        _speckle(f, p.speckle, dpi, rng)
    mm = dpi / 25.4
    if p.skew_deg or p.shift_mm:
        f = _rotate(f, rng.uniform(-p.skew_deg, p.skew_deg), rng.uniform(-p.shift_mm, p.shift_mm) * mm,
                    rng.uniform(-p.shift_mm, p.shift_mm) * mm, float(paper))
    if p.blur:
        f = cv2.GaussianBlur(f, (0, 0), p.blur * rng.uniform(0.7, 1.3))
    if p.noise:
        n = rng.standard_normal(f.shape, dtype=np.float32) * np.float32(p.noise)
        f = np.clip(f.astype(np.float32) + n, 0, 255).astype(np.uint8)
    if p.fax:
        f = _fax(f, rng)
    if upside_down or (upside_down is None and p.upside_down):
        f = f[::-1, ::-1].copy()
    return f


def degrade_blank_copy(img: np.ndarray, rng: np.random.Generator, dpi: float) -> np.ndarray:
    """A photocopied blank page (what agents fill when the register runs out)."""
    return degrade(img, replace(PHOTOCOPY_BLANK, dpi=dpi), rng, dpi=dpi)


def jpeg_quality(profile: str | Profile, rng: np.random.Generator) -> int | None:
    p = get_profile(profile)
    return None if p.jpeg is None else int(rng.integers(p.jpeg[0], p.jpeg[1] + 1))
