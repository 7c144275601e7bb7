"""Scan pipeline benchmark: per degradation profile, silent errors, review rates, speed, memory.

    python bench/bench_scan.py [--pages N] [--profiles a,b] [--workers 2] [--big 300] [--out DIR]

For each profile: papier.simulate fills and degrades N kit pages (truth.jsonl beside them), `ingest` reads
them into a fresh database (where the kit's manifest pages were scanned first, as staff do: the roster and the
catalogue; `--no-manifest` leaves them out), and every entry is compared with the truth:
- silent error: a field accepted (status auto) whose value differs from what is on the paper, an entry with ink
  on the paper that was not found, or a phantom entry (ink found where the paper has none) with an accepted
  value; a deliberately ambiguous mark that is flagged is fine, accepted with another value is an error;
- review rate of mark fields (choice/multi/checkbox with ink), of the empty mark fields of written lines (a review
  there is a false alarm: "em rev") and, separately, of digit fields, with a table of
  the digit fields accepted and right by what the form knows of them (check digit and list, crisis period,
  nothing: `digit_kind`), which says where the reviews come from;
- pages/s, time as a multiple of merely decoding the same images (same workers), worker/parent peak memory.
`--big N` also measures a single N-page PDF (memory must stay flat): the PDF is simulated in this process, the
ingest runs alone in a fresh Python process that reports its own peak RSS and its workers' (the figure is the
ingest's, not the simulation's). `--profiles '' --big 300` measures only that.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MARKS = ("choice", "multi", "checkbox")


def _norm(ftype: str, v: Any) -> Any:
    if ftype == "digits":
        return v or ""
    if ftype == "multi":
        return sorted(v or [])
    if ftype == "checkbox":
        return bool(v)
    return v


def compare(db: Path, truth_path: Path) -> dict[str, Any]:
    from papier.simulate.batch import read_truth

    truth = read_truth(truth_path)
    pages_t = [t for t in truth if t["type"] == "page"]
    entries_t = {(t["source"], t["index"], t["row"]): t for t in truth if t["type"] == "entry"}
    c = sqlite3.connect(db)
    src_of = {}
    for source, idx, status, page_key in c.execute("SELECT source, idx, status, page_key FROM pages"):
        src_of[(Path(source).name, idx)] = (status, page_key)
    stats: Counter[str] = Counter()
    errors: list[str] = []
    for t in pages_t:
        got = src_of.get((t["source"], t["index"]))
        stats["pages"] += 1
        if got is None:
            errors.append(f"page missing {t['source']}:{t['index']}")
            continue
        if t["expect"] == "identified" and got[0] == "unidentified":
            stats["pages_unidentified"] += 1  # flagged, not silent
        if t["expect"] == "identified" and got[1] not in (None, t["page_key"]):
            errors.append(f"wrong page key {t['source']}:{t['index']} {got[1]} != {t['page_key']}")
    rows = c.execute(
        "SELECT p.source, p.idx, e.row, e.has_ink, f.name, f.type, f.value, f.status, s.form, s.form_version "
        "FROM fields f JOIN entries e ON e.id = f.entry_id JOIN sheets s ON s.id = e.sheet_id "
        "JOIN pages p ON p.id = s.page_id").fetchall()
    got_entries: dict[tuple[str, int, int], dict[str, tuple[str, Any, str]]] = {}
    inked: dict[tuple[str, int, int], int] = {}
    kinds: dict[tuple[tuple[str, int, int], str], str] = {}
    for source, idx, row, has_ink, name, ftype, value, status, form, version in rows:
        k = (Path(source).name, idx, row)
        got_entries.setdefault(k, {})[name] = (ftype, json.loads(value), status)
        inked[k] = has_ink
        if ftype == "digits":
            kinds[k, name] = digit_kind(form, version, name)
    by_kind: dict[str, Counter[str]] = {}
    for k, fields in got_entries.items():
        t = entries_t.get(k)
        if t is None:
            if inked[k]:
                stats["phantom_entries"] += 1
                if any(st == "auto" and v not in (None, "", [], False) for _, v, st in fields.values()):
                    stats["silent"] += 1
                    errors.append(f"phantom entry accepted {k}")
            continue
        stats["entries"] += 1
        if not inked[k]:
            stats["silent"] += 1
            errors.append(f"missed entry {k}")
            continue
        amb = set(t.get("ambiguous", []))
        for name, (ftype, v, st) in fields.items():
            if ftype == "text":
                continue  # transcribed by a person (review when inked)
            tv = t["fields"].get(name)
            written = tv not in (None, "", [], False)
            if ftype in MARKS and written and name in amb:
                stats["mark_ambiguous"] += 1  # deliberately ambiguous: SHOULD be flagged, not in the review rate
                stats["mark_ambiguous_flagged"] += st == "review"
            elif ftype in MARKS and written:
                stats["mark_fields"] += 1
                stats["mark_review"] += st == "review"
            elif ftype in MARKS and name not in amb:  # an empty mark of a written line: a review is a false alarm
                stats["mark_empty"] += 1
                stats["mark_empty_review"] += st == "review"
            if ftype == "digits" and written:
                stats["digit_fields"] += 1
                stats["digit_review"] += st == "review"
                auto_ok = st == "auto" and _norm(ftype, v) == _norm(ftype, tv)
                stats["digit_auto_ok"] += auto_ok
                kc = by_kind.setdefault(kinds[k, name], Counter())
                kc["fields"] += 1
                kc["auto_ok"] += auto_ok
            stats["fields"] += written
            if st == "auto" and _norm(ftype, v) != _norm(ftype, tv):
                stats["silent"] += 1
                stats["digit_silent"] += ftype == "digits"
                errors.append(f"{k} {name}: read {v!r} (auto), paper {tv!r}{' [ambiguous]' if name in amb else ''}")
    missing = [k for k in entries_t if k not in got_entries and src_of.get(k[:2], ("",))[0] in ("identified",
                                                                                               "conflict")]
    stats["silent"] += len(missing)
    errors += [f"entry not stored {k}" for k in missing]
    return {"stats": stats, "errors": errors, "digit_kinds": {k: dict(v) for k, v in by_kind.items()}}


# what the form knows about a digit field, which decides how it can be accepted (papier.digits.policy classes)
FAMILY, BARCODE, LISTED, RECENT_DATE, OTHER_DATE, TIME, AMOUNT, COPY, PLAIN, ALWAYS_REVIEWED = KIND_ORDER = (
    "n° de famille (Luhn + liste)", "code-barres (EAN-13 + catalogue)", "n° de carte (liste des lecteurs)",
    "date récente (période)", "date (autre)", "heure", "montant", "n° de copie", "nombre sans contrôle",
    "toujours revu (formulaire)")


@lru_cache(maxsize=None)  # one answer per field of a form version: compare asks for every digit field read
def digit_kind(form: str, version: int, name: str) -> str:
    from papier.forms import builtin_form
    from papier.layout import COPY_FIELD

    if name == COPY_FIELD.name:
        return COPY
    f = builtin_form(form, version)
    fd = next((x for x in f.fields + f.page_fields if x.name == name), None)
    if fd is None:
        return PLAIN
    semantic = fd.semantic or ""
    if fd.review_always:  # civil-status values a person reads again whatever the machine says
        return ALWAYS_REVIEWED
    if fd.check == "luhn":
        return FAMILY
    if fd.check == "ean13":
        return BARCODE
    if semantic.startswith("date"):
        return RECENT_DATE if fd.recent else OTHER_DATE
    if semantic.startswith("time"):
        return TIME
    if semantic.startswith("amount"):
        return AMOUNT
    return LISTED if fd.known else PLAIN


def decode_only(files: list[str], workers: int) -> float:
    """Seconds to merely decode every page image (the same loader, the same pool size)."""
    from concurrent.futures import ProcessPoolExecutor

    from scan_ingest.sources import expand_inputs, list_pages, load_page

    refs = [r for s, p in expand_inputs(files) for r in list_pages(s, p)]
    t0 = time.perf_counter()
    if workers <= 1:
        for r in refs:
            load_page(r)
    else:
        with ProcessPoolExecutor(workers) as ex:
            list(ex.map(_decode_one, refs, chunksize=4))
    return time.perf_counter() - t0


def _decode_one(ref: Any) -> int:
    from scan_ingest.sources import load_page

    return load_page(ref).gray.shape[0]


def scan_manifest(kit_dir: Path, db: Path) -> None:
    """Ingest the kit's manifest pages (rendered at 200 dpi) into `db` first, as staff do before the registers:
    the roster and the catalogue then back family numbers and barcodes (without them, check-digit fields get the
    strictest threshold)."""
    import cv2

    from scan_ingest.pipeline import ingest
    from scan_ingest.testing import render

    layout = json.loads((kit_dir / "layout.json").read_text())
    folder = db.parent / "manifest"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for m in layout.get("manifest_pages", []):
        path = folder / f"manifest_{m['pdf_page']:03d}.png"
        cv2.imwrite(str(path), render(kit_dir / "kit.pdf", m["pdf_page"], 200))
        files.append(str(path))
    ingest(files, db_path=db, workers=1)


def fresh_db(db: Path) -> Path:
    """`db` with nothing left of an earlier run with the same --out (its pages would be "already stored", or
    conflicts when the simulation changed, and the comparison would read the old run's values)."""
    for old in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        old.unlink(missing_ok=True)
    shutil.rmtree(db.with_name(db.name + ".files"), ignore_errors=True)
    return db


# The day the benchmark's sheets are read: ten weeks after the simulated crisis begins (papier.simulate's
# DEFAULT_START, 2026-09-14), so that the default crisis period (scan_ingest.pipeline.default_period, what a user
# who gives no --periode gets) covers the same dates whatever the machine's clock says. Runs up to session 7 used the
# clock: 22-23 November 2026, the same reading day.
READ_DAY = dt.date(2026, 11, 23)


def run_profile(kit_dir: Path, work: Path, profile: str, pages: int, workers: int, seed: int,
                manifest: bool = True, period: tuple[dt.date, dt.date] | None = None) -> dict[str, Any]:
    """One profile: simulate, decode, ingest (with `period`, default: the default crisis period on READ_DAY), compare
    with the truth."""
    from papier.simulate import simulate_batch
    from scan_ingest.pipeline import default_period, ingest

    out = work / profile
    db = fresh_db(out / "p.db")
    shutil.rmtree(out / "scans", ignore_errors=True)  # no file of an earlier run read without its truth
    if manifest:
        out.mkdir(parents=True, exist_ok=True)
        scan_manifest(kit_dir, db)
    t0 = time.perf_counter()
    truth = simulate_batch(kit_dir, out / "scans", profile=profile, n_pages=pages, seed=seed, fmt="auto",
                           extras=True)
    sim_s = time.perf_counter() - t0
    files = sorted(str(p) for p in (out / "scans").iterdir() if p.is_file() and p.name != "truth.jsonl")
    dec = decode_only(files, workers)
    rep = ingest(files, db_path=db, workers=workers, period=period or default_period(READ_DAY))
    cmp = compare(db, truth)
    s = cmp["stats"]
    return {
        "profile": profile, "pages": rep.pages_seen, "entries": s["entries"], "fields": s["fields"],
        "silent": s["silent"], "mark_fields": s["mark_fields"],
        "mark_review": s["mark_review"] / max(1, s["mark_fields"]),
        "mark_empty": s["mark_empty"], "mark_empty_review": s["mark_empty_review"] / max(1, s["mark_empty"]),
        "digit_fields": s["digit_fields"], "digit_review": s["digit_review"] / max(1, s["digit_fields"]),
        "digit_auto_ok": s["digit_auto_ok"] / max(1, s["digit_fields"]), "digit_silent": s["digit_silent"],
        "unidentified": rep.statuses["unidentified"], "pages_s": rep.pages_per_second,
        "x_decode": rep.seconds / dec if dec else 0.0, "worker_mb": rep.worker_maxrss_kb / 1024,
        "parent_mb": rep.parent_maxrss_kb / 1024, "errors": cmp["errors"][:20], "sim_s": sim_s,
        "digit_kinds": cmp["digit_kinds"],
    }


# Run in a fresh interpreter by big_pdf: the ingest alone, as `papier scan ingest` would, reporting its own peak
# memory (RUSAGE_SELF) and its reader processes' (RUSAGE_CHILDREN: the largest child reaped; the pool's workers are
# waited for before measuring), nothing of the simulation that made the PDF.
_FRESH_INGEST = r"""
import json, multiprocessing as mp, resource, sys, time
args = json.loads(sys.argv[1])
sys.path.insert(0, args["root"])
from scan_ingest.pipeline import ingest
import glob, os, threading
peak = {"pss_kb": 0}
# the peak RSS Linux keeps (VmHWM, ru_maxrss) survives exec: this process starts with the bench's own, a forked copy
# of a process that may have read 14 profiles. Reset it (clear_refs 5) and read VmHWM at the end.
def _hwm_kb():
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:"))
try:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    reset = True
except OSError:
    reset = False
stop = threading.Event()
def _pss(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            return next(int(l.split()[1]) for l in fh if l.startswith("Pss:"))
    except (OSError, StopIteration, ValueError):
        return 0
def _sample():  # the whole ingest's real footprint: proportional set size of this process and its workers
    while not stop.is_set():
        kids = set()
        for f in glob.glob(f"/proc/{os.getpid()}/task/*/children"):
            try:
                kids.update(open(f).read().split())
            except OSError:
                pass
        peak["pss_kb"] = max(peak["pss_kb"], _pss(os.getpid()) + sum(_pss(k) for k in kids))
        stop.wait(0.1)
t = threading.Thread(target=_sample, daemon=True)
t.start()
rep = ingest(args["files"], db_path=args["db"], workers=args["workers"])
stop.set()
t.join()
deadline = time.monotonic() + 60
while mp.active_children() and time.monotonic() < deadline:  # reap the pool's workers (shutdown(wait=False))
    time.sleep(0.05)
print(json.dumps({
    "pages": rep.pages_seen, "seconds": rep.seconds, "pages_s": rep.pages_per_second,
    "self_kb": _hwm_kb() if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "children_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    "worker_reported_kb": rep.worker_maxrss_kb, "unreaped": len(mp.active_children()),
    "pss_total_kb": peak["pss_kb"],
}))
"""


def ingest_fresh_process(files: list[str], db: Path, workers: int) -> dict[str, Any]:
    """`ingest` in its own new Python process; its report and the peak RSS of it and of its workers."""
    import subprocess

    arg = json.dumps({"root": str(ROOT), "files": files, "db": str(db), "workers": workers})
    r = subprocess.run([sys.executable, "-c", _FRESH_INGEST, arg], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"ingest subprocess failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def big_pdf(kit_dir: Path, work: Path, pages: int, workers: int) -> dict[str, Any]:
    """Memory and speed on one long scanner PDF. The PDF is simulated here; the ingest runs in a fresh process
    (ingest_fresh_process) so that its peak memory is its own, not this process's (the simulation)."""
    from papier.simulate import simulate_batch

    out = work / "big"
    simulate_batch(kit_dir, out / "scans", profile="scanner_200", n_pages=pages, seed=99, fmt="pdf")
    pdf = next(p for p in (out / "scans").iterdir() if p.suffix == ".pdf")
    dec = decode_only([str(pdf)], workers)
    db = fresh_db(out / "p.db")
    rep = ingest_fresh_process([str(pdf)], db, workers)
    parent_mb = rep["self_kb"] / 1024
    worker_mb = max(rep["children_kb"], rep["worker_reported_kb"]) / 1024
    return {"pages": rep["pages"], "seconds": rep["seconds"], "pages_s": rep["pages_s"],
            "x_decode": rep["seconds"] / dec, "worker_mb": worker_mb, "parent_mb": parent_mb,
            # upper bound of the whole ingest at its peak: the workers' RSS also counts the pages they share
            # with the parent (forked: code, libraries, the digit model)
            "total_mb_bound": parent_mb + workers * worker_mb, "workers": workers,
            # sampled every 0.1 s: the sum of the proportional set sizes (shared pages split between processes)
            "pss_total_mb": rep.get("pss_total_kb", 0) / 1024,
            "children_mb": rep["children_kb"] / 1024, "worker_reported_mb": rep["worker_reported_kb"] / 1024,
            "unreaped": rep["unreaped"],
            "pdf_mb": pdf.stat().st_size / 1e6}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=80, help="pages per profile (default: > 10,000 filled fields)")
    ap.add_argument("--profiles", default="scanner_300,scanner_200,scanner_150_jpeg,photocopy,fax,upside_down,"
                                          "phone_photo,phone_photo_bent,phone_photo_glare,phone_photo_blurred,"
                                          "phone_photo_sent,phone_photo_oblique,phone_photo_dim,scanner_200_marker,"
                                          "scanner_200_sprawl,scanner_200_stamp,scanner_200_punched")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--big", type=int, default=300, help="also a single PDF of this many pages (0: no)")
    ap.add_argument("--out", default=None, help="keep the work here (default: a temporary folder)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-manifest", action="store_true",
                    help="do not scan the kit's manifest pages first (no roster, no catalogue)")
    ap.add_argument("--periode", default=None, metavar="START:END",
                    help="the crisis period the staff would give to papier scan ingest (ISO dates; default: none "
                         "given, the default period of a reading on READ_DAY); the simulated crisis starts on "
                         "2026-09-14")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    period = tuple(dt.date.fromisoformat(d) for d in args.periode.split(":")) if args.periode else None
    from papier.kit import build_kit

    with tempfile.TemporaryDirectory(prefix="bench_scan_") as tmp:
        work = Path(args.out) if args.out else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        kit_dir = work / "kit"
        if not (kit_dir / "layout.json").exists():
            build_kit(kit_dir, pages_per_register=4, kit_id="BENCHKIT")
        results = [run_profile(kit_dir, work, p, args.pages, args.workers, args.seed, not args.no_manifest, period)
                   for p in args.profiles.split(",") if p]
        big = big_pdf(kit_dir, work, args.big, args.workers) if args.big else None
    if args.json:
        print(json.dumps({"profiles": results, "big": big}, indent=1))
        return 0
    hdr = (f"{'profile':<17}{'pages':>6}{'entries':>8}{'fields':>8}{'SILENT':>7}{'marks':>7}{'mk rev':>8}{'empty':>7}"
           f"{'em rev':>7}"
           f"{'digits':>7}{'dg rev':>8}{'dg auto':>8}{'unid':>5}{'pg/s':>7}{'x dec':>7}{'wk MB':>7}")
    print(hdr)
    print("-" * len(hdr))
    tot = Counter()
    for r in results:
        print(f"{r['profile']:<17}{r['pages']:>6}{r['entries']:>8}{r['fields']:>8}{r['silent']:>7}"
              f"{r['mark_fields']:>7}{r['mark_review']:>8.1%}{r['mark_empty']:>7}{r['mark_empty_review']:>7.1%}"
              f"{r['digit_fields']:>7}{r['digit_review']:>8.1%}"
              f"{r['digit_auto_ok']:>8.1%}"
              f"{r['unidentified']:>5}{r['pages_s']:>7.1f}{r['x_decode']:>7.1f}{r['worker_mb']:>7.0f}")
        tot["fields"] += r["fields"]
        tot["silent"] += r["silent"]
    print(f"total: {tot['fields']} filled fields, {tot['silent']} silent errors")
    if results:
        print()
        print("digit fields (papier.digits; amounts accepted through the page total included):")
        dh = f"{'profile':<17}{'fields':>8}{'auto ok':>9}{'silent':>8}{'review':>8}"
        print(dh)
        print("-" * len(dh))
        for r in results:
            print(f"{r['profile']:<17}{r['digit_fields']:>8}{r['digit_auto_ok']:>9.1%}{r['digit_silent']:>8}"
                  f"{r['digit_review']:>8.1%}")
        print()
        print("digit fields accepted and right, by what the form knows (fields in parentheses):")
        kh = f"{'kind':<34}" + "".join(f"{r['profile'][:12]:>13}" for r in results)
        print(kh)
        print("-" * len(kh))
        for kind in KIND_ORDER:
            cells = []
            for r in results:
                kc = r["digit_kinds"].get(kind)
                cells.append(f"{kc['auto_ok'] / kc['fields']:>6.0%} ({kc['fields']:>4})" if kc else f"{'-':>13}")
            print(f"{kind:<34}" + "".join(cells))
    for r in results:
        for e in r["errors"]:
            print(f"  [{r['profile']}] {e}")
    if big:
        print(f"big PDF ({big['pdf_mb']:.0f} MB): {big['pages']} pages in {big['seconds']:.1f} s "
              f"({big['pages_s']:.1f} pages/s, {big['x_decode']:.1f}x decode); ingest alone in a fresh process, "
              f"peak memory: ingest process {big['parent_mb']:.0f} MB, each worker {big['worker_mb']:.0f} MB, "
              f"total <= {big['total_mb_bound']:.0f} MB ({big['workers']} workers); measured total (PSS, sampled) "
              f"{big['pss_total_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
