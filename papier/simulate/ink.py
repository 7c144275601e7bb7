"""Filling a rendered page like people do: bubbles, ticks, crosses, handwritten digits and scribbled text.

Everything is drawn into a coverage layer (0..255) from the layout.json geometry (mm -> px at the page's dpi),
then composited with the writer's ink (grey level) multiplicatively, so ink over print stays black and pencil
stays grey.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from papier.digits.render import add_seven_bar
from papier.simulate.values import blank_value, is_blank

AMBIGUITY_KINDS = ("half_filled", "two_marks", "scribbled_out")


@dataclass
class Writer:
    """One person's hand and pen."""
    pen: str              # "black", "blue", "pencil"
    ink: float            # grey level (0 black .. 255 white) of a fully covered pixel
    width_mm: float       # stroke width
    mark: str             # preferred mark in bubbles: "fill", "tick", "cross"
    digit_height: float   # digit height as a fraction of the box height
    slant: float          # shear of handwriting (positive leans right)
    french7: bool         # crosses its sevens
    one_upstroke: bool    # writes 1 with a lead-in stroke
    leading_zeros: float  # probability of padding an amount with zeros (the form's "0012,50")
    care: float           # 0 sloppy .. 1 careful (offsets, touching lines)


def make_writer(rng: np.random.Generator, pen: str | None = None) -> Writer:
    pen = pen or str(rng.choice(["black", "blue", "blue", "pencil"], p=[0.4, 0.25, 0.25, 0.1]))
    upstroke = bool(rng.random() < 0.5)  # who writes 1 with a lead-in stroke crosses their sevens
    french7 = upstroke or bool(rng.random() < 0.3)
    ink = {"black": rng.uniform(15, 55), "blue": rng.uniform(45, 95), "pencil": rng.uniform(85, 125)}[pen]
    return Writer(
        pen=pen, ink=float(ink),
        width_mm=float(rng.uniform(0.3, 0.6) if pen != "pencil" else rng.uniform(0.35, 0.5)),
        mark=str(rng.choice(["fill", "tick", "cross"], p=[0.75, 0.15, 0.10])),
        digit_height=float(rng.uniform(0.6, 0.85)),
        slant=float(rng.uniform(-0.08, 0.28)),
        french7=french7,
        one_upstroke=upstroke,
        leading_zeros=0.0 if rng.random() < 0.85 else 1.0,
        care=float(rng.uniform(0.3, 1.0)),
    )


DEFAULT_STYLES: dict[str, Any] = {
    "writer": None,           # a Writer, or None to draw one at random for the page
    "ambiguous_rate": 0.03,   # share of marked choice/multi/checkbox fields drawn deliberately ambiguous
    "touch_rate": 0.06,       # share of digits that touch their box's border
    "mark_mix": 0.25,         # probability that a mark uses another style than the writer's preferred one
    "sprawl_rate": 0.0,       # share of written texts that run on 2–6 mm past their box's right edge (large initials)
}


# --- handwriting digits (held-out only) ------------------------------------------------------------------------


@lru_cache(maxsize=1)
def digit_pool() -> tuple[np.ndarray, list[np.ndarray]]:
    """(images, per-class index arrays) of the held-out handwriting digits: never trained on."""
    from papier.digits.data import heldout_indices, load_handwriting

    images, labels = load_handwriting()
    held = np.asarray(heldout_indices())
    return images, [held[labels[held] == d] for d in range(10)]


