"""``ingest``: files and folders in, SQLite out. Workers read pages; this process alone writes the database.

Pages are stored in the order they were seen, one transaction each, so killing the process at any moment and
running the same command again gives the same database as an uninterrupted run.
"""

from __future__ import annotations

import datetime as _dt

import hashlib
import json
import multiprocessing as mp
import os
import resource
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from papier.checks import OUT_OF_PERIOD
from papier.db import files_dir, jdump, now, open_db, put_setting
from papier.errors import StorageError, storage_advice, storage_problem
from papier.identity import BLANK_PAGE_REASON
from scan_ingest.model import PageResult
from scan_ingest.read import ReadContext, read_page, reread_kept
from scan_ingest.sources import FileProblem, PageLoadError, PageRef, close_cached_pdf, expand_inputs, list_pages
from scan_ingest.store import Store, upsert_scan

FAULT_RAISE_ENV = "PAPIER_FAULT_RAISE_ON_PAGE"  # tests: the reader fails on this batch position (1-based)
FAULT_CRASH_ENV = "PAPIER_FAULT_CRASH_ON_PAGE"  # tests: the worker process dies (SIGKILL) on this position


@dataclass
class IngestReport:
    db_path: str
    pages_seen: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    problems: list[tuple[str, int, str]] = field(default_factory=list)   # source, index, reason
    conflicts: list[tuple[str, int, str]] = field(default_factory=list)
    rescan: dict[tuple[str, int], str] = field(default_factory=dict)  # (source, index) → why every value is in review
    faded: dict[tuple[str, int], int] = field(default_factory=dict)  # (source, index) → fields under a reflection
    noisy: dict[tuple[str, int], int] = field(default_factory=dict)  # (source, index) → marks unsure for the grain
    tinted: dict[tuple[str, int], int] = field(default_factory=dict)  # (source, index) → marks on a marker's band
    entries: int = 0
    fields_review: int = 0
    fields_total: int = 0
    review_by_type: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    read_seconds: float = 0.0
    worker_maxrss_kb: int = 0
    parent_maxrss_kb: int = 0
    results: list[PageResult] = field(default_factory=list)  # kept only when ingest(keep_results=True)
    period: tuple[str, str] | None = None  # the crisis period the dates were read with (ISO)
    period_source: str = "default"  # "given" (this run's --periode), "stored" (an earlier run's) or "default"
    out_of_period: int = 0  # `recent` dates in review because they were read outside the period
    reread_this_run: int = 0  # pages of this batch read before the kit's manifest pages, read again with its lists
    reread_earlier: int = 0  # pages of earlier batches read again with the lists of a manifest scanned since
    reread_changed: int = 0  # values whose machine reading changed in those re-reads
    without_lists: dict[str, int] = field(default_factory=dict)  # kit id → pages of this batch read without its lists
    manifest_incomplete: dict[str, tuple[int, int]] = field(default_factory=dict)  # kit id → (QR read, QR in all)
    review_earlier: int = 0  # values still in review on the primary sheets of earlier batches

    @property
    def pages_per_second(self) -> float:
        return self.pages_seen / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        s = self.statuses
        blank = [(src, idx) for src, idx, why in self.problems if why == BLANK_PAGE_REASON]
        lines = [
            f"{self.pages_seen} page(s) vue(s) en {self.seconds:.1f} s : {s['identified']} lue(s), "
            f"{s['unidentified']} non identifiée(s)" + (f" (dont {len(blank)} blanche(s))" if blank else "")
            + f", {s['duplicate']} en double, {s['conflict']} en conflit, "
            f"{s['skip']} déjà enregistrée(s).",
            f"{self.entries} ligne(s) remplie(s) ; {self.fields_review} valeur(s) à vérifier sur "
            f"{self.fields_total} lue(s)" + (
                " (" + ", ".join(f"{n} {t}" for t, n in sorted(self.review_by_type.items())) + ")"
                if self.review_by_type else "") + ".",
        ]
        if self.reread_this_run or self.reread_earlier:
            which = []
            if self.reread_this_run:
                which.append(f"{self.reread_this_run} page(s) de ce lot lue(s) avant que le manifeste du kit soit "
                             "complet")
            if self.reread_earlier:
                which.append(f"{self.reread_earlier} page(s) de lots précédents")
            lines.append(f"Relues avec les listes du kit (familles, catalogue, lecteurs) : {' et '.join(which)} ; "
                         f"{self.reread_changed} valeur(s) mise(s) à jour (les décisions déjà prises sont gardées).")
        for kit, n in sorted(self.without_lists.items()):
            have = self.manifest_incomplete.get(kit)
            why = (f"son manifeste est incomplet ({have[0]} QR code(s) lu(s) sur {have[1]})" if have else
                   "ses pages « Manifeste du kit » n'ont pas encore été scannées")
            lines.append(f"{n} page(s) du kit {kit} lue(s) sans ses listes (n° de famille, codes-barres, n° de carte) "
                         f"car {why} : plus de valeurs à vérifier. Scannez-les (fin du kit, bien à plat) : les pages "
                         "déjà lues seront relues avec les listes.")
        unread = [p for p in self.problems if p[2] != BLANK_PAGE_REASON]
        if unread:
            lines.append("Pages non identifiées :")
            lines += [f"  - {src} page {idx} : {why}" for src, idx, why in unread]
        if blank:
            lines.append(f"{len(blank)} page(s) blanche(s), sans QR code ni écriture (les versos d'une numérisation "
                         "recto verso ?) : images gardées, rien à faire.")
            lines += [f"  - {src} : {_page_numbers([i for s_, i in blank if s_ == src])}"
                      for src in dict.fromkeys(s_ for s_, _ in blank)]
        if self.rescan:
            lines.append("Pages lues mais toutes leurs valeurs sont à vérifier : les renumériser bien à plat (vitre "
                         "du scanner, feuille dépliée) est plus rapide ; la nouvelle image apparaîtra en conflit avec "
                         "l'ancienne, gardez la meilleure :")
            lines += [f"  - {src} page {idx} : {why}" for (src, idx), why in self.rescan.items()]
        if self.faded:
            lines.append("Reflets ou zones trop claires sur l'image : ces champs sont à lire sur la page (une encre "
                         "pâle a pu y disparaître) ; reprendre la photo sans reflet (sans flash, lumière de côté) est "
                         "plus rapide, la nouvelle image apparaîtra en conflit avec l'ancienne :")
            lines += [f"  - {src} page {idx} : {n} champ(s)" for (src, idx), n in self.faded.items()]
        if self.noisy:
            lines.append("Images sombres ou granuleuses : une case à peine cochée ne s'y distingue pas du grain de "
                         "l'image, ces cases sont à vérifier ; reprendre la photo avec plus de lumière (près d'une "
                         "fenêtre, lampe allumée) est plus rapide, la nouvelle image apparaîtra en conflit avec "
                         "l'ancienne :")
            lines += [f"  - {src} page {idx} : {n} case(s)" for (src, idx), n in self.noisy.items()]
        if self.tinted:
            lines.append("Cases surlignées (feutre fluo) ou tachées : sur l'image une case cochée et une case vide "
                         "s'y ressemblent, elles sont à vérifier (sur la feuille, la coche se voit) :")
            lines += [f"  - {src} page {idx} : {n} case(s)" for (src, idx), n in self.tinted.items()]
        if self.conflicts:
            lines.append("Conflits (deux images différentes de la même feuille, à trancher) :")
            lines += [f"  - {src} page {idx} : {why}" for src, idx, why in self.conflicts]
        if self.period:
            a, b = (_dt.date.fromisoformat(d).strftime("%d/%m/%Y") for d in self.period)
            how = {"given": "période donnée, gardée pour les prochains lots",
                   "stored": "période donnée lors d'un lot précédent ; --periode pour la changer",
                   "default": "par défaut ; --periode pour la préciser"}[self.period_source]
            lines.append(f"Dates de la crise attendues du {a} au {b} ({how}). Une date hors de cette période "
                         "est montrée à un agent.")
            if self.out_of_period:
                lines.append(f"{self.out_of_period} date(s) lue(s) hors de cette période : si elles sont justes, "
                             "la période est trop étroite.")
        if self.review_earlier:
            lines.append(f"Encore {self.review_earlier} valeur(s) à vérifier sur les pages des lots précédents.")
        if self.fields_review or self.review_earlier:
            lines.append(f"Vérifiez les valeurs signalées avec « papier review --db {self.db_path} ».")
        return "\n".join(lines)


