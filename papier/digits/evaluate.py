"""Measuring the reader: real digits rendered into boxes, read, then assembled into realistic digit fields.

Shared by the calibration (calibration digits), the benchmark and the tests (held-out digits). Fields are made of
box readings of real digits of the right label taken from one profile's pool (each box a different rendering),
so many fields can be measured from a few thousand box readings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from types import SimpleNamespace

import numpy as np

from papier.checks import ean13_check_digit, luhn_check_digit
from papier.digits import journal, policy
from papier.digits.field import DigitFieldResult, decide
from papier.digits.preprocess import Prepared
from papier.digits.reader import BoxReading, box_logits, readings_from_logits
from papier.digits.render import BLANK, MARK, labelled_crop
from papier.sample_data import N_READERS, READER_CARDS_ISSUED, reader_card
from papier.simulate.values import LATE_LINE_SHARE, near_outside


# what a pool keeps of papier.digits.preprocess.Prepared to re-read its boxes at another temperature: every
# per-crop measure, not the 28 x 28 images (nor the second views: their logits are kept, alt_logits)
PREP_MEASURES = tuple(f.name for f in fields(Prepared) if f.name not in ("images", "alt_images"))


@dataclass
class Pool:
    """Box readings of one profile: by true label, plus blanks, plus marks."""
    profile: str
    readings: list[BoxReading]
    targets: np.ndarray
    logits: np.ndarray
    prep: SimpleNamespace  # the preprocessing's per-crop measures (PREP_MEASURES)

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
    prep = SimpleNamespace(**{k: np.concatenate([getattr(P, k) for P in preps]) for k in PREP_MEASURES})
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
    # the second view (a stroke along a printed line kept as ink, papier.digits.preprocess step 5): how often it
    # exists, and how often it gives the box two readings when the first view alone is right / wrong
    w = d & (st != "blank")
    first_right = pool.logits[:, :10].argmax(axis=1) == pool.targets
    two = np.array([r.along_line for r in pool.readings], bool)
    if w.any():
        out["second_view"] = float(np.mean(pool.prep.alt[w]))
        out["two_readings_if_right"] = float(np.mean(two[w & first_right])) if (w & first_right).any() else None
        out["two_readings_if_wrong"] = float(np.mean(two[w & ~first_right])) if (w & ~first_right).any() else None
        out["first_wrong"] = int((w & ~first_right).sum())
    b = pool.targets == BLANK
    if b.any():
        out["blank_read_blank"] = float(np.mean(st[b] == "blank"))
    m = pool.targets == MARK
    if m.any():
        out["mark_read_unsure_or_blank"] = float(np.mean(st[m] != "digit"))
    return out


# --- fields ------------------------------------------------------------------------------------------------------

FIELD_KINDS = ("famille_luhn5", "montant6", "date_ddmmyy", "date_recente", "heure", "ean13", "carte_lecteur")


def threshold_class(kind: str) -> str:
    """The policy's threshold class of this kind of field, from its check digit and whether the pipeline reads
    it with a known set (known_for)."""
    semantic, check = FIELD_SPECS[kind]
    return policy.threshold_class(check, known_for(kind, frozenset(), frozenset(), frozenset()) is not None, semantic)


# "date_recente": a date written during the crisis (a `recent` field), read with the pipeline's default crisis
# period (scan_ingest.pipeline.default_period: PERIOD_BEFORE_DAYS before the reading day to PERIOD_AFTER_DAYS
# after) as its known set; the dates themselves fall in the last RECENT_DAYS before the reading day.
READING_DAY = dt.date(2026, 11, 22)
RECENT_DAYS = 90


def crisis_period() -> frozenset[str]:
    """The known set of a `recent` ddmmyy date read on READING_DAY with the default period."""
    from papier.checks import dates_between
    from papier.digits.policy import PERIOD_AFTER_DAYS, PERIOD_BEFORE_DAYS

    return dates_between(READING_DAY - dt.timedelta(days=PERIOD_BEFORE_DAYS),
                         READING_DAY + dt.timedelta(days=PERIOD_AFTER_DAYS), "date_ddmmyy")


def known_for(kind: str, families: frozenset[str], documents: frozenset[str] | None = None,
              cards: frozenset[str] | None = None) -> frozenset[str] | None:
    """What the pipeline passes as `known` for this kind of field: the roster printed in the kit for family
    numbers, its catalogue for barcodes (the `pret` and `retour` forms), its readers' list for card numbers (`pret`
    v2), the crisis period for recent dates."""
    if kind == "famille_luhn5":
        return families
    if kind == "ean13":
        return documents
    if kind == "carte_lecteur":
        return cards
    return crisis_period() if kind == "date_recente" else None


FIELD_SPECS = {  # kind: (semantic, check)
    "famille_luhn5": (None, "luhn"),
    "montant6": ("amount_cents", None),
    "date_ddmmyy": ("date_ddmmyy", None),
    "heure": ("time_hhmm", None),
    "ean13": (None, "ean13"),
    "date_recente": ("date_ddmmyy", None),
    "carte_lecteur": (None, None),
}


def roster(rng: np.random.Generator, n: int = 700) -> frozenset[str]:
    """A roster of n family numbers (4 digits + Luhn digit), like the one printed in the kit."""
    out: set[str] = set()
    while len(out) < n:
        p = f"{rng.integers(1000, 10000):04d}"
        out.add(p + luhn_check_digit(p))
    return frozenset(out)


def catalogue(rng: np.random.Generator, n: int = 3000) -> frozenset[str]:
    """A library catalogue of n book barcodes (EAN-13, French ISBN prefixes 9782 / 9791), like the kit's."""
    out: set[str] = set()
    while len(out) < n:
        p = ("9782" if rng.uniform() < 0.8 else "9791") + "".join(str(d) for d in rng.integers(0, 10, 8))
        out.add(p + ean13_check_digit(p))
    return frozenset(out)


