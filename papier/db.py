"""The SQLite store (sqlite-utils), its migrations, and where the kept files live.

A database ``papier.db`` has a sibling folder ``papier.db.files/`` holding every scanned page image (evidence,
named by its SHA-256) and every field snippet. Paths stored in the database are relative to the database's
folder, so the two can be copied together to a USB key.

Tables (see docs/ARCHITECTURE.md for the full description):
- runs           one per ingest run
- scans          one per input file seen (path as given, file sha256)
- pages          one per page image seen: UNIQUE(source, idx, sha256); status identified|unidentified|duplicate|
                 conflict; the image kept under files/
- sheets         one per physical sheet read: page_key + copy (+ the page image it came from); status primary or
                 conflict (a second, different image of the same sheet: never merged silently)
- entries        one per line/fiche/page block of a sheet
- fields         one per field of an entry: value (JSON), status auto|review|verified, confidence, alternatives
- reviews        audit log of every human decision
- manifests      QR chunks of kit manifests (custom forms, known value sets)
- (migration 3)  pages.resolution/resolved_by/resolved_at and fields.decision: human decisions on the rows
- (migration 4)  pages.bilevel and pages.known_sets: what a reading depended on besides the image
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

from papier.errors import DatabaseError

SCHEMA_VERSION_KEY = "papier_schema"


def _m1(db: sqlite_utils.Database) -> None:
    db["runs"].create({"id": int, "started": str, "finished": str, "command": str, "inputs": str,
                       "status": str, "summary": str}, pk="id")
    db["scans"].create({"id": int, "source": str, "sha256": str, "size": int, "kind": str, "first_run": int,
                        "status": str, "reason": str}, pk="id")
    db["scans"].create_index(["source", "sha256"], unique=True)
    db["pages"].create({
        "id": int, "seq": int, "run_id": int, "scan_id": int, "source": str, "idx": int, "sha256": str,
        "image_path": str, "width": int, "height": int, "dpi": float,
        "status": str, "reason": str, "page_key": str, "copy": int, "sheet_id": int,
        "orientation": int, "residual_mm": float, "align_method": str, "payload": str, "seen_at": str,
    }, pk="id", foreign_keys=[("scan_id", "scans", "id")])
    db["pages"].create_index(["source", "idx", "sha256"], unique=True)
    db["pages"].create_index(["sha256"])
    db["pages"].create_index(["page_key"])
    db["sheets"].create({
        "id": int, "page_key": str, "copy": int, "kit_id": str, "form": str, "form_version": int,
        "serial": int, "page_id": int, "status": str, "created": str, "resolved_by": str,
    }, pk="id", foreign_keys=[("page_id", "pages", "id")])
    db["sheets"].create_index(["page_key", "copy", "page_id"], unique=True)
    db["entries"].create({"id": int, "sheet_id": int, "row": int, "kind": str, "has_ink": int, "printed": str},
                         pk="id", foreign_keys=[("sheet_id", "sheets", "id")])
    db["entries"].create_index(["sheet_id", "row"], unique=True)
    db["fields"].create({
        "id": int, "entry_id": int, "name": str, "type": str, "value": str, "status": str,
        "confidence": float, "alternatives": str, "reason": str, "has_ink": int, "snippet": str,
        "bbox_mm": str, "machine_value": str, "rev": int, "updated_at": str,
    }, pk="id", foreign_keys=[("entry_id", "entries", "id")])
    db["fields"].create_index(["entry_id", "name"], unique=True)
    db["fields"].create_index(["status"])
    db["reviews"].create({
        "id": int, "field_id": int, "page_id": int, "reviewer": str, "at": str, "action": str,
        "old_value": str, "new_value": str, "old_status": str, "new_status": str, "note": str,
    }, pk="id")
    db["manifests"].create({"kit_id": str, "idx": int, "count": int, "data": str, "page_id": int},
                           pk=("kit_id", "idx"))


def _m2_review(db: sqlite_utils.Database) -> None:
    """Review page: shared settings (e.g. double entry) and a fast audit-log lookup per field and page."""
    db["settings"].create({"key": str, "value": str}, pk="key")
    db["reviews"].create_index(["field_id"])
    db["reviews"].create_index(["page_id"])


PAGE_RESOLUTIONS = ("not_papier", "rescan", "keep_a", "keep_b")
FIELD_DECISIONS = ("accept", "set", "illegible", "blank")


def _m3_decisions(db: sqlite_utils.Database) -> None:
    """Human decisions on the rows themselves, not only in the ``reviews`` log:
    - ``pages.resolution`` / ``resolved_by`` / ``resolved_at``: the review page's decision on a page problem
      (``not_papier`` | ``rescan`` for an unidentified page, ``keep_a`` | ``keep_b`` for a conflict, on the page of
      the second image);
    - ``fields.decision``: the human action that made the field ``verified`` (``accept`` | ``set`` | ``illegible`` |
      ``blank``), NULL while the machine's reading stands or after a reopen.
    Filled from the existing log (latest decision wins)."""
    c = db.conn
    c.execute("ALTER TABLE pages ADD COLUMN resolution TEXT")
    c.execute("ALTER TABLE pages ADD COLUMN resolved_by TEXT")
    c.execute("ALTER TABLE pages ADD COLUMN resolved_at TEXT")
    c.execute("ALTER TABLE fields ADD COLUMN decision TEXT")
    marks = ",".join("?" * len(PAGE_RESOLUTIONS))
    for pid, action, who, at in c.execute(
            f"SELECT page_id, action, reviewer, at FROM reviews WHERE field_id IS NULL AND page_id IS NOT NULL "
            f"AND action IN ({marks}) ORDER BY id", PAGE_RESOLUTIONS).fetchall():
        c.execute("UPDATE pages SET resolution = ?, resolved_by = ?, resolved_at = ? WHERE id = ?",
                  (action, who, at, pid))
    # verified fields: the latest decision (a double-entry "entry" row's note starts with its action)
    for fid, action, note in c.execute(
            "SELECT r.field_id, r.action, r.note FROM reviews r JOIN fields f ON f.id = r.field_id "
            "WHERE f.status = 'verified' AND r.action IN ('accept', 'set', 'illegible', 'blank', 'entry') "
            "ORDER BY r.id").fetchall():
        decision = action if action != "entry" else (note or "").split(";")[0].strip()
        if decision in FIELD_DECISIONS:
            c.execute("UPDATE fields SET decision = ? WHERE id = ?", (decision, fid))


def _m4_read_with(db: sqlite_utils.Database) -> None:
    """What a page's reading depended on besides its image, so that it can be read again the same way:
    - ``pages.bilevel``: the page was captured in black and white (a fax, a 1-bit scan; the kept PNG of a
      rendered PDF page no longer shows it);
    - ``pages.known_sets``: the names of the kit lists (roster, catalogue, readers) its digit fields were read
      against, JSON. NULL for pages read before this migration: not known, so such a page is read again once its
      kit's lists are available (``scan_ingest.pipeline._reread_for_lists``; the same reading when it had them)."""
    c = db.conn
    c.execute("ALTER TABLE pages ADD COLUMN bilevel INTEGER")
    c.execute("ALTER TABLE pages ADD COLUMN known_sets TEXT")