def _page_numbers(idxs: list[int], most: int = 30) -> str:
    shown = ", ".join(str(i) for i in idxs[:most])
    return f"page {shown}" if len(idxs) == 1 else (
        f"pages {shown}" + (f"… ({len(idxs)} en tout)" if len(idxs) > most else ""))


# --- worker side --------------------------------------------------------------------------------------------------

_ctx: ReadContext | None = None


def _die_with_parent() -> None:
    """Linux: a worker gets SIGKILL when the parent dies (kill -9 of the batch leaves no orphan reader)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        pass


def _one_thread() -> Any:
    """Each reader process computes on one thread (OpenBLAS in the digit reader, OpenCV): the pool already uses
    every core, and nested thread pools on small matrices made a page 3x slower (measured: 20 scanner_200
    pages, one worker, 15.2 s with OpenBLAS' 2 threads, 5.5 s with 1). Returns a handle to undo it.

    Called in the parent *before* forking the workers (they inherit it), never in a forked child: OpenCV's
    setNumThreads in a child forked from a parent whose OpenCV thread pool had run deadlocks (it destroys the
    pool's condition variables, whose threads did not survive the fork)."""
    import cv2

    prev_cv = cv2.getNumThreads()
    cv2.setNumThreads(1)
    limiter = None
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=1)
    except Exception:  # noqa: BLE001 - threadpoolctl missing: OPENBLAS_NUM_THREADS can still be set by hand
        pass
    return prev_cv, limiter


def _undo_one_thread(handle: Any) -> None:
    import cv2

    prev_cv, limiter = handle
    cv2.setNumThreads(prev_cv)
    if limiter is not None:
        limiter.restore_original_limits()


def _init_worker(ctx: ReadContext, fresh_process: bool = False) -> None:
    global _ctx, _ctx_version
    _ctx, _ctx_version = ctx, 0
    if fresh_process:  # spawn: a new interpreter, nothing inherited (see _one_thread)
        _one_thread()
    if sys.platform.startswith("linux"):
        _die_with_parent()
    try:  # leave the parent (the writer) the upper hand when the machine is busy
        os.nice(2)
    except OSError:
        pass


@dataclass(frozen=True)
class KeptRef:
    """A page already stored, to read again from its kept image (what reread_kept needs)."""
    source: str
    idx: int
    sha256: str
    image_path: str
    bilevel: bool | None
    shape: tuple[int, int] | None

    @classmethod
    def of_row(cls, source: str, idx: int, sha256: str, image_path: str, bilevel: int | None, height: int | None,
               width: int | None) -> "KeptRef":
        """From a pages row (bilevel NULL: stored before it was recorded, told by the kept pixels)."""
        return cls(source, idx, sha256, image_path, None if bilevel is None else bool(bilevel),
                   (height, width) if height and width else None)

    def read(self, ctx: ReadContext) -> PageResult:
        return reread_kept(self.source, self.idx, self.sha256, self.image_path, ctx, self.bilevel, self.shape)


@dataclass(frozen=True)
class ListsUpdate:
    """The kit's custom forms and lists as the writer knows them now (a manifest completed mid-batch): the pages
    read after it get them. `version` grows with each update, so a worker rebuilds its context once."""
    version: int
    custom_forms: dict[tuple[str, int], Any]
    known_values: dict[str, list[str]]


_ctx_version = 0


def _apply_update(update: ListsUpdate | None) -> None:
    global _ctx, _ctx_version
    if update is None or update.version == _ctx_version or _ctx is None:
        return
    from dataclasses import replace

    _ctx = replace(_ctx, custom_forms=update.custom_forms, known_values=update.known_values)
    _ctx_version = update.version


def _work(task: tuple[int, PageRef | KeptRef, ListsUpdate | None]) -> PageResult:
    seq, ref, update = task
    _apply_update(update)
    assert _ctx is not None
    crash = os.environ.get(FAULT_CRASH_ENV)
    if crash and crash.isdigit() and int(crash) == seq and mp.parent_process() is not None:
        os.kill(os.getpid(), 9)
    fault = os.environ.get(FAULT_RAISE_ENV)
    if fault and fault.isdigit() and int(fault) == seq:
        res = PageResult(ref.source, ref.idx, None, "unidentified")
        res.reason = "erreur inattendue en lisant la page (RuntimeError: panne simulée)"
        return res
    if isinstance(ref, KeptRef):
        return ref.read(_ctx)
    return read_page(ref, _ctx, seq)


# --- parent side --------------------------------------------------------------------------------------------------


def _file_sha(path: str) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
                size += len(chunk)
    except OSError:
        return hashlib.sha256(f"missing:{path}".encode()).hexdigest(), 0
    return h.hexdigest(), size


def _known_pages(db: Any) -> dict[tuple[str, int], set[str]]:
    out: dict[tuple[str, int], set[str]] = {}
    for source, idx, sha in db.execute("SELECT source, idx, sha256 FROM pages"):
        out.setdefault((source, idx), set()).add(sha)
    return out


def _custom_forms_and_values(db: Any) -> tuple[dict[tuple[str, int], Any], dict[str, list[str]]]:
    """Custom forms and known value sets from complete kit manifests already scanned (papier.manifest)."""
    forms: dict[tuple[str, int], Any] = {}
    values: dict[str, list[str]] = {}
    try:
        from papier.identity import ManifestChunk, join_manifest
        from papier.manifest import parse_manifest  # type: ignore[import-not-found]
    except ImportError:
        return forms, values
    kits: dict[str, list[Any]] = {}
    for kit, idx, count, data in db.execute("SELECT kit_id, idx, count, data FROM manifests"):
        kits.setdefault(kit, []).append(ManifestChunk(kit, idx, count, data))
    for kit, chunks in kits.items():
        try:
            m = parse_manifest(join_manifest(chunks))
        except Exception:  # noqa: BLE001 - incomplete or unreadable manifest: nothing to add
            continue
        forms.update(getattr(m, "custom_forms", {}) or {})
        for name, vals in (getattr(m, "known_values", {}) or {}).items():
            values.setdefault(name, []).extend(vals)
    return forms, values


def _plan(files: list[tuple[str, str]]) -> list[tuple[str, Any]]:
    """The batch in order: ('page', PageRef) or ('file', FileProblem) items."""
    items: list[tuple[str, Any]] = []
    for source, path in files:
        try:
            for ref in list_pages(source, path):
                items.append(("page", ref))
        except PageLoadError as exc:
            items.append(("file", FileProblem(source, path, str(exc))))
    return items


def _results(tasks: list[tuple[int, PageRef | KeptRef]], ctx: ReadContext, workers: int,
             live: dict[str, ListsUpdate] | None = None) -> Iterator[PageResult]:
    """Results in task order. A worker that dies (a crash in a native decoder) costs its page only: the pool is
    rebuilt, the page retried once alone, then recorded as a problem. `live["update"]`, when the writer sets it,
    goes with every task submitted from then on (the kit's lists, known once its manifest is stored)."""
    live = live if live is not None else {}

    def task_of(t: tuple[int, PageRef | KeptRef]) -> tuple[int, PageRef | KeptRef, ListsUpdate | None]:
        return t[0], t[1], live.get("update")

    if workers <= 1 or len(tasks) <= 1:
        _init_worker_inline(ctx)
        handle = _one_thread()
        try:
            for t in tasks:
                yield _work(task_of(t))
        finally:
            _undo_one_thread(handle)
            close_cached_pdf()
        return
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers, mp_context=mp.get_context(method), initializer=_init_worker,
                                   initargs=(ctx, method != "fork"))

    handle = _one_thread()  # before the fork: the workers inherit it (see _one_thread)

    window = 4 * workers  # results waiting for the writer stay few: memory stays flat on long batches
    pool = new_pool()
    pending: deque[tuple[tuple[int, PageRef | KeptRef], Future[PageResult]]] = deque()
    todo = deque(tasks)
    try:
        while todo or pending:
            while todo and len(pending) < window:
                t = todo.popleft()
                pending.append((t, pool.submit(_work, task_of(t))))
            task, fut = pending.popleft()
            try:
                yield fut.result()
                continue
            except BrokenProcessPool:
                pass
            # the pool is dead: retry this page alone, then carry on with a fresh pool
            pool.shutdown(wait=False, cancel_futures=True)
            for t, _ in reversed(pending):
                todo.appendleft(t)
            pending.clear()
            solo = new_pool()
            try:
                yield solo.submit(_work, task_of(task)).result()
            except BrokenProcessPool:
                res = PageResult(task[1].source, task[1].idx, getattr(task[1], "sha256", None), "unidentified")
                res.reason = "le lecteur s'est arrêté brutalement sur cette page (image corrompue ?)"
                yield res
            finally:
                solo.shutdown(wait=False, cancel_futures=True)
            pool = new_pool()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        _undo_one_thread(handle)


