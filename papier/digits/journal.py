"""Journal order: the lines of a register are written one after the other, as things happen, so down a page the
dates (and, on one day, the times) never go back. The page's lines are read together as a chain: each line's
readings (the reader's valid readings with their shares) and, between consecutive lines, a weight of 1 when the
second is not earlier than the first and ORDER_PRIOR when it is (an agent may add a forgotten line late: such a
reading stays a hypothesis, it is not excluded). The probability of each line's best reading given the whole
chain comes from the exact sum over every combination of the lines' readings (forward-backward).

What the reader's shares do not list (invalid readings, the mass the beam did not explore) is one more reading per
line that is in order with anything: an upper bound on what it could explain, so the order never makes a
reading look surer than the listed evidence allows.

How the scan pipeline uses it (scan_ingest.read._journal_order): a field in review only for a low confidence or a
close rival is accepted when its reader's **own best reading** reaches the field's threshold given the chain (the
order never picks another reading); a field accepted on its own whose reading the chain makes unlikely (out of
order between sure neighbours) goes to review.

An ordered field after the first one in a line (the time after the date, in the main courante) is ordered among
the lines whose earlier ordered fields are certain: its key is the tuple (date, time), compared as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from papier.checks import parse_date

# Weight of a pair of consecutive lines out of journal order (see the module docstring). A line written late is
# rare but real; the weight need not be small, because in a bracket of a few days the readings the reader
# hesitates between (04 or 09 for the month, 1 or 7 for a day) fall outside it, and then even 2 % settles them.
ORDER_PRIOR = 0.02


def sort_key(value: str, semantic: str | None) -> str | None:
    """A string that sorts like the moment `value` stands for (None: not a valid date or time)."""
    if semantic == "time_hhmm":
        return value if len(value) == 4 and value.isdigit() else None
    if semantic and semantic.startswith("date_"):
        d = parse_date(value, semantic)
        return None if d is None else d.isoformat()
    return None


@dataclass(frozen=True)
class Cell:
    """One line's ordered field."""
    prefix: tuple[str, ...] | None  # sort keys of the line's earlier ordered fields (None: one is not certain)
    # the reader's valid readings with their shares, best first (papier.digits.field.DigitFieldResult.candidates);
    # () keeps the line out of the chain (nothing written, an unsure box...)
    candidates: tuple[tuple[str, float], ...] = ()


def _order_weights(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) weights between the readings of two consecutive lines, given their keys ("": the
    unlisted reading, in order with anything)."""
    out_of_order = (b[None, :] < a[:, None]) & (a != "")[:, None] & (b != "")[None, :]
    return np.where(out_of_order, ORDER_PRIOR, 1.0)


def _keys(c: Cell, semantic: str | None) -> np.ndarray:
    """The sort keys of a cell's readings and of its unlisted reading (last, ""), each the line's prefix and the
    reading's key joined by "|": every position has one width in a chain (an ISO date, hhmm), so the joined
    strings sort like the tuples."""
    prefix = c.prefix or ()
    keys = []
    for value, _ in c.candidates:
        k = sort_key(value, semantic)
        keys.append("" if k is None else "|".join(prefix + (k,)))
    return np.array(keys + [""])


def posteriors(cells: Sequence[Cell], semantic: str | None) -> list[float | None]:
    """For each cell in the chain, the probability that its reader's best reading is right given the journal
    order; None for cells outside the chain (no candidates, earlier ordered field not certain) or alone in it."""
    chain = [i for i, c in enumerate(cells) if c.prefix is not None and c.candidates]
    out: list[float | None] = [None] * len(cells)
    if len(chain) < 2:
        return out
    keys = [_keys(cells[i], semantic) for i in chain]
    shares = []
    for i in chain:
        ps = [share for _, share in cells[i].candidates]
        shares.append(np.asarray(ps + [max(0.0, 1.0 - sum(ps))], np.float64))  # the unlisted reading last
    n = len(chain)
    links = [_order_weights(keys[j], keys[j + 1]) for j in range(n - 1)]
    fwd = [shares[0] / shares[0].sum()]
    for j in range(1, n):
        f = shares[j] * (fwd[-1] @ links[j - 1])
        fwd.append(f / f.sum())
    bwd = [np.ones(len(shares[-1]))]
    for j in range(n - 2, -1, -1):
        b = links[j] @ (shares[j + 1] * bwd[0])
        bwd.insert(0, b / b.sum())
    for j, i in enumerate(chain):
        m = fwd[j] * bwd[j]
        total = m.sum()
        if total > 0:
            out[i] = float(m[0] / total)
    return out


def verdicts(prefixes: Sequence[tuple[str, ...] | None], results: Sequence[Any], semantic: str | None,
             threshold: float) -> list[tuple[str, float] | None]:
    """What the order changes, per line: ("auto", p) for a field in review whose reader's best reading reaches
    its threshold given the chain, ("review", p) for an accepted field the chain makes unlikely (below its
    threshold), None for no change. A field's threshold is `threshold`, or the stricter one its reading was held
    to when it overrules the reader (DigitFieldResult.threshold). `results`: the reader's DigitFieldResult of each
    line's field (None: not read); only fields accepted on their own or in review only for a low confidence or a
    close rival join the chain. `prefixes`: Cell.prefix of each line."""
    cells = [Cell(p, r.candidates if r is not None and (r.status == "auto" or r.uncertain_only) else ())
             for p, r in zip(prefixes, results)]
    out: list[tuple[str, float] | None] = []
    for post, r in zip(posteriors(cells, semantic), results):
        need = threshold if r is None else max(threshold, r.threshold)
        if post is not None and r.status == "review" and post >= need:
            out.append(("auto", post))
        elif post is not None and r.status == "auto" and post < need:
            out.append(("review", post))
        else:
            out.append(None)
    return out
