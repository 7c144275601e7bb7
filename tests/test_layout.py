"""The geometry model: sizes fit a pen, nothing overlaps, everything on the page, deterministic."""

from __future__ import annotations

import itertools
import json

import pytest

from papier.forms import builtin_form, builtin_versions, parse_form
from papier.layout import (
    FOOTER_H, HEADER_BOTTOM, MARGIN, Rect, layout_form, page_json,
)

FORMS = [(n, v) for n, vs in builtin_versions().items() for v in vs]


def _rects(layout):
    """Every writing zone on the page, with a name."""
    out = []
    for e in layout.entries:
        for f in e.fields:
            if f.boxes:
                out += [(f"{e.row}.{f.name}[{i}]", b) for i, b in enumerate(f.boxes)]
            elif f.options:
                out += [(f"{e.row}.{f.name}:{o.value}", Rect(o.cx - o.r, o.cy - o.r, 2 * o.r, 2 * o.r))
                        for o in f.options]
            else:
                out.append((f"{e.row}.{f.name}", f.box))
    return out


def _overlap(a: Rect, b: Rect) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


@pytest.mark.parametrize("name,version", FORMS)
def test_sizes_fit_a_pen(name, version):
    layout = layout_form(builtin_form(name, version))
    for e in layout.entries:
        for f in e.fields:
            for b in f.boxes:
                assert b.w >= 5.0 and b.h >= 7.0, (f.name, b)
            for o in f.options:
                assert 2 * o.r >= 4.0, (f.name, o)
            if f.type == "text":
                assert f.box.h >= 8.0 and f.box.w >= 14.0, (f.name, f.box)
            if f.type == "checkbox":
                assert f.box.w >= 4.0 and f.box.h >= 4.0


@pytest.mark.parametrize("name,version", FORMS)
def test_nothing_overlaps_and_all_on_page(name, version):
    layout = layout_form(builtin_form(name, version))
    W, H = layout.size_mm
    rects = _rects(layout)
    furniture = [Rect(m.x, m.y, m.size, m.size) for m in layout.fiducials] + list(layout.qr)
    for label, r in rects:
        assert MARGIN <= r.x and r.x + r.w <= W - MARGIN + 1e-6, label
        assert MARGIN <= r.y and r.y + r.h <= H - MARGIN + 1e-6, label
        for fr in furniture:
            assert not _overlap(r, fr), (label, fr)
    for (la, a), (lb, b) in itertools.combinations(rects, 2):
        assert not _overlap(a, b), (la, lb)
    # lines sit in the body; only page-level fields are in the header/footer bands
    for e in layout.line_entries:
        assert e.rect.y >= HEADER_BOTTOM - 1e-6 and e.rect.y + e.rect.h <= H - FOOTER_H, e.row


@pytest.mark.parametrize("name,version", FORMS)
def test_layout_is_deterministic_and_json_serialisable(name, version):
    form = builtin_form(name, version)
    a = page_json(layout_form(form), "K-x-001", 3, "P1/X", "ABCDEFGH", 1, 10)
    fresh = parse_form(form.text, form.source)  # a new object: no cache shared
    b = page_json(layout_form(fresh), "K-x-001", 3, "P1/X", "ABCDEFGH", 1, 10)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert a["entries"][-1]["kind"] == "page"
    assert any(f["name"] == "copie" for f in a["entries"][-1]["fields"])


def test_every_page_entry_has_a_cancel_box():
    for name in ("paiement", "pret", "retour", "naissance", "deces", "main_courante"):
        form = builtin_form(name)
        assert any(f.type == "checkbox" and f.name.startswith("annul") for f in form.fields), name


def test_payment_control_total_sums_amounts():
    layout = layout_form(builtin_form("paiement"))
    total = layout.page_entry.field("total")
    assert total.defn.sum_of == "montant" and total.defn.semantic == "amount_cents"
    printed = layout.printed_values("ABCDEFGH", 2)
    n = len(layout.line_entries)
    assert printed[1]["quittance"] == f"{n + 1:05d}"  # receipt numbers continue across pages


def test_the_layout_export_says_what_the_reader_knows_of_a_date():
    """layout.json carries the reading hints of the form definition: a loan's date is written during the crisis and
    in journal order, its due date during the crisis for later, a parent's birth date neither."""
    loan = page_json(layout_form(builtin_form("pret")), "K-x-001", 3, "P1/X", "ABCDEFGH", 1, 10)
    f = {x["name"]: x for x in loan["entries"][0]["fields"]}
    assert f["date"].get("recent") is True and f["date"].get("ordered") is True and "due" not in f["date"]
    assert f["retour_prevu"].get("recent") is True and f["retour_prevu"].get("due") is True
    assert "ordered" not in f["retour_prevu"]
    birth = page_json(layout_form(builtin_form("naissance")), "K-x-001", 3, "P1/X", "ABCDEFGH", 1, 10)
    g = {x["name"]: x for e in birth["entries"] for x in e["fields"]}
    assert g["date_declaration"].get("recent") is True and "recent" not in g["mere_date_naissance"]
