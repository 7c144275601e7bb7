"""Draw a register page (a PageLayout) on a reportlab canvas: everything as vectors.

Only what the reader must find is solid black (corner markers, QR codes, line numbers); what a pen fills
(boxes, bubbles, writing zones) is printed in the light DROPOUT_GREY so the reader can tell it from ink.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import qrcode
import qrcode.constants
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from papier.forms import FormDef
from papier.identity import PageIdentity
from papier.layout import (
    BUBBLE_R, DROPOUT_GREY, FID_SIZE, FONT, FONT_BOLD, FOOTER_H, FURNITURE_LINE_PT, MARGIN, FieldGeom, PageLayout,
    Rect, Text, text_width,
)

ARUCO_DICT = "DICT_4X4_50"
RESTRICTED = "Diffusion restreinte — contient des données personnelles"


@lru_cache(maxsize=8)
def aruco_bits(marker_id: int) -> np.ndarray:
    """The 6x6 cell pattern (True = black) of an ArUco 4x4 marker, border included."""
    import cv2

    d = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, ARUCO_DICT))
    img = cv2.aruco.generateImageMarker(d, marker_id, 6)
    return img < 128


def qr_matrix(payload: str, border: int = 4) -> np.ndarray:
    """QR modules (True = dark), error correction level Q, with its quiet zone of `border` modules.

    Encoded with zxing-cpp (fast, C++); the qrcode package is the fallback.
    """
    try:
        import zxingcpp

        bc = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, ec_level="Q")
        core = np.asarray(bc.to_image(scale=1, add_quiet_zones=False)) < 128
        return np.pad(core, border, constant_values=False)
    except (ImportError, AttributeError, TypeError):  # pragma: no cover - old zxing-cpp without a writer
        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, border=border, box_size=1)
        qr.add_data(payload, optimize=0)
        qr.make(fit=True)
        return np.array(qr.get_matrix(), dtype=bool)


def bit_runs_ops(bits: np.ndarray) -> str:
    """PDF path operators for the dark runs of a boolean matrix, in module units, y up (row 0 at the top)."""
    n_rows, n_cols = bits.shape
    padded = np.zeros((n_rows, n_cols + 2), dtype=np.int8)
    padded[:, 1:-1] = bits
    diff = np.diff(padded, axis=1)
    rows, starts = np.nonzero(diff == 1)   # row-major order: runs pair up with their ends
    _, ends = np.nonzero(diff == -1)
    ys = (n_rows - 1 - rows).tolist()
    return "\n".join(f"{s0} {y} {e0 - s0} 1 re" for s0, y, e0 in zip(starts.tolist(), ys, ends.tolist()))


def draw_bits(c: Canvas, bits: np.ndarray, x_pt: float, y_pt: float, size_pt: float) -> None:
    """Fill the dark cells of a square boolean matrix into the size_pt square whose bottom-left is (x_pt, y_pt).

    The path is written as raw operators in module units under a scale: exact, compact and fast.
    """
    n = bits.shape[0]
    c.saveState()
    c.translate(x_pt, y_pt)
    c.scale(size_pt / n, size_pt / n)
    c.setFillGray(0)
    ops = bit_runs_ops(bits)
    if ops:
        c.addLiteral(ops + "\nf")
    c.restoreState()


class PageCanvas:
    """mm coordinates, origin top-left, y down, on a reportlab canvas."""

    def __init__(self, c: Canvas, size_mm: tuple[float, float]):
        self.c = c
        self.W, self.H = size_mm

    def X(self, x: float) -> float:
        return x * mm

    def Y(self, y: float) -> float:
        return (self.H - y) * mm

    def grid(self, bits: np.ndarray, x: float, y: float, size: float) -> None:
        """Draw a boolean matrix as black squares filling size x size mm (one path)."""
        draw_bits(self.c, bits, self.X(x), self.Y(y + size), size * mm)

    def text(self, t: Text, gray: float = 0.0) -> None:
        self.c.setFillGray(gray)
        self.c.setFont(FONT_BOLD if t.bold else FONT, t.size)
        if t.anchor == "middle":
            self.c.drawCentredString(self.X(t.x), self.Y(t.y), t.text)
        elif t.anchor == "end":
            self.c.drawRightString(self.X(t.x), self.Y(t.y), t.text)
        else:
            self.c.drawString(self.X(t.x), self.Y(t.y), t.text)

    def rect(self, r: Rect, stroke_gray: float = DROPOUT_GREY, fill_gray: float | None = None,
             width_pt: float = FURNITURE_LINE_PT) -> None:
        self.c.setLineWidth(width_pt)
        self.c.setStrokeGray(stroke_gray)
        if fill_gray is not None:
            self.c.setFillGray(fill_gray)
        self.c.rect(self.X(r.x), self.Y(r.y + r.h), r.w * mm, r.h * mm, stroke=1, fill=fill_gray is not None)

    def circle(self, cx: float, cy: float, r: float, fill: bool = False, gray: float = DROPOUT_GREY) -> None:
        self.c.setLineWidth(FURNITURE_LINE_PT)
        self.c.setStrokeGray(gray)
        self.c.setFillGray(0)
        self.c.circle(self.X(cx), self.Y(cy), r * mm, stroke=1, fill=1 if fill else 0)

    def hline(self, x0: float, x1: float, y: float, gray: float, width_pt: float = 0.5) -> None:
        self.c.setLineWidth(width_pt)
        self.c.setStrokeGray(gray)
        self.c.line(self.X(x0), self.Y(y), self.X(x1), self.Y(y))


def draw_field(pc: PageCanvas, g: FieldGeom, printed_value: str | None = None) -> None:
    if g.label is not None:
        pc.text(g.label, 0.15)
    if g.type == "digits":
        for b in g.boxes:
            pc.rect(b)
        for s in g.separators:
            pc.text(s, 0.3)
    elif g.type in ("choice", "multi"):
        for o in g.options:
            pc.circle(o.cx, o.cy, o.r)
            pc.text(Text(o.cx + o.r + 0.9, o.cy + 0.8, o.label, 6.5), 0.1)
    elif g.type == "checkbox":
        assert g.box is not None
        pc.rect(g.box)
    elif g.type == "text":
        assert g.box is not None
        pc.rect(g.box)
    elif g.type == "printed" and g.box is not None:
        pc.text(Text(g.box.x + 0.5, g.box.y + g.box.h / 2 + 1.4, printed_value or "", 10, True))


def draw_example(pc: PageCanvas, x: float, y: float) -> float:
    """A tiny example of good marks in the header (agents copy what they see). Returns the width used."""
    pc.text(Text(x, y + 4.6, "Exemple :", 6.5, True), 0.1)
    x += 12.5
    pc.circle(x + BUBBLE_R, y + 4.0, BUBBLE_R, fill=True, gray=0)
    pc.text(Text(x + 2 * BUBBLE_R + 0.8, y + 4.8, "bien noircie", 6.5), 0.1)
    x += 19.0
    box = Rect(x, y + 0.5, 5.0, 7.0)
    pc.rect(box)
    pc.c.setFillGray(0.05)
    pc.c.setFont(FONT, 14)
    pc.c.drawCentredString(pc.X(box.cx), pc.Y(box.y + 5.9), "7")
    pc.text(Text(x + 6.0, y + 4.8, "un chiffre par case, sans toucher les bords", 6.5), 0.1)
    return 75.0


def _furniture_name(c: Canvas, form: FormDef, layout: PageLayout) -> str:
    """Name of the form XObject holding everything a register's pages share, drawn once per canvas.

    Every page of a register has the same furniture (markers, boxes, bubbles, labels); only the QR codes, the
    page number and the pre-printed values differ. Drawing the furniture once and placing it on each page keeps
    the kit fast to build and small.
    """
    cache: dict[tuple[int, str, int], str] = c.__dict__.setdefault("_papier_furniture", {})
    key = (id(layout), form.name, form.version)
    name = cache.get(key)
    if name is None:
        name = f"papier_{form.name}_v{form.version}_{len(cache)}"
        W, H = layout.size_mm
        c.beginForm(name, lowerx=0, lowery=0, upperx=W * mm, uppery=H * mm)
        _draw_furniture(PageCanvas(c, layout.size_mm), form, layout)
        c.endForm()
        cache[key] = name
    return name


def furniture_pdf(form: FormDef, layout: PageLayout) -> bytes:
    """A one-page PDF of the print every page of the register shares (markers, boxes, bubbles, labels, rules),
    without what differs from page to page (QR codes, page number, pre-printed values): what the reader knows is
    print on any page of the form, drawn by the code that prints the kit."""
    import io

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(layout.size_mm[0] * mm, layout.size_mm[1] * mm))
    c.doForm(_furniture_name(c, form, layout))
    c.showPage()
    c.save()
    return buf.getvalue()


def _draw_furniture(pc: PageCanvas, form: FormDef, layout: PageLayout) -> None:
    W, H = layout.size_mm
    for m in layout.fiducials:
        pc.grid(aruco_bits(m.id), m.x, m.y, m.size)
    hx = layout.header_x
    room = layout.qr[0].x - 3.0 - hx
    title_room = room - text_width("Page 999 / 999", 10, FONT_BOLD) - 3.0
    pc.text(Text(hx, 13.0, form.title, _fit_size(form.title, 13, title_room, FONT_BOLD, 8), True))
    if form.subtitle:
        pc.text(Text(hx, 18.0, form.subtitle, _fit_size(form.subtitle, 7, room, FONT, 5)))
    page_entry = layout.page_entry
    copy = page_entry.fields[0]
    draw_field(pc, copy)
    pc.text(Text(copy.boxes[-1].x + 7.0, copy.boxes[0].cy + 1.0, "si photocopie : 1, 2, 3… (original : vide)", 6), 0.2)
    draw_example(pc, copy.boxes[-1].x + 52.0, 27.5)
    if form.warning:  # a framed band above the footer: impossible to miss
        band = Rect(7.0 + 9.0, H - FOOTER_H - 9.0, W - 14.0 - 9.0, 6.5)
        pc.rect(band, stroke_gray=0, width_pt=1.2)
        pc.text(Text(band.cx, band.y + 4.6, form.warning.upper(), 10, True, "middle"))
    for e in layout.line_entries:
        for t in e.texts:
            pc.text(t)
        for g in e.fields:
            draw_field(pc, g)
        if e.kind == "line" and e.row < len(layout.line_entries):
            pc.hline(7.0, W - 7.0, e.rect.y + e.rect.h + 1.1, 0.35, 0.6)
    for g in page_entry.fields[1:]:
        draw_field(pc, g)
    fx = layout.qr[1].x + layout.qr[1].w + 5.0
    pc.text(Text(fx, H - 12.5, RESTRICTED, 7, True))


def _fit_size(text: str, size: float, avail_mm: float, font: str, min_size: float) -> float:
    """The font size (at most `size`, at least `min_size`) at which `text` fits `avail_mm`."""
    w = text_width(text, size, font)
    return size if w <= avail_mm else max(min_size, size * avail_mm / w)


def draw_register_page(
    c: Canvas, form: FormDef, layout: PageLayout, ident: PageIdentity, register_pages: int,
    commune: str = "",
) -> None:
    """Draw one page of a register on the current canvas page (the caller calls showPage)."""
    pc = PageCanvas(c, layout.size_mm)
    W, H = layout.size_mm
    payload = ident.encode()
    c.doForm(_furniture_name(c, form, layout))

    qr_bits = qr_matrix(payload)
    for r in layout.qr:
        pc.grid(qr_bits, r.x, r.y, r.w)
    page_txt = f"Page {ident.serial} / {register_pages}"
    pc.text(Text(layout.qr[0].x - 3.0, 13.0, page_txt, 10, True, "end"))
    ident_txt = f"{commune + ' · ' if commune else ''}Kit {ident.kit_id} · {form.name} v{form.version} · " \
                f"page {ident.serial}/{register_pages} · clé {ident.page_key}"
    room = layout.qr[0].x - 3.0 - layout.header_x
    pc.text(Text(layout.header_x, 22.6, ident_txt, _fit_size(ident_txt, 6.5, room, FONT, 4.5)), 0.2)

    printed = layout.printed_values(ident.kit_id, ident.serial)
    for e in layout.line_entries:
        for g in e.printed:
            draw_field(pc, g, printed.get(e.row, {}).get(g.name))
    fx = layout.qr[1].x + layout.qr[1].w + 5.0
    footer = f"{ident_txt}   ·   QR : {payload}"
    avail = W - MARGIN - FID_SIZE - 2.0 - fx  # never run into the bottom-right marker
    size = 5.5
    if text_width(footer, size) > avail:
        size = max(4.0, size * avail / text_width(footer, size))
        if text_width(footer, size) > avail:
            footer = f"Kit {ident.kit_id} · clé {ident.page_key} · QR : {payload}"
    pc.text(Text(fx, H - 8.5, footer, size), 0.25)
