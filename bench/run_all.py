"""Run every benchmark under bench/ (make bench) and print their tables one after the other."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
ORDER = ["bench_kit.py", "bench_digits.py", "bench_scan.py", "bench_review.py"]


def main() -> int:
    scripts = [HERE / n for n in ORDER if (HERE / n).exists()]
    scripts += sorted(p for p in HERE.glob("bench_*.py") if p.name not in ORDER)
    failed = []
    for s in scripts:
        print(f"\n=== {s.name} ===", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(s), *sys.argv[1:]])
        print(f"--- {s.name}: {time.perf_counter() - t0:.1f} s, exit {rc}", flush=True)
        if rc:
            failed.append(s.name)
    if failed:
        print("FAILED:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
