"""A rubber stamp pressed over a line: its border crossing a bubble must not read as a choice (scan_ingest/stray.py)."""

from __future__ import annotations

import cv2

from scan_ingest import testing as T
from scan_ingest.read import CROSSED_FIELD

DPI = 200


def test_a_stamp_border_across_a_bubble_is_not_a_choice(small_kit, tmp_path):
    """Row 2 of a régie page: nothing chosen for « Service », but a stamp (violet, read as grey) pressed over the
    line covers its « Autre » bubble. Without the check it read as « autre », accepted (checked by hand:
    stray.crossed returning nothing). Now the field goes to review with the reason; row 1's real choice, away from
    the stamp, is read as usual."""
    from scan_ingest.pipeline import ingest

    page = T.find_page(small_kit.out_dir, "paiement")
    img = T.render(small_kit.pdf_path, page["pdf_page"], DPI)
    T.fill_bubble(img, page, 1, "service", "creche", dpi=DPI)
    mm = DPI / 25.4
    o = next(o for o in T.field_of(page, 2, "service")["options"] if o["value"] == "autre")
    # a stamp 44 x 22 mm (a double oval border, two lines of capitals) whose left part covers the bubble
    cx, cy, t = int((o["cx"] + 19) * mm), int((o["cy"] + 1) * mm), max(1, int(0.5 * mm))
    for a, b in ((22, 11), (20.5, 9.5)):
        cv2.ellipse(img, (cx, cy), (int(a * mm), int(b * mm)), 0, 0, 360, 110, t, cv2.LINE_AA)
    for k, text in enumerate(("MAIRIE", "REGIE DE RECETTES")):
        (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.9, t)
        cv2.putText(img, text, (cx - tw // 2, cy + int((k - 0.2) * 4.5 * mm)), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 110, t,
                    cv2.LINE_AA)
    path = T.save_image(img, tmp_path / "tampon.png", DPI)
    ingest([str(path)], tmp_path / "p.db", workers=1)
    got = T.field_by_row(tmp_path / "p.db", "service")
    assert got[1] == ('"creche"', "auto", "")
    value, status, why = got[2]
    assert status == "review" and CROSSED_FIELD in why, got[2]
