"""Benchmark of the handwritten digit reader on held-out digits (never trained on, never tuned on).

For each capture profile, the 1,000 held-out MNIST digits are written into synthetic comb boxes (plus blank boxes
and struck-out digits / stray marks), degraded, and read with papier.digits.read_boxes. Box readings of real digits
are then assembled into digit fields — 5-digit family numbers with a Luhn digit (checked against a 700-family
roster), 6-box amounts in cents (right-aligned or zero-padded), dates ddmmyy, times hhmm, EAN-13 barcodes — and
decided with papier.digits.read_digit_field. Reported per profile: box accuracy, auto-accept rate, silent errors
(auto-accepted and wrong), review rate; journal pages of recent dates read with the journal order
(papier.digits.journal); then read_boxes timing on a page of 250 boxes.

Usage: .venv/bin/python bench/bench_digits.py [--fields N] [--json out.json]
Targets (issue 4): zero silent errors on >= 3,000 fields; >= 85 % auto-accepted on scanner profiles, >= 70 % on
photos.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from papier.digits import heldout_indices, load_handwriting, read_boxes  # noqa: E402
from papier.digits.evaluate import (FIELD_KINDS, box_stats, catalogue, field_stats, known_for, read_pool,  # noqa: E402
                                    readers, render_pool, roster, simulate_fields, simulate_journals)
from papier.digits.policy import (AUTO_ACCEPT_CONFIDENCE, AUTO_ACCEPT_CONFIDENCE_KNOWN,  # noqa: E402
                                  AUTO_ACCEPT_CONFIDENCE_UNCHECKED)
from papier.digits.render import PROFILES  # noqa: E402

SEED = 9090
LABELS_FR = {"clean300": "propre 300 dpi", "scanner200": "scanner 200 dpi", "jpeg150": "150 dpi + JPEG",
             "photocopy": "photocopie", "fax": "fax", "photo": "photo téléphone"}


def timing(n_boxes: int = 250, repeats: int = 7) -> dict:
    images, labels = load_handwriting()
    idx = heldout_indices()
    crops, _ = render_pool(images[idx[:n_boxes]], labels[idx[:n_boxes]], "scanner200", SEED)
    half = crops.copy()
    rng = np.random.default_rng(SEED)
    blank_crops, _ = render_pool(images[:0], labels[:0], "scanner200", SEED + 1, n_blank=n_boxes)
    sel = rng.uniform(size=n_boxes) < 0.5
    half[sel] = blank_crops[sel]
    out = {}
    for name, batch in (("all_written", crops), ("half_blank", half)):
        read_boxes(list(batch))
        ts = []
        for _ in range(repeats):
            t = time.perf_counter()
            read_boxes(list(batch))
            ts.append(time.perf_counter() - t)
        out[name] = {"boxes": n_boxes, "median_ms": round(1000 * float(np.median(ts)), 1),
                     "min_ms": round(1000 * min(ts), 1)}
    return out


def run(fields_per_kind: int = 200, journal_pages: int = 250) -> dict:
    images, labels = load_handwriting()
    idx = heldout_indices()
    rng = np.random.default_rng(SEED)
    known, documents, cards = roster(rng), catalogue(rng), readers(rng)
    res: dict = {"threshold": {"checked": AUTO_ACCEPT_CONFIDENCE, "known": AUTO_ACCEPT_CONFIDENCE_KNOWN,
                               "unchecked": AUTO_ACCEPT_CONFIDENCE_UNCHECKED},
                 "profiles": {}}
    total = []
    for k, prof in enumerate(PROFILES):
        crops, targets = render_pool(images[idx], labels[idx], prof, SEED + k, n_blank=200, n_mark=200)
        pool = read_pool(crops, targets, prof)
        outs = []
        per_kind = {}
        for kind in FIELD_KINDS:
            o = simulate_fields(pool, kind, fields_per_kind, rng, None,
                                known=known_for(kind, known, documents, cards))
            per_kind[kind] = field_stats(o)
            outs += o
        total += outs
        journals = simulate_journals(pool, journal_pages, rng)
        res["profiles"][prof] = {"boxes": box_stats(pool), "fields": field_stats(outs), "by_kind": per_kind,
                                 "journal": {k: field_stats(v) for k, v in journals.items()}}
    res["all"] = field_stats(total)
    res["timing"] = timing()
    return res


def print_table(res: dict) -> None:
    th = {k: ("never" if v == float("inf") else v) for k, v in res["threshold"].items()}
    print(f"Digit reader on held-out digits (auto-accept thresholds: {th['checked']} with a check digit, "
          f"{th['known']} with a known set only, {th['unchecked']} without)")
    hdr = (f"{'profile':<17}{'box acc':>8}{'blank ok':>9}{'marks→?':>9}{'fields':>7}{'auto':>7}"
           f"{'silent':>7}{'err/auto':>9}{'review':>8}")
    print(hdr)
    print("-" * len(hdr))
    for prof, r in res["profiles"].items():
        b, f = r["boxes"], r["fields"]
        print(f"{LABELS_FR.get(prof, prof):<17}{b['accuracy']:>8.2%}{b.get('blank_read_blank', 0):>9.1%}"
              f"{b.get('mark_read_unsure_or_blank', 0):>9.1%}{f['fields']:>7}{f['auto_rate']:>7.1%}"
              f"{f['silent_errors']:>7}{f['error_among_auto']:>9.4f}{f['review_rate']:>8.1%}")
    a = res["all"]
    print(f"{'all':<17}{'':>8}{'':>9}{'':>9}{a['fields']:>7}{a['auto_rate']:>7.1%}{a['silent_errors']:>7}"
          f"{a['error_among_auto']:>9.4f}{a['review_rate']:>8.1%}")
    print()
    print("second view where a stroke may lie along a printed line (papier.digits.preprocess, step 5):")
    print(f"{'profile':<17}{'has one':>9}{'2 readings | 1st right':>24}{'2 readings | 1st wrong':>24}")
    for prof, r in res["profiles"].items():
        b = r["boxes"]
        if "second_view" in b:
            wrong = ("-" if b["two_readings_if_wrong"] is None
                     else f"{b['two_readings_if_wrong']:.1%} of {b['first_wrong']}")
            print(f"{LABELS_FR.get(prof, prof):<17}{b['second_view']:>9.1%}{b['two_readings_if_right']:>24.2%}"
                  f"{wrong:>24}")
    print()
    print("auto-accept rate by field kind:")
    kinds = FIELD_KINDS
    print(f"{'profile':<17}" + "".join(f"{k:>15}" for k in kinds))
    for prof, r in res["profiles"].items():
        print(f"{LABELS_FR.get(prof, prof):<17}" + "".join(
            f"{r['by_kind'][k]['auto_rate']:>9.1%} ({r['by_kind'][k]['silent_errors']})" for k in kinds))
    print("(silent errors in brackets; date_recente: a date of a `recent` field, read with the default crisis"
          " period as its known set)")
    print()
    print("journal pages (12 recent dates a page, 3 % of the lines written late), papier.digits.journal:")
    print(f"{'profile':<17}{'dates':>7}{'alone':>8}{'order':>8}{'silent':>7}{'late':>6}{'late ok':>8}{'late err':>9}")
    for prof, r in res["profiles"].items():
        j = r["journal"]
        print(f"{LABELS_FR.get(prof, prof):<17}{j['alone']['fields']:>7}{j['alone']['auto_rate']:>8.1%}"
              f"{j['order']['auto_rate']:>8.1%}{j['order']['silent_errors']:>7}{j['late']['fields']:>6}"
              f"{j['late']['auto']:>8}{j['late']['silent_errors']:>9}")
    print("(alone: accepted field by field with the crisis period; order: then with the journal order; late ok:"
          " late lines accepted, all of them right unless counted in late err)")
    t = res["timing"]
    print()
    print(f"read_boxes, {t['all_written']['boxes']} boxes: all written {t['all_written']['median_ms']} ms "
          f"(min {t['all_written']['min_ms']}), half blank {t['half_blank']['median_ms']} ms")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fields", type=int, default=200, help="fields per kind and profile")
    ap.add_argument("--journal-pages", type=int, default=250, help="journal pages per profile")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    res = run(a.fields, a.journal_pages)
    print_table(res)
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