def _glyph(digit: int, w: Writer, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """A held-out handwritten digit (coverage 0..255, cropped) and its dataset index."""
    images, pools = digit_pool()
    idx = int(pools[digit][int(rng.integers(len(pools[digit])))])
    g = images[idx].copy()
    if digit == 7 and w.french7:
        ys, _ = np.nonzero(g[10:18] > 100)
        if len(ys):
            def bar(y: int, cx: float) -> np.ndarray:
                return cv2.line(g.copy(), (int(cx - 5), y), (int(cx + 5), y - 1), 255, 2, cv2.LINE_AA)
            g = add_seven_bar(g, 100, 10, 17, 10 + float(np.median(ys)), bar)
    if digit == 1 and w.one_upstroke:
        ys, xs = np.nonzero(g > 100)
        if len(ys):
            top = int(ys.min())
            tx = int(np.mean(xs[ys <= top + 1]))
            cv2.line(g, (tx, top), (max(tx - 5, 0), top + 4), 255, 2, cv2.LINE_AA)
    ys, xs = np.nonzero(g > 30)
    g = g[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    return g, idx


def _stamp(cov: np.ndarray, patch: np.ndarray, x0: int, y0: int) -> None:
    """Max-combine `patch` into `cov` with its top-left at (x0, y0), clipped to the page."""
    H, W = cov.shape
    ph, pw = patch.shape
    xa, ya = max(x0, 0), max(y0, 0)
    xb, yb = min(x0 + pw, W), min(y0 + ph, H)
    if xa >= xb or ya >= yb:
        return
    sub = patch[ya - y0:yb - y0, xa - x0:xb - x0]
    np.maximum(cov[ya:yb, xa:xb], sub, out=cov[ya:yb, xa:xb])


def _shear(patch: np.ndarray, slant: float) -> np.ndarray:
    h, w = patch.shape
    extra = int(abs(slant) * h) + 1
    M = np.float32([[1, -slant, slant * h if slant > 0 else 0], [0, 1, 0]])
    return cv2.warpAffine(patch, M, (w + extra, h), flags=cv2.INTER_LINEAR, borderValue=0)


def draw_digit(cov: np.ndarray, digit: int, box: tuple[float, float, float, float], w: Writer,
               rng: np.random.Generator, touch: bool) -> int:
    """Write one digit in a box (px: x, y, w, h). Returns the dataset index of the glyph used."""
    bx, by, bw, bh = box
    g, idx = _glyph(digit, w, rng)
    th = bh * w.digit_height * rng.uniform(0.92, 1.06)
    scale = th / g.shape[0]
    tw = max(g.shape[1] * scale * rng.uniform(0.9, 1.1), bh * 0.12)
    tw = min(tw, bw * 0.92)
    gi = cv2.resize(g, (max(int(round(tw)), 2), max(int(round(th)), 2)), interpolation=cv2.INTER_AREA)
    # stroke weight: thin the (felt-pen thick) dataset strokes towards the writer's pen
    thin = float(np.clip((0.75 - w.width_mm) / 0.75, 0.0, 0.5)) * 0.5
    gf = gi.astype(np.float32) / 255.0
    gf = np.clip((gf - thin) / (1.0 - thin), 0.0, 1.0)
    gi = (gf * 255).astype(np.uint8)
    gi = _shear(gi, w.slant + rng.uniform(-0.06, 0.06))
    ph, pw = gi.shape
    slack_x = (bw - pw) / 2
    slack_y = (bh - ph) / 2
    sloppy = 1.3 - w.care
    ox = bx + slack_x + rng.uniform(-1, 1) * max(slack_x, 0) * 0.6 * sloppy
    oy = by + slack_y + rng.uniform(-1, 1) * max(slack_y, 0) * 0.6 * sloppy
    if touch:  # a stroke runs onto the box's border
        side = int(rng.integers(4))
        if side == 0:
            oy = by - ph * 0.08
        elif side == 1:
            oy = by + bh - ph * 0.92
        elif side == 2:
            ox = bx - pw * 0.05
        else:
            ox = bx + bw - pw * 0.95
    _stamp(cov, _pressure(gi, w, rng), int(round(ox)), int(round(oy)))
    return idx


def _pressure(patch: np.ndarray, w: Writer, rng: np.random.Generator) -> np.ndarray:
    """Uneven pressure (and pencil grain)."""
    f = patch.astype(np.float32) * rng.uniform(0.85, 1.0)
    if w.pen == "pencil":
        f *= rng.uniform(0.65, 1.0, size=patch.shape).astype(np.float32)
    return np.clip(f, 0, 255).astype(np.uint8)


# --- marks -------------------------------------------------------------------------------------------------------

SHIFT = 4
ONE = 1 << SHIFT


def _pts(points: list[tuple[float, float]]) -> np.ndarray:
    return np.array([[int(round(x * ONE)), int(round(y * ONE))] for x, y in points], np.int32)


def _thick(w: Writer, dpi: float, k: float = 1.0) -> int:
    return max(1, int(round(w.width_mm * k * dpi / 25.4)))


def _fill_patch(R: float, w: Writer, dpi: float, rng: np.random.Generator, frac: float) -> np.ndarray:
    """A pen-filled disc of radius ~R px (zigzag strokes), `frac` of it covered, centred in its patch."""
    size = int(math.ceil(R * 3.2)) | 1
    c = size / 2
    p = np.zeros((size, size), np.uint8)
    t = _thick(w, dpi, 1.2)
    ang = rng.uniform(-0.6, 0.6) + (math.pi / 2 if rng.random() < 0.3 else 0.0)
    u = np.array([math.cos(ang), math.sin(ang)])
    v = np.array([-u[1], u[0]])
    spacing = t * rng.uniform(0.6, 1.0)
    pts = []
    k = -R * 1.1
    side = 1
    while k <= R * 1.1:
        a = c + v * k - u * R * 1.1 * side
        b = c + v * (k + spacing / 2) + u * R * 1.1 * side
        pts += [tuple(a), tuple(b)]
        k += spacing
        side = -side
    cv2.polylines(p, [_pts(pts)], False, 255, t, cv2.LINE_AA, SHIFT)
    # clip to a wobbly disc
    n = 24
    rr = R * rng.uniform(0.88, 1.04) * (1 + 0.05 * rng.standard_normal(n))
    off = rng.uniform(-0.12, 0.12, 2) * R
    poly = [(c + off[0] + rr[i] * math.cos(2 * math.pi * i / n), c + off[1] + rr[i] * math.sin(2 * math.pi * i / n))
            for i in range(n)]
    mask = np.zeros_like(p)
    cv2.fillPoly(mask, [_pts(poly)], 255, cv2.LINE_AA, SHIFT)
    p = ((p.astype(np.uint16) * mask) // 255).astype(np.uint8)
    if frac < 0.999:  # leave part of the disc empty (a half-plane)
        th = rng.uniform(0, 2 * math.pi)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        proj = (xx - c) * math.cos(th) + (yy - c) * math.sin(th)
        inside = mask > 128
        cut = np.quantile(proj[inside], frac) if inside.any() else 0.0
        p[proj > cut] = 0
    return p


def _tick_patch(R: float, w: Writer, dpi: float, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    size = int(math.ceil(R * 4)) | 1
    c = size / 2
    p = np.zeros((size, size), np.uint8)
    s = R * scale
    j = lambda: rng.uniform(-0.15, 0.15) * s  # noqa: E731
    pts = [(c - 0.8 * s + j(), c + 0.05 * s + j()), (c - 0.15 * s + j(), c + 0.75 * s + j()),
           (c + 1.1 * s + j(), c - 1.15 * s + j())]
    cv2.polylines(p, [_pts(pts)], False, 255, _thick(w, dpi), cv2.LINE_AA, SHIFT)
    return p


def _cross_patch(R: float, w: Writer, dpi: float, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    size = int(math.ceil(R * 4)) | 1
    c = size / 2
    p = np.zeros((size, size), np.uint8)
    s = R * scale * rng.uniform(0.85, 1.15)
    j = lambda: rng.uniform(-0.12, 0.12) * s  # noqa: E731
    t = _thick(w, dpi)
    cv2.line(p, tuple(_pts([(c - s + j(), c - s + j())])[0]), tuple(_pts([(c + s + j(), c + s + j())])[0]),
             255, t, cv2.LINE_AA, SHIFT)
    cv2.line(p, tuple(_pts([(c + s + j(), c - s + j())])[0]), tuple(_pts([(c - s + j(), c + s + j())])[0]),
             255, t, cv2.LINE_AA, SHIFT)
    return p


def _scribble_patch(R: float, w: Writer, dpi: float, rng: np.random.Generator) -> np.ndarray:
    """A dense, messy scribble over and around a mark (crossing it out)."""
    size = int(math.ceil(R * 4)) | 1
    c = size / 2
    p = np.zeros((size, size), np.uint8)
    n = int(rng.integers(6, 11))
    pts = [(c + rng.uniform(-1.5, 1.5) * R, c + rng.uniform(-1.1, 1.1) * R) for _ in range(n)]
    cv2.polylines(p, [_pts(pts)], False, 255, _thick(w, dpi, 1.1), cv2.LINE_AA, SHIFT)
    fp = _fill_patch(R * 1.05, w, dpi, rng, 1.0)
    o = (size - fp.shape[0]) // 2
    _stamp(p, fp, o, o)
    return p


def _put(cov: np.ndarray, patch: np.ndarray, cx: float, cy: float, w: Writer, rng: np.random.Generator,
         strength: float = 1.0) -> None:
    p = _pressure(patch, w, rng)
    if strength < 1.0:
        p = (p.astype(np.float32) * strength).astype(np.uint8)
    ph, pw = p.shape
    _stamp(cov, p, int(round(cx - pw / 2)), int(round(cy - ph / 2)))


def _mark(cov: np.ndarray, cx: float, cy: float, R: float, w: Writer, dpi: float, rng: np.random.Generator,
          style: str) -> None:
    """A clear mark: filled (70-100 %), ticked or crossed."""
    if style == "fill":
        frac = 1.0 if rng.random() < 0.6 else rng.uniform(0.7, 1.0)
        _put(cov, _fill_patch(R, w, dpi, rng, frac), cx, cy, w, rng)
    elif style == "tick":
        _put(cov, _tick_patch(R, w, dpi, rng), cx, cy, w, rng)
    else:
        _put(cov, _cross_patch(R, w, dpi, rng), cx, cy, w, rng)


def _mark_style(w: Writer, rng: np.random.Generator, mix: float) -> str:
    if rng.random() < mix:
        return str(rng.choice(["fill", "tick", "cross"]))
    return w.mark


def _half_mark(cov: np.ndarray, cx: float, cy: float, R: float, w: Writer, dpi: float,
               rng: np.random.Generator) -> None:
    """Deliberately ambiguous: a third to a half of the bubble filled, or a faint small blot."""
    if rng.random() < 0.6:
        _put(cov, _fill_patch(R, w, dpi, rng, rng.uniform(0.3, 0.5)), cx, cy, w, rng)
    else:
        _put(cov, _fill_patch(R * 0.6, w, dpi, rng, 1.0), cx, cy, w, rng, strength=rng.uniform(0.4, 0.6))


# --- text --------------------------------------------------------------------------------------------------------

FONT = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX


def _ascii(s: str) -> str:
    s = s.replace("œ", "oe").replace("Œ", "OE").replace("€", "E").replace("’", "'")
    return "".join(ch for ch in unicodedata.normalize("NFKD", s) if not unicodedata.combining(ch) and ord(ch) < 128)


def _text_layout(text: str, box_w: float, cap_px: float, max_lines: int) -> tuple[list[str], float] | None:
    """Lines and font scale so that `text` fits `box_w`; None when even the smallest size does not fit."""
    base = cv2.getTextSize("H", FONT, 1.0, 1)[0][1]
    scale = cap_px / base
    for shrink in (1.0, 0.9, 0.8, 0.72):
        s = scale * shrink
        lines: list[str] = []
        cur = ""
        ok = True
        for word in text.split(" "):
            cand = (cur + " " + word).strip()
            if cv2.getTextSize(_ascii(cand), FONT, s, 1)[0][0] * 1.04 <= box_w:
                cur = cand
            else:
                if not cur:
                    ok = False
                    break
                lines.append(cur)
                cur = word
                if cv2.getTextSize(_ascii(cur), FONT, s, 1)[0][0] * 1.04 > box_w:
                    ok = False
                    break
        if cur:
            lines.append(cur)
        if ok and len(lines) <= max_lines:
            return lines, s
    return None


def _fit(text: str, box_w: float, box_h: float, px_per_mm: float) -> tuple[str, list[str], float]:
    cap = min(3.3 * px_per_mm, box_h * 0.42)        # handwriting ~3.3 mm cap height
    max_lines = max(1, int(box_h / (6.5 * px_per_mm)))
    words = text.split(" ")
    while words:
        t = " ".join(words)
        res = _text_layout(t, box_w, cap, max_lines)
        if res:
            return t, res[0], res[1]
        words = words[:-1]
    # a single over-long word: cut it
    t = text
    while len(t) > 1:
        t = t[:-1]
        res = _text_layout(t, box_w, cap, 1)
        if res:
            return t, res[0], res[1]
    return "", [], 1.0


def draw_text(cov: np.ndarray, text: str, box: tuple[float, float, float, float], w: Writer, dpi: float,
              rng: np.random.Generator, run_on: float = 0.0) -> str:
    """Write `text` in a zone (px). Returns what was actually written (the text, maybe shortened). `run_on` (px):
    a hurried hand writes its first line large and ends it that far past the zone's right edge."""
    bx, by, bw, bh = box
    ppm = dpi / 25.4
    written, lines, s = _fit(text, bw * 0.93 - 1.5 * ppm, bh, ppm)
    if not lines:
        return ""
    t = max(1, int(round(w.width_mm * ppm * 0.8)))
    line_step = bh / (len(lines) + 0.2) if len(lines) > 1 else bh
    ph = int(bh + 4 * ppm)
    pw = int(bw + 4 * ppm + run_on)
    p = np.zeros((ph, pw), np.uint8)
    y_line = 2 * ppm
    if run_on:
        s *= 1.25
    for li, line in enumerate(lines):
        base_y = y_line + li * line_step + line_step * rng.uniform(0.62, 0.75)
        x = 2 * ppm + 1.0 * ppm + bw * 0.02 * rng.uniform(0.0, 1.5) * (1.3 - w.care)
        if run_on and li == 0:  # the line ends run_on past the zone's right edge, begun inside the zone
            tw = cv2.getTextSize(_ascii(line), FONT, s, t)[0][0] * 0.92
            x = max(x, min(2 * ppm + bw + run_on - tw, 2 * ppm + bw - 0.5 * tw))
        drift = rng.uniform(-0.04, 0.04)
        for ch in _ascii(line):
            cs = s * rng.uniform(0.93, 1.07)
            (cw, _), _ = cv2.getTextSize(ch, FONT, cs, t)
            y = base_y + drift * (x - 2 * ppm) + rng.normal(0, 0.04) * cap_from(s)
            if ch != " ":
                cv2.putText(p, ch, (int(x), int(y)), FONT, cs, 255, t, cv2.LINE_AA)
            x += cw * rng.uniform(0.86, 0.98)
    p = _shear(p, w.slant * 0.8)
    _stamp(cov, _pressure(p, w, rng), int(round(bx - 2 * ppm)), int(round(by - 2 * ppm)))
    return written


def cap_from(scale: float) -> float:
    return cv2.getTextSize("H", FONT, scale, 1)[0][1]


# --- the page ----------------------------------------------------------------------------------------------------


def _px(v: float, dpi: float) -> float:
    return v * dpi / 25.4


def _digit_layout(f: dict[str, Any], value: str, w: Writer, rng: np.random.Generator) -> tuple[str, list[int]]:
    """(value as written, index of the box for each digit). Amounts are right-aligned, as the boxes ask."""
    n = len(f["boxes"])
    value = value[-n:] if len(value) > n else value
    L = len(value)
    if L == n:
        return value, list(range(n))
    sem = f.get("semantic")
    if sem == "amount_cents":
        if rng.random() < w.leading_zeros:
            value = value.zfill(n)
            return value, list(range(n))
        return value, list(range(n - L, n))
    right = rng.random() < 0.35
    start = n - L if right else 0
    return value, list(range(start, start + L))


def fill_page(img: np.ndarray, page: dict[str, Any], values: dict[int, dict[str, Any]], dpi: float,
              rng: np.random.Generator, *, styles: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Write `values` (from make_values) on a rendered page image (grey or RGB, at `dpi`, no margins).

    Returns the filled image and what was done: ``{"values": {row: {field: value as written}},
    "ambiguous": {row: [field, …]}, "ambiguity": {row: {field: kind}}, "digits": {row: {field: [dataset
    indices]}}, "writer": {...}}``. ``values`` as written equals the input except where a writer had to shorten a
    text or padded an amount with zeros: the truth is always what is on the paper (and, for deliberately ambiguous
    marks, what the writer meant)."""
    st = dict(DEFAULT_STYLES)
    st.update(styles or {})
    w: Writer = st["writer"] or make_writer(rng)
    H, W = img.shape[:2]
    cov = np.zeros((H, W), np.uint8)
    written: dict[int, dict[str, Any]] = {}
    ambiguous: dict[int, list[str]] = {}
    ambiguity: dict[int, dict[str, str]] = {}
    digits_used: dict[int, dict[str, list[int]]] = {}
    entries = {e["row"]: e for e in page["entries"]}
    for row, vals in values.items():
        e = entries[int(row)]
        out_vals: dict[str, Any] = {}
        for f in e["fields"]:
            name, typ = f["name"], f["type"]
            v = vals.get(name, blank_value(typ))
            out_vals[name] = v
            if is_blank(typ, v):
                out_vals[name] = blank_value(typ)
                continue
            amb = None
            if typ in ("choice", "multi", "checkbox") and rng.random() < st["ambiguous_rate"]:
                amb = "half_filled"
                if typ == "choice" and len(f["options"]) > 1:
                    amb = str(rng.choice(AMBIGUITY_KINDS, p=[0.4, 0.3, 0.3]))
            if typ in ("choice", "multi"):
                chosen = [v] if typ == "choice" else list(v)
                opts = {o["value"]: o for o in f["options"]}
                for k, val in enumerate(chosen):
                    o = opts[val]
                    cx, cy, R = _px(o["cx"], dpi), _px(o["cy"], dpi), _px(o["r"], dpi)
                    if amb == "half_filled" and k == 0:
                        _half_mark(cov, cx, cy, R, w, dpi, rng)
                    else:
                        _mark(cov, cx, cy, R, w, dpi, rng, _mark_style(w, rng, st["mark_mix"]))
                if amb in ("two_marks", "scribbled_out"):
                    others = [o for o in f["options"] if o["value"] != v]
                    o = others[int(rng.integers(len(others)))]
                    cx, cy, R = _px(o["cx"], dpi), _px(o["cy"], dpi), _px(o["r"], dpi)
                    if amb == "two_marks":
                        _mark(cov, cx, cy, R, w, dpi, rng, _mark_style(w, rng, st["mark_mix"]))
                    else:
                        _mark(cov, cx, cy, R, w, dpi, rng, "fill")
                        _put(cov, _scribble_patch(R, w, dpi, rng), cx, cy, w, rng)
            elif typ == "checkbox":
                b = f["box"]
                cx, cy = _px(b["x"] + b["w"] / 2, dpi), _px(b["y"] + b["h"] / 2, dpi)
                R = _px(min(b["w"], b["h"]) / 2, dpi)
                if amb:
                    _half_mark(cov, cx, cy, R, w, dpi, rng)
                else:
                    style = str(rng.choice(["tick", "cross", "fill"], p=[0.5, 0.4, 0.1]))
                    if style == "tick":
                        _put(cov, _tick_patch(R, w, dpi, rng, 1.1), cx, cy - R * 0.2, w, rng)
                    elif style == "cross":
                        _put(cov, _cross_patch(R, w, dpi, rng, 0.85), cx, cy, w, rng)
                    else:
                        _put(cov, _fill_patch(R * 1.1, w, dpi, rng, rng.uniform(0.8, 1.0)), cx, cy, w, rng)
            elif typ == "digits":
                s = "".join(ch for ch in str(v) if ch.isdigit())
                s, slots = _digit_layout(f, s, w, rng)
                out_vals[name] = s or None
                used = []
                for ch, bi in zip(s, slots):
                    b = f["boxes"][bi]
                    box = (_px(b["x"], dpi), _px(b["y"], dpi), _px(b["w"], dpi), _px(b["h"], dpi))
                    used.append(draw_digit(cov, int(ch), box, w, rng, rng.random() < st["touch_rate"]))
                digits_used.setdefault(int(row), {})[name] = used
            elif typ == "text":
                b = f["box"]
                box = (_px(b["x"], dpi), _px(b["y"], dpi), _px(b["w"], dpi), _px(b["h"], dpi))
                run_on = 0.0
                if st["sprawl_rate"] and rng.random() < st["sprawl_rate"]:  # the hand runs on past the box
                    run_on = _px(rng.uniform(2.0, 6.0), dpi)
                out_vals[name] = draw_text(cov, str(v), box, w, dpi, rng, run_on) or None
            if amb:
                ambiguous.setdefault(int(row), []).append(name)
                ambiguity.setdefault(int(row), {})[name] = amb
        written[int(row)] = out_vals
    out = composite(img, cov, w.ink)
    info = {"values": written, "ambiguous": ambiguous, "ambiguity": ambiguity, "digits": digits_used,
            "writer": asdict(w)}
    return out, info


def composite(img: np.ndarray, cov: np.ndarray, ink: float) -> np.ndarray:
    """Ink over paper: darken multiplicatively by coverage (ink over black print stays black)."""
    a = cov.astype(np.float32) * ((255.0 - ink) / 255.0 / 255.0)
    f = 1.0 - a
    if img.ndim == 3:
        f = f[:, :, None]
    return np.clip(img.astype(np.float32) * f + 0.5, 0, 255).astype(np.uint8)
