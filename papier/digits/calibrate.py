"""Calibration (called by train.py): softmax temperature and the auto-accept threshold, then held-out scores.

Only the calibration digits (papier.digits.data.calibration_indices, never trained on) are used to choose
anything. The held-out test digits are read once at the end to report figures; nothing is tuned on them.
"""

from __future__ import annotations

import time

import numpy as np

from papier.digits import data as D
from papier.digits.evaluate import (FIELD_KINDS, box_stats, field_stats, read_pool, render_pool, roster,
                                    simulate_fields)
from papier.digits.model import MODEL_FILE, load_model, softmax
from papier.digits.policy import AUTO_ACCEPT_FLOOR
from papier.digits.render import PROFILES

CAL_SEED = 777
TEST_SEED = 4242
CAL_COPIES = 2
CAL_FIELDS_PER_KIND = 2000
TARGET_ERROR = 1e-3
GRID = (0.99, 0.995, 0.997, 0.998, 0.999, 0.9995, 0.9998, 0.9999, 0.99995, 0.99999)


def _nll(logits: np.ndarray, y: np.ndarray, T: float) -> float:
    p = softmax(logits[:, :10].astype(np.float64) / T)
    return float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)))


def _upper_bound(errors: int, n: int, conf: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of an error rate."""
    if n == 0:
        return 1.0
    from scipy.stats import beta

    return float(beta.ppf(conf, errors + 1, n - errors)) if errors < n else 1.0


def _pools(idx: np.ndarray, seed: int, copies: int, temperature: float | None):
    images, labels = D.load_handwriting()
    pools = {}
    for k, prof in enumerate(PROFILES):
        crops, targets = render_pool(images[idx], labels[idx], prof, seed + k, copies=copies, n_blank=150,
                                     n_mark=150)
        pools[prof] = read_pool(crops, targets, prof, temperature)
    return pools


def run() -> dict:
    t0 = time.time()
    # 1. temperature on the calibration digits
    cal = _pools(D.calibration_indices(), CAL_SEED, CAL_COPIES, 1.0)
    lg = np.concatenate([p.logits for p in cal.values()])
    tg = np.concatenate([p.targets for p in cal.values()])
    st = np.concatenate([[r.state for r in p.readings] for p in cal.values()])
    sel = (tg >= 0) & (tg < 10) & (st == "digit")
    temps = np.round(np.arange(0.5, 3.01, 0.05), 2)
    nll = [_nll(lg[sel], tg[sel], T) for T in temps]
    T = float(temps[int(np.argmin(nll))])
    with np.load(MODEL_FILE) as d:
        params = {k: d[k] for k in d.files}
    params["temperature"] = np.array(T, np.float32)
    np.savez_compressed(MODEL_FILE, **params)
    load_model.cache_clear()
    print(f"temperature {T} (nll {min(nll):.4f} vs {nll[list(temps).index(1.0)]:.4f} at T=1)")
    cal = {k: p.with_temperature(T) for k, p in cal.items()}

    # 2. field threshold on calibration fields
    rng = np.random.default_rng(CAL_SEED)
    known = roster(rng)
    outcomes = []
    for prof, pool in cal.items():
        for kind in FIELD_KINDS:
            outcomes += simulate_fields(pool, kind, CAL_FIELDS_PER_KIND, rng, threshold=0.0,
                                        known=known if kind == "famille_luhn5" else None)
    conf = np.array([o.result.confidence for o in outcomes])
    ok_other = np.array([o.result.status == "auto" for o in outcomes])  # no problem other than confidence
    correct = np.array([o.correct for o in outcomes])
    table = []
    chosen = None
    for thr in GRID:
        acc = ok_other & (conf >= thr)
        n, e = int(acc.sum()), int((acc & ~correct).sum())
        ub = _upper_bound(e, n)
        table.append({"threshold": thr, "accepted": n, "errors": e, "accept_rate": round(n / len(conf), 4),
                      "error_upper_95": round(ub, 6)})
        if chosen is None and ub < TARGET_ERROR:
            chosen = thr
    if chosen is None:
        chosen = GRID[-1]
    chosen = max(chosen, AUTO_ACCEPT_FLOOR)
    print(f"threshold {chosen}: " + str(next(r for r in table if r["threshold"] == chosen)))
    record = {
        "temperature": {"value": T, "fitted_on": f"{int(sel.sum())} calibration digit crops (all profiles)",
                        "nll": round(min(nll), 4)},
        "calibration_boxes": {k: box_stats(p) for k, p in cal.items()},
        "threshold": {
            "value": chosen,
            "how": (f"lowest confidence on the grid whose accepted calibration fields have a one-sided 95 % "
                    f"Clopper-Pearson upper bound of the error rate below {TARGET_ERROR}; "
                    f"{len(conf)} calibration fields ({', '.join(FIELD_KINDS)}; {CAL_FIELDS_PER_KIND} per kind "
                    f"and profile; profiles {', '.join(PROFILES)}) built from {CAL_COPIES} renderings of the "
                    f"{len(D.calibration_indices())} calibration digits"),
            "grid": table,
        },
    }
    # 3. held-out test figures (nothing chosen here)
    record["heldout"] = heldout_report(chosen, T)
    record["calibration_seconds"] = round(time.time() - t0)
    return record


def heldout_report(threshold: float, temperature: float | None = None, fields_per_kind: int = 1000,
                   copies: int = 1) -> dict:
    test = _pools(D.heldout_indices(), TEST_SEED, copies, temperature)
    rng = np.random.default_rng(TEST_SEED)
    known = roster(rng)
    out = {}
    for prof, pool in test.items():
        res = {"boxes": box_stats(pool)}
        allf = []
        for kind in FIELD_KINDS:
            o = simulate_fields(pool, kind, fields_per_kind, rng, threshold,
                                known=known if kind == "famille_luhn5" else None)
            res[kind] = field_stats(o)
            allf += o
        res["all_fields"] = field_stats(allf)
        out[prof] = res
        print(prof, "box acc %.4f" % res["boxes"]["accuracy"], "auto %.3f" % res["all_fields"]["auto_rate"],
              "silent", res["all_fields"]["silent_errors"])
    return out
