"""Every decision threshold of the digit reader, in one place.

``AUTO_ACCEPT_CONFIDENCE`` (fields with a check digit), ``AUTO_ACCEPT_CONFIDENCE_KNOWN`` (a known set and no check
digit: dates written during the crisis) and ``AUTO_ACCEPT_CONFIDENCE_UNCHECKED`` (amounts, other dates, times, plain
numbers) — a digit field is accepted without review only when its confidence (probability that the
value is right, see papier.digits.field) is at least this. Each is chosen by ``papier/digits/calibrate.py`` on the
calibration digits (never trained on, never the held-out test digits) as the lowest confidence at which the
accepted calibration fields of its kind are wrong less than 1 in 1,000 with 95 % confidence (one-sided
Clopper-Pearson bound) and at most 1 in 5,000 measured; the measurement that chose them is in ``model.json`` under
"threshold" (loaded here as THRESHOLD_MEASUREMENT). They never go below ``AUTO_ACCEPT_FLOOR``; a class for which no
confidence qualifies is recorded as null and never accepted alone (infinite threshold).
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
# Dates marked `recent` in a form (written during the crisis) are read with the crisis period as their known set
# (a valid date outside it weighs UNKNOWN_PRIOR): by default from PERIOD_BEFORE_DAYS before the day the sheets are
# read to PERIOD_AFTER_DAYS after it (a loan's due date is in the future); `papier scan ingest --periode` narrows it.
PERIOD_BEFORE_DAYS = 730
PERIOD_AFTER_DAYS = 62
# A page's amounts accepted jointly through its control total (papier.digits.page_sum) need this probability that
# every one is right. It is the check-digit threshold as calibration chose it before the known sets were scored
# exactly (0.998, session 3); that threshold has since fallen to the floor, but the page-total check is weaker
# than a check digit (compensating misreads) and is not on the calibration set: it keeps its own, fixed value,
# watched by the scan benchmark.
PAGE_TOTAL_CONFIDENCE = 0.998
TOP_K = 4                    # digits per box considered by the beam search
BEAM = 256                   # partial candidates kept
MIN_DIGIT_P = 1e-7           # a box's digit less likely than this is not explored
PRUNE = 1e-9                 # readings less likely than this times the best are not explored


def recorded_threshold(v: float | None) -> float:
    """A recorded threshold; None (calibration found no safe confidence) never accepts."""
    return float("inf") if v is None else max(float(v), AUTO_ACCEPT_FLOOR)


def _load_thresholds() -> tuple[float, float, float, dict]:
    try:
        rec = json.loads(RECORD_FILE.read_text())["threshold"]
        unchecked = recorded_threshold(rec["unchecked"]["value"])
        known = recorded_threshold(rec["known"]["value"]) if "known" in rec else unchecked
        return recorded_threshold(rec["checked"]["value"]), unchecked, known, rec
    except (OSError, KeyError, ValueError, TypeError):
        return 0.9999, 0.9999, 0.9999, {"how": "default before calibration"}


# Fields with a check digit (Luhn, EAN-13): a single misread digit is always caught, so the risk at a given
# confidence is far lower than for amounts, dates and times, which get their own, stricter threshold. Fields with
# a known set and no check digit (dates written during the crisis, read with the crisis period) get a third one:
# the set catches most misread years and months, not a misread day.
(AUTO_ACCEPT_CONFIDENCE, AUTO_ACCEPT_CONFIDENCE_UNCHECKED, AUTO_ACCEPT_CONFIDENCE_KNOWN,
 THRESHOLD_MEASUREMENT) = _load_thresholds()


def threshold_class(check: str | None, known: bool = False) -> str:
    """"checked" (Luhn, EAN-13), "known" (a known set, no check digit) or "unchecked"."""
    return "checked" if check in ("luhn", "ean13") else "known" if known else "unchecked"


def auto_accept_threshold(check: str | None, known: bool = False) -> float:
    return {"checked": AUTO_ACCEPT_CONFIDENCE, "known": AUTO_ACCEPT_CONFIDENCE_KNOWN,
            "unchecked": AUTO_ACCEPT_CONFIDENCE_UNCHECKED}[threshold_class(check, known)]
