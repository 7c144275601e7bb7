"""Field level: the box readings of one digit field -> a value, a confidence and auto/review.

Candidates come from a beam search over each box's top digits, scored by the product of the box probabilities.
What the form knows weighs them: a value failing its check digit, an impossible date or time, an implausible
amount weighs INVALID_PRIOR (the writer may have made the mistake: such a value is shown, never accepted); a number
outside the `known` set (the printed roster) weighs UNKNOWN_PRIOR; a control total different from the sum of the
lines weighs 0.01. The confidence of the chosen value is its share of the weighted
mass (including the mass the beam did not explore), i.e. the probability it is right under the box model.

With a known set (a few thousand values at most), every value of the set is scored exactly: the likeliest join the
candidates (a roster number the beam did not reach is found), and the mass the beam did not explore is split into
known readings (weight 1) and the rest (outside the set: UNKNOWN_PRIOR). Before, that unexplored mass all
weighed as if it could be in the set, which kept 13-digit catalogue barcodes in review for doubts the catalogue
settles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Sequence

import numpy as np

from papier.checks import OUT_OF_PERIOD, value_problem
from papier.digits import policy
from papier.digits.reader import BoxReading

SUM_MISMATCH_WEIGHT = 0.01
CANDIDATES_KEPT = 64  # valid readings handed to papier.digits.page_sum (the rest counts as unlisted mass)


@dataclass(frozen=True)
class DigitFieldResult:
    value: str | None     # digits left to right, blank boxes skipped; None when unreadable
    status: str           # "auto" | "review"
    confidence: float     # 0..1, probability the value is right
    alternatives: list[str] = field(default_factory=list)  # best other candidate values, for the review page
    reason: str | None = None  # French, short, why review
    blank: bool = False   # True when every box is blank (field not filled)
    # valid readings with their posterior shares, best first, before any control-total weighting (for
    # papier.digits.page_sum); empty when a box is unsure
    candidates: tuple[tuple[str, float], ...] = ()
    # True when the only reasons for review are a low confidence or a close rival reading (nothing structural:
    # no unsure box, no invalid value, no shape problem), so a stronger check may still accept it
    uncertain_only: bool = False
    # boxes where the value differs from the reader's own first choice (a check digit or a known set overruled it)
    corrected: int = 0
    # the confidence this reading needed to be accepted: the field's threshold, or policy.corrected_threshold
    # when the value overrules the reader (a later check, the journal order, holds it to the same)
    threshold: float = 0.0


KNOWN_CANDIDATES = 8  # the likeliest readings of the known set added to the beam's candidates


@lru_cache(maxsize=16)
def _known_digits(known: frozenset[str], n: int) -> np.ndarray:
    """The known values written with n digits, as a (m, n) uint8 array (sorted: deterministic)."""
    vals = sorted(v for v in known if len(v) == n and v.isascii() and v.isdigit())
    if not vals:
        return np.zeros((0, n), np.uint8)
    out = np.frombuffer("".join(vals).encode("ascii"), np.uint8).reshape(len(vals), n) - 48
    out.flags.writeable = False
    return out


def _with_exact(values: frozenset[str], probs: list[np.ndarray], digits: np.ndarray,
                scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """`values` (a known set) scored exactly under the box probabilities: the beam's (digits, scores) with the
    KNOWN_CANDIDATES likeliest of them added, and their total mass."""
    kd = _known_digits(values, len(probs))
    if not len(kd):
        return digits, scores, 0.0
    kp = np.prod(np.stack([p[kd[:, i]] for i, p in enumerate(probs)], axis=1), axis=1)
    top = np.argsort(-kp, kind="stable")[:KNOWN_CANDIDATES]
    top = top[kp[top] > 0]
    return np.concatenate([digits, kd[top]]), np.concatenate([scores, kp[top]]), float(kp.sum())


def _beam_arrays(probs: list[np.ndarray], k: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Best complete readings by product of box probabilities, as (digits (n, boxes) uint8, scores (n,)), best
    first (digits below MIN_DIGIT_P and readings below PRUNE x the best are dropped: their mass is accounted as
    unexplored). Each step extends every kept reading by each of the box's top digits, in order, and keeps the
    `width` best (stable order)."""
    digits = np.zeros((1, 0), np.uint8)
    scores = np.ones(1)
    for p in probs:
        p = np.asarray(p, np.float64)
        top = np.argsort(p)[::-1][:k]
        top = top[p[top] >= policy.MIN_DIGIT_P]
        flat = (scores[:, None] * p[top][None, :]).ravel()
        order = np.argsort(-flat, kind="stable")[:width]
        order = order[flat[order] >= flat[order[0]] * policy.PRUNE]
        b, d = np.divmod(order, len(top))
        digits = np.concatenate([digits[b], top[d].astype(np.uint8)[:, None]], axis=1)
        scores = flat[order]
    return digits, scores


