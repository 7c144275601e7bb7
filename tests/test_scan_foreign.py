"""Ink that is not print around a mark (scan_ingest/foreign.py): a rubber stamp across a fiche's bubble or a
« Quittance annulée » box must not read as a choice or a cancelled receipt; a generous cross stays a cross."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from papier.forms import builtin_form, builtin_versions
from scan_ingest import foreign
from scan_ingest import marks as mk
from scan_ingest import testing as T
from scan_ingest.read import FOREIGN_FIELD
from scan_ingest.thresholds import ALIGN_PX_PER_MM as K
from scan_ingest.thresholds import FOREIGN_REVIEW_MM2

DPI = 200


@pytest.mark.parametrize("form", sorted(builtin_versions()))
def test_the_rendered_furniture_is_all_the_print_near_a_mark(small_kit, form):
    """A page of the kit as printed (QR codes, page number and pre-printed receipt numbers included), rendered by
    pdfium straight into the aligned frame: no spot has any foreign ink, so the furniture drawn for the reader is
    the print. A pen line through the free paper near a mark is seen."""
    layout, page = T.aligned_render(small_kit, form)
    fdef = builtin_form(form, layout.form_version)
    area = foreign.foreign_mm2(mk.darkness(page), fdef, layout)
    plan = mk.mark_plan(layout)
    assert len(area) == len(plan.spots) > 0
    assert area.max() == 0.0, [plan.spots[i] for i in np.flatnonzero(area)]
    x, y = plan.spot_xy[0]
    cv2.line(page, (int(x - 12 * K), int(y - 7 * K)), (int(x + 12 * K), int(y + 7 * K)), 60, 4)
    assert foreign.foreign_mm2(mk.darkness(page), fdef, layout)[0] >= FOREIGN_REVIEW_MM2


def test_a_stamp_border_across_a_bubble_is_not_a_choice(small_kit, tmp_path):
    """Row 2 of a régie page: nothing chosen for « Service », but a stamp pressed over the line covers its « Autre »
    bubble (session 17's case; then caught by comparing the bubble's surroundings with its column's). The field goes
    to review with the reason; row 1's real choice, away from the stamp, is read as usual."""
    from scan_ingest.pipeline import ingest

    page = T.find_page(small_kit.out_dir, "paiement")
    img = T.render(small_kit.pdf_path, page["pdf_page"], DPI)
    T.fill_bubble(img, page, 1, "service", "creche", dpi=DPI)
    o = next(o for o in T.field_of(page, 2, "service")["options"] if o["value"] == "autre")
    T.stamp(img, o["cx"] + 19, o["cy"] + 1, DPI)
    path = T.save_image(img, tmp_path / "tampon.png", DPI)
    ingest([str(path)], tmp_path / "p.db", workers=1)
    got = T.field_by_row(tmp_path / "p.db", "service")
    assert got[1] == ('"creche"', "auto", "")
    value, status, why = got[2]
    assert status == "review" and FOREIGN_FIELD in why, got[2]


def test_a_stamp_across_a_fiche_bubble_is_not_a_piece_seen(small_kit, tmp_path):
    """A birth declaration (a fiche: one line, no column of like bubbles to compare with): « Certificat » and
    « Pièce d'identité » ticked, and the régie's stamp pressed below the line with its border across the
    « Reconnaissance » bubble. The multi-choice goes to review with the reason instead of reading a piece nobody
    ticked."""
    from scan_ingest.pipeline import ingest

    page = T.find_page(small_kit.out_dir, "naissance")
    img = T.render(small_kit.pdf_path, page["pdf_page"], DPI)
    T.fill_bubble(img, page, 1, "pieces", "certificat", dpi=DPI)
    T.fill_bubble(img, page, 1, "pieces", "identite", dpi=DPI)
    o = next(o for o in T.field_of(page, 1, "pieces")["options"] if o["value"] == "reconnaissance")
    T.stamp(img, o["cx"] + 15, o["cy"] + 10, DPI, angle=-8, oval=False)
    path = T.save_image(img, tmp_path / "tampon.png", DPI)
    ingest([str(path)], tmp_path / "p.db", workers=1)
    value, status, why = T.field_by_row(tmp_path / "p.db", "pieces")[1]
    assert status == "review" and FOREIGN_FIELD in why, (value, status, why)


def test_stamp_letters_in_a_cancel_box_do_not_cancel_a_receipt(small_kit, tmp_path):
    """A régie page: the stamp's « REGIE DE RECETTES » runs through row 2's « Quittance annulée » box. The box goes to
    review (a receipt silently cancelled is a payment lost); row 1's real tick, away from the stamp, is accepted."""
    from scan_ingest.pipeline import ingest

    page = T.find_page(small_kit.out_dir, "paiement")
    img = T.render(small_kit.pdf_path, page["pdf_page"], DPI)
    T.tick_box(img, page, 1, "annulee", dpi=DPI)
    b = T.field_of(page, 2, "annulee")["box"]
    T.stamp(img, b["x"] + b["w"] / 2 + 3, b["y"] + b["h"] / 2 - 1.5, DPI, angle=5)
    path = T.save_image(img, tmp_path / "tampon.png", DPI)
    ingest([str(path)], tmp_path / "p.db", workers=1)
    got = T.field_by_row(tmp_path / "p.db", "annulee")
    assert got[1] == ("true", "auto", ""), got[1]
    value, status, why = got[2]
    assert status == "review" and FOREIGN_FIELD in why, got[2]


def test_a_cross_past_its_bubble_is_still_read(small_kit, tmp_path):
    """A large X over a bubble, its arms 1.2 mm past the printed circle (people do that): read and accepted."""
    from scan_ingest.pipeline import ingest

    page = T.find_page(small_kit.out_dir, "paiement")
    img = T.render(small_kit.pdf_path, page["pdf_page"], DPI)
    o = next(o for o in T.field_of(page, 1, "service")["options"] if o["value"] == "creche")
    mm = DPI / 25.4
    reach = (o["r"] + 1.2) / np.sqrt(2)
    for sx in (-1, 1):
        cv2.line(img, (int((o["cx"] - reach) * mm), int((o["cy"] - sx * reach) * mm)),
                 (int((o["cx"] + reach) * mm), int((o["cy"] + sx * reach) * mm)), 30, max(2, int(0.5 * mm)))
    path = T.save_image(img, tmp_path / "croix.png", DPI)
    ingest([str(path)], tmp_path / "p.db", workers=1)
    assert T.field_by_row(tmp_path / "p.db", "service")[1] == ('"creche"', "auto", "")
