"""Readers' card numbers read with the kit's readers' list: which threshold is safe for them?

The known-set threshold class (papier.digits.policy.AUTO_ACCEPT_CONFIDENCE_KNOWN) was chosen on dates written
during the crisis (a set of a few hundred dates). A card number read against a readers' list also has a known set
and no check digit, but a different set: 1,200 sequential cards of 5,000 issued, 3 % of the cards
written are new ones one digit off the list (papier.digits.evaluate.readers / field_value). This measures, without
changing anything:

1. on calibration digits (24 renderings of the 800 calibration digits, as calibrate.py): card fields at every
   confidence of calibrate.GRID — accepted, wrong, one-sided 95 % upper bound — and the threshold calibrate.py's
   rule would give this kind alone;
2. on held-out digits (6 renderings of the 1,000 held-out digits, `--seed`: which renderings): card fields at
   the known-set threshold and at the threshold the policy gives them (papier.digits.policy.threshold_class:
   the unchecked one, chosen in session 12 after three held-out draws), accepted and silent errors per profile.

Usage: python bench/bench_card_numbers.py [--fields N] [--heldout-fields N] [--seed S]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from papier.digits import data as D  # noqa: E402
from papier.digits.calibrate import (CAL_COPIES, CAL_SEED, HELDOUT_COPIES, MARGIN, TEST_SEED, _choose,  # noqa: E402
                                     _pools)
from papier.digits.evaluate import readers, simulate_fields  # noqa: E402
from papier.digits.policy import AUTO_ACCEPT_CONFIDENCE_KNOWN, auto_accept_threshold  # noqa: E402

KIND = "carte_lecteur"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fields", type=int, default=4000, help="calibration card fields per profile")
    ap.add_argument("--heldout-fields", type=int, default=1000, help="held-out card fields per profile")
    ap.add_argument("--seed", type=int, default=TEST_SEED, help="renderings of the held-out digits")
    a = ap.parse_args(argv)
    card_threshold = auto_accept_threshold(None, True, None)  # a listed number without a check digit

    cal = _pools(D.calibration_indices(), CAL_SEED, CAL_COPIES, None)
    rng = np.random.default_rng(CAL_SEED + 1)
    cards = readers(rng)
    outcomes = []
    for pool in cal.values():
        outcomes += simulate_fields(pool, KIND, a.fields, rng, threshold=0.0, known=cards)
    ch = _choose(outcomes, MARGIN)
    print(f"calibration digits: {len(outcomes)} card fields ({a.fields} per profile x {len(cal)} profiles), "
          f"{sum(o.truth not in cards for o in outcomes)} of them new cards off the list")
    print(f"{'confidence':>11}{'accepted':>10}{'rate':>8}{'wrong':>7}{'upper 95 %':>12}")
    for row in ch["grid"]:
        mark = ("  <- known-set threshold (dates)" if row["threshold"] == AUTO_ACCEPT_CONFIDENCE_KNOWN
                else "  <- card numbers' threshold" if row["threshold"] == card_threshold else "")
        print(f"{row['threshold']:>11}{row['accepted']:>10}{row['accept_rate']:>8.1%}{row['errors']:>7}"
              f"{row['error_upper_95']:>12.6f}{mark}")
    print(f"calibrate.py's rule (upper bound < 1/1,000, measured <= {MARGIN} of it) on card fields alone: "
          f"{ch['value']}")

    test = _pools(D.heldout_indices(), a.seed, HELDOUT_COPIES, None)
    rng = np.random.default_rng(a.seed + 1)
    cards = readers(rng)
    thresholds = (AUTO_ACCEPT_CONFIDENCE_KNOWN, card_threshold)
    print()
    print(f"held-out digits (renderings seed {a.seed}), card fields accepted / silent errors at each threshold:")
    print(f"{'profile':<18}{'fields':>7}" + "".join(f"{t:>16}" for t in thresholds))
    total: dict[float, list] = {t: [] for t in thresholds}
    for prof, pool in test.items():
        o = simulate_fields(pool, KIND, a.heldout_fields, rng, 0.0, known=cards)
        cells = ""
        for t in thresholds:
            acc = [x for x in o if x.result.status == "auto" and x.result.confidence >= t]
            total[t] += acc
            cells += f"{len(acc) / len(o):>10.1%} / {sum(not x.correct for x in acc):<3}"
        print(f"{prof:<18}{len(o):>7}{cells}")
    n = a.heldout_fields * len(test)
    print(f"{'all':<18}{n:>7}" + "".join(f"{len(total[t]) / n:>10.1%} / {sum(not x.correct for x in total[t]):<3}"
                                          for t in thresholds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
