"""The prose and reference pages of the kit: cover, how to use it, first hours, crisis directory, filling
instructions (with printed examples of good and bad marks), family roster, library catalogue, manifest.

Texts come from the recipe's texts file (print_kits/textes.toml); this module only lays them out. Everything is
vector (reportlab platypus for prose, direct canvas drawing for the long tables, which is much faster).
"""

from __future__ import annotations

import datetime as _dt
import io
import re
from dataclasses import dataclass, field
from typing import Any, Callable
from xml.sax.saxutils import escape

from reportlab.lib.enums import TA_CENTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Frame, Paragraph, Spacer, Table, TableStyle

from papier.errors import KitRecipeError
from papier.layout import BOX_GAP, BOX_H, BOX_W, BUBBLE_R, CHECK_SIZE, DROPOUT_GREY, FONT, FONT_BOLD, FURNITURE_LINE_PT
from papier.render import RESTRICTED, draw_bits, qr_matrix

A4 = (210 * mm, 297 * mm)
MARGIN_X = 18 * mm
TOP = 20 * mm      # body starts this far below the top edge
BOTTOM = 18 * mm   # body ends this far above the bottom edge
INK = 0.08         # grey of the simulated pen in the examples

SECTION_TITLES = {
    "couverture": "Couverture",
    "mode_emploi": "Comment utiliser ce kit",
    "premieres_heures": "Les premières heures",
    "annuaire": "Annuaire de crise",
    "consignes": "Comment remplir les registres",
    "registres": "Registres",
    "familles": "Liste des familles",
    "catalogue": "Catalogue de la médiathèque",
    "lecteurs": "Lecteurs de la médiathèque",
    "manifeste": "Manifeste du kit",
}


@dataclass
class KitContext:
    canvas: Canvas
    recipe: Any
    kit_id: str
    created: _dt.datetime
    families: list[dict[str, str]]
    documents: list[dict[str, str]]
    manifest: bytes
    manifest_pages: list[dict[str, Any]] = field(default_factory=list)
    toc: list[tuple[str, int, int]] = field(default_factory=list)  # (title, first page, last page)
    readers: list[dict[str, str]] = field(default_factory=list)  # the library's readers, sorted by name

    @property
    def date_fr(self) -> str:
        return self.created.strftime("%d/%m/%Y")

    def texts(self, section: str) -> dict[str, Any]:
        t = self.recipe.texts.get(section)
        if not isinstance(t, dict):
            raise KitRecipeError(f"textes du kit : section [{section}] absente")
        return t

    def fmt(self, s: str) -> str:
        """Text with {commune}/{kit_id}/{date} filled and **bold** turned into markup (escaped)."""
        s = s.replace("{commune}", self.recipe.commune).replace("{kit_id}", self.kit_id).replace("{date}", self.date_fr)
        s = escape(s)
        return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", s)


# --- styles --------------------------------------------------------------------------------------------------------

H1 = ParagraphStyle("h1", fontName=FONT_BOLD, fontSize=17, leading=21, spaceAfter=5 * mm)
H2 = ParagraphStyle("h2", fontName=FONT_BOLD, fontSize=12, leading=15, spaceBefore=4 * mm, spaceAfter=2 * mm)
BODY = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=13.5, spaceAfter=2.2 * mm)
BULLET = ParagraphStyle("bullet", parent=BODY, leftIndent=5 * mm, bulletIndent=1 * mm, spaceAfter=1.5 * mm)
CELL = ParagraphStyle("cell", fontName=FONT, fontSize=9.5, leading=12)
CELL_B = ParagraphStyle("cellb", parent=CELL, fontName=FONT_BOLD)
SMALL = ParagraphStyle("small", fontName=FONT, fontSize=8, leading=10, alignment=TA_CENTER)


def _bullets(ctx: KitContext, items: list[str], style: ParagraphStyle = BULLET) -> list[Flowable]:
    return [Paragraph(ctx.fmt(t), style, bulletText="•") for t in items]


# --- page frame ----------------------------------------------------------------------------------------------------