def readers(rng: np.random.Generator, n: int = N_READERS, issued: int = READER_CARDS_ISSUED) -> frozenset[str]:
    """The card numbers of a library's n readers, like the kit's sample (papier.sample_data.sample_readers): a
    prefix and a sequence number, n of the first `issued` cards (a dense set: one misread digit of the sequence
    often lands on another reader's card)."""
    return frozenset(reader_card(int(q)) for q in rng.choice(np.arange(1, issued + 1), n, replace=False))


# fields with a known set whose written value is outside it: a new family or book one digit away from a printed one
# (papier.simulate.values.near_outside: the hardest case for the known set), a date of the wrong year
OUTSIDE_KNOWN_SHARE = 0.03


@lru_cache(maxsize=8)
def _in_order(known: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(known))


def _known_value(known: frozenset[str], outside: bool, check: str | None, rng: np.random.Generator) -> str:
    """A value of the known set, or (outside) a valid one one slip away from it."""
    return near_outside(known, check, rng) if outside else _in_order(known)[rng.integers(len(known))]


def field_value(kind: str, rng: np.random.Generator, known: frozenset[str] | None = None) -> tuple[str, str]:
    """(true value, written boxes) where blanks are ' ' (amounts are right-aligned, sometimes zero-padded). With a
    known set, OUTSIDE_KNOWN_SHARE of the values are outside it."""
    outside = known is not None and rng.uniform() < OUTSIDE_KNOWN_SHARE
    if kind == "famille_luhn5":
        if known:
            v = _known_value(known, outside, "luhn", rng)
        else:
            p = f"{rng.integers(0, 10000):04d}"
            v = p + luhn_check_digit(p)
        return v, v
    if kind == "montant6":
        cents = int(rng.choice([rng.integers(100, 5000), rng.integers(100, 30000), rng.integers(1000, 200000)]))
        s = str(cents)
        if rng.uniform() < 0.3:
            return s.rjust(6, "0"), s.rjust(6, "0")
        return s, s.rjust(6, " ")
    if kind == "date_recente":
        d = READING_DAY - dt.timedelta(days=int(rng.integers(0, RECENT_DAYS)))
        if outside:  # the wrong year, a slip of one digit: outside the crisis period, right next to it (the
            # dates are the RECENT_DAYS before READING_DAY, late August to November: never a 29 February)
            d = d.replace(year=d.year - int(rng.integers(3, 10)))
        v = d.strftime("%d%m%y")
        return v, v
    if kind == "date_ddmmyy":
        d = dt.date(2020, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 7)))
        v = d.strftime("%d%m%y")
        return v, v
    if kind == "heure":
        v = f"{rng.integers(0, 24):02d}{rng.integers(0, 60):02d}"
        return v, v
    if kind == "carte_lecteur":
        v = _known_value(known, outside, None, rng) if known else reader_card(int(rng.integers(1, 10**5)))
        return v, v
    if kind == "ean13":
        if known:
            v = _known_value(known, outside, "ean13", rng)
        else:
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
        v = self.result.value
        if FIELD_SPECS[self.kind][0] == "amount_cents" and v is not None and v.isdigit():
            return int(v) == int(self.truth)  # 000582 read 00582 is the same amount
        return v == self.truth