def _init_worker_inline(ctx: ReadContext) -> None:
    global _ctx, _ctx_version
    _ctx, _ctx_version = ctx, 0


def default_period(today: _dt.date | None = None) -> tuple[_dt.date, _dt.date]:
    """The crisis period assumed when none is given: dates written on the registers lie between
    PERIOD_BEFORE_DAYS before the day the sheets are read and PERIOD_AFTER_DAYS after it (papier.digits.policy)."""
    from papier.digits.policy import PERIOD_AFTER_DAYS, PERIOD_BEFORE_DAYS

    today = today or _dt.date.today()
    return today - _dt.timedelta(days=PERIOD_BEFORE_DAYS), today + _dt.timedelta(days=PERIOD_AFTER_DAYS)


PERIOD_SETTING = "ingest.periode"  # settings key: the crisis period last given to `papier scan ingest --periode`


def crisis_period(db: Any, period: tuple[_dt.date, _dt.date] | None) -> tuple[tuple[str, str], str]:
    """The crisis period a batch is read with (ISO dates) and where it comes from: `period` when given (then kept
    in the database's settings, so that the next batches of the same crisis are read with it without retyping
    it), else the one an earlier batch was given, else default_period()."""
    if period is not None:
        iso = (period[0].isoformat(), period[1].isoformat())
        put_setting(db, PERIOD_SETTING, list(iso))
        return iso, "given"
    row = db.execute("SELECT value FROM settings WHERE key = ?", [PERIOD_SETTING]).fetchone()
    if row:
        try:
            a, b = json.loads(row[0])
            return (_dt.date.fromisoformat(a).isoformat(), _dt.date.fromisoformat(b).isoformat()), "stored"
        except (TypeError, ValueError):
            pass  # an unreadable setting is ignored: the default period is the safe one
    a, b = default_period()
    return (a.isoformat(), b.isoformat()), "default"