def _page_furniture(ctx: KitContext, c: Canvas, title: str) -> None:
    W, H = A4
    c.setFillGray(0.25)
    c.setFont(FONT, 7.5)
    head = f"{ctx.recipe.title}{' — ' + ctx.recipe.commune if ctx.recipe.commune else ''} · {title}"
    c.drawString(MARGIN_X, H - 11 * mm, head)
    c.drawRightString(W - MARGIN_X, H - 11 * mm, f"Kit {ctx.kit_id} · imprimé le {ctx.date_fr}")
    c.setStrokeGray(0.6)
    c.setLineWidth(0.4)
    c.line(MARGIN_X, H - 12.5 * mm, W - MARGIN_X, H - 12.5 * mm)
    c.line(MARGIN_X, 12.5 * mm, W - MARGIN_X, 12.5 * mm)
    c.setFont(FONT_BOLD, 7.5)
    c.drawString(MARGIN_X, 9 * mm, RESTRICTED)
    c.setFont(FONT, 7.5)
    c.drawRightString(W - MARGIN_X, 9 * mm, f"page {c.getPageNumber()}")
    c.setFillGray(0)


def _flow(ctx: KitContext, story: list[Flowable], title: str) -> None:
    """Lay a story out on as many A4 pages as needed, each with the kit's header and footer."""
    c = ctx.canvas
    W, H = A4
    story = list(story)
    guard = 0
    while story:
        c.setPageSize(A4)
        _page_furniture(ctx, c, title)
        frame = Frame(MARGIN_X, BOTTOM, W - 2 * MARGIN_X, H - TOP - BOTTOM, 0, 0, 0, 0, showBoundary=0)
        n = len(story)
        frame.addFromList(story, c)
        c.showPage()
        guard = guard + 1 if len(story) == n else 0
        if guard > 2:
            raise KitRecipeError(f"« {title} » : un élément ne tient pas sur une page")


# --- examples of marks (consignes) -----------------------------------------------------------------------------------


class _Drawing(Flowable):
    """A flowable drawn by a function in mm, origin at its top-left, y down."""

    def __init__(self, width_mm: float, height_mm: float, fn: Callable[["_Pen"], None]):
        super().__init__()
        self.width, self.height = width_mm * mm, height_mm * mm
        self.fn = fn

    def draw(self) -> None:
        self.fn(_Pen(self.canv, self.height / mm))


class _Pen:
    def __init__(self, c: Canvas, h_mm: float):
        self.c, self.h = c, h_mm

    def P(self, x: float, y: float) -> tuple[float, float]:
        return x * mm, (self.h - y) * mm

    def bubble(self, cx: float, cy: float, r: float = BUBBLE_R) -> None:
        self.c.setLineWidth(FURNITURE_LINE_PT)
        self.c.setStrokeGray(DROPOUT_GREY)
        self.c.circle(*self.P(cx, cy), r * mm, stroke=1, fill=0)

    def box(self, x: float, y: float, w: float, h: float) -> None:
        self.c.setLineWidth(FURNITURE_LINE_PT)
        self.c.setStrokeGray(DROPOUT_GREY)
        self.c.rect(x * mm, (self.h - y - h) * mm, w * mm, h * mm, stroke=1, fill=0)

    def ink(self, pts: list[tuple[float, float]], width: float = 1.6) -> None:
        c = self.c
        c.setStrokeGray(INK)
        c.setLineWidth(width)
        c.setLineCap(1)
        c.setLineJoin(1)
        p = c.beginPath()
        p.moveTo(*self.P(*pts[0]))
        for q in pts[1:]:
            p.lineTo(*self.P(*q))
        c.drawPath(p, stroke=1, fill=0)
        c.setLineCap(0)
        c.setLineJoin(0)

    def blob(self, cx: float, cy: float, r: float, start: float = 0, extent: float = 360) -> None:
        c = self.c
        c.setFillGray(INK)
        x, y = self.P(cx, cy)
        if extent >= 360:
            c.circle(x, y, r * mm, stroke=0, fill=1)
        else:
            p = c.beginPath()
            p.moveTo(x, y)
            p.arcTo(x - r * mm, y - r * mm, x + r * mm, y + r * mm, start, extent)
            p.close()
            c.drawPath(p, stroke=0, fill=1)
        c.setFillGray(0)

    def digit(self, x: float, y: float, ch: str, size: float = 16, dx: float = 0.0, dy: float = 0.0) -> None:
        """A digit written in a BOX_W x BOX_H box whose top-left is (x, y)."""
        c = self.c
        c.setFillGray(INK)
        c.setFont(FONT, size)
        c.drawCentredString(*self.P(x + BOX_W / 2 + dx, y + BOX_H - 1.2 + dy), ch)
        c.setFillGray(0)

    def text(self, x: float, y: float, s: str, size: float = 8, bold: bool = False, gray: float = 0.0,
             anchor: str = "start") -> None:
        c = self.c
        c.setFillGray(gray)
        c.setFont(FONT_BOLD if bold else FONT, size)
        if anchor == "middle":
            c.drawCentredString(*self.P(x, y), s)
        else:
            c.drawString(*self.P(x, y), s)
        c.setFillGray(0)

    def verdict(self, x: float, y: float, good: bool) -> None:
        """A bold OUI / NON badge centred on x."""
        c = self.c
        w, h = 13.0, 4.6
        c.setFillGray(0 if good else 1)
        c.setStrokeGray(0)
        c.setLineWidth(0.9)
        c.roundRect((x - w / 2) * mm, (self.h - y - h) * mm, w * mm, h * mm, 1.2 * mm, stroke=1, fill=1)
        self.text(x, y + 3.4, "BIEN" if good else "À ÉVITER", 7.5, True, 1 if good else 0, "middle")


