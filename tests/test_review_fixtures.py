"""Shared helpers for the review tests: one real simulated batch, ingested for real, copied per test.

The batch (built once per test process): a kit with one page per register, filled and scanned by
papier.simulate.simulate_batch (scanner profile, with extras: a blank sheet, a page from another kit, an upside
down page → a blank page and a conflict), plus a handwritten note without any code (an unidentified page a person
must look at), then read by scan_ingest.pipeline.ingest into SQLite.
Each test gets its own copy of the database and its files (tests change them).
"""

from __future__ import annotations

import atexit
import json
import shutil
import sqlite3
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

KIT_ID = "REVIEWKT"


@lru_cache(maxsize=1)
def built_batch() -> tuple[Path, Path]:
    """(db_path, truth_path) of the shared, never modified batch."""
    from papier.kit import build_kit
    from papier.simulate import simulate_batch
    from scan_ingest.pipeline import ingest

    root = Path(tempfile.mkdtemp(prefix="papier-review-"))
    atexit.register(shutil.rmtree, root, True)
    build_kit(root / "kit", pages_per_register=1, kit_id=KIT_ID, commune="Commune de test")
    # the seed must leave something in every queue group (the tests use each): with the fourth digit model, seed 5
    # left no amount and no family number in review (test_queue_is_grouped_... checks the groups)
    truth = simulate_batch(root / "kit", root / "scans", profile="scanner_200", seed=8, extras=True, fmt="pdf")
    _note(root / "scans" / "zz_note.pdf")
    scans = sorted(str(p) for p in (root / "scans").iterdir() if p.suffix == ".pdf")
    db_path = root / "db" / "papier.db"
    ingest(scans, db_path=db_path, workers=2)
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return db_path, truth


def _note(path: Path) -> None:
    """A sheet of another document scanned with the batch: a few handwritten words, no code."""
    import cv2
    import numpy as np

    from scan_ingest import testing as T

    page = np.full((2339, 1654), 250, np.uint8)
    for k, line in enumerate(("Appeler le prestataire", "informatique avant 10h")):
        cv2.putText(page, line, (180, 700 + 90 * k), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.6, 40, 3, cv2.LINE_AA)
    T.save_pdf([page], path)


def fresh_db(tmp: Path) -> Path:
    """A private copy of the batch database (and its files folder) under `tmp`."""
    src, _ = built_batch()
    dst = Path(tmp) / "copy"
    shutil.copytree(src.parent, dst)
    return dst / src.name


def truth_values(db_path: Path) -> dict[int, Any]:
    """field id → the true value the simulator wrote (for fields of identified, primary sheets)."""
    _, truth_path = built_batch()
    truth: dict[tuple[str, int, int], dict[str, Any]] = {}
    for line in Path(truth_path).read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if r.get("type") == "entry":
            truth[(Path(r["source"]).name, r["index"], r["row"])] = r["fields"]
    con = sqlite3.connect(db_path)
    out: dict[int, Any] = {}
    for fid, name, row, source, idx in con.execute(
            "SELECT f.id, f.name, e.row, p.source, p.idx FROM fields f JOIN entries e ON e.id = f.entry_id "
            "JOIN sheets s ON s.id = e.sheet_id JOIN pages p ON p.id = s.page_id"):
        t = truth.get((Path(source).name, idx, row))
        if t is not None and name in t:
            out[fid] = t[name]
    con.close()
    return out


class Running:
    """The review server on a free port, serving in a thread (context manager)."""

    def __init__(self, db_path: Path, **kw: Any):
        from papier.review.server import build_server

        self.server, self.url = build_server(db_path, **kw)
        self.base = self.url.split("/?")[0]
        self.token = self.url.split("t=", 1)[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self) -> "Running":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