def ingest(inputs: list[str], db_path: str | Path = "papier.db", keep_work: str | Path | None = None,
           workers: int | None = None, progress: bool = False, kits: set[str] | None = None,
           keep_results: bool = False, period: tuple[_dt.date, _dt.date] | None = None) -> IngestReport:
    """Read every page of `inputs` into the database at `db_path`; see the module docstring.
    `period`: first and last day of the crisis (dates of `recent` fields outside it go to review; default
    default_period()). A disk that refuses writes (full, read-only) stops the batch with StorageError: every page
    stored so far is whole, and running the same command again carries on."""
    report = IngestReport(str(db_path))
    db = None
    try:
        db = open_db(str(db_path))
        return _ingest(db, report, inputs, keep_work, workers, progress, kits, keep_results, period)
    except (StorageError, OSError, sqlite3.OperationalError) as exc:
        why = str(exc) if isinstance(exc, StorageError) else storage_problem(exc)
        if why is None:
            raise
        raise StorageError(_halted(why, report)) from exc
    finally:
        if db is not None:
            db.conn.close()


def _halted(why: str, report: IngestReport) -> str:
    """The message of a batch stopped by its disk."""
    stored = sum(n for st, n in report.statuses.items() if st != "skip")
    folder = Path(report.db_path).resolve().parent
    return (f"{why} : lecture arrêtée après {stored} page(s) enregistrée(s) dans ce lot, rien n'est à moitié "
            f"écrit. {storage_advice(f'le disque de {folder}', True)}, puis relancez la même commande : "
            "les pages déjà enregistrées ne seront pas relues.")


