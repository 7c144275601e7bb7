"""A mark across a checkbox's edge that leaves the box's inside empty (scan_ingest/foreign.touching): the scan
benchmark (scanner_200, seed 8) accepted such a half-filled « Rendu » box as empty, silently."""

from __future__ import annotations

import cv2
import numpy as np

from scan_ingest import testing as T
from scan_ingest.read import TOUCH_FIELD

DPI = 200
MM = DPI / 25.4


def _blot(img: np.ndarray, page: dict, row: int, name: str, side: str) -> None:
    """A solid dark blot 2 mm across, over the box's `side` line, barely inside the box."""
    b = T.field_of(page, row, name)["box"]
    if side == "right":
        x0, y0 = b["x"] + b["w"] - 0.3, b["y"] + 1.0
    else:  # top
        x0, y0 = b["x"] + 1.2, b["y"] - 1.7
    pts = np.array([(x0, y0), (x0 + 1.9, y0 + 0.6), (x0 + 1.6, y0 + 2.0), (x0 + 0.3, y0 + 2.2)]) * MM
    cv2.fillPoly(img, [pts.astype(np.int32)], 45, cv2.LINE_AA)


def test_a_blot_on_a_box_edge_goes_to_review(small_kit, tmp_path):
    """Row 2: a blot over the « Rendu » box's right line; row 3: over the « Prêt annulé » box's top line. Both
    boxes' insides are empty and both went unflagged without the check (read empty, accepted: checked with
    TOUCH_REVIEW_MM2 out of reach). Row 4: a real tick, accepted; every other box empty, accepted."""
    from scan_ingest.pipeline import ingest

    page = T.find_page(small_kit.out_dir, "pret")
    img = T.render(small_kit.pdf_path, page["pdf_page"], DPI)
    _blot(img, page, 2, "rendu", "right")
    _blot(img, page, 3, "annule", "top")
    T.tick_box(img, page, 4, "rendu", dpi=DPI)
    path = T.save_image(img, tmp_path / "pret.png", DPI)
    ingest([str(path)], tmp_path / "p.db", workers=1)
    rendu, annule = T.field_by_row(tmp_path / "p.db", "rendu"), T.field_by_row(tmp_path / "p.db", "annule")
    for got in (rendu[2], annule[3]):
        assert got[1] == "review" and got[2].startswith(TOUCH_FIELD), got
    assert rendu[4] == ("true", "auto", "")
    for row in (1, 3, 5, 6):
        assert rendu[row] == ("false", "auto", ""), (row, rendu[row])
    for row in (1, 2, 4, 5, 6):
        assert annule[row] == ("false", "auto", ""), (row, annule[row])


def test_initials_that_stop_at_the_box_leave_it_alone(first_versions_kit, tmp_path):
    """The first régie journal puts « Quittance annulée » 3.4 mm right of the initials' box: initials run on up to
    the box's left line (not into it) leave the empty box accepted as empty."""
    from scan_ingest.pipeline import ingest

    page = T.find_page(first_versions_kit.out_dir, "paiement")
    img = T.render(first_versions_kit.pdf_path, page["pdf_page"], DPI)
    for row in (1, 2):
        v, b = T.field_of(page, row, "visa")["box"], T.field_of(page, row, "annulee")["box"]
        T.write_across(img, "MLR", v["x"] + v["w"] - 14, b["x"] - 0.2, v["y"] + v["h"] - 1.5, DPI)
    path = T.save_image(img, tmp_path / "initiales.png", DPI)
    ingest([str(path)], tmp_path / "p.db", workers=1)
    got = T.field_by_row(tmp_path / "p.db", "annulee")
    assert got[1] == ("false", "auto", "") and got[2] == ("false", "auto", ""), got


def test_a_blot_over_a_box_corner_beside_digits_goes_to_review(small_kit, tmp_path):
    """The scan benchmark (scanner_200_stamp, seed 12, 240 pages) accepted a half-filled « Annulé » box of a
    return register as empty: the blot lay over the box's top-left corner, most of it left of the box, beside the
    barcode's digit boxes, where the edge band leaves the paper to writing that sticks out of its boxes. The box's
    own lines, darkened over more than a millimetre (foreign.widened), send it to review. Row 3: the same blot
    beside the box, clear of its lines, is not the box's (accepted empty); row 4: a real tick, accepted."""
    from scan_ingest.pipeline import ingest

    page = T.find_page(small_kit.out_dir, "retour")
    img = T.render(small_kit.pdf_path, page["pdf_page"], DPI)
    for row, dx in ((1, 0.0), (3, -1.6)):
        b = T.field_of(page, row, "annule")["box"]
        x0, y0 = b["x"] + dx, b["y"]  # over the left line and the top-left corner, hardly above the box
        pts = np.array([(x0 - 0.6, y0 - 0.5), (x0 + 0.4, y0 - 0.45), (x0 + 0.5, y0 + 0.6), (x0 + 0.1, y0 + 2.6),
                        (x0 - 0.7, y0 + 2.2)]) * MM
        cv2.fillPoly(img, [pts.astype(np.int32)], 40, cv2.LINE_AA)
    T.tick_box(img, page, 4, "annule", dpi=DPI)
    path = T.save_image(img, tmp_path / "retour.png", DPI)
    ingest([str(path)], tmp_path / "p.db", workers=1)
    annule = T.field_by_row(tmp_path / "p.db", "annule")
    assert annule[1][1] == "review" and TOUCH_FIELD in annule[1][2], annule[1]
    assert annule[4] == ("true", "auto", ""), annule[4]
    for row in (2, 3, 5, 6):
        assert annule[row] == ("false", "auto", ""), (row, annule[row])
