"""Write one page's reading into SQLite: one transaction per page, in the parent process only.

Rules (issue 3):
- the same image again from the same place (source, index, sha256) → nothing changes;
- the same image from elsewhere → a ``duplicate`` page row, nothing else;
- a second, different image of a sheet already stored (same page_key and copy) → page ``conflict``, its reading
  kept in a sheet with status ``conflict``: never merged;
- a different copy number → a separate sheet (a photocopied blank filled in its own right).
"""

from __future__ import annotations

import os
import signal
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlite_utils

from papier.db import jdump, now, write_transaction
from scan_ingest.model import FieldResult, PageResult

FAULT_ENV = "PAPIER_FAULT_KILL_AFTER_PAGES"  # tests: die (SIGKILL) inside the transaction of page N+1


class _Fault:
    def __init__(self) -> None:
        raw = os.environ.get(FAULT_ENV)
        self.after = int(raw) if raw and raw.isdigit() else None
        self.stored = 0

    def maybe_die(self) -> None:
        if self.after is not None and self.stored >= self.after:
            os.kill(os.getpid(), signal.SIGKILL)


def upsert_scan(db: sqlite_utils.Database, source: str, sha: str, size: int, kind: str, run_id: int,
                status: str = "ok", reason: str | None = None) -> int:
    row = db.execute("SELECT id FROM scans WHERE source = ? AND sha256 = ?", [source, sha]).fetchone()
    if row:
        return int(row[0])
    cur = db.execute("INSERT INTO scans (source, sha256, size, kind, first_run, status, reason) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", [source, sha, size, kind, run_id, status, reason])
    return int(cur.lastrowid)