def _ingest(db: Any, report: IngestReport, inputs: list[str], keep_work: str | Path | None, workers: int | None,
            progress: bool, kits: set[str] | None, keep_results: bool,
            period: tuple[_dt.date, _dt.date] | None) -> IngestReport:
    t0 = time.perf_counter()
    db_path = report.db_path
    fdir = files_dir(db_path)
    fdir.mkdir(parents=True, exist_ok=True)
    report.period, report.period_source = crisis_period(db, period)
    run_id = int(db.execute("INSERT INTO runs (started, command, inputs, status) VALUES (?, ?, ?, ?)",
                            [now(), "scan ingest", jdump(list(inputs)), "running"]).lastrowid)
    forms, values = _custom_forms_and_values(db)
    ctx = ReadContext(files_dir=str(fdir.resolve()), rel_prefix=fdir.name,
                      keep_work=str(keep_work) if keep_work else None, known=_known_pages(db),
                      custom_forms=forms, kits=frozenset(kits) if kits else None, known_values=values,
                      period=report.period)
    items = _plan(expand_inputs(list(inputs)))
    tasks = [(i + 1, it[1]) for i, it in enumerate(items) if it[0] == "page"]
    n_workers = workers if workers is not None else (os.cpu_count() or 1)
    store = Store(db, run_id)
    scan_ids: dict[tuple[str, str], int] = {}
    file_shas: dict[str, tuple[str, int]] = {}

    def scan_id_for(source: str, path: str, kind: str, status: str = "ok", reason: str | None = None) -> int:
        if path not in file_shas:
            file_shas[path] = _file_sha(path)
        sha, size = file_shas[path]
        key = (source, sha)
        if key not in scan_ids:
            scan_ids[key] = upsert_scan(db, source, sha, size, kind, run_id, status, reason)
        return scan_ids[key]

    live: dict[str, ListsUpdate] = {}
    counted: dict[int, Counter[str]] = {}  # page id → what its reading added to the report (a re-read replaces it)
    with _reading(tasks, ctx, n_workers, live, progress, len(items)) as (results, advance):
        for kind, obj in items:
            if kind == "file":
                prob: FileProblem = obj
                sid = scan_id_for(prob.source, prob.path, "unreadable", "unreadable", prob.reason)
                sha = file_shas[prob.path][0]
                res = PageResult(prob.source, 1, sha, "unidentified", prob.reason)
                status, reason = store.store(res, sid)
            else:
                res = next(results)
                ref: PageRef = obj
                sid = scan_id_for(ref.source, ref.path, ref.kind)
                if res.sha256 is None:  # not even decodable: identify it by its file and position
                    res.sha256 = f"{file_shas[ref.path][0][:56]}#{ref.idx:07d}"
                report.read_seconds += res.seconds
                report.worker_maxrss_kb = max(report.worker_maxrss_kb, res.maxrss_kb)
                if res.status == "skip":
                    status, reason = "skip", None
                else:
                    status, reason = store.store(res, sid)
                    if status in ("identified", "conflict") and store.last_page_id is not None:
                        counted[store.last_page_id] = _reading_counts(res)
                    if status == "identified" and res.manifest_chunks:
                        ctx = _lists_now(db, ctx, live)
            _account(report, res, status, reason)
            if keep_results:
                report.results.append(res)
            advance()
    _second_pass(db, store, ctx, report, keep_results)
    _reread_for_lists(db, store, ctx, report, n_workers, progress, counted, live, len(items) + 1)
    report.without_lists, report.manifest_incomplete = _lists_missing(db, ctx, run_id), _incomplete_manifests(db)
    report.review_earlier = int(db.execute(
        "SELECT COUNT(*) FROM fields f JOIN entries e ON e.id = f.entry_id JOIN sheets s ON s.id = e.sheet_id "
        "JOIN pages p ON p.id = s.page_id WHERE f.status = 'review' AND e.has_ink = 1 AND s.status = 'primary' "
        "AND p.run_id != ?", [run_id]).fetchone()[0])
    report.seconds = time.perf_counter() - t0
    report.parent_maxrss_kb = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    db.execute("UPDATE runs SET finished = ?, status = ?, summary = ? WHERE id = ?",
               [now(), "done", jdump({k: v for k, v in report.statuses.items()}), run_id])
    return report