def _marks_example(labels_good: str, labels_bad: list[str]) -> _Drawing:
    def fn(p: _Pen) -> None:
        xs = [16, 52, 88, 124, 160]
        cy = 11
        for i, x in enumerate(xs):
            for k, dx in enumerate((-6, 0, 6)):
                p.bubble(x + dx, cy)
            target = x  # the middle option is the chosen one
            if i == 0:
                p.blob(target, cy, BUBBLE_R - 0.15)
            elif i == 1:  # tick
                p.ink([(target - 1.6, cy + 0.1), (target - 0.3, cy + 1.5), (target + 2.4, cy - 2.6)], 1.1)
            elif i == 2:  # cross
                p.ink([(target - 1.6, cy - 1.6), (target + 1.6, cy + 1.6)], 1.1)
                p.ink([(target - 1.6, cy + 1.6), (target + 1.6, cy - 1.6)], 1.1)
            elif i == 3:  # half filled
                p.blob(target, cy, BUBBLE_R - 0.15, 200, 180)
            else:  # circled around
                import math

                pts = [(target + 3.6 * math.cos(a / 20 * math.pi), cy + 3.0 * math.sin(a / 20 * math.pi))
                       for a in range(0, 43)]
                p.ink(pts, 0.8)
            p.verdict(x, 17.5, i == 0)
            label = labels_good if i == 0 else labels_bad[i - 1]
            p.text(x, 27.5, label, 7.5, False, 0.1, "middle")
    return _Drawing(172, 30, fn)


def _digit_boxes(p: _Pen, x: float, y: float, n: int) -> list[float]:
    xs = []
    for i in range(n):
        bx = x + i * (BOX_W + BOX_GAP)
        p.box(bx, y, BOX_W, BOX_H)
        xs.append(bx)
    return xs


def _digits_example(good: str, bad: list[str]) -> _Drawing:
    def fn(p: _Pen) -> None:
        y = 2.0
        # good: 0012,50
        xs = _digit_boxes(p, 4, y, 4)
        for bx, ch in zip(xs, "0012"):
            p.digit(bx, y, ch)
        p.text(xs[-1] + BOX_W + 1.4, y + 6, ",", 11, True, 0.3)
        xs2 = _digit_boxes(p, xs[-1] + BOX_W + 3.4, y, 2)
        for bx, ch in zip(xs2, "50"):
            p.digit(bx, y, ch)
        p.verdict(24, y + BOX_H + 3, True)
        p.text(24, y + BOX_H + 13, good, 7.5, False, 0.1, "middle")
        # bad 1: two digits in a box
        x0 = 68
        xs = _digit_boxes(p, x0, y, 3)
        p.digit(xs[0], y, "12", 12)
        p.digit(xs[1], y, "5")
        p.verdict(x0 + 8.5, y + BOX_H + 3, False)
        p.text(x0 + 8.5, y + BOX_H + 13, bad[0], 7.5, False, 0.1, "middle")
        # bad 2: overflowing digit
        x0 = 108
        xs = _digit_boxes(p, x0, y, 3)
        p.digit(xs[0], y, "3")
        p.digit(xs[1], y, "7", 24, 2.6, 2.2)
        p.verdict(x0 + 8.5, y + BOX_H + 3, False)
        p.text(x0 + 8.5, y + BOX_H + 13, bad[1], 7.5, False, 0.1, "middle")
        # bad 3: overwritten digit
        x0 = 148
        xs = _digit_boxes(p, x0, y, 3)
        p.digit(xs[0], y, "4")
        p.digit(xs[1], y, "3")
        p.digit(xs[1], y, "8", 17, 0.4)
        p.ink([(xs[2] + 0.6, y + 5.5), (xs[2] + 4.4, y + 1.5)], 1.0)
        p.digit(xs[2], y, "6")
        p.verdict(x0 + 8.5, y + BOX_H + 3, False)
        p.text(x0 + 8.5, y + BOX_H + 13, bad[2], 7.5, False, 0.1, "middle")
    return _Drawing(172, 24, fn)


