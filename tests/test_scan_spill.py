"""Initials written on past their box into the « Quittance annulée » box beside it: a payment must not be taken for
cancelled (scan_ingest/read._spill_mm2). The régie journal's first version has that box right of the initials;
the second (forms/paiement/v2.toml) puts it before them, so initials run on into blank paper."""

from __future__ import annotations

import json

from scan_ingest import testing as T
from scan_ingest.read import RUN_ON_FIELD, SPILL_FIELD

DPI = 200


def _initials(img, page: dict, row: int, text: str, end_past_mm: float) -> None:
    """`text` written large in the row's « Initiales agent » box, begun inside it and ending `end_past_mm` mm past
    its right edge (the checkbox starts 3.4 mm further)."""
    v = T.field_of(page, row, "visa")["box"]
    T.write_across(img, text, v["x"] + v["w"] - 12, v["x"] + v["w"] + end_past_mm, v["y"] + v["h"] - 1.5, DPI)


def _run_on_page(kit, tmp_path) -> dict:
    """A régie page of `kit`: rows 1–3 initials ending 4.5–6 mm past their box, row 4 short initials inside their
    box and a real tick, row 5 a real tick alone; the « annulee » field of every row as read."""
    from scan_ingest.pipeline import ingest

    page = T.find_page(kit.out_dir, "paiement")
    img = T.render(kit.pdf_path, page["pdf_page"], DPI)
    for row, text, past in ((1, "MLR", 4.5), (2, "JPD", 6.0), (3, "CMX", 5.0)):
        _initials(img, page, row, text, past)
    _initials(img, page, 4, "AB", -2.0)
    for row in (4, 5):
        T.tick_box(img, page, row, "annulee", dpi=DPI)
    path = T.save_image(img, tmp_path / "initiales.png", DPI)
    ingest([str(path)], tmp_path / "p.db", workers=1)
    return T.field_by_row(tmp_path / "p.db", "annulee")


def test_initials_run_on_into_the_cancel_box_go_to_review(first_versions_kit, tmp_path):
    """Version 1: rows 1–3's initials end inside the empty « Quittance annulée » box (without the rule, row 2 at
    least was read as ticked and accepted: checked by hand with SPILL_MIN_MM2 out of reach). Rows 4, 5: accepted."""
    page = T.find_page(first_versions_kit.out_dir, "paiement")
    visa, box = T.field_of(page, 1, "visa")["box"], T.field_of(page, 1, "annulee")["box"]
    assert box["x"] > visa["x"] + visa["w"]  # the box is right of the initials
    got = _run_on_page(first_versions_kit, tmp_path)
    for row in (1, 2, 3):
        value, status, why = got[row]
        assert (value, status) != ("true", "auto"), (row, got[row])
        if value == "true":
            assert status == "review" and why.startswith(SPILL_FIELD), got[row]
    assert sum(got[r][1] == "review" for r in (1, 2, 3)) >= 2
    assert got[4][:2] == ("true", "auto") and got[5][:2] == ("true", "auto")
    assert got[6] == ("false", "auto", "")


def test_the_second_version_leaves_initials_room_to_run_on(small_kit, tmp_path):
    """Version 2 (the kit's default): the same initials run on into blank paper; every cancel box reads as written,
    without review: ticked on rows 4 and 5, empty elsewhere."""
    page = T.find_page(small_kit.out_dir, "paiement")
    visa, box = T.field_of(page, 1, "visa")["box"], T.field_of(page, 1, "annulee")["box"]
    assert box["x"] + box["w"] < visa["x"]  # the box is left of the initials now
    got = _run_on_page(small_kit, tmp_path)
    assert {r: got[r][:2] for r in range(1, 7)} == {1: ("false", "auto"), 2: ("false", "auto"), 3: ("false", "auto"),
                                                    4: ("true", "auto"), 5: ("true", "auto"), 6: ("false", "auto")}


def test_a_period_run_on_into_the_cheque_number_goes_to_review(first_versions_kit, tmp_path):
    """The first régie journal prints « N° de chèque » just right of « Période payée »: « oct. 2026 » written on
    past its box puts its 6 in the cheque number's first box, which the bench (writing run on, seed 9) read as the
    cheque number 6 and accepted. Row 1: that run-on, cheque number in review, saying why (this synthetic 6 reads
    as a 5 the reader doubts, in review anyway without the check: the bench's own page is the regression check,
    0 silent errors once re-read); row 2: the same period inside its box and a cheque number written: no such
    reason."""
    from scan_ingest.pipeline import ingest

    page = T.find_page(first_versions_kit.out_dir, "paiement")
    img = T.render(first_versions_kit.pdf_path, page["pdf_page"], DPI)
    for row, end in ((1, 6.0), (2, -6.0)):  # mm past the period box's right edge: into the first cheque box, or not
        p, c = T.field_of(page, row, "periode")["box"], T.field_of(page, row, "cheque")["boxes"][0]
        T.write_across(img, "oct. 2026", p["x"] + 8, p["x"] + p["w"] + end, c["y"] + c["h"] - 1.2, DPI)
    T.scribble(img, page, 2, "cheque", dpi=DPI)
    path = T.save_image(img, tmp_path / "periode.png", DPI)
    ingest([str(path)], tmp_path / "p.db", workers=1)
    got = T.field_by_row(tmp_path / "p.db", "cheque")
    assert got[1][1] == "review" and RUN_ON_FIELD in got[1][2], got[1]
    assert RUN_ON_FIELD not in got[2][2] and len(json.loads(got[2][0])) == 7, got[2]
