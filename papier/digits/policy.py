"""Every decision threshold of the digit reader, in one place.

``AUTO_ACCEPT_CONFIDENCE`` — a digit field is accepted without review only when its confidence (probability that
the value is right, see papier.digits.field) is at least this. It is chosen by ``papier/digits/calibrate.py`` on
the calibration digits (never trained on, never the held-out test digits) as the lowest confidence at which the
accepted calibration fields are wrong less than 1 in 1,000 with 95 % confidence (one-sided Clopper-Pearson
bound); the measurement that chose it is in ``model.json`` under "threshold" and is reproduced below when the
model is loaded. It never goes below ``AUTO_ACCEPT_FLOOR``.
"""

from __future__ import annotations

import json
from pathlib import Path

RECORD_FILE = Path(__file__).resolve().parent / "model.json"

MARK_UNSURE = 0.5            # P("not a digit": struck out, stray mark) above which an inked box is "unsure"
MIN_DIGIT_EXTENT_PX = 12     # ink smaller than 1.5 mm in both directions is a mark, not a digit
AUTO_ACCEPT_FLOOR = 0.99     # never accept a field whose confidence is below this, whatever calibration says
UNKNOWN_PRIOR = 1e-3         # prior weight of a valid number absent from the `known` set (a known one weighs 1)
INVALID_PRIOR = 0.01          # prior weight of a reading that fails its check / is no valid date (writer's slip)
RIVAL_FRACTION = 0.05        # a second candidate with this share of the posterior makes two plausible candidates
TOP_K = 4                    # digits per box considered by the beam search
BEAM = 256                   # partial candidates kept
MIN_DIGIT_P = 1e-7           # a box's digit less likely than this is not explored
PRUNE = 1e-9                 # readings less likely than this times the best are not explored


def _load_threshold() -> tuple[float, dict]:
    try:
        rec = json.loads(RECORD_FILE.read_text())["threshold"]
        return max(float(rec["value"]), AUTO_ACCEPT_FLOOR), rec
    except (OSError, KeyError, ValueError):
        return 0.999, {"value": 0.999, "how": "default before calibration"}


AUTO_ACCEPT_CONFIDENCE, THRESHOLD_MEASUREMENT = _load_threshold()
