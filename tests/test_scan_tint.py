"""A line gone over with a fluorescent marker: in grey its band is darker than the ink level over a whole box, so a
box under it goes to review instead of being read as ticked (scan_ingest/tint.py)."""

from __future__ import annotations

import sqlite3

import numpy as np

from scan_ingest import marks as mk
from scan_ingest import testing as T
from scan_ingest import tint
from scan_ingest.read import TINTED_FIELD

DPI = 200


def _band(img: np.ndarray, y_mm: float, x0_mm: float, x1_mm: float, tall_mm: float = 5.0, shade: float = 0.62,
          dpi: float = DPI) -> None:
    """A marker's translucent band (a pink marker in grey: 62 % of the light), centred on y_mm."""
    mm = dpi / 25.4
    ya, yb = int((y_mm - tall_mm / 2) * mm), int((y_mm + tall_mm / 2) * mm)
    xa, xb = int(x0_mm * mm), int(x1_mm * mm)
    img[ya:yb, xa:xb] = (img[ya:yb, xa:xb].astype(np.float32) * shade).astype(np.uint8)


def _left(page: dict, row: int, name: str) -> float:
    return T.field_of(page, row, name)["box"]["x"]


def _centre_y(page: dict, row: int, name: str) -> float:
    b = T.field_of(page, row, name)["box"]
    return b["y"] + b["h"] / 2


def test_clean_marks_are_not_a_tint_and_a_band_is(small_kit):
    layout, page = T.aligned_render(small_kit, "paiement")
    pg = T.find_page(small_kit.out_dir, "paiement")
    ad = 8 * 25.4  # the aligned page's resolution (8 px/mm)
    for row, value in ((1, "cheque"), (2, "especes")):
        T.fill_bubble(page, pg, row, "mode", value, dpi=ad)
    T.tick_box(page, pg, 3, "annulee", dpi=ad)
    assert tint.tinted_fields(tint.wide_dark(page, mk.darkness(page)), layout) == {}  # filled bubbles, a cross: marks, not tints
    _band(page, _centre_y(pg, 2, "annulee"), _left(pg, 2, "annulee") - 10, 205, dpi=ad)
    got = tint.tinted_fields(tint.wide_dark(page, mk.darkness(page)), layout)
    keys = {(r, [f.name for e in layout.entries if e.row == r for f in e.fields][fi]) for r, fi in got}
    assert (2, "annulee") in keys and all(r == 2 for r, _ in keys), keys


def test_a_highlighted_line_is_never_read_as_cancelled(small_kit, tmp_path):
    """Rows 2 and 3 highlighted along their « Quittance annulée » box; only row 3's box is ticked. Without the
    check, row 2's empty box under the band was read as ticked and accepted (checked by hand: tinted_fields
    returning nothing): a payment silently counted as cancelled. Now both go to review with the reason, row 1
    (no band) reads as usual, and the summary names the page."""
    from scan_ingest.pipeline import ingest

    page = T.find_page(small_kit.out_dir, "paiement")
    img = T.render(small_kit.pdf_path, page["pdf_page"], DPI)
    T.tick_box(img, page, 1, "annulee")
    T.tick_box(img, page, 3, "annulee")
    for row in (2, 3):
        _band(img, _centre_y(page, row, "annulee"), _left(page, row, "annulee") - 10, 205)
    path = T.save_image(img, tmp_path / "surligne.png", DPI)
    report = ingest([str(path)], tmp_path / "p.db", workers=1)
    con = sqlite3.connect(tmp_path / "p.db")
    got = {r: (v, s, why or "", ink) for r, v, s, why, ink in con.execute(
        "select e.row, f.value, f.status, f.reason, e.has_ink from fields f join entries e on e.id = f.entry_id "
        "where f.name = 'annulee'")}
    con.close()
    assert got[1][:3] == ("true", "auto", "")
    for row in (2, 3):
        value, status, why, entry_ink = got[row]
        assert status == "review" and TINTED_FIELD in why and entry_ink == 1, got[row]
    assert got[4][:2] == ("false", "auto")
    summary = report.summary()
    assert "Cases surlignées" in summary and "surligne.png page 1" in summary.split("surlignées")[1]