def _cancel_example(label: str) -> _Drawing:
    def fn(p: _Pen) -> None:
        y = 3.0
        p.text(0, y + 5.5, "3", 11, True)
        xs = _digit_boxes(p, 6, y, 6)
        for bx, ch in zip(xs, "050326"):
            p.digit(bx, y, ch)
        xs = _digit_boxes(p, xs[-1] + 10, y, 5)
        for bx, ch in zip(xs, "10025"):
            p.digit(bx, y, ch)
        tx = xs[-1] + 10
        p.box(tx, y - 0.5, 40, 8)
        p.text(tx + 2, y + 5.5, "DUPONT", 12, False, INK)
        cx = tx + 46
        p.box(cx, y + 1.2, CHECK_SIZE, CHECK_SIZE)
        p.ink([(cx + 0.5, y + 1.7), (cx + CHECK_SIZE - 0.5, y + 1.2 + CHECK_SIZE - 0.5)], 1.2)
        p.ink([(cx + 0.5, y + 1.2 + CHECK_SIZE - 0.5), (cx + CHECK_SIZE - 0.5, y + 1.7)], 1.2)
        p.text(cx + CHECK_SIZE + 1.5, y + 4.8, label, 8, True)
        p.text(cx + CHECK_SIZE + 1.5, y + 8.8, "puis tout réécrire à la ligne suivante", 7, False, 0.2)
    return _Drawing(172, 14, fn)


class KeepTogether(Flowable):
    """Flowables stacked as one unsplittable block (platypus' own KeepTogether needs a doc template)."""

    def __init__(self, content: list[Flowable]):
        super().__init__()
        self.content = content
        self._sizes: list[tuple[float, float]] = []

    def wrap(self, aW: float, aH: float) -> tuple[float, float]:
        self._sizes = [f.wrap(aW, aH) for f in self.content]
        h = 0.0
        for i, (f, (_w, fh)) in enumerate(zip(self.content, self._sizes)):
            h += fh + (f.getSpaceBefore() if i else 0) + (f.getSpaceAfter() if i < len(self.content) - 1 else 0)
        self.width, self.height = aW, h
        return aW, h

    def getSpaceBefore(self) -> float:
        return self.content[0].getSpaceBefore() if self.content else 0

    def getSpaceAfter(self) -> float:
        return self.content[-1].getSpaceAfter() if self.content else 0

    def draw(self) -> None:
        y = self.height
        for i, (f, (_w, fh)) in enumerate(zip(self.content, self._sizes)):
            if i:
                y -= f.getSpaceBefore()
            y -= fh
            f.drawOn(self.canv, 0, y)
            if i < len(self.content) - 1:
                y -= f.getSpaceAfter()


class _CheckBox(Flowable):
    def __init__(self, size_mm: float = 5.0):
        super().__init__()
        self.width = self.height = size_mm * mm

    def draw(self) -> None:
        self.canv.setLineWidth(0.9)
        self.canv.setStrokeGray(0.2)
        self.canv.rect(0, 0, self.width, self.height, stroke=1, fill=0)


# --- sections ----------------------------------------------------------------------------------------------------------