def _second_pass(db: Any, store: Store, ctx: ReadContext, report: IngestReport, keep_results: bool) -> None:
    """Pages of a custom form stored as unidentified because their kit's manifest page had not been scanned yet
    (later in this batch, or not at all until now) are read again from their kept image once the manifest is
    complete. Their page row keeps its place in the order seen; one transaction per page, so an interrupted
    second pass simply resumes on the next run."""
    rows = db.execute("SELECT id, source, idx, sha256, image_path, payload, bilevel, height, width FROM pages "
                      "WHERE status = 'unidentified' AND payload IS NOT NULL AND sheet_id IS NULL "
                      "AND image_path IS NOT NULL ORDER BY seq").fetchall()
    if not rows:
        return
    forms, values = _custom_forms_and_values(db)
    if not forms:
        return
    from dataclasses import replace

    from papier.identity import decode_payload

    ctx2 = replace(ctx, custom_forms=forms, known_values=values, keep_work=None)
    for page_id, source, idx, sha, image_path, payload, bilevel, h, w in rows:
        try:
            pid = decode_payload(payload)
        except Exception:  # noqa: BLE001 - not a page payload: stays unidentified
            continue
        if (pid.form, pid.form_version) not in forms:
            continue
        res = _unless_halted(KeptRef.of_row(source, idx, sha, image_path, bilevel, h, w).read(ctx2))
        status, reason = store.reread(res, page_id)
        if status in ("skip", "unidentified"):
            continue
        key = next((p for p in report.problems if p[0] == source and p[1] == idx), None)
        if key is not None:  # counted as unidentified earlier in this run
            report.problems.remove(key)
            report.statuses["unidentified"] -= 1
            report.pages_seen -= 1
        _account(report, res, status, reason)
        if keep_results:
            report.results.append(res)


