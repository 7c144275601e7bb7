"""The one geometry model: a form definition becomes page geometry in millimetres.

``layout_form(form)`` is a pure, deterministic function of the form definition: printing (papier.render),
reading (scan_ingest), the simulator, the review page and ``layout.json`` all use its result, and nobody
computes a coordinate anywhere else. Origin top-left, y down, units mm.

Layout engine generation 1 (named by the ``P1`` QR payload schema). Changing any constant or rule here changes
where old pages have their boxes: that requires a new engine generation kept beside this one, never an edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from reportlab.pdfbase.pdfmetrics import stringWidth

from papier.forms import FieldDef, FormDef
from papier.errors import FormDefinitionError

ENGINE = 1
MM_PER_PT = 25.4 / 72

# --- page furniture ---------------------------------------------------------------------------------------------
PAGE_SIZES = {"portrait": (210.0, 297.0), "landscape": (297.0, 210.0)}
MARGIN = 7.0          # printers leave ~4 mm unprinted; 7 mm keeps markers whole
FID_SIZE = 10.0       # ArUco 4x4 marker, outer black square (6 x 6 cells of 1.67 mm)
FID_IDS = (0, 1, 2, 3)  # top-left, top-right, bottom-right, bottom-left: orientation from the id
QR_SIZE = 20.0        # QR including its 4-module quiet zone
HEADER_BOTTOM = 37.0  # body starts here
FOOTER_H = 29.0       # from the page bottom: QR, page fields, footer text

# --- writing zones (sized for a pen) -----------------------------------------------------------------------------
BOX_W, BOX_H = 5.0, 7.0   # one digit box (brief: at least 5 x 7 mm)
BOX_GAP = 1.0             # between boxes of a group: digits don't touch their neighbours
GROUP_GAP = 3.4           # between groups, with a printed separator ("/", ",", "h")
BUBBLE_R = 2.1            # bubble radius (4.2 mm across)
CHECK_SIZE = 4.5          # checkbox side
INPUT_H = 8.0             # height of a writing line (text zones); digits and bubbles are centred in it
LABEL_SIZE_PT = 6.0       # labels above fields (table forms)
LEFT_LABEL_SIZE_PT = 7.0  # labels left of fields (fiche forms)
OPTION_SIZE_PT = 6.5      # option labels beside bubbles
LABEL_BAND = 2.9          # label band above inputs (table forms)
LINE_GAP = 1.3
FIELD_GAP = 3.4
OPTION_GAP = 2.4
GUTTER = 9.0              # line numbers
ENTRY_GAP = 2.2
SECTION_H = 5.6
TEXT_MIN_W = 30.0
# --- print style (shared by the renderer, the simulator and the digit reader's training) ---------------------------
DROPOUT_GREY = 0.62       # grey level (0 black, 1 white) of boxes, bubbles and writing lines: visible to the
                          # agent, far lighter than ink so the reader can tell them apart
FURNITURE_LINE_PT = 0.7   # line width of boxes and bubbles
FONT = "Helvetica"
FONT_BOLD = "Helvetica-Bold"


def text_width(text: str, size_pt: float, font: str = FONT) -> float:
    """Width in mm of `text` in a built-in PDF font (fixed metrics: deterministic everywhere)."""
    return stringWidth(text, font, size_pt) * MM_PER_PT


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float

    def to_json(self) -> dict[str, float]:
        return {"x": _r(self.x), "y": _r(self.y), "w": _r(self.w), "h": _r(self.h)}

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


@dataclass(frozen=True)
class Bubble:
    value: str
    label: str
    cx: float
    cy: float
    r: float


@dataclass(frozen=True)
class Text:
    """A piece of printed text: x, y is the baseline start (or centre when anchor='middle')."""
    x: float
    y: float
    text: str
    size: float
    bold: bool = False
    anchor: str = "start"


@dataclass(frozen=True)
class FieldGeom:
    """Where one field sits on the page; `defn` carries its meaning (type, semantic, check…)."""
    defn: FieldDef
    cell: Rect                      # the whole cell, label included
    label: Text | None
    boxes: tuple[Rect, ...] = ()    # digits
    box: Rect | None = None         # text, checkbox, printed value
    options: tuple[Bubble, ...] = ()
    separators: tuple[Text, ...] = ()

    @property
    def name(self) -> str:
        return self.defn.name

    @property
    def type(self) -> str:
        return self.defn.type

    def ink_zone(self) -> Rect:
        """The rectangle that holds everything a pen writes in this field."""
        if self.boxes:
            x0 = self.boxes[0].x
            x1 = self.boxes[-1].x + self.boxes[-1].w
            return Rect(x0, self.boxes[0].y, x1 - x0, self.boxes[0].h)
        if self.options:
            r = self.options[0].r
            xs = [o.cx for o in self.options]
            return Rect(min(xs) - r, self.options[0].cy - r, max(xs) - min(xs) + 2 * r, 2 * r)
        assert self.box is not None
        return self.box

    def to_json(self) -> dict[str, Any]:
        d = self.defn
        out: dict[str, Any] = {"name": d.name, "type": d.type, "label": d.label}
        if d.type in ("choice", "multi"):
            out["options"] = [{"value": o.value, "label": o.label, "cx": _r(o.cx), "cy": _r(o.cy), "r": _r(o.r)}
                              for o in self.options]
        elif d.type == "digits":
            out["boxes"] = [b.to_json() for b in self.boxes]
            # what the reader knows of the value (CONTRACTS.md; the booleans are extra keys, present when true)
            for key in ("semantic", "check", "known", "sum_of", "recent", "due", "ordered"):
                if getattr(d, key):
                    out[key] = getattr(d, key)
        elif self.box is not None:
            out["box"] = self.box.to_json()
        return out


@dataclass(frozen=True)
class EntryGeom:
    row: int                        # 1-based; the page-level block comes last
    kind: str                       # "line" (table row), "fiche" (a whole declaration) or "page"
    fields: tuple[FieldGeom, ...]
    printed: tuple[FieldGeom, ...]  # pre-printed values (receipt numbers…), not read
    rect: Rect
    texts: tuple[Text, ...] = ()    # line number, section headings

    def field(self, name: str) -> FieldGeom:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


@dataclass(frozen=True)
class Marker:
    id: int
    x: float
    y: float
    size: float


@dataclass(frozen=True)
class PageLayout:
    form: str
    form_version: int
    size_mm: tuple[float, float]
    entries: tuple[EntryGeom, ...]  # fillable entries then the page-level block
    fiducials: tuple[Marker, ...]
    qr: tuple[Rect, Rect]           # top-right and bottom-left
    header_x: float                 # where header texts start
    header_w: float

    @property
    def line_entries(self) -> tuple[EntryGeom, ...]:
        return tuple(e for e in self.entries if e.kind != "page")

    @property
    def page_entry(self) -> EntryGeom:
        return self.entries[-1]

    def all_fields(self) -> list[tuple[EntryGeom, FieldGeom]]:
        return [(e, f) for e in self.entries for f in e.fields]

    def printed_values(self, kit_id: str, serial: int) -> dict[int, dict[str, str]]:
        """Pre-printed values per row for a given page (receipt numbers, fiche numbers)."""
        out: dict[int, dict[str, str]] = {}
        n_lines = len(self.line_entries)
        for e in self.line_entries:
            vals = {}
            for p in e.printed:
                n = (serial - 1) * n_lines + e.row
                vals[p.name] = p.defn.value.format(serial=serial, row=e.row, n=n, kit=kit_id)  # type: ignore[union-attr]
            if vals:
                out[e.row] = vals
        return out


def _r(v: float) -> float:
    return round(v, 2)


# --- field measurement and placement ------------------------------------------------------------------------------


def _digit_width(f: FieldDef) -> float:
    n = f.length
    return n * BOX_W + (n - len(f.groups)) * BOX_GAP + (len(f.groups) - 1) * GROUP_GAP


def _option_width(label: str) -> float:
    return 2 * BUBBLE_R + 0.9 + text_width(label, OPTION_SIZE_PT)


def _input_width(f: FieldDef) -> float:
    """Natural width of the writing zone (text without width: its minimum)."""
    if f.type == "digits":
        return _digit_width(f)
    if f.type in ("choice", "multi"):
        return sum(_option_width(o.label) for o in f.options) + OPTION_GAP * (len(f.options) - 1)
    if f.type == "checkbox":
        return CHECK_SIZE + 1.2 + text_width(f.label, OPTION_SIZE_PT)
    if f.type == "printed":
        return max(text_width("0" * 6, 9, FONT_BOLD), 14.0)
    return f.width or TEXT_MIN_W


def _input_height(f: FieldDef) -> float:
    return f.height if (f.type == "text" and f.height) else INPUT_H


class _Style:
    def __init__(self, labels_above: bool):
        self.above = labels_above
        self.label_pt = LABEL_SIZE_PT if labels_above else LEFT_LABEL_SIZE_PT

    def label_w(self, f: FieldDef) -> float:
        if f.type == "checkbox":
            return 0.0  # a checkbox's label is printed beside the box
        return text_width(f.label, self.label_pt)

    def cell_width(self, f: FieldDef, input_w: float) -> float:
        if self.above:
            return max(input_w, self.label_w(f))
        lw = self.label_w(f)
        return input_w + (lw + 1.5 if lw else 0.0)


def _place_field(f: FieldDef, x: float, y: float, cell_w: float, line_h: float, style: _Style) -> FieldGeom:
    """Place one field in its cell; y is the top of the line, line_h the input band height."""
    label: Text | None = None
    if style.above:
        in_y = y + LABEL_BAND
        in_x = x
        if f.type != "checkbox":
            label = Text(x, y + LABEL_BAND - 0.75, f.label, style.label_pt)
        in_w = cell_w
    else:
        in_y = y
        lw = style.label_w(f)
        in_x = x + (lw + 1.5 if lw else 0.0)
        if lw:
            label = Text(x, y + line_h / 2 + 1.0, f.label, style.label_pt)
        in_w = cell_w - (in_x - x)
    cell = Rect(x, y, cell_w, (LABEL_BAND if style.above else 0.0) + line_h)
    mid = in_y + line_h / 2
    if f.type == "digits":
        boxes: list[Rect] = []
        seps: list[Text] = []
        bx = in_x
        for gi, g in enumerate(f.groups):
            if gi:
                seps.append(Text(bx - BOX_GAP + GROUP_GAP / 2, mid + 1.6, f.separator, 9, True, "middle"))
                bx += GROUP_GAP - BOX_GAP
            for _ in range(g):
                boxes.append(Rect(bx, mid - BOX_H / 2, BOX_W, BOX_H))
                bx += BOX_W + BOX_GAP
        return FieldGeom(f, cell, label, boxes=tuple(boxes), separators=tuple(seps))
    if f.type in ("choice", "multi"):
        opts = []
        ox = in_x
        for o in f.options:
            opts.append(Bubble(o.value, o.label, ox + BUBBLE_R, mid, BUBBLE_R))
            ox += _option_width(o.label) + OPTION_GAP
        return FieldGeom(f, cell, label, options=tuple(opts))
    if f.type == "checkbox":
        box = Rect(in_x, mid - CHECK_SIZE / 2, CHECK_SIZE, CHECK_SIZE)
        side = Text(in_x + CHECK_SIZE + 1.2, mid + 0.8, f.label, OPTION_SIZE_PT)
        return FieldGeom(f, cell, side, box=box)
    # text and printed values fill their input band
    return FieldGeom(f, cell, label, box=Rect(in_x, in_y, in_w, _input_height(f)))


def _flow(fields: tuple[FieldDef, ...], x0: float, x1: float, y0: float, style: _Style,
          sections: bool) -> tuple[list[FieldGeom], list[Text], float, list[float]]:
    """Flow fields into lines from left to right. Returns geometry, section texts, bottom y and line tops."""
    avail = x1 - x0
    lines: list[list[FieldDef]] = []
    heads: dict[int, str] = {}
    cur: list[FieldDef] = []
    used = 0.0
    for f in fields:
        w = style.cell_width(f, _input_width(f))
        if w > avail:
            raise FormDefinitionError("<mise en page>", f"trop large pour la page ({w:.0f} mm > {avail:.0f} mm)", f.name)
        new_section = sections and f.section is not None
        if cur and (f.newline or new_section or used + FIELD_GAP + w > avail):
            lines.append(cur)
            cur, used = [], 0.0
        if new_section:
            heads[len(lines)] = f.section  # type: ignore[assignment]
        used += (FIELD_GAP if cur else 0.0) + w
        cur.append(f)
    if cur:
        lines.append(cur)

    out: list[FieldGeom] = []
    texts: list[Text] = []
    tops: list[float] = []
    y = y0
    for li, line in enumerate(lines):
        if li in heads:
            texts.append(Text(x0 - GUTTER + 1.0, y + SECTION_H - 1.6, heads[li], 8.5, True))
            y += SECTION_H
        widths = [style.cell_width(f, _input_width(f)) for f in line]
        fill = [i for i, f in enumerate(line) if f.type == "text" and f.width is None]
        spare = avail - sum(widths) - FIELD_GAP * (len(line) - 1)
        for i in fill:
            widths[i] += spare / len(fill)
        line_h = max(_input_height(f) for f in line)
        tops.append(y)
        x = x0
        for f, w in zip(line, widths):
            out.append(_place_field(f, x, y, w, line_h, style))
            x += w + FIELD_GAP
        y += (LABEL_BAND if style.above else 0.0) + line_h + LINE_GAP
    return out, texts, y, tops


COPY_FIELD = FieldDef(name="copie", type="digits", label="Copie n°", length=2, groups=(2,),
                      hint="photocopie d'une page vierge : 1, 2, 3…")


@lru_cache(maxsize=64)
def layout_form(form: FormDef) -> PageLayout:
    """Page geometry of a form (every page of a register shares it; only printed values differ)."""
    try:
        return _layout_form(form)
    except FormDefinitionError as exc:
        if exc.source == "<mise en page>":  # name the definition file in geometry errors too
            raise FormDefinitionError(form.source, exc.problem, exc.field) from None
        raise


def _layout_form(form: FormDef) -> PageLayout:
    W, H = PAGE_SIZES[form.orientation]
    fids = (
        Marker(FID_IDS[0], MARGIN, MARGIN, FID_SIZE),
        Marker(FID_IDS[1], W - MARGIN - FID_SIZE, MARGIN, FID_SIZE),
        Marker(FID_IDS[2], W - MARGIN - FID_SIZE, H - MARGIN - FID_SIZE, FID_SIZE),
        Marker(FID_IDS[3], MARGIN, H - MARGIN - FID_SIZE, FID_SIZE),
    )
    qr = (
        Rect(W - MARGIN - FID_SIZE - 2.0 - QR_SIZE, MARGIN, QR_SIZE, QR_SIZE),
        Rect(MARGIN + FID_SIZE + 2.0, H - MARGIN - QR_SIZE, QR_SIZE, QR_SIZE),
    )
    header_x = MARGIN + FID_SIZE + 3.0
    header_w = qr[0].x - 3.0 - header_x

    body_top = HEADER_BOTTOM
    body_bottom = H - FOOTER_H - 1.0
    x0 = MARGIN + GUTTER
    x1 = W - MARGIN
    entries: list[EntryGeom] = []
    fillable = form.fields
    if form.kind == "table":
        style = _Style(labels_above=True)
        probe, _, bottom, _ = _flow(fillable, x0, x1, 0.0, style, sections=False)
        entry_h = bottom - LINE_GAP
        fit = int((body_bottom - body_top + ENTRY_GAP) // (entry_h + ENTRY_GAP))
        n = form.entries_per_page or fit
        if n > fit or fit < 1:
            raise FormDefinitionError(form.source, f"{n} lignes par page ne tiennent pas (au plus {fit})")
        for row in range(1, n + 1):
            top = body_top + (row - 1) * (entry_h + ENTRY_GAP)
            geoms, _, _, tops = _flow(fillable, x0, x1, top, style, sections=False)
            num = Text(MARGIN + GUTTER / 2 - 0.5, top + LABEL_BAND + INPUT_H / 2 + 1.6, str(row), 11, True, "middle")
            entries.append(_entry(row, "line", geoms, Rect(MARGIN, top, W - 2 * MARGIN, entry_h), (num,)))
    else:
        style = _Style(labels_above=False)
        n = form.entries_per_page or 1
        slot = (body_bottom - body_top) / n
        for row in range(1, n + 1):
            top = body_top + (row - 1) * slot
            geoms, heads, bottom, _ = _flow(fillable, x0, x1, top, style, sections=True)
            if bottom - LINE_GAP > top + slot + 0.01:
                raise FormDefinitionError(form.source, f"la fiche ne tient pas ({bottom - top:.0f} mm > {slot:.0f} mm)")
            entries.append(_entry(row, "fiche", geoms, Rect(MARGIN, top, W - 2 * MARGIN, bottom - top), tuple(heads)))

    # page-level block: the copy number in the header, control totals in the footer
    left = _Style(labels_above=False)
    copy_w = left.cell_width(COPY_FIELD, _input_width(COPY_FIELD))
    page_fields = [_place_field(COPY_FIELD, header_x, 27.5, copy_w, INPUT_H, left)]
    fx = qr[1].x + QR_SIZE + 5.0
    for pf in form.page_fields:
        w = left.cell_width(pf, _input_width(pf))
        page_fields.append(_place_field(pf, fx, H - FOOTER_H + 1.0, w, INPUT_H, left))
        fx += w + FIELD_GAP * 2
    if fx > W - MARGIN - FID_SIZE:
        raise FormDefinitionError(form.source, "les champs de pied de page ne tiennent pas")
    entries.append(EntryGeom(len(entries) + 1, "page", tuple(page_fields), (), Rect(0, 0, W, H)))
    return PageLayout(form.name, form.version, (W, H), tuple(entries), fids, qr, header_x, header_w)


def _entry(row: int, kind: str, geoms: list[FieldGeom], rect: Rect, texts: tuple[Text, ...]) -> EntryGeom:
    return EntryGeom(
        row=row, kind=kind,
        fields=tuple(g for g in geoms if g.type != "printed"),
        printed=tuple(g for g in geoms if g.type == "printed"),
        rect=rect, texts=texts,
    )


# --- mm <-> pixels ----------------------------------------------------------------------------------------------


def mm_to_px(v: float, dpi: float) -> float:
    return v * dpi / 25.4


def px_to_mm(v: float, dpi: float) -> float:
    return v * 25.4 / dpi


def page_json(layout: PageLayout, page_key: str, pdf_page: int, payload: str, kit_id: str, serial: int,
              register_pages: int) -> dict[str, Any]:
    """One page of layout.json (schema papier.layout/1)."""
    printed = layout.printed_values(kit_id, serial)
    entries = []
    for e in layout.entries:
        ej: dict[str, Any] = {"row": e.row, "kind": e.kind, "fields": [f.to_json() for f in e.fields]}
        if e.row in printed:
            ej["printed"] = printed[e.row]
        entries.append(ej)
    return {
        "page_key": page_key,
        "pdf_page": pdf_page,
        "form": layout.form,
        "form_version": layout.form_version,
        "size_mm": [layout.size_mm[0], layout.size_mm[1]],
        "serial": serial,
        "register_pages": register_pages,
        "qr_payload": payload,
        "qr": [r.to_json() for r in layout.qr],
        "fiducials": [{"id": m.id, "x": m.x, "y": m.y, "size": m.size} for m in layout.fiducials],
        "entries": entries,
    }
