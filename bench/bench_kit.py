"""Benchmark: build the default emergency kit (recipe print_kits/commune.toml, 700 sample families, the sample
catalogue) and print a table: pages, seconds, MB. Targets: under 10 s on a 2-core machine, PDF under 5 MB.

    .venv/bin/python bench/bench_kit.py [--runs N] [--pages-per-register N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 10.0
TARGET_MB = 5.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="builds to time (the best and the median are shown)")
    ap.add_argument("--pages-per-register", type=int, default=None)
    args, _ = ap.parse_known_args()

    from papier.kit import build_kit
    from papier.sample_data import sample_catalog, sample_roster

    times, res = [], None
    with tempfile.TemporaryDirectory() as d:
        for i in range(args.runs):
            t0 = time.perf_counter()
            res = build_kit(Path(d) / f"kit{i}", pages_per_register=args.pages_per_register)
            times.append(time.perf_counter() - t0)
        assert res is not None
        mb = res.pdf_path.stat().st_size / 1e6
        layout_mb = res.layout_path.stat().st_size / 1e6
        fillable = len(res.layout["pages"])
        manifest_qr = sum(len(m["qr"]) for m in res.layout["manifest_pages"])
    times.sort()
    median = times[len(times) // 2]
    ok = median < TARGET_S and mb < TARGET_MB
    rows = [
        ("familles (échantillon)", f"{len(sample_roster())}"),
        ("documents du catalogue", f"{len(sample_catalog())}"),
        ("pages du kit", f"{res.page_count}"),
        ("  dont pages de registre", f"{fillable}"),
        ("QR du manifeste", f"{manifest_qr}"),
        ("durée (médiane de %d)" % len(times), f"{median:.2f} s   (cible < {TARGET_S:.0f} s)"),
        ("durée (meilleure)", f"{times[0]:.2f} s"),
        ("taille kit.pdf", f"{mb:.2f} Mo   (cible < {TARGET_MB:.0f} Mo)"),
        ("taille layout.json", f"{layout_mb:.2f} Mo"),
        ("résultat", "OK" if ok else "HORS CIBLE"),
    ]
    w = max(len(a) for a, _ in rows)
    print(f"{'kit par défaut (print_kits/commune.toml)':<{w}} | valeur")
    print("-" * w + "-+-" + "-" * 34)
    for a, b in rows:
        print(f"{a:<{w}} | {b}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
