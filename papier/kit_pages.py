"""The prose and reference pages of the kit (cover, instructions, roster, catalogue, manifest)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from reportlab.pdfgen.canvas import Canvas


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


def register_divider(ctx: KitContext, spec: Any) -> None:
    return None


def draw_section(ctx: KitContext, section: str) -> None:
    c = ctx.canvas
    c.setFont("Helvetica-Bold", 16)
    c.drawString(60, 760, f"{section} — kit {ctx.kit_id}")
    c.showPage()