def _strings(digits: np.ndarray) -> list[str]:
    text = (digits + 48).astype(np.uint8).tobytes().decode("ascii")
    n = digits.shape[1]
    return [text[i * n:(i + 1) * n] for i in range(len(digits))]


def _check_ok(digits: np.ndarray, check: str) -> np.ndarray | None:
    """Luhn / EAN-13 validity of every reading at once (None: not vectorised for this field)."""
    d = digits.astype(np.int64)
    n = d.shape[1]
    if check == "luhn" and n >= 2:
        rev = d[:, ::-1]
        dbl = rev[:, 1::2] * 2
        dbl -= 9 * (dbl > 9)
        return (rev[:, 0::2].sum(axis=1) + dbl.sum(axis=1)) % 10 == 0
    if check == "ean13" and n == 13:
        w = np.where(np.arange(12) % 2 == 0, 1, 3)
        return (10 - (d[:, :12] * w).sum(axis=1) % 10) % 10 == d[:, 12]
    return None


def _problems(digits: np.ndarray, strings: list[str], semantic: str | None,
              check: str | None) -> dict[str, str | None]:
    """value_problem of every reading (vectorised for plain Luhn / EAN-13 numbers: same answers)."""
    ok = _check_ok(digits, check) if semantic is None and check else None
    if ok is None:
        return {c: value_problem(c, semantic, check) for c in strings}
    bad = np.flatnonzero(~ok)
    msg = value_problem(strings[bad[0]], semantic, check) if len(bad) else None
    return {c: (None if good else msg) for c, good in zip(strings, ok.tolist())}


def _shape_problem(states: list[str], semantic: str | None, check: str | None) -> str | None:
    written = [i for i, s in enumerate(states) if s != "blank"]
    first, last = written[0], written[-1]
    if any(states[i] == "blank" for i in range(first, last + 1)):
        return "case vide au milieu du nombre"
    leading, trailing = first > 0, last < len(states) - 1
    if not (leading or trailing):
        return None
    free = semantic in ("amount_cents", "number") or (semantic is None and check is None)
    if not free:
        return "champ incomplet"
    if trailing and semantic == "amount_cents":
        return "montant incomplet (cases vides à droite)"
    return None


def _lost_digit(readings: Sequence[BoxReading], states: list[str]) -> tuple[str | None, float]:
    """A number with leading blank boxes (an amount is right-aligned) whose leftmost digit was lost would read
    as a valid, shorter number. The blank box just left of the first digit: ink the reader set aside there is a
    problem (review); otherwise the risk that a digit vanished (policy.LOST_DIGIT_RISK*) lowers the confidence."""
    first = next(i for i, s in enumerate(states) if s != "blank")
    if first == 0:
        return None, 0.0
    box = readings[first - 1]
    if box.doubt:
        return "case de gauche peut-être écrite (encre pâle ou hors de la case)", 0.0
    return None, policy.LOST_DIGIT_RISK_FLAT if box.flat else policy.LOST_DIGIT_RISK


def _lost_variants(best: tuple[str, float], risk: float, semantic: str | None,
                   check: str | None) -> tuple[tuple[str, float], ...]:
    """The best reading with a lost leading digit (1-9) restored, each with its share of the lost-digit risk: a
    page total then sees that such a loss changes the amount by thousands of cents (only a compensating loss
    elsewhere could hide it) instead of bounding it as a reading that could compensate anything."""
    if risk <= 0:
        return ()
    value, share = best
    out = tuple((f"{d}{value}", share * risk / (1.0 - risk) / 9) for d in range(1, 10))
    return tuple(t for t in out if value_problem(t[0], semantic, check) is None)


