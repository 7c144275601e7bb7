"""Measuring the reader: real digits rendered into boxes, read, then assembled into realistic digit fields.

Shared by the calibration (calibration digits), the benchmark and the tests (held-out digits). Fields are made of
box readings of real digits of the right label taken from one profile's pool (each box a different rendering),
so many fields can be measured from a few thousand box readings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from papier.checks import ean13_check_digit, luhn_check_digit
from papier.digits.field import DigitFieldResult, decide
from papier.digits.reader import BoxReading, box_logits, readings_from_logits
from papier.digits.render import BLANK, MARK, labelled_crop


@dataclass
class Pool:
    """Box readings of one profile: by true label, plus blanks, plus marks."""
    profile: str
    readings: list[BoxReading]
    targets: np.ndarray
    logits: np.ndarray
    prep: SimpleNamespace  # ink_px, ink, extent of the preprocessing

    def with_temperature(self, temperature: float) -> "Pool":
        return Pool(self.profile, readings_from_logits(self.logits, self.prep, temperature), self.targets,
                    self.logits, self.prep)

    def by_label(self, label: int) -> np.ndarray:
        return np.flatnonzero(self.targets == label)


def render_pool(images: np.ndarray, labels: np.ndarray, profile: str, seed: int, copies: int = 1,
                n_blank: int = 0, n_mark: int = 0, french: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    crops, targets = [], []
    for _ in range(copies):
        for im, lab in zip(images, labels):
            c, t = labelled_crop(rng, profile, im, int(lab), french=french, neighbours=images)
            crops.append(c)
            targets.append(t)
    for _ in range(n_blank):
        c, t = labelled_crop(rng, profile, None, None, mark="blank" if rng.uniform() < 0.8 else "dot")
        crops.append(c)
        targets.append(t)
    for k in range(n_mark):
        j = rng.integers(len(labels))
        mark = "crossed" if k % 2 == 0 else str(rng.choice(["dash", "tick", "curve"]))
        c, t = labelled_crop(rng, profile, images[j], int(labels[j]), mark=mark)
        crops.append(c)
        targets.append(t)
    return np.stack(crops), np.array(targets)


def read_pool(crops: np.ndarray, targets: np.ndarray, profile: str, temperature: float | None = None,
              batch: int = 500) -> Pool:
    logits, readings, preps = [], [], []
    for i in range(0, len(crops), batch):
        lg, P = box_logits(list(crops[i:i + batch]))
        logits.append(lg)
        preps.append(P)
        readings.extend(readings_from_logits(lg, P, temperature))
    prep = SimpleNamespace(**{k: np.concatenate([getattr(P, k) for P in preps]) for k in ("ink_px", "ink", "extent")})
    return Pool(profile, readings, targets, np.concatenate(logits), prep)


def box_stats(pool: Pool) -> dict:
    digits = pool.targets >= 0
    digits &= pool.targets < 10
    st = np.array([r.state for r in pool.readings])
    pred = np.array([r.digit for r in pool.readings])
    d = digits
    out = {
        "digits": int(d.sum()),
        "accuracy": float(np.mean((st[d] == "digit") & (pred[d] == pool.targets[d]))) if d.any() else None,
        "accuracy_if_digit": float(np.mean(pred[d & (st == "digit")] == pool.targets[d & (st == "digit")]))
        if (d & (st == "digit")).any() else None,
        "digit_read_blank": float(np.mean(st[d] == "blank")) if d.any() else None,
        "digit_read_unsure": float(np.mean(st[d] == "unsure")) if d.any() else None,
    }
    b = pool.targets == BLANK
    if b.any():
        out["blank_read_blank"] = float(np.mean(st[b] == "blank"))
    m = pool.targets == MARK
    if m.any():
        out["mark_read_unsure_or_blank"] = float(np.mean(st[m] != "digit"))
    return out


# --- fields ------------------------------------------------------------------------------------------------------

FIELD_KINDS = ("famille_luhn5", "montant6", "date_ddmmyy", "heure", "ean13")
CHECKED_KINDS = ("famille_luhn5", "ean13")
OUTAGE_START = dt.date(2020, 11, 18)
OUTAGE_DAYS = 90


def outage_window() -> frozenset[str]:
    """The dates of a 90-day outage as ddmmyy: what a date field of a register filled during it may hold."""
    return frozenset((OUTAGE_START + dt.timedelta(days=i)).strftime("%d%m%y") for i in range(OUTAGE_DAYS))


FIELD_SPECS = {  # kind: (semantic, check)
    "famille_luhn5": (None, "luhn"),
    "montant6": ("amount_cents", None),
    "date_ddmmyy": ("date_ddmmyy", None),
    "heure": ("time_hhmm", None),
    "ean13": (None, "ean13"),
    "date_fenetre": ("date_ddmmyy", None),
}


def roster(rng: np.random.Generator, n: int = 700) -> frozenset[str]:
    """A roster of n family numbers (4 digits + Luhn digit), like the one printed in the kit."""
    out: set[str] = set()
    while len(out) < n:
        p = f"{rng.integers(1000, 10000):04d}"
        out.add(p + luhn_check_digit(p))
    return frozenset(out)


def field_value(kind: str, rng: np.random.Generator, known: frozenset[str] | None = None) -> tuple[str, str]:
    """(true value, written boxes) where blanks are ' ' (amounts are right-aligned, sometimes zero-padded)."""
    if kind == "famille_luhn5":
        v = sorted(known)[rng.integers(len(known))] if known else None
        if v is None:
            p = f"{rng.integers(0, 10000):04d}"
            v = p + luhn_check_digit(p)
        return v, v
    if kind == "montant6":
        cents = int(rng.choice([rng.integers(100, 5000), rng.integers(100, 30000), rng.integers(1000, 200000)]))
        s = str(cents)
        if rng.uniform() < 0.3:
            return s.rjust(6, "0"), s.rjust(6, "0")
        return s, s.rjust(6, " ")
    if kind == "date_fenetre":  # a date inside the outage window (the pipeline may pass the window as `known`)
        d = OUTAGE_START + dt.timedelta(days=int(rng.integers(0, OUTAGE_DAYS)))
        v = d.strftime("%d%m%y")
        return v, v
    if kind == "date_ddmmyy":
        d = dt.date(2020, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 7)))
        v = d.strftime("%d%m%y")
        return v, v
    if kind == "heure":
        v = f"{rng.integers(0, 24):02d}{rng.integers(0, 60):02d}"
        return v, v
    if kind == "ean13":
        p = "978" + "".join(str(d) for d in rng.integers(0, 10, 9))
        v = p + ean13_check_digit(p)
        return v, v
    raise ValueError(kind)


@dataclass
class FieldOutcome:
    kind: str
    truth: str
    result: DigitFieldResult

    @property
    def correct(self) -> bool:
        return self.result.value == self.truth


def simulate_fields(pool: Pool, kind: str, n: int, rng: np.random.Generator, threshold: float | None,
                    known: frozenset[str] | None = None) -> list[FieldOutcome]:
    idx_by = {d: pool.by_label(d) for d in range(10)}
    blanks = pool.by_label(BLANK)
    semantic, check = FIELD_SPECS[kind]
    out = []
    for _ in range(n):
        truth, boxes = field_value(kind, rng, known)
        rs = []
        for ch in boxes:
            if ch == " ":
                rs.append(pool.readings[blanks[rng.integers(len(blanks))]] if len(blanks)
                          else BoxReading("blank", np.full(10, 0.1), 0.0))
            else:
                ids = idx_by[int(ch)]
                rs.append(pool.readings[ids[rng.integers(len(ids))]])
        res = decide(rs, semantic=semantic, check=check, known=known, threshold=threshold)
        out.append(FieldOutcome(kind, truth, res))
    return out


def field_stats(outcomes: list[FieldOutcome]) -> dict:
    n = len(outcomes)
    acc = [o for o in outcomes if o.result.status == "auto"]
    wrong = [o for o in acc if not o.correct]
    return {"fields": n, "auto": len(acc), "auto_rate": len(acc) / n if n else 0.0,
            "silent_errors": len(wrong), "error_among_auto": len(wrong) / len(acc) if acc else 0.0,
            "review_rate": 1 - len(acc) / n if n else 0.0,
            "correct_rate": sum(o.correct for o in outcomes) / n if n else 0.0}