# Append only: a migration, once released, is never edited.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_m1, _m2_review, _m3_decisions, _m4_read_with]


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def open_db(path: str | Path, create: bool = True) -> sqlite_utils.Database:
    """Open (and migrate) a papier database. WAL mode: readers (the review page) don't block the writer."""
    p = Path(path)
    if not p.exists() and not create:
        raise DatabaseError(f"base de données introuvable : {p} (lancez d'abord « papier scan ingest »)")
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(str(p), timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        db = sqlite_utils.Database(conn)
        migrate(db)
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"{p} n'est pas une base papier lisible ({exc})") from None
    return db


def migrate(db: sqlite_utils.Database) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise DatabaseError(f"base créée par une version plus récente de papier (schéma {version}) : "
                            "mettez papier à jour")
    for i in range(version, len(MIGRATIONS)):
        with db.conn:
            db.conn.execute("BEGIN IMMEDIATE")
            MIGRATIONS[i](db)
            db.conn.execute(f"PRAGMA user_version = {i + 1}")


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction (BEGIN IMMEDIATE … COMMIT), rolled back on any error, unless SQLite has already
    rolled it back itself (after SQLITE_FULL, a full disk): a second ROLLBACK would raise and hide the real
    error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def files_dir(db_path: str | Path) -> Path:
    """The folder beside the database that holds page images and snippets."""
    p = Path(db_path)
    return p.parent / (p.name + ".files")


def jdump(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def jload(s: str | None) -> Any:
    return None if s is None else json.loads(s)


def put_setting(db: sqlite_utils.Database, key: str, value: Any) -> None:
    """Store `value` (JSON) under `key` in the settings table, replacing any earlier one; inside the caller's
    transaction when there is one."""
    db.conn.execute("INSERT INTO settings(key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, jdump(value)))