def read_digit_field(readings: Sequence[BoxReading], *, semantic: str | None, check: str | None,
                     known: frozenset[str] | None = None, expected_sum: int | None = None,
                     known_missing: bool = False, strictness: float = 1.0,
                     near: frozenset[str] | None = None) -> DigitFieldResult:
    """Decide a digit field from its box readings (left to right). See the module docstring.

    `known_missing`: the form reads this field with a known set that is not available (the kit's manifest was not
    scanned). The calibrated thresholds of check-digit fields were chosen with their sets (the roster, the
    catalogue); without it, two compensating misreads pass an EAN-13 check (a fax read 9782613989262 as
    4782613984262 at 0.9964), so the field gets the strictest threshold, that of fields with no check at all.
    `strictness`: every threshold asks that many times less risk (policy.stricter; policy.GRAIN_STRICTNESS on a
    grainy photo, which calibration has not seen).
    `near`: values outside `known` but close to it (the dates just outside the crisis period), which weigh
    policy.NEAR_PERIOD_PRIOR instead of policy.UNKNOWN_PRIOR."""
    return decide(readings, semantic=semantic, check=check, known=known, expected_sum=expected_sum,
                  threshold=field_threshold(check, known, known_missing, semantic), strictness=strictness,
                  near=near)


def field_threshold(check: str | None, known: frozenset[str] | None, known_missing: bool = False,
                    semantic: str | None = None) -> float:
    """The auto-accept threshold of a field read with this check and known set (read_digit_field's
    `known_missing`: the strictest one)."""
    if known_missing and known is None:
        return policy.AUTO_ACCEPT_CONFIDENCE_UNCHECKED
    return policy.auto_accept_threshold(check, known is not None, semantic)