def _next_seq(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM pages").fetchone()[0])


def already_stored(db: sqlite_utils.Database, source: str, idx: int, sha: str) -> bool:
    return db.execute("SELECT 1 FROM pages WHERE source = ? AND idx = ? AND sha256 = ?",
                      [source, idx, sha]).fetchone() is not None


def _reading_cols(f: FieldResult) -> tuple[str, str, float, str | None, str | None]:
    """A field's machine reading as stored: (value, status, confidence, alternatives, reason) — written by
    Store._sheet, compared and rewritten by Store.update_reading."""
    return (jdump(f.value), f.status, round(float(f.confidence), 4),
            jdump(f.alternatives) if f.alternatives else None, f.reason)


def _known_sets(res: PageResult) -> str | None:
    """pages.known_sets of a reading (JSON; None: not recorded)."""
    return jdump(res.known_sets) if res.known_sets is not None else None


class Store:
    """The single writer. ``store(res)`` returns the final page status (or "skip")."""

    def __init__(self, db: sqlite_utils.Database, run_id: int):
        self.db = db
        self.conn: sqlite3.Connection = db.conn
        self.run_id = run_id
        self.fault = _Fault()
        self.last_page_id: int | None = None  # the page row the last store() wrote

    def store(self, res: PageResult, scan_id: int | None) -> tuple[str, str | None]:
        sha = res.sha256
        assert sha is not None
        if already_stored(self.db, res.source, res.idx, sha):
            return "skip", None
        with self._page_transaction():
            status, reason = self._store(res, scan_id, sha)
        return status, reason

    @contextmanager
    def _page_transaction(self) -> Iterator[sqlite3.Connection]:
        """One page's writes: all or nothing (the fault hook dies inside it, before COMMIT)."""
        with write_transaction(self.conn) as c:
            yield c
            self.fault.maybe_die()
        self.fault.stored += 1

    def _page_row(self, res: PageResult, scan_id: int | None, sha: str, status: str, reason: str | None,
                  sheet_id: int | None = None) -> int:
        row: dict[str, Any] = {
            "seq": _next_seq(self.conn), "run_id": self.run_id, "scan_id": scan_id, "source": res.source,
            "idx": res.idx, "sha256": sha, "image_path": res.image_path, "width": res.width or None,
            "height": res.height or None, "dpi": res.dpi or None, "status": status, "reason": reason,
            "page_key": res.page_key, "copy": res.copy, "sheet_id": sheet_id, "orientation": res.orientation,
            "residual_mm": res.residual_mm, "align_method": res.align_method, "payload": res.payload,
            "seen_at": now(), "bilevel": int(res.bilevel),
            "known_sets": _known_sets(res),
        }
        cols = ", ".join(row)
        cur = self.conn.execute(f"INSERT INTO pages ({cols}) VALUES ({', '.join('?' * len(row))})",
                                list(row.values()))
        self.last_page_id = int(cur.lastrowid)
        return self.last_page_id

    def _store(self, res: PageResult, scan_id: int | None, sha: str) -> tuple[str, str | None]:
        c = self.conn
        prev = c.execute("SELECT source, idx FROM pages WHERE sha256 = ? AND status != 'duplicate' "
                         "ORDER BY seq LIMIT 1", [sha]).fetchone()
        if prev is not None:
            reason = f"même image que {prev[0]} page {prev[1]} : rien de nouveau"
            self._page_row(res, scan_id, sha, "duplicate", reason)
            return "duplicate", reason
        if res.status != "identified":
            self._page_row(res, scan_id, sha, "unidentified", res.reason)
            return "unidentified", res.reason
        if res.manifest_chunks:
            page_id = self._page_row(res, scan_id, sha, "identified", res.reason)
            for kit, i, n, data in res.manifest_chunks:
                c.execute("INSERT OR IGNORE INTO manifests (kit_id, idx, count, data, page_id) VALUES (?, ?, ?, ?, ?)",
                          [kit, i, n, data, page_id])
            return "identified", res.reason

        page_id = self._page_row(res, scan_id, sha, "identified", res.reason)
        return self._sheet(res, page_id)

    def reread(self, res: PageResult, page_id: int) -> tuple[str, str | None]:
        """Second pass: a page stored as unidentified (custom form unknown at the time) read again from its kept
        image. Its page row is updated in place (same seq: the batch order stays the order seen); one
        transaction."""
        with write_transaction(self.conn) as c:
            row = c.execute("SELECT status, sheet_id FROM pages WHERE id = ?", [page_id]).fetchone()
            if row is None or row[0] != "unidentified" or row[1] is not None:
                return "skip", None  # (nothing written: the empty transaction commits)
            if res.status != "identified" or res.manifest_chunks:
                c.execute("UPDATE pages SET reason = ? WHERE id = ?", [res.reason, page_id])
                return "unidentified", res.reason
            return self._sheet(res, page_id)

    def update_reading(self, res: PageResult, page_id: int) -> int | None:
        """A page read again from its kept image now that its kit's lists are known: the machine's reading of each
        field is replaced where it changed, in one transaction; a field a person has decided (verified, or any
        decision) keeps that decision. `rev` grows on every field changed, so a decision posted from a review page
        opened before is refused rather than applied to a different reading. The page row records the lists it
        was read with. Returns the number of fields changed, or None when the page was left as it was (its
        reading no longer matches the stored sheet: another identity, another line count)."""
        with self._page_transaction() as c:
            row = c.execute("SELECT page_key, sheet_id FROM pages WHERE id = ?", [page_id]).fetchone()
            if row is None or row[1] is None or res.status != "identified" or res.page_key != row[0]:
                return None  # (nothing written: the empty transaction commits)
            entries = {r: eid for eid, r in c.execute("SELECT id, row FROM entries WHERE sheet_id = ?", [row[1]])}
            if sorted(entries) != sorted(en.row for en in res.entries):
                return None
            changed = 0
            stamp = now()
            for en in res.entries:
                stored = {r[0]: r[1:] for r in c.execute(
                    "SELECT name, id, value, status, confidence, alternatives, reason, decision FROM fields "
                    "WHERE entry_id = ?", [entries[en.row]])}
                for f in en.fields:
                    old = stored.get(f.name)
                    if old is None or old[2] == "verified" or old[6] is not None:
                        continue
                    new = _reading_cols(f)
                    if new == tuple(old[1:6]):
                        continue
                    c.execute("UPDATE fields SET value = ?, status = ?, confidence = ?, alternatives = ?, reason = ?, "
                              "machine_value = ?, rev = rev + 1, updated_at = ? WHERE id = ?",
                              [*new, new[0], stamp, old[0]])
                    changed += 1
            c.execute("UPDATE pages SET known_sets = ? WHERE id = ?",
                      [_known_sets(res), page_id])
        return changed

    def _sheet(self, res: PageResult, page_id: int) -> tuple[str, str | None]:
        c = self.conn
        # a sheet: primary, or conflict when that page_key + copy is already stored from another image
        if res.copy is None:
            other = c.execute("SELECT p.source, p.idx FROM sheets s JOIN pages p ON p.id = s.page_id "
                              "WHERE s.page_key = ? ORDER BY s.id LIMIT 1", [res.page_key]).fetchone()
        else:
            other = c.execute("SELECT p.source, p.idx FROM sheets s JOIN pages p ON p.id = s.page_id "
                              "WHERE s.page_key = ? AND (s.copy = ? OR s.copy IS NULL) ORDER BY s.id LIMIT 1",
                              [res.page_key, res.copy]).fetchone()
        status, reason = "identified", res.reason
        if other is not None:
            status = "conflict"
            what = "copie illisible, " if res.copy is None else ""
            reason = (f"{what}page {res.page_key} copie {res.copy if res.copy is not None else '?'} déjà lue "
                      f"depuis {other[0]} page {other[1]} : autre image, conservée à part (à trancher)")
        c.execute("UPDATE pages SET status = ?, reason = ?, page_key = ?, copy = ?, orientation = ?, "
                  "residual_mm = ?, align_method = ?, payload = ?, known_sets = ? WHERE id = ?",
                  [status, reason, res.page_key, res.copy, res.orientation, res.residual_mm, res.align_method,
                   res.payload, _known_sets(res), page_id])
        cur = c.execute(
            "INSERT INTO sheets (page_key, copy, kit_id, form, form_version, serial, page_id, status, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [res.page_key, res.copy, res.kit_id, res.form, res.form_version, res.serial, page_id,
             "conflict" if status == "conflict" else "primary", now()])
        sheet_id = int(cur.lastrowid)
        c.execute("UPDATE pages SET sheet_id = ? WHERE id = ?", [sheet_id, page_id])
        stamp = now()
        for en in res.entries:
            cur = c.execute("INSERT INTO entries (sheet_id, row, kind, has_ink, printed) VALUES (?, ?, ?, ?, ?)",
                            [sheet_id, en.row, en.kind, int(en.has_ink), jdump(en.printed) if en.printed else None])
            entry_id = int(cur.lastrowid)
            c.executemany(
                "INSERT INTO fields (entry_id, name, type, value, status, confidence, alternatives, reason, has_ink,"
                " snippet, bbox_mm, machine_value, rev, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(entry_id, f.name, f.type, *_reading_cols(f), int(f.has_ink), f.snippet,
                  jdump(f.bbox_mm) if f.bbox_mm else None, jdump(f.value), 0, stamp) for f in en.fields])
        return status, reason
