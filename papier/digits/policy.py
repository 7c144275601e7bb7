"""Every decision threshold of the digit reader, in one place.

``AUTO_ACCEPT_CONFIDENCE`` (fields with a check digit), ``AUTO_ACCEPT_CONFIDENCE_KNOWN`` (a known set and no check
digit: dates written during the crisis) and ``AUTO_ACCEPT_CONFIDENCE_UNCHECKED`` (amounts, other dates, times, plain
numbers) — a digit field is accepted without review only when its confidence (probability that the
value is right, see papier.digits.field) is at least this. Each is chosen by ``papier/digits/calibrate.py`` on the
calibration digits (never trained on, never the held-out test digits) as the lowest confidence at which the
accepted calibration fields of its kind are wrong less than 1 in 1,000 with 95 % confidence (one-sided
Clopper-Pearson bound) and at most 1 in 5,000 measured (1 in 10,000 for the unchecked class:
calibrate.MARGIN_BY_CLASS); the measurement that chose them is in ``model.json`` under
"threshold" (loaded here as THRESHOLD_MEASUREMENT). They never go below ``AUTO_ACCEPT_FLOOR``; a class for which no
confidence qualifies is recorded as null and never accepted alone (infinite threshold).
"""

from __future__ import annotations

import json
from pathlib import Path

RECORD_FILE = Path(__file__).resolve().parent / "model.json"

MARK_UNSURE = 0.5            # P("not a digit": struck out, stray mark) above which an inked box is "unsure"
MIN_DIGIT_EXTENT_PX = 12     # ink smaller than 1.5 mm in both directions is a mark, not a digit
# A stroke along the box's top or bottom line that is not the digit's kept strokes (preprocess.Prepared.apart_px,
# step 5, where no second view joins it to the digit): a part of the digit drawn apart from it on the line, erased
# with the line (scan benchmark, session 22, photo with a reflection, seed 14: a 5 whose bar lay on the box's top
# line, apart from its body, read 6 at 0.9999 and accepted in 05/10/26). From APART_DOUBT_PX (2 mm of line) the
# box is `unsure`. Measured, two renderings per profile: that 5: 24 px; calibration digits (9,600 boxes) and
# held-out digits (12,000) at or above it: 1 and 1 box, both fax. The scan benchmark's fax pages thicken lines more
# than the calibration's fax: at 12 px (1.5 mm) seed 5's fax digit auto-accept fell 46.4 -> 43.3 % (71 of its
# boxes at 12 px or more, 16 at 16 or more).
APART_DOUBT_PX = 16
# A box read blank may hold a lost digit: pale ink under the ink threshold, or a digit so large or so far off
# that most of it lies outside the box. Left of a number's first digit (amounts are right-aligned, so leading
# blanks are normal) that lost digit leaves a valid, shorter number: 7 888,00 read 888,00. A blank box there
# with more than LOOSE_DOUBT_PX ink pixels inside it (every component, dust included, printed lines erased) or
# more than FAINT_DOUBT_PX at the pale-ink threshold (preprocess.FAINT_THRESHOLD) sends the field to review.
# Measured on 6 renderings of the 800 calibration digits and 1,500 blank boxes per profile (session 5): every
# digit read blank on a grey capture but one is above one of them (loose 2-572, faint 119-679 px); blank boxes
# are at most 32 loose px, and 99 % of them at most 39 (clean, scanner), 100 (photo), 122 (photocopy) faint px.
# On a binarised capture (fax) pale digits can vanish completely (1.2 % of fax digits, 0-87 px): no box test
# sees them. So a number with a leading blank box carries, in its confidence, the risk that a digit vanished
# there: LOST_DIGIT_RISK_FLAT from a binarised capture, LOST_DIGIT_RISK from a grey one. Each is at least the
# 95 % upper bound of the rate of digits read blank without doubt that calibrate.py measures (model.json
# "lost_digits": grey 4 in 98,720, bound 9.3e-5; binarised 202 in 16,480, bound 0.014), i.e. the chance a blank
# box there hides a digit when a digit is as likely there as not.
LOOSE_DOUBT_PX = 40
FAINT_DOUBT_PX = 80
LOST_DIGIT_RISK = 2e-4
LOST_DIGIT_RISK_FLAT = 0.02
AUTO_ACCEPT_FLOOR = 0.99     # never accept a field whose confidence is below this, whatever calibration says
UNKNOWN_PRIOR = 1e-3         # prior weight of a valid number absent from the `known` set (a known one weighs 1)
INVALID_PRIOR = 0.01          # prior weight of a reading that fails its check / is no valid date (writer's slip)
RIVAL_FRACTION = 0.05        # a second candidate with this share of the posterior makes two plausible candidates
# Dates marked `recent` in a form (written during the crisis) are read with the crisis period as their known set
# (a valid date outside it weighs UNKNOWN_PRIOR): by default from PERIOD_BEFORE_DAYS before the day the sheets are
# read to PERIOD_AFTER_DAYS after it (a loan's due date is in the future); `papier scan ingest --periode` narrows it.
PERIOD_BEFORE_DAYS = 730
PERIOD_AFTER_DAYS = 62
# A date just outside the period is not as unlikely as a far one: a forgotten line written late on the crisis's first
# days carries the day before (the scan benchmark writes 3 % of journal lines 1-10 days late), and the period staff
# give may be a day off. Dates up to NEAR_PERIOD_DAYS outside it weigh NEAR_PERIOD_PRIOR instead of UNKNOWN_PRIOR
# (session 21: 13/09 written one day before a period from 14/09, its "3" read 5 at 0.91 and 3 at 0.08, was accepted
# as 15/09 at 0.9997: the period's 1/1,000 had settled it). A conservative weight, not a calibrated one (calibration
# reads dates against the default two-year period, whose edges it hardly meets): it only ever lowers a confidence.
NEAR_PERIOD_DAYS = 10
NEAR_PERIOD_PRIOR = 0.03
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


