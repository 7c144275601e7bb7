"""Where a page's reading time goes: milliseconds per page for each stage of scan_ingest.read, one process.

    python bench/bench_stages.py [--pages 40] [--profile scanner_200] [--out DIR]

Simulates N filled pages (papier.simulate, one PDF), then reads each page with scan_ingest.read.read_page in this
process (one thread for OpenCV, as in a worker) with wall-clock timers around the stages (the functions are
wrapped here, the pipeline is not changed): decode, identify (QR), align (markers), warp, marks (bubbles, ink in
writing zones), digit boxes (crops + preprocessing + network), digit decisions (beam search, checks, page total),
snippets (encode + write), and the rest (marks and ink in writing zones, the evidence file, page checks). The "× decode" column is what bench_scan's "× decode time" means.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _timed(mod, name: str, bucket: str, acc: dict[str, float]) -> None:
    fn = getattr(mod, name)

    def wrapper(*a, **kw):
        t0 = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            acc[bucket] += time.perf_counter() - t0

    setattr(mod, name, wrapper)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--profile", default="scanner_200")
    ap.add_argument("--out", default=None, help="keep the work here (default: a temporary folder)")
    args = ap.parse_args(argv)

    import cv2

    cv2.setNumThreads(1)
    from papier.kit import build_kit
    from papier.simulate import simulate_batch
    from scan_ingest import read as R
    from scan_ingest.pipeline import default_period
    from scan_ingest.sources import close_cached_pdf, list_pages

    with tempfile.TemporaryDirectory(prefix="bench_stages_") as tmp:
        work = Path(args.out) if args.out else Path(tmp)
        kit = work / "kit"
        if not (kit / "layout.json").exists():
            build_kit(kit, pages_per_register=4, kit_id="BENCHKIT")
        scans = work / f"scans_{args.profile}"
        if not scans.exists():
            simulate_batch(kit, scans, profile=args.profile, n_pages=args.pages, seed=7, fmt="pdf")
        pdf = next(p for p in scans.iterdir() if p.suffix == ".pdf")
        refs = list(list_pages("bench", str(pdf)))

        acc: dict[str, float] = defaultdict(float)
        for mod, name, bucket in ((R, "load_page", "decode"), (R, "identify", "identify (QR)"),
                                  (R, "align", "align (markers)"), (R, "warp", "warp"),
                                  (R, "_read_all_digits", "digit boxes"), (R, "_digits_result", "digit decisions"),
                                  (R, "_joint_totals", "digit decisions"), (R, "_snippet", "snippets (encode + write)")):
            _timed(mod, name, bucket, acc)
        ctx = R.ReadContext(files_dir=str(work / "files"), rel_prefix="files",
                            period=tuple(d.isoformat() for d in default_period()))  # type: ignore[arg-type]
        R.read_page(refs[0], ctx)  # warm-up: model load, first-call costs
        acc.clear()
        t0 = time.perf_counter()
        for ref in refs[1:]:
            R.read_page(ref, ctx)
        total = time.perf_counter() - t0
        close_cached_pdf()
    n = len(refs) - 1
    known = sum(acc.values())
    rows = sorted(acc.items(), key=lambda kv: -kv[1])
    dec = acc.get("decode", 0.0)
    print(f"{n} pages, profile {args.profile}, one process, one OpenCV thread")
    print(f"{'stage':<28}{'ms/page':>9}{'share':>8}{'x decode':>10}")
    print("-" * 55)
    for k, v in rows:
        print(f"{k:<28}{1000 * v / n:>9.1f}{v / total:>8.0%}{v / dec if dec else 0:>10.1f}")
    rest = total - known
    print(f"{'marks, ink, evidence, rest':<28}{1000 * rest / n:>9.1f}{rest / total:>8.0%}{rest / dec if dec else 0:>10.1f}")
    print(f"{'total':<28}{1000 * total / n:>9.1f}{1:>8.0%}{total / dec if dec else 0:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
