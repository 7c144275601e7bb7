"""Box level: a batch of box crops -> blank / digit (with calibrated probabilities) / unsure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from papier.digits.model import MARK, load_model, softmax
from papier.digits.policy import APART_DOUBT_PX, FAINT_DOUBT_PX, LOOSE_DOUBT_PX, MARK_UNSURE, MIN_DIGIT_EXTENT_PX
from papier.digits.preprocess import BLANK_MAX_PX, prepare
from papier.digits.render import CROP_H, CROP_W

_UNIFORM = np.full(10, 0.1)
_UNIFORM.flags.writeable = False


@dataclass(frozen=True)
class BoxReading:
    state: str            # "blank" | "digit" | "unsure" (some ink, can't tell if it's a digit/stray mark)
    probs: np.ndarray     # shape (10,), calibrated probabilities for 0-9 (uniform when blank)
    ink: float            # fraction of the inner box covered by ink
    # a blank box with ink the reader set aside (pale, or a large digit mostly outside the box): a digit may have
    # been lost there (policy.LOOSE_DOUBT_PX, policy.FAINT_DOUBT_PX)
    doubt: bool = False
    flat: bool = False    # read from a binarised capture (preprocess.FLAT_PAPER_SHARE): pale ink may be gone
    # the box reads as another digit when a stroke along one of its printed lines is kept as ink: probs is the
    # mixture of both readings (papier.digits.preprocess, step 5)
    along_line: bool = False

    @property
    def digit(self) -> int:
        return int(np.argmax(self.probs))


def box_logits(crops: Sequence[np.ndarray]) -> tuple[np.ndarray, "object"]:
    """Raw network logits (B, 11) (zeros for blank boxes) and the preprocessing result. For calibration."""
    arr = np.zeros((len(crops), CROP_H, CROP_W), np.uint8)
    for i, c in enumerate(crops):
        c = np.asarray(c)
        if c.ndim == 3:  # colour crop: keep the luminance
            c = cv2.cvtColor(c, cv2.COLOR_BGR2GRAY if c.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
        if c.dtype != np.uint8:
            c = np.clip(c, 0, 255).astype(np.uint8)
        if c.shape != (CROP_H, CROP_W):  # another box size: the reader works on the 5 x 7 mm frame
            c = cv2.resize(c, (CROP_W, CROP_H), interpolation=cv2.INTER_AREA)
        arr[i] = c
    P = prepare(arr)
    logits = np.zeros((len(arr), 11), np.float32)
    inked = np.flatnonzero(P.ink_px > BLANK_MAX_PX)
    if len(inked):
        # one pass for the boxes and their second views (none, often), which come in box order
        both = load_model().logits(np.concatenate([P.images[inked], P.alt_images]))
        logits[inked] = both[:len(inked)]
        P.alt_logits[P.alt] = both[len(inked):]
    return logits, P


def readings_from_logits(logits: np.ndarray, P, temperature: float | None = None) -> list[BoxReading]:
    T = load_model().temperature if temperature is None else temperature
    out: list[BoxReading] = []
    inked = P.ink_px > BLANK_MAX_PX
    doubt = (P.loose_px > LOOSE_DOUBT_PX) | (P.faint_px > FAINT_DOUBT_PX)
    p_all = softmax(logits.astype(np.float64))
    p_dig = softmax(logits[:, :10].astype(np.float64) / T)
    p_alt = softmax(P.alt_logits[:, :10].astype(np.float64) / T)
    for i in range(len(logits)):
        ink = float(P.ink[i])
        if not inked[i]:
            out.append(BoxReading("blank", _UNIFORM, ink, bool(doubt[i]), bool(P.flat[i])))
            continue
        p = p_dig[i]
        # a stroke along a printed line, kept as ink, reads as another digit (a 7's bar on the top line read 1
        # without it): either view may be the right one (measured on calibration crops where they disagree: the
        # first in 28 cases, the second in 41, neither in 4), so each gets half of the probability
        along = bool(P.alt[i]) and int(np.argmax(p_alt[i])) != int(np.argmax(p))
        if along:
            p = 0.5 * (p + p_alt[i])
        p.flags.writeable = False
        unsure = (p_all[i, MARK] > MARK_UNSURE or P.extent[i] < MIN_DIGIT_EXTENT_PX
                  or P.apart_px[i] >= APART_DOUBT_PX)  # a stroke on a line, apart from the digit
        out.append(BoxReading("unsure" if unsure else "digit", p, ink, False, bool(P.flat[i]), along))
    return out


def read_boxes(crops: Sequence[np.ndarray]) -> list[BoxReading]:
    """Read a batch of box crops (each the box plus CROP_MARGIN_MM at ALIGN_PX_PER_MM, uint8, ink dark)."""
    if len(crops) == 0:
        return []
    logits, P = box_logits(crops)
    return readings_from_logits(logits, P)
