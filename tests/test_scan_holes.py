"""Sheets punched for a ring binder (scan_ingest/holes.py): an automatic feeder shows the holes as black disks in
the left margin. A hole is paper that is not there, not ink; a box a hole bites into is looked at by a person."""

from __future__ import annotations

import cv2
import numpy as np

from scan_ingest import holes
from scan_ingest import testing as T
from scan_ingest.read import HOLE_FIELD

DPI = 200


def _punch(img: np.ndarray, x_mm: float, ys_mm: tuple[float, ...], shade: int = 45, rim: int | None = None) -> None:
    """Holes 6 mm across: filled with `shade` (a feeder's dark background), with a `rim` 0.25 mm wide when given
    (a flatbed's white lid seen through the hole, its edge a thin shadow)."""
    mm = DPI / 25.4
    for y in ys_mm:
        c, r = (int(round(x_mm * mm)), int(round(y * mm))), int(round(3.0 * mm))
        cv2.circle(img, c, r, shade, -1, cv2.LINE_AA)
        if rim is not None:
            cv2.circle(img, c, r, rim, max(1, int(round(0.25 * mm))), cv2.LINE_AA)


def test_a_box_beside_a_hole_is_read_as_usual(small_kit, tmp_path):
    """A death declaration punched with two holes where ISO 838 puts them (12 mm from the edge, 80 mm apart, centred:
    1 mm from the « Domicile dans une autre commune » and « Certificat de décès vu » boxes). The certificate box is
    ticked, the other is not: both are read and accepted (without holes.py both went to review: the black disk is
    ink 1 mm from the box, in the gap where writing that runs on would be)."""
    from scan_ingest.pipeline import ingest

    page = T.find_page(small_kit.out_dir, "deces")
    img = T.render(small_kit.pdf_path, page["pdf_page"], DPI)
    T.tick_box(img, page, 1, "certificat_vu", dpi=DPI)
    _punch(img, 12.0, (108.5, 188.5))
    path = T.save_image(img, tmp_path / "perfore.png", DPI)
    ingest([str(path)], tmp_path / "p.db", workers=1)
    assert T.field_by_row(tmp_path / "p.db", "certificat_vu")[1] == ("true", "auto", "")
    assert T.field_by_row(tmp_path / "p.db", "domicile_autre_commune")[1] == ("false", "auto", "")


def test_a_box_beside_a_white_hole_is_read_as_usual(small_kit, tmp_path):
    """The same sheet on a flatbed: its lid makes the holes white, with a thin grey rim 1 mm from the boxes. Found by
    their rim and painted as paper, they leave the ticked box and the empty one accepted (without the rim search both
    went to review)."""
    from scan_ingest.pipeline import ingest

    page = T.find_page(small_kit.out_dir, "deces")
    img = T.render(small_kit.pdf_path, page["pdf_page"], DPI)
    T.tick_box(img, page, 1, "certificat_vu", dpi=DPI)
    _punch(img, 12.5, (108.5, 188.5), shade=240, rim=140)
    path = T.save_image(img, tmp_path / "perfore.png", DPI)
    ingest([str(path)], tmp_path / "p.db", workers=1)
    assert T.field_by_row(tmp_path / "p.db", "certificat_vu")[1] == ("true", "auto", "")
    assert T.field_by_row(tmp_path / "p.db", "domicile_autre_commune")[1] == ("false", "auto", "")


def test_a_box_a_hole_bites_into_goes_to_review(small_kit, tmp_path):
    """The same sheet not pushed home against the punch's guide: the holes 15 mm from the edge eat 1.3 mm of each
    box. Whatever the boxes read, a person looks (a tick may have gone with the paper)."""
    from scan_ingest.pipeline import ingest

    page = T.find_page(small_kit.out_dir, "deces")
    img = T.render(small_kit.pdf_path, page["pdf_page"], DPI)
    _punch(img, 15.0, (113.0, 190.0))
    path = T.save_image(img, tmp_path / "perfore.png", DPI)
    ingest([str(path)], tmp_path / "p.db", workers=1)
    for name in ("certificat_vu", "domicile_autre_commune"):
        value, status, why = T.field_by_row(tmp_path / "p.db", name)[1]
        assert status == "review" and HOLE_FIELD in why, (name, value, status, why)


def test_holes_are_found_in_the_margin_only(small_kit):
    """On the aligned page: the two holes are found where they were punched and painted as paper; a filled bubble
    and the corner markers, dark too, are not holes."""
    layout, page = T.aligned_render(small_kit, "paiement")
    K = 8.0
    for y in (108.5, 188.5):
        cv2.circle(page, (int(12.0 * K), int(y * K)), int(3.0 * K), 40, -1, cv2.LINE_AA)
    o = layout.entries[0].fields[[f.name for f in layout.entries[0].fields].index("service")].options[0]
    cv2.circle(page, (int(o.cx * K), int(o.cy * K)), int((o.r + 0.8) * K), 30, -1)  # filled past its ring
    found = holes.find(page, layout)
    assert sorted(round(h.cy) for h in found) == [108, 188] and all(abs(h.cx - 12.0) < 0.3 for h in found)
    assert all(2.8 <= h.r <= 3.3 for h in found)
    holes.paint(page, found)
    assert page[int(108.5 * K) - 8:int(108.5 * K) + 8, int(12 * K) - 8:int(12 * K) + 8].min() > 200
    assert page[int(o.cy * K), int(o.cx * K)] == 30
