"""A part of a digit drawn apart from it, lying on a printed box line (papier.digits.preprocess, step 5,
`apart_px`): the line's erasure takes it away and the rest reads as another digit at high confidence. The scan
benchmark (session 22, phone photo with a reflection, seed 14) accepted 05/10/26 as 06/10/26: the 5's bar lay on the
box's top line, apart from its body. Kept as the aligned page gave the six boxes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import cv2
import numpy as np

from papier.digits import policy, read_boxes, read_digit_field, reader
from papier.digits.preprocess import prepare
from papier.digits.render import CROP_W
from scan_ingest.read import dates_between

STRIP = Path(__file__).parent / "resources" / "boites_date_5_barre_a_part_sur_le_trait.png"
PERIOD = (dt.date(2026, 9, 14), dt.date(2026, 11, 23))  # the benchmark's crisis period


def _crops() -> list[np.ndarray]:
    strip = cv2.imread(str(STRIP), cv2.IMREAD_GRAYSCALE)
    assert strip is not None and strip.shape[1] == 6 * CROP_W
    return [strip[:, i:i + CROP_W] for i in range(0, strip.shape[1], CROP_W)]


def _field(crops):
    known = dates_between(PERIOD[0], PERIOD[1], "date_ddmmyy")
    return read_digit_field(read_boxes(crops), semantic="date_ddmmyy", check=None, known=known)


def test_a_bar_apart_on_the_line_makes_its_box_unsure():
    crops = _crops()
    apart = prepare(np.stack(crops)).apart_px
    assert apart[1] >= policy.APART_DOUBT_PX and all(a < policy.APART_DOUBT_PX for i, a in enumerate(apart) if i != 1)
    readings = read_boxes(crops)
    assert readings[1].state == "unsure"
    assert [(r.state, r.digit) for i, r in enumerate(readings) if i not in (1, 4)] == \
        [("digit", 0), ("digit", 1), ("digit", 0), ("digit", 6)]
    res = _field(crops)
    assert res.status == "review" and res.value != "061026"


def test_without_the_rule_the_date_is_accepted_wrong(monkeypatch):
    """What the benchmark stored: the body of the 5 alone reads 6, and the crisis period cannot tell 06/10 from
    05/10."""
    monkeypatch.setattr(reader, "APART_DOUBT_PX", 10 ** 9)
    res = _field(_crops())
    assert res.status == "auto" and res.value == "061026"


def test_the_rule_alone_also_sees_a_7s_bar_on_the_top_line(monkeypatch):
    """Session 8's case (a 7's bar on the top line, read 1): without the second view that now joins the bar to the
    digit, the bar is ink on the line that is not the digit's kept strokes, and the box is unsure."""
    from papier.digits import preprocess

    monkeypatch.setattr(preprocess, "ALONG_MIN_EXTRA_PX", 10 ** 9)
    strip = cv2.imread(str(STRIP.parent / "boites_date_7_barre_sur_le_trait.png"), cv2.IMREAD_GRAYSCALE)
    crops = [strip[:, i:i + CROP_W] for i in range(0, strip.shape[1], CROP_W)]
    apart = prepare(np.stack(crops)).apart_px
    assert apart[1] >= policy.APART_DOUBT_PX
    assert read_boxes(crops)[1].state == "unsure"
