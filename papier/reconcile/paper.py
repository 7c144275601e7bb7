"""What the paper says: entries and page images read from a papier database, in the export format.

`read_paper(db_path)` is the one door from the database into the recollement. It uses papier.export's own row
builders when they are installed (so `papier export` and `papier reconcile` can never disagree) and otherwise
reads the tables described in papier/db.py with the same output shape (CONTRACTS.md, "papier export").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from papier.db import jload, open_db


@dataclass
class PaperData:
    entries: list[dict[str, Any]] = field(default_factory=list)   # export-format entries (one per inked entry)
    pages: list[dict[str, Any]] = field(default_factory=list)     # export-format page images
    sheets: list[dict[str, Any]] = field(default_factory=list)    # {page_key, copy, form, serial, kit_id, status}


def _export_builders() -> tuple[Any, Any] | None:
    """papier.export's entry and page row builders (the functions `papier export` itself writes from)."""
    try:
        from papier import export as ex
    except ImportError:
        return None
    entries = getattr(ex, "iter_entries", None) or getattr(ex, "_entries", None)
    pages = getattr(ex, "iter_pages", None) or getattr(ex, "_pages", None)
    if entries is None or pages is None:
        return None
    return (lambda db: entries(db, None)), pages


def read_paper(db_path: str | Path) -> PaperData:
    db = open_db(db_path, create=False)
    try:
        builders = _export_builders()
        if builders is not None:
            entries = list(builders[0](db))
            pages = list(builders[1](db))
        else:
            entries = list(_entries_sql(db))
            pages = list(_pages_sql(db))
        sheets = [dict(r) for r in db.query(
            "SELECT page_key, copy, form, form_version, serial, kit_id, status FROM sheets ORDER BY id")]
    finally:
        db.conn.close()
    return PaperData(entries, pages, sheets)


def _entries_sql(db: Any) -> Iterable[dict[str, Any]]:
    fields_by_entry: dict[int, dict[str, Any]] = {}
    for f in db.query("SELECT f.entry_id, f.name, f.value, f.status, f.confidence FROM fields f "
                      "JOIN entries e ON e.id = f.entry_id WHERE e.has_ink = 1 ORDER BY f.entry_id, f.id"):
        fields_by_entry.setdefault(f["entry_id"], {})[f["name"]] = {
            "value": jload(f["value"]), "status": f["status"], "confidence": f["confidence"]}
    for e in db.query("SELECT e.id, e.row, e.kind, e.printed, s.page_key, s.copy, s.form, s.status AS sheet_status "
                      "FROM entries e JOIN sheets s ON s.id = e.sheet_id WHERE e.has_ink = 1 "
                      "ORDER BY s.page_key, s.copy, s.id, e.row"):
        yield {"page_key": e["page_key"], "form": e["form"], "row": e["row"], "kind": e["kind"],
               "copy": e["copy"], "printed": jload(e["printed"]) or {}, "sheet_status": e["sheet_status"],
               "fields": fields_by_entry.get(e["id"], {})}


def _pages_sql(db: Any) -> Iterable[dict[str, Any]]:
    for p in db.query("SELECT source, idx, sha256, page_key, copy, status, reason FROM pages ORDER BY seq, id"):
        yield {"source": p["source"], "index": p["idx"], "sha256": p["sha256"], "page_key": p["page_key"],
               "copy": p["copy"], "status": p["status"], "reason": p["reason"]}
