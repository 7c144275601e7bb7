"""Page control total as a check over every amount of the page (joint decoding).

A register page with a "Total de la page" (``sum_of``) carries a check like a check digit, but across fields: if
the reader's best reading of every line amount adds up exactly to its best reading of the total, a single misread
digit anywhere is impossible (it would break the sum); only two or more misreads that cancel out could hide. So:

    P(every best reading is right | they add up)
        = P(best config) / sum of P(config) over the configurations that add up

The configurations that add up, besides the best one, are enumerated from each field's candidates (the beam of
papier.digits.field, valid readings with their posterior shares):
- one field differing by exactly the offset of the other bookkeeping hypothesis (cancelled lines counted in the
  total or not — agents do both);
- two fields differing by amounts that compensate (a +500 on one line, a -500 on another or on the total);
- mass the candidate lists do not hold (the beam's unexplored readings, readings failing a check), bounded from
  above as if any of it could compensate any other field's error;
- three misreads that compensate, enumerated over each field's likeliest alternatives (the rest bounded);
- four or more misreads, bounded from above by the chance of four errors at all.
Upper bounds only make the probability smaller: a page is never more trusted than the box model allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class SumTerm:
    candidates: Sequence[tuple[str, float]]  # (digits, posterior share), best first; shares sum to <= 1
    sign: int                                 # +1 for a line amount, -1 for the page total


def _odds(t: SumTerm) -> tuple[int, float, list[tuple[int, float]], float]:
    """(best value, best share, [(value delta, odds vs best)], odds of readings outside the list)."""
    best_s, best_p = t.candidates[0]
    best = int(best_s)
    alts = [(t.sign * (int(c) - best), p / best_p) for c, p in t.candidates[1:] if p > 0]
    listed = sum(p for _, p in t.candidates)
    return best, best_p, alts, max(0.0, 1.0 - listed) / best_p


def joint_confidence(terms: Sequence[SumTerm], alt_offsets: Sequence[int] = ()) -> float:
    """Probability that every term's best reading is right, given that the best readings add up (sum of signed
    values == 0). Returns 0.0 when they don't add up. ``alt_offsets``: signed sums that other accepted
    bookkeeping hypotheses would need instead of 0 (e.g. the cancelled lines' amounts)."""
    if not terms or any(not t.candidates for t in terms):
        return 0.0
    info = [_odds(t) for t in terms]
    if sum(t.sign * b for t, (b, _, _, _) in zip(terms, info)) != 0:
        return 0.0
    targets = {0} | {int(o) for o in alt_offsets}
    other = targets - {0}
    # one misread explaining another bookkeeping hypothesis
    single = sum(r for _, _, alts, _ in info for d, r in alts if d in other)
    # two misreads that compensate (or land on another hypothesis)
    pair = 0.0
    for (_, _, a1, _), (_, _, a2, _) in combinations(info, 2):
        if not a1 or not a2:
            continue
        by_delta: dict[int, float] = {}
        for d, r in a2:
            by_delta[d] = by_delta.get(d, 0.0) + r
        for d, r in a1:
            for tgt in targets:
                pair += r * by_delta.get(tgt - d, 0.0)
    # unlisted readings: bounded as if they could compensate any error of any other field(s)
    err_odds = [sum(r for _, r in alts) + rest for _, _, alts, rest in info]
    total_odds = sum(err_odds)
    rest_bound = 0.0
    for i, (_, _, _, rest) in enumerate(info):
        if rest > 0:
            others = total_odds - err_odds[i]
            # alone, it can only explain another hypothesis; with one or two other errors, any target
            rest_bound += rest * ((1.0 if other else 0.0) + len(targets) * (others + others ** 2 / 2))
    # three misreads among the listed readings: enumerated (the TRIPLE_ALTS likeliest of each field; the
    # others' mass is bounded like unlisted readings)
    triple, cut = _triples(info, targets)
    # four or more misreads: at most the chance of four errors at all
    quad_bound = total_odds ** 4 / 24.0 / max(1e-9, 1.0 - total_odds) if total_odds < 1 else float("inf")
    return 1.0 / (1.0 + single + pair + rest_bound + triple + cut + quad_bound)


TRIPLE_ALTS = 16


def _triples(info, targets: set[int]) -> tuple[float, float]:
    """(mass of consistent three-misread configurations among the fields' TRIPLE_ALTS likeliest alternatives,
    upper bound of those involving a less likely alternative)."""
    fields = []  # per field: deltas and odds of its likeliest alternatives, deltas sorted, with the odds' cumsum
    cut_odds = []
    for _, _, alts, _ in info:
        top = sorted(alts, key=lambda t: -t[1])[:TRIPLE_ALTS]
        cut_odds.append(sum(r for _, r in alts) - sum(r for _, r in top))
        d = np.array([d for d, _ in top], np.int64)
        r = np.array([r for _, r in top], np.float64)
        order = np.argsort(d, kind="stable")
        fields.append((d, r, d[order], np.concatenate([[0.0], np.cumsum(r[order])])))
    n = len(fields)
    odds = [float(f[1].sum()) + c for f, c in zip(fields, cut_odds)]
    total = sum(odds)
    cut = sum(c * (total - o) ** 2 / 2 for c, o in zip(cut_odds, odds)) * len(targets)
    mass = 0.0
    for i, j, k in combinations(range(n), 3):
        (di, ri, _, _), (dj, rj, _, _), (dk, _, dk_s, csum) = fields[i], fields[j], fields[k]
        if not (len(di) and len(dj) and len(dk)):
            continue
        s = (di[:, None] + dj[None, :]).ravel()
        p = (ri[:, None] * rj[None, :]).ravel()
        for t in targets:
            need = t - s
            lo = np.searchsorted(dk_s, need, "left")
            hi = np.searchsorted(dk_s, need, "right")
            mass += float((p * (csum[hi] - csum[lo])).sum())
    return mass, cut