def _cover(ctx: KitContext) -> None:
    t = ctx.texts("couverture")
    c = ctx.canvas
    W, H = A4
    c.setPageSize(A4)
    # restricted marking: a thick frame at the top
    c.setLineWidth(2)
    c.setStrokeGray(0)
    c.rect(MARGIN_X, H - 34 * mm, W - 2 * MARGIN_X, 14 * mm, stroke=1, fill=0)
    c.setFont(FONT_BOLD, 14)
    c.drawCentredString(W / 2, H - 29 * mm, t.get("marquage", RESTRICTED).upper())
    y = H - 62 * mm
    c.setFont(FONT_BOLD, 34)
    c.drawString(MARGIN_X, y, t["titre"])
    y -= 10 * mm
    c.setFont(FONT, 12.5)
    c.drawString(MARGIN_X, y, t.get("sous_titre", ""))
    y -= 20 * mm
    if ctx.recipe.commune:
        c.setFont(FONT_BOLD, 22)
        c.drawString(MARGIN_X, y, ctx.recipe.commune)
        y -= 14 * mm
    c.setFont(FONT, 13)
    c.drawString(MARGIN_X, y, "Kit n°")
    c.setFont("Courier-Bold", 26)
    c.drawString(MARGIN_X + 17 * mm, y - 0.5 * mm, ctx.kit_id)
    c.setFont(FONT, 13)
    c.drawString(MARGIN_X + 80 * mm, y, f"imprimé le {ctx.date_fr}")
    y -= 12 * mm
    styles = [Paragraph(ctx.fmt(s), BODY, bulletText="•") for s in t.get("garde", [])]
    frame_h = 40 * mm
    f = Frame(MARGIN_X, y - frame_h, W - 2 * MARGIN_X, frame_h, 0, 0, 0, 0)
    f.addFromList(styles, c)
    y -= frame_h + 8 * mm
    # table of contents
    c.setFont(FONT_BOLD, 14)
    c.drawString(MARGIN_X, y, t.get("sommaire", "Sommaire"))
    y -= 8 * mm
    for title, first, last in ctx.toc:
        indent = 6 * mm if title.startswith("  ") else 0
        font, size = (FONT, 10) if indent else (FONT_BOLD, 10.5)
        c.setFont(font, size)
        c.drawString(MARGIN_X + indent, y, title.strip())
        pages = f"p. {first}" if first == last else f"p. {first} à {last}"
        c.drawRightString(W - MARGIN_X, y, pages)
        c.setStrokeGray(0.7)
        c.setLineWidth(0.3)
        c.setDash(1, 2)
        tw = stringWidth(title.strip(), font, size) + indent
        c.line(MARGIN_X + tw + 2 * mm, y + 0.5 * mm, W - MARGIN_X - stringWidth(pages, font, size) - 2 * mm,
               y + 0.5 * mm)
        c.setDash()
        y -= 5.6 * mm if indent else 6.6 * mm
    c.setFont(FONT, 7.5)
    c.setFillGray(0.3)
    c.drawString(MARGIN_X, 9 * mm, f"papier · recette « {ctx.recipe.name} » · kit {ctx.kit_id}")
    c.drawRightString(W - MARGIN_X, 9 * mm, "page 1")
    c.setFillGray(0)
    c.showPage()


def _mode_emploi(ctx: KitContext) -> None:
    t = ctx.texts("mode_emploi")
    story: list[Flowable] = [Paragraph(ctx.fmt(t["titre"]), H1)]
    story += [Paragraph(ctx.fmt(p), BODY) for p in t.get("paragraphes", [])]
    if t.get("photocopie"):
        story.append(Paragraph(ctx.fmt(t.get("photocopie_titre", "")), H2))
        story += [Paragraph(ctx.fmt(p), BULLET, bulletText=f"{i}.") for i, p in enumerate(t["photocopie"], 1)]
    if t.get("apres"):
        story.append(Paragraph(ctx.fmt(t.get("apres_titre", "")), H2))
        story += _bullets(ctx, t["apres"])
    _flow(ctx, story, t["titre"])


def _premieres_heures(ctx: KitContext) -> None:
    t = ctx.texts("premieres_heures")
    cols = t.get("colonnes", ["Action", "Fait", "Heure", "Par"])
    data: list[list[Any]] = [[Paragraph(f"<b>{escape(x)}</b>", CELL) for x in cols]]
    for i, a in enumerate(t["actions"], 1):
        data.append([Paragraph(f"<b>{i}.</b> " + ctx.fmt(a), CELL), _CheckBox(), Paragraph("___ h ___", CELL), ""])
    tbl = Table(data, colWidths=[118 * mm, 12 * mm, 20 * mm, 24 * mm], repeatRows=1)
    tbl.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, (0.45, 0.45, 0.45)),
        ("BACKGROUND", (0, 0), (-1, 0), (0.88, 0.88, 0.88)),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("ALIGN", (1, 1), (1, -1), "CENTER"),
        ("TOPPADDING", (0, 1), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 1), (-1, -1), 4),
    ]))
    story = [Paragraph(ctx.fmt(t["titre"]), H1), Paragraph(ctx.fmt(t.get("intro", "")), BODY), tbl]
    _flow(ctx, story, t["titre"])


def _annuaire(ctx: KitContext) -> None:
    t = ctx.texts("annuaire")
    cols = t.get("colonnes", ["Qui", "Nom", "Téléphone fixe", "Portable", "Remarques"])
    data: list[list[Any]] = [[Paragraph(f"<b>{escape(x)}</b>", CELL) for x in cols]]
    for who in t["lignes"]:
        data.append([Paragraph(ctx.fmt(who), CELL)] + [""] * (len(cols) - 1))
    widths = [48 * mm, 36 * mm, 28 * mm, 28 * mm, 34 * mm][: len(cols)]
    tbl = Table(data, colWidths=widths, rowHeights=[None] + [10.5 * mm] * len(t["lignes"]), repeatRows=1)
    tbl.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, (0.45, 0.45, 0.45)),
        ("BACKGROUND", (0, 0), (-1, 0), (0.88, 0.88, 0.88)),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    story = [Paragraph(ctx.fmt(t["titre"]), H1), Paragraph(ctx.fmt(t.get("intro", "")), BODY), tbl]
    _flow(ctx, story, t["titre"])