def _lists_now(db: Any, ctx: ReadContext, live: dict[str, ListsUpdate]) -> ReadContext:
    """After a manifest page is stored: when the kit's forms or lists changed, the pages read from now on get
    them (`live["update"]`, sent with each task) and the returned context has them."""
    forms, values = _custom_forms_and_values(db)
    if forms == ctx.custom_forms and values == ctx.known_values:
        return ctx
    from dataclasses import replace

    _publish(live, forms, values)
    return replace(ctx, custom_forms=forms, known_values=values)


def _publish(live: dict[str, ListsUpdate], forms: dict[tuple[str, int], Any], values: dict[str, list[str]]) -> None:
    """Make `forms` and `values` the next ListsUpdate sent with the tasks."""
    prev = live.get("update")
    live["update"] = ListsUpdate((prev.version if prev else 0) + 1, forms, values)


def _lists_needed(form: str, version: int, custom: dict[tuple[str, int], Any]) -> set[str]:
    """The kit lists (`known = "…"`) a form's fields are read against."""
    from papier.forms import resolve_form

    try:
        fd = resolve_form(form, version, custom)
    except Exception:  # noqa: BLE001 - a form no longer resolvable: nothing to read again
        return set()
    return {f.known for f in fd.fields if getattr(f, "known", None)}


def _reread_for_lists(db: Any, store: Store, ctx: ReadContext, report: IngestReport, workers: int, progress: bool,
                      counted: dict[int, Counter[str]], live: dict[str, ListsUpdate], first_seq: int) -> None:
    """Pages read before their kit's lists were known (the manifest pages later in the batch, or in a later batch)
    are read again from their kept image with them, so that the order pages are scanned in does not matter. The
    machine's reading is replaced field by field (Store.update_reading: a person's decision is kept); one
    transaction per page, and the page records the lists it was read with, so an interrupted pass resumes on the
    next run."""
    if not ctx.known_values:
        return
    available = set(ctx.known_values)
    needed: dict[tuple[str, int], set[str]] = {}
    todo: list[tuple[int, KeptRef]] = []
    for pid, source, idx, sha, image, bilevel, h, w, had, form, version in db.execute(
            "SELECT p.id, p.source, p.idx, p.sha256, p.image_path, p.bilevel, p.height, p.width, p.known_sets, "
            "s.form, s.form_version FROM pages p JOIN sheets s ON s.id = p.sheet_id "
            "WHERE p.status IN ('identified', 'conflict') AND p.image_path IS NOT NULL ORDER BY p.seq").fetchall():
        key = (form, version)
        if key not in needed:
            needed[key] = _lists_needed(form, version, ctx.custom_forms) & available
        if not needed[key] - set(json.loads(had) if had else []):
            continue
        todo.append((pid, KeptRef.of_row(source, idx, sha, image, bilevel, h, w)))
    if not todo:
        return
    _publish(live, ctx.custom_forms, ctx.known_values)
    from dataclasses import replace

    # (task positions go on after the batch's, for the fault-injection hooks; no --keep-work picture of a re-read,
    # as in _second_pass)
    tasks = [(first_seq + i, ref) for i, (_, ref) in enumerate(todo)]
    with _reading(tasks, replace(ctx, keep_work=None), workers, live, progress, len(todo),
                  "Relecture avec les listes du kit") as (
            results, advance):
        for (page_id, ref), res in zip(todo, results):
            report.read_seconds += res.seconds
            changed = store.update_reading(res, page_id)
            if changed is not None:
                if page_id in counted:
                    report.reread_this_run += 1
                    _recount(report, counted.pop(page_id), _reading_counts(res))
                else:
                    report.reread_earlier += 1
                report.reread_changed += changed
            advance()


