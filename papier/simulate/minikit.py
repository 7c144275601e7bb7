"""A minimal stand-in kit (register pages only) for the simulator's own tests.

The real kit is built by ``papier.kit.build_kit``; ``build_kit_any`` uses it when it is installed and falls back to
this builder (same ``kit.pdf`` + ``layout.json`` shape, register pages only) otherwise.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from papier.checks import ean13_check_digit, luhn_check_digit
from papier.sample_data import reader_card

DEFAULT_FORMS = ("paiement", "pret", "retour", "main_courante", "naissance", "deces")


@dataclass
class MiniKit:
    out_dir: Path
    pdf_path: Path
    layout_path: Path
    kit_id: str
    layout: dict[str, Any]


def sample_known_values(seed: int = 7, n_families: int = 60, n_documents: int = 80,
                        n_readers: int = 100) -> dict[str, list[str]]:
    r = random.Random(seed)
    fams: set[str] = set()
    while len(fams) < n_families:
        p = f"{r.randint(1000, 9999)}"
        fams.add(p + luhn_check_digit(p))
    docs: set[str] = set()
    while len(docs) < n_documents:
        p = "978" + "".join(str(r.randint(0, 9)) for _ in range(9))
        docs.add(p + ean13_check_digit(p))
    # readers' cards: a prefix and a sequence number, like the kit's sample readers (papier.sample_data)
    cards = sorted(reader_card(q) for q in r.sample(range(1, 400), n_readers))
    return {"familles": sorted(fams), "documents": sorted(docs), "lecteurs": cards}


def build_mini_kit(out_dir: str | Path, *, pages_per_register: int = 2, kit_id: str | None = None,
                   forms: tuple[str, ...] = DEFAULT_FORMS) -> MiniKit:
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.lib.units import mm

    from papier.forms import builtin_form
    from papier.identity import PageIdentity, new_kit_id
    from papier.layout import layout_form, page_json
    from papier.render import draw_register_page

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    kit_id = kit_id or new_kit_id()
    pdf_path = out / "kit.pdf"
    c = Canvas(str(pdf_path))
    pages = []
    pdf_page = 0
    for name in forms:
        form = builtin_form(name)
        lay = layout_form(form)
        for serial in range(1, pages_per_register + 1):
            ident = PageIdentity(form.name, form.version, kit_id, serial)
            c.setPageSize((lay.size_mm[0] * mm, lay.size_mm[1] * mm))
            draw_register_page(c, form, lay, ident, pages_per_register, commune="Commune d'essai")
            c.showPage()
            pdf_page += 1
            pages.append(page_json(lay, ident.page_key, pdf_page, ident.encode(), kit_id, serial,
                                   pages_per_register))
    c.save()
    layout = {"schema": "papier.layout/1", "kit_id": kit_id, "known_values": sample_known_values(),
              "pages": pages}
    layout_path = out / "layout.json"
    layout_path.write_text(json.dumps(layout, ensure_ascii=False, indent=1), encoding="utf-8")
    return MiniKit(out, pdf_path, layout_path, kit_id, layout)


def build_kit_any(out_dir: str | Path, *, pages_per_register: int = 2, kit_id: str | None = None) -> Any:
    """The real kit when papier.kit is available, else the stand-in."""
    try:
        from papier.kit import build_kit
    except ImportError:
        return build_mini_kit(out_dir, pages_per_register=pages_per_register, kit_id=kit_id)
    kwargs: dict[str, Any] = {"pages_per_register": pages_per_register}
    if kit_id:
        kwargs["kit_id"] = kit_id
    return build_kit(Path(out_dir), **kwargs)