def _consignes(ctx: KitContext) -> None:
    t = ctx.texts("consignes")
    story: list[Flowable] = [Paragraph(ctx.fmt(t["titre"]), H1), Paragraph(ctx.fmt(t.get("intro", "")), BODY)]
    story.append(KeepTogether([Paragraph(ctx.fmt(t["ronds_titre"]), H2),
                               _marks_example(t["ronds_bien"], t["ronds_mal"]), Spacer(1, 2 * mm)]
                              + _bullets(ctx, t.get("ronds_regles", []))))
    story.append(KeepTogether([Paragraph(ctx.fmt(t["chiffres_titre"]), H2),
                               _digits_example(t["chiffres_bien"], t["chiffres_mal"]), Spacer(1, 2 * mm)]
                              + _bullets(ctx, t.get("chiffres_regles", []))))
    story.append(KeepTogether([Paragraph(ctx.fmt(t["cases_titre"]), H2)] + _bullets(ctx, t.get("cases", []))
                              + [Spacer(1, 1 * mm), _cancel_example(t.get("annulation_exemple", "Ligne annulée"))]))
    if t.get("texte"):
        story.append(Paragraph(ctx.fmt(t.get("texte_titre", "")), H2))
        story += _bullets(ctx, t["texte"])
    blocks = []
    for spec in ctx.recipe.registers:
        form = spec.form
        items = ([form.subtitle] if form.subtitle else []) + list(form.instructions)
        if form.warning:
            items.append(f"**{form.warning}**")
        if items:
            blocks.append(KeepTogether([Paragraph(f"<b>{escape(form.register or form.title)}</b>", BODY)]
                                       + [Paragraph(escape(i).replace("**", "") if not i.startswith("**")
                                                    else ctx.fmt(i), BULLET, bulletText="–") for i in items]))
    if blocks:
        story.append(Paragraph(ctx.fmt(t.get("registres_titre", "")), H2))
        story += blocks
    _flow(ctx, story, t["titre"])


# --- long tables: direct drawing ------------------------------------------------------------------------------------

ROSTER_ROW = 3.95 * mm
CATALOG_ROW = 3.6 * mm
TABLE_TOP = 297 * mm - TOP - 22 * mm  # first row baseline on a page with a title block
TABLE_TOP_CONT = 297 * mm - TOP - 8 * mm
TABLE_BOTTOM = BOTTOM