def _lists_missing(db: Any, ctx: ReadContext, run_id: int) -> dict[str, int]:
    """Kit id → pages of this run whose form names a kit list that is still unknown (manifest not scanned, or
    not completely)."""
    out: Counter[str] = Counter()
    needed: dict[tuple[str, int], set[str]] = {}
    for kit, form, version in db.execute(
            "SELECT s.kit_id, s.form, s.form_version FROM pages p JOIN sheets s ON s.id = p.sheet_id "
            "WHERE p.run_id = ?", [run_id]).fetchall():
        if (form, version) not in needed:
            needed[(form, version)] = _lists_needed(form, version, ctx.custom_forms) - set(ctx.known_values)
        if needed[(form, version)]:
            out[kit] += 1
    return dict(out)


def _incomplete_manifests(db: Any) -> dict[str, tuple[int, int]]:
    """Kit id → (QR codes stored, QR codes in its manifest) for manifests seen but not complete."""
    return {kit: (have, count) for kit, have, count in db.execute(
        "SELECT kit_id, COUNT(DISTINCT idx), MAX(count) FROM manifests GROUP BY kit_id").fetchall() if have < count}


def _reading_counts(res: PageResult) -> Counter[str]:
    """What one page's reading adds to the report: lines filled, values read, values to check (by type), dates
    out of the crisis period."""
    n: Counter[str] = Counter()
    for en in res.entries:
        if en.has_ink and en.kind != "page":
            n["entries"] += 1
        if not en.has_ink:
            continue
        for f in en.fields:
            n["fields_total"] += 1
            if f.status == "review":
                n["fields_review"] += 1
                n["review:" + f.type] += 1
                n["out_of_period"] += OUT_OF_PERIOD in (f.reason or "")
    return n


def _recount(report: IngestReport, old: Counter[str], new: Counter[str]) -> None:
    """Replace one page's share of the report's counts: `old` out, `new` in."""
    for key in set(old) | set(new):
        delta = new[key] - old[key]
        if key.startswith("review:"):
            report.review_by_type[key[7:]] += delta
            if report.review_by_type[key[7:]] <= 0:
                del report.review_by_type[key[7:]]
        else:
            setattr(report, key, getattr(report, key) + delta)


def _account(report: IngestReport, res: PageResult, status: str, reason: str | None) -> None:
    report.pages_seen += 1
    report.statuses[status] += 1
    if status == "unidentified":
        report.problems.append((res.source, res.idx, reason or "?"))
    elif status == "conflict":
        report.conflicts.append((res.source, res.idx, reason or "?"))
    if status in ("identified", "conflict"):
        _recount(report, Counter(), _reading_counts(res))
        if res.rescan:
            report.rescan[(res.source, res.idx)] = res.reason or "?"
        if res.faded:
            report.faded[(res.source, res.idx)] = res.faded
        if res.noisy:
            report.noisy[(res.source, res.idx)] = res.noisy
        if res.tinted:
            report.tinted[(res.source, res.idx)] = res.tinted


def _unless_halted(res: PageResult) -> PageResult:
    """`res`, unless the disk refused a write while reading it: then the batch stops here, this page unstored (the
    next run reads it)."""
    if res.halt:
        raise StorageError(res.halt)
    return res


@contextmanager
def _reading(tasks: list[tuple[int, PageRef | KeptRef]], ctx: ReadContext, workers: int,
             live: dict[str, ListsUpdate], progress: bool, total: int,
             what: str = "Lecture des pages") -> Iterator[tuple[Iterator[PageResult], Callable[[], None]]]:
    """The tasks' results in order (_results) and a function that moves the progress bar (`total` steps) by one;
    the pool and the bar are closed on the way out, whatever happens."""
    bar = _progress(progress, total, what)
    results = _results(tasks, ctx, workers, live)

    def advance() -> None:
        if bar is not None:
            bar[0].advance(bar[1])

    def halting() -> Iterator[PageResult]:
        for res in results:
            yield _unless_halted(res)

    try:
        yield halting(), advance
    finally:
        if bar is not None:
            bar[0].stop()
        results.close()


def _progress(enabled: bool, total: int, what: str = "Lecture des pages") -> tuple[Any, Any] | None:
    if not enabled or total == 0:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    p = Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                 transient=True)
    p.start()
    task = p.add_task("pages", total=total)
    return p, task