class BoxDrawer:
    """Box readings of a pool drawn by true label. Digit crops are drawn without replacement (a fresh shuffle when
    a digit's crops run out): a confidently misread crop then spoils one field per pass over the pool, not one in
    every few (clumped errors made the error counts that choose the thresholds look more precise than they were)."""

    def __init__(self, pool: Pool, rng: np.random.Generator):
        self.pool, self.rng = pool, rng
        self.idx_by = {d: pool.by_label(d) for d in range(10)}
        self.blanks = pool.by_label(BLANK)
        self.order: dict[int, list[int]] = {}

    def digit(self, d: int) -> BoxReading:
        if not self.order.get(d):
            self.order[d] = self.rng.permutation(self.idx_by[d]).tolist()
        return self.pool.readings[self.order[d].pop()]

    def boxes(self, written: str) -> list[BoxReading]:
        """The readings of boxes written like `written` (' ' a blank box)."""
        out = []
        for ch in written:
            if ch != " ":
                out.append(self.digit(int(ch)))
            elif len(self.blanks):
                out.append(self.pool.readings[self.blanks[self.rng.integers(len(self.blanks))]])
            else:
                out.append(BoxReading("blank", np.full(10, 0.1), 0.0))
        return out


def simulate_fields(pool: Pool, kind: str, n: int, rng: np.random.Generator, threshold: float | None,
                    known: frozenset[str] | None = None) -> list[FieldOutcome]:
    draw = BoxDrawer(pool, rng)
    semantic, check = FIELD_SPECS[kind]
    out = []
    for _ in range(n):
        truth, boxes = field_value(kind, rng, known)
        res = decide(draw.boxes(boxes), semantic=semantic, check=check, known=known, threshold=threshold)
        out.append(FieldOutcome(kind, truth, res))
    return out


# --- journal pages (papier.digits.journal) -------------------------------------------------------------------------

JOURNAL_LINES = 12  # dated lines on a journal page (a régie page has 12 payment lines)


def journal_dates(rng: np.random.Generator, lines: int = JOURNAL_LINES) -> tuple[list[str], list[bool]]:
    """The dates of one journal page, as the page simulator writes them (papier.simulate.values.make_values):
    a quarter of the lines a day or two after the line before, LATE_LINE_SHARE of them written late (1-10 days
    before). Returns (ddmmyy values, late flags)."""
    day = READING_DAY - dt.timedelta(days=int(rng.integers(15, RECENT_DAYS)))
    values, late = [], []
    for _ in range(lines):
        if rng.uniform() < 0.25:
            day += dt.timedelta(days=int(rng.integers(1, 3)))
        is_late = rng.uniform() < LATE_LINE_SHARE
        when = day - dt.timedelta(days=int(rng.integers(1, 11))) if is_late else day
        values.append(when.strftime("%d%m%y"))
        late.append(is_late)
    return values, late


def simulate_journals(pool: Pool, pages: int, rng: np.random.Generator) -> dict[str, list[FieldOutcome]]:
    """Journal pages of recent dates, read box by box, decided field by field with the crisis period (as the
    pipeline does), then with the journal order (journal.verdicts). Returns {"alone": [...], "order": [...],
    "late": [...]} (the last: the order's outcomes of the lines written late)."""
    draw = BoxDrawer(pool, rng)
    known = crisis_period()
    threshold = policy.auto_accept_threshold(None, True, "date_ddmmyy")
    out: dict[str, list[FieldOutcome]] = {"alone": [], "order": [], "late": []}
    for _ in range(pages):
        values, late = journal_dates(rng)
        res = [decide(draw.boxes(v), semantic="date_ddmmyy", check=None, known=known) for v in values]
        verdicts = journal.verdicts([()] * len(res), res, "date_ddmmyy", threshold)
        for v, r, verdict, is_late in zip(values, res, verdicts, late):
            out["alone"].append(FieldOutcome("date_recente", v, r))
            if verdict is not None:
                reason = None if verdict[0] == "auto" else "date hors de l'ordre du journal"
                r = replace(r, status=verdict[0], confidence=verdict[1], reason=reason)
            out["order"].append(FieldOutcome("date_recente", v, r))
            if is_late:
                out["late"].append(out["order"][-1])
    return out


def field_stats(outcomes: list[FieldOutcome]) -> dict:
    n = len(outcomes)
    acc = [o for o in outcomes if o.result.status == "auto"]
    wrong = [o for o in acc if not o.correct]
    return {"fields": n, "auto": len(acc), "auto_rate": len(acc) / n if n else 0.0,
            "silent_errors": len(wrong), "error_among_auto": len(wrong) / len(acc) if acc else 0.0,
            "review_rate": 1 - len(acc) / n if n else 0.0,
            "correct_rate": sum(o.correct for o in outcomes) / n if n else 0.0}