def test_a_band_whose_edge_runs_through_a_bubble(small_kit):
    """A band beginning across the « Autre » bubble (most of its inside under the band, its ring, the label side
    left out, mostly clear) is a tint too: the seed-5 marker bench read such a bubble as filled and accepted it.
    Its neighbour « Périsco. », left of the band, is not."""
    layout, page = T.aligned_render(small_kit, "paiement")
    pg = T.find_page(small_kit.out_dir, "paiement")
    ad = 8 * 25.4
    o = next(o for o in T.field_of(pg, 2, "service")["options"] if o["value"] == "autre")
    before = tint.tinted_fields(tint.wide_dark(page, mk.darkness(page)), layout)
    _band(page, o["cy"], o["cx"] - 0.8, o["cx"] + 45, tall_mm=8.0, dpi=ad)
    wide = tint.wide_dark(page, mk.darkness(page))
    got = tint.tinted_fields(wide, layout)
    names = {(r, [f.name for e in layout.entries if e.row == r for f in e.fields][fi]) for r, fi in got}
    assert before == {} and (2, "service") in names, (names, got)
    keys, field_of, ring = tint.ring_fractions(wide, layout)
    spot = [i for i, k in enumerate(field_of) if keys[k] == next(k2 for k2 in got if k2[0] == 2)]
    assert max(ring[spot]) < 0.25  # the ring rule alone would not have seen it


def _tinted_names(page: np.ndarray, layout) -> set[tuple[int, str]]:
    got = tint.tinted_fields(tint.wide_dark(page, mk.darkness(page)), layout)
    return {(r, [f.name for e in layout.entries if e.row == r for f in e.fields][fi]) for r, fi in got}


def test_a_band_coming_from_the_label_through_a_box(small_kit, monkeypatch):
    """A band over a « Rendu » box's label whose end lies inside the box (the box's right part under it, its ring —
    the label side left out — clear): seed 11 of the marker bench read such an empty box as ticked on an empty
    line, a phantom loan return accepted. The band goes on over the label on the rows where it covers the box: a
    tint (a bubble filled and merged with its label's letters by a blur covers only the letters there: measured
    on the bench's photos, thresholds.TINT_BAND_COVER)."""
    layout, page = T.aligned_render(small_kit, "pret")
    pg = T.find_page(small_kit.out_dir, "pret")
    b = T.field_of(pg, 3, "rendu")["box"]
    _band(page, b["y"] + b["h"] / 2, b["x"] + 0.55 * b["w"], b["x"] + 60, tall_mm=5.5, dpi=8 * 25.4)
    assert (3, "rendu") in _tinted_names(page, layout)
    monkeypatch.setattr(tint, "TINT_BAND_COVER", 2.0)  # the rule off: the older rules do not see it
    assert (3, "rendu") not in _tinted_names(page, layout)


def test_a_band_from_the_label_over_a_corner_of_a_box(small_kit, monkeypatch):
    """The marker bench's seed 15: a paler band from a « Mère inconnue » label ended inside the box's upper right
    part, under a quarter of its inside (0.23), and the box read ticked on a blank form. The band rule asks only
    TINT_BAND_INSIDE_FRAC of the inside; at the older rules' 0.25 it did not see it."""
    layout, page = T.aligned_render(small_kit, "pret")
    pg = T.find_page(small_kit.out_dir, "pret")
    b = T.field_of(pg, 3, "rendu")["box"]
    _band(page, b["y"] + 0.25 * b["h"], b["x"] + 0.6 * b["w"], b["x"] + 60, tall_mm=2.2, dpi=8 * 25.4)
    inside = tint.inside_fractions(tint.wide_dark(page, mk.darkness(page)), layout)
    assert 0.15 <= max(inside) < 0.25, max(inside)
    assert (3, "rendu") in _tinted_names(page, layout)
    monkeypatch.setattr(tint, "TINT_BAND_INSIDE_FRAC", 0.25)  # the older gate
    assert (3, "rendu") not in _tinted_names(page, layout)