# Images the reader was not calibrated on (session 19): on a dark, grainy photo (scan_ingest/noise.py finds the
# grain at the page's marks) the scan benchmark accepted a time 12:33 read 12:53 at 0.9997 (phone_photo_dim, seed
# 6, unchecked class, threshold 0.9995): calibration renders clean, scanned, faxed and photographed digits, not
# grain. There every threshold asks GRAIN_STRICTNESS times less risk (stricter): unchecked 0.9995 -> 0.9999, known
# set 0.999 -> 0.9998, check digit 0.99 -> 0.998, page total 0.998 -> 0.9996. A conservative choice, not a calibrated
# one: grainy photos in the calibration would be the measured answer.
GRAIN_STRICTNESS = 5.0


def stricter(threshold: float, factor: float) -> float:
    """`threshold` asking `factor` times less risk: 1 - (1 - threshold) / factor (factor 1: unchanged)."""
    return threshold if factor == 1.0 else 1.0 - (1.0 - threshold) / factor


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


def threshold_class(check: str | None, known: bool = False, semantic: str | None = None) -> str:
    """"checked" (Luhn, EAN-13), "known" (a date with a known set — the crisis period — and no check digit) or
    "unchecked" (anything else, including a number read against a list but without a check digit).

    A list of numbers without a check digit (the readers' cards, `known = "lecteurs"`) still picks between close
    readings and sends a number off the list to review, but its threshold is the unchecked one: such lists are
    sequence numbers, dense where they are used (1,200 cards of the first 5,000), so a misread digit often lands
    on another listed number and the field's confidence rests on its boxes, as for a plain number. Measured
    (session 12, bench/bench_card_numbers.py and three held-out draws of 6,000 card fields): at the known-set
    threshold 0.999, 4 wrong in 9,468 accepted (4 x 10^-4: within the 1/1,000 target, not within the 1/5,000 the
    calibration asks of a class); at 0.9995, 1 in about 7,700. Calibration digits alone had shown 0 in 13,181 at
    0.999: the same gap between calibration and held-out digits that moved the unchecked class's margin to 1/10."""
    if check in ("luhn", "ean13"):
        return "checked"
    return "known" if known and (semantic or "").startswith("date_") else "unchecked"


def auto_accept_threshold(check: str | None, known: bool = False, semantic: str | None = None) -> float:
    return {"checked": AUTO_ACCEPT_CONFIDENCE, "known": AUTO_ACCEPT_CONFIDENCE_KNOWN,
            "unchecked": AUTO_ACCEPT_CONFIDENCE_UNCHECKED}[threshold_class(check, known, semantic)]


def corrected_threshold(check: str | None, known: bool = False) -> float:
    """The threshold of a reading that overrules the reader's own first choice in some box (a check digit or a
    known set picked another digit there). One check digit can correct one misread digit or detect one, not both:
    once it has chosen the correction, nothing of it is left to catch a second misread on the same field, and
    misreads cluster (one hand, one bad capture). Calibration draws every box independently, so it cannot measure
    that clustering: its corrected check-digit fields were right 6,071 times in 6,071 at 0.99, while the scan
    benchmark (session 6, fax) accepted 93542 read 92502 at 0.9963: the reader saw 92512, which fails Luhn, and
    the roster's 92502 was one unlikely digit away; the 3 and the 4 were both misread. So such a reading is held to
    the threshold of the same field without the redundancy the correction used: a family number or a barcode
    with its list to the known-set threshold, without it (or a date of the crisis period) to the unchecked one."""
    cls = threshold_class(check, known)
    if cls == "checked" and known:
        return AUTO_ACCEPT_CONFIDENCE_KNOWN
    return AUTO_ACCEPT_CONFIDENCE_UNCHECKED