def _rows_per_column(row_h: float, first: bool) -> int:
    top = TABLE_TOP if first else TABLE_TOP_CONT
    return int((top - TABLE_BOTTOM) // row_h)


def _paginate(n: int, row_h: float, columns: int) -> list[tuple[int, int]]:
    """[(start, end)] row ranges per page."""
    out = []
    i = 0
    first = True
    while i < n or not out:
        cap = _rows_per_column(row_h, first) * columns
        out.append((i, min(n, i + cap)))
        i += cap
        first = False
    return out


_WIDTHS: dict[tuple[str, float], dict[str, float]] = {}


def _text_width(s: str, font: str, size: float) -> float:
    """stringWidth with a per-character cache (the long tables measure thousands of strings)."""
    table = _WIDTHS.setdefault((font, size), {})
    w = 0.0
    for ch in s:
        cw = table.get(ch)
        if cw is None:
            cw = table[ch] = stringWidth(ch, font, size)
        w += cw
    return w


def _fit(s: str, font: str, size: float, width: float) -> str:
    """`s`, cut with an ellipsis when wider than `width` (points)."""
    if _text_width(s, font, size) <= width:
        return s
    while s and _text_width(s + "…", font, size) > width:
        s = s[:-1]
    return s.rstrip() + "…"


def _table_pages(ctx: KitContext, section: str, rows: list[list[str]], col_specs: list[tuple[float, str, float, str]],
                 row_h: float, columns: int) -> None:
    """Draw rows in `columns` columns per page. col_specs: (width mm, font, size, align 'l'/'r')."""
    t = ctx.texts(section)
    c = ctx.canvas
    W, H = A4
    headers = t.get("colonnes", [])
    col_w = sum(w for w, *_ in col_specs) * mm
    gap = ((W - 2 * MARGIN_X) - columns * col_w) / max(1, columns - 1) if columns > 1 else 0
    pages = _paginate(len(rows), row_h, columns)
    for pi, (start, end) in enumerate(pages):
        c.setPageSize(A4)
        _page_furniture(ctx, c, t["titre"])
        first = pi == 0
        if first:
            c.setFont(FONT_BOLD, 17)
            c.drawString(MARGIN_X, H - TOP - 6 * mm, t["titre"])
            f = Frame(MARGIN_X, H - TOP - 21 * mm, W - 2 * MARGIN_X, 13 * mm, 0, 0, 0, 0)
            f.addFromList([Paragraph(ctx.fmt(t.get("intro", "")), ParagraphStyle("i", parent=BODY, fontSize=9,
                                                                                   leading=11))], c)
        top = TABLE_TOP if first else TABLE_TOP_CONT
        per_col = _rows_per_column(row_h, first)
        for col in range(columns):
            x0 = MARGIN_X + col * (col_w + gap)
            chunk = rows[start + col * per_col: min(end, start + (col + 1) * per_col)]
            if not chunk:
                continue
            # column headers
            c.setFont(FONT_BOLD, 6.5)
            c.setFillGray(0.2)
            x = x0
            for (w, _f, _s, align), h in zip(col_specs, headers):
                if align == "r":
                    c.drawRightString(x + w * mm - 1 * mm, top + 1.8 * mm, h)
                else:
                    c.drawString(x + 0.8 * mm, top + 1.8 * mm, h)
                x += w * mm
            c.setFillGray(0)
            c.setStrokeGray(0.3)
            c.setLineWidth(0.6)
            c.line(x0, top + 0.9 * mm, x0 + col_w, top + 0.9 * mm)
            # zebra bands every other group of 3 rows help the eye follow a line
            c.setFillGray(0.93)
            for i in range(0, len(chunk), 6):
                n = min(3, len(chunk) - i)
                c.rect(x0, top - (i + n) * row_h + 0.3 * mm, col_w, n * row_h, stroke=0, fill=1)
            c.setFillGray(0)
            x = x0
            for ci, (w, font, size, align) in enumerate(col_specs):
                tx = c.beginText()
                tx.setFont(font, size)
                tx.setLeading(row_h)
                if align == "r":
                    for i, r in enumerate(chunk):
                        s = r[ci]
                        c.setFont(font, size)
                        c.drawRightString(x + w * mm - 1 * mm, top - (i + 1) * row_h + 1.1 * mm, s)
                else:
                    tx.setTextOrigin(x + 0.8 * mm, top - row_h + 1.1 * mm)
                    for r in chunk:
                        tx.textLine(_fit(r[ci], font, size, w * mm - 1.8 * mm))
                    c.drawText(tx)
                x += w * mm
        c.showPage()


def _roster_rows(ctx: KitContext) -> list[list[str]]:
    return [[f["nom"], f["prenom"], f["numero_famille"]] for f in ctx.families]


# (width mm, font, size, align); two columns of rows per page, 6 mm apart: widths add up to at most 84 mm.
ROSTER_COLS = [(36.0, FONT_BOLD, 8.5, "l"), (30.0, FONT, 8.5, "l"), (18.0, "Courier-Bold", 9.5, "l")]
READER_COLS = [(33.0, FONT_BOLD, 8.5, "l"), (28.0, FONT, 8.5, "l"), (23.0, "Courier-Bold", 9.5, "l")]
CATALOG_COLS = [(35.0, FONT, 7.0, "l"), (17.0, FONT, 7.0, "l"), (9.5, FONT, 6.5, "l"), (22.5, "Courier-Bold", 7.2, "l")]


def _catalog_rows(ctx: KitContext) -> list[list[str]]:
    import unicodedata

    def fold(s: str) -> str:
        return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii").casefold()

    docs = sorted(ctx.documents, key=lambda d: (fold(d["titre"]), d["code_barres"]))
    return [[d["titre"], d["cote"], d["support"], d["code_barres"]] for d in docs]


def _familles(ctx: KitContext) -> None:
    _table_pages(ctx, "familles", _roster_rows(ctx), ROSTER_COLS, ROSTER_ROW, 2)


def _catalogue(ctx: KitContext) -> None:
    _table_pages(ctx, "catalogue", _catalog_rows(ctx), CATALOG_COLS, CATALOG_ROW, 2)


def _lecteurs(ctx: KitContext) -> None:
    rows = [[r["nom"], r["prenom"], r["numero_carte"]] for r in ctx.readers]
    _table_pages(ctx, "lecteurs", rows, READER_COLS, ROSTER_ROW, 2)


# --- manifest ----------------------------------------------------------------------------------------------------------

MANIFEST_QR_MM = 56.0
MANIFEST_GRID = (3, 4)  # columns, rows per page (the first page has 3 rows: its text takes the top)


def _manifest_layout(n: int) -> list[list[int]]:
    cols, rows = MANIFEST_GRID
    per_first, per = cols * (rows - 1), cols * rows
    out = [list(range(0, min(n, per_first)))]
    i = per_first
    while i < n:
        out.append(list(range(i, min(n, i + per))))
        i += per
    return out


def _manifeste(ctx: KitContext) -> None:
    from papier.manifest import manifest_payloads

    t = ctx.texts("manifeste")
    c = ctx.canvas
    W, H = A4
    payloads = manifest_payloads(ctx.kit_id, ctx.manifest)
    cols, _rows = MANIFEST_GRID
    q = MANIFEST_QR_MM * mm
    gap_x = ((W - 2 * MARGIN_X) - cols * q) / (cols - 1)
    for pi, idxs in enumerate(_manifest_layout(len(payloads))):
        c.setPageSize(A4)
        _page_furniture(ctx, c, t["titre"])
        if pi == 0:
            c.setFont(FONT_BOLD, 17)
            c.drawString(MARGIN_X, H - TOP - 6 * mm, t["titre"])
            f = Frame(MARGIN_X, H - TOP - 50 * mm, W - 2 * MARGIN_X, 40 * mm, 0, 0, 0, 0)
            f.addFromList([Paragraph(ctx.fmt(p), BODY) for p in t.get("intro", [])], c)
            top = H - TOP - 56 * mm
        else:
            c.setFont(FONT_BOLD, 12)
            c.drawString(MARGIN_X, H - TOP - 4 * mm, f"{t['titre']} (suite) — scanner aussi cette page")
            top = H - TOP - 8 * mm
        page_entry: dict[str, Any] = {"pdf_page": c.getPageNumber(), "qr": []}
        for k, i in enumerate(idxs):
            r, col = divmod(k, cols)
            x = MARGIN_X + col * (q + gap_x)
            y_top = top - r * (q + 6 * mm)
            bits = qr_matrix(payloads[i])
            _grid(c, bits, x, y_top - q, q)
            c.setFont(FONT, 7.5)
            c.drawCentredString(x + q / 2, y_top - q - 3.2 * mm, f"QR {i + 1} / {len(payloads)} · kit {ctx.kit_id}")
            page_entry["qr"].append({"index": i + 1, "payload": payloads[i],
                                     "x": round(x / mm, 2), "y": round((H - y_top) / mm, 2),
                                     "size": MANIFEST_QR_MM})
        ctx.manifest_pages.append(page_entry)
        c.showPage()


def _grid(c: Canvas, bits: Any, x: float, y: float, size: float) -> None:
    """Boolean matrix as black squares in points, (x, y) the bottom-left corner."""
    draw_bits(c, bits, x, y, size)


# --- dispatch and page counting ---------------------------------------------------------------------------------------

_DRAW = {
    "couverture": _cover,
    "mode_emploi": _mode_emploi,
    "premieres_heures": _premieres_heures,
    "annuaire": _annuaire,
    "consignes": _consignes,
    "familles": _familles,
    "catalogue": _catalogue,
    "lecteurs": _lecteurs,
    "manifeste": _manifeste,
}


def draw_section(ctx: KitContext, section: str) -> None:
    _DRAW[section](ctx)


def section_page_count(ctx: KitContext, section: str) -> int:
    """How many pages a section takes (without drawing it into the kit)."""
    from papier.manifest import manifest_payloads

    if section == "couverture":
        return 1
    if section == "familles":
        return len(_paginate(len(ctx.families), ROSTER_ROW, 2))
    if section == "catalogue":
        return len(_paginate(len(ctx.documents), CATALOG_ROW, 2))
    if section == "lecteurs":
        return len(_paginate(len(ctx.readers), ROSTER_ROW, 2))
    if section == "manifeste":
        return len(_manifest_layout(len(manifest_payloads(ctx.kit_id, ctx.manifest))))
    scratch = Canvas(io.BytesIO(), pagesize=A4)
    dry = KitContext(canvas=scratch, recipe=ctx.recipe, kit_id=ctx.kit_id, created=ctx.created, families=[],
                     documents=[], manifest=b"")
    _DRAW[section](dry)
    return scratch.getPageNumber() - 1