def decide(readings: Sequence[BoxReading], *, semantic: str | None, check: str | None,
           known: frozenset[str] | None = None, expected_sum: int | None = None,
           threshold: float | None = None, strictness: float = 1.0,
           near: frozenset[str] | None = None) -> DigitFieldResult:
    """read_digit_field with an explicit threshold (None: the policy's for this kind of field)."""
    if threshold is None:
        threshold = policy.auto_accept_threshold(check, known is not None, semantic)
    states = [r.state for r in readings]
    if not readings or all(s == "blank" for s in states):
        return DigitFieldResult(None, "auto", 1.0, [], None, True)
    problems: list[str] = []
    if "unsure" in states:
        problems.append("case douteuse (rature ou trait)")
    shape = _shape_problem(states, semantic, check)
    if shape:
        problems.append(shape)
    lost_problem, lost_risk = (None, 0.0) if shape else _lost_digit(readings, states)
    if lost_problem:
        problems.append(lost_problem)

    probs = [np.asarray(r.probs, dtype=np.float64) for r in readings if r.state != "blank"]
    beam_digits, beam_scores = _beam_arrays(probs, policy.TOP_K, policy.BEAM)
    near = near if known is not None and near else None
    # every reading of the known set, scored exactly (the roster, the catalogue, the crisis period: a few thousand
    # values), and of the values near it: the likeliest ones join the beam's candidates; their totals are the
    # known and near masses
    known_mass = near_mass = 0.0
    if known is not None:
        beam_digits, beam_scores, known_mass = _with_exact(known, probs, beam_digits, beam_scores)
    if near is not None:
        beam_digits, beam_scores, near_mass = _with_exact(near, probs, beam_digits, beam_scores)
    strings = _strings(beam_digits)
    seen: set[str] = set()
    cands = []
    for c, sc in zip(strings, beam_scores.tolist()):
        if c not in seen:
            seen.add(c)
            cands.append((c, sc))
    residual = max(0.0, 1.0 - sum(s for _, s in cands))

    problem_of = _problems(beam_digits, strings, semantic, check)

    def prior(c: str) -> float:
        """What the form knows about a reading, control total aside."""
        if problem_of[c] is not None:
            w = policy.INVALID_PRIOR  # the writer may have written an invalid value: it stays a hypothesis
            if known is not None:
                w *= policy.UNKNOWN_PRIOR  # ... and it is not in the roster either
        else:
            w = 1.0
            if known is not None and c not in known:
                w *= policy.NEAR_PERIOD_PRIOR if near is not None and c in near else policy.UNKNOWN_PRIOR
        return w

    prior_of = {c: prior(c) for c, _ in cands}

    def weight(c: str) -> float:
        w = prior_of[c]
        if expected_sum is not None and (not c.isdigit() or int(c) != expected_sum):
            w *= SUM_MISMATCH_WEIGHT
        return w

    weighted = sorted(((c, s * weight(c)) for c, s in cands), key=lambda t: -t[1])
    mass = sum(m for _, m in weighted)
    # strings the beam did not explore: with a check digit only 1 in 10 passes it
    valid_share = (0.1 + 0.9 * policy.INVALID_PRIOR) if check in ("luhn", "ean13") else 1.0
    if known is None:
        residual_w = residual * valid_share
    else:
        # with a known set, every known reading is scored (known_mass): the unexplored ones weigh 1 (as if valid
        # and, when the field has a control total, matching it: an upper bound), the rest of the unexplored mass
        # is outside the set and weighs UNKNOWN_PRIOR
        unexplored_known = max(0.0, known_mass - sum(sc for c, sc in cands if c in known))
        unexplored_near = 0.0 if near is None else max(0.0, near_mass - sum(sc for c, sc in cands if c in near))
        residual_w = (unexplored_known + unexplored_near * policy.NEAR_PERIOD_PRIOR
                      + max(0.0, residual - unexplored_known - unexplored_near) * valid_share * policy.UNKNOWN_PRIOR)
    best, best_m = weighted[0]
    total = mass + residual_w
    confidence = (best_m / total if total > 0 else 0.0) * (1.0 - lost_risk)
    if problem_of[best] is not None:
        problems.append(problem_of[best])
        confidence = 0.0
    else:
        if known is not None and best not in known:
            problems.append(OUT_OF_PERIOD if (semantic or "").startswith("date_")
                            else "numéro absent de la liste imprimée")
        if expected_sum is not None and int(best) != expected_sum:
            problems.append("total différent de la somme des lignes")
    # the check digit or the known set may overrule the reader's first choice in one box; overruling it in several
    # rests on the box probabilities far from where they are measured: a person looks
    tops = "".join(str(int(np.argmax(p))) for p in probs)
    corrected = sum(a != b for a, b in zip(best, tops))
    if problem_of[best] is None and corrected >= 2:
        problems.append("lecture corrigée sur plusieurs cases")
    valid_rest = [(c, m) for c, m in weighted[1:] if problem_of[c] is None]
    if valid_rest and valid_rest[0][1] >= policy.RIVAL_FRACTION * total and problem_of[best] is None:
        problems.append(f"deux lectures plausibles : {best} ou {valid_rest[0][0]}")
    alts = [c for c, _ in valid_rest[:3]]
    if problem_of[best] is not None and not alts:
        # nothing valid among the explored readings: offer the likeliest valid one-box corrections
        subs = []
        for i, p in enumerate(probs):
            for d in range(10):
                if str(d) != best[i]:
                    c = best[:i] + str(d) + best[i + 1:]
                    if value_problem(c, semantic, check) is None:
                        subs.append((float(p[d]) / max(float(p[int(best[i])]), 1e-300), c))
        alts = [c for _, c in sorted(subs, key=lambda t: -t[0])[:3]]
    for c, _ in cands:  # complete the alternatives with the next raw readings
        if len(alts) >= 3:
            break
        if c != best and c not in alts:
            alts.append(c)
    confidence = float(min(max(confidence, 0.0), 1.0))
    structural = bool(problems) and not (len(problems) == 1 and problems[0].startswith("deux lectures"))
    if corrected:
        threshold = max(threshold, policy.corrected_threshold(check, known is not None))
    threshold = policy.stricter(threshold, strictness)
    if not problems and confidence < threshold:
        problems.append("lecture incertaine")
    value = None if "unsure" in states else best
    status = "auto" if not problems else "review"
    candidates: tuple[tuple[str, float], ...] = ()
    if value is not None:
        raw = sorted(((c, s * prior_of[c]) for c, s in cands if problem_of[c] is None), key=lambda t: -t[1])
        raw_total = sum(s * prior_of[c] for c, s in cands) + residual_w
        if raw and raw_total > 0:
            candidates = tuple((c, m / raw_total * (1.0 - lost_risk)) for c, m in raw[:CANDIDATES_KEPT])
            candidates += _lost_variants(candidates[0], lost_risk, semantic, check)
    reason = problems[0] if problems else None
    if reason and any(r.along_line and r.state == "digit" for r in readings):
        reason = f"trait sur le bord d'une case, {reason}"
    return DigitFieldResult(value, status, confidence, alts, reason, False,
                            candidates, status == "review" and value is not None and not structural, corrected,
                            threshold)
