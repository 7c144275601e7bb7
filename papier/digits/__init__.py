"""Handwritten digit reader: comb-box crops -> digits with calibrated confidence, fields -> auto or review.

The scan pipeline cuts, for each digit box, a crop of the aligned page at ALIGN_PX_PER_MM covering the box plus
CROP_MARGIN_MM on every side, calls ``read_boxes`` on all crops of a page at once, then ``read_digit_field`` per
field. The model (papier/digits/model.npz, a small CNN run in numpy) is trained by papier/digits/train.py; its
record and measured scores are in model.json; see docs/MODEL_CARD.md.
"""

from papier.digits.data import heldout_indices, load_handwriting, train_indices, calibration_indices
from papier.digits.field import DigitFieldResult, field_threshold, read_digit_field
from papier.digits.journal import sort_key, verdicts as journal_verdicts
from papier.digits.page_sum import SumTerm, joint_confidence
from papier.digits.policy import (AUTO_ACCEPT_CONFIDENCE, AUTO_ACCEPT_CONFIDENCE_KNOWN, AUTO_ACCEPT_CONFIDENCE_UNCHECKED,
                                  GRAIN_STRICTNESS, PAGE_TOTAL_CONFIDENCE, stricter)
from papier.digits.preprocess import binarised
from papier.digits.reader import BoxReading, read_boxes
from papier.digits.render import ALIGN_PX_PER_MM, CROP_MARGIN_MM

__all__ = [
    "ALIGN_PX_PER_MM", "CROP_MARGIN_MM", "AUTO_ACCEPT_CONFIDENCE", "AUTO_ACCEPT_CONFIDENCE_KNOWN",
    "AUTO_ACCEPT_CONFIDENCE_UNCHECKED", "PAGE_TOTAL_CONFIDENCE", "GRAIN_STRICTNESS", "stricter",
    "BoxReading", "DigitFieldResult", "read_boxes", "binarised",
    "read_digit_field", "field_threshold", "SumTerm", "joint_confidence", "journal_verdicts", "sort_key",
    "load_handwriting", "heldout_indices", "train_indices", "calibration_indices",
]
