"""What the paper says: entries and page images read from a papier database, in the export format.

`read_paper(db_path)` is the one door from the database into the recollement. It uses papier.export's own row
builders, so `papier export` and `papier reconcile` can never disagree (CONTRACTS.md, "papier export"): every
sheet's entries (each saying its sheet_status) and every page image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from papier.db import open_db
from papier.export import entry_rows as export_entries
from papier.export import page_rows as export_pages


@dataclass
class PaperData:
    entries: list[dict[str, Any]] = field(default_factory=list)   # export-format entries (one per inked entry)
    pages: list[dict[str, Any]] = field(default_factory=list)     # export-format page images
    sheets: list[dict[str, Any]] = field(default_factory=list)    # {page_key, copy, form, serial, kit_id, status}


def read_paper(db_path: str | Path) -> PaperData:
    db = open_db(db_path, create=False)
    try:
        entries = list(export_entries(db, None, all_sheets=True))
        pages = list(export_pages(db))
        sheets = [dict(r) for r in db.query(
            "SELECT page_key, copy, form, form_version, serial, kit_id, status FROM sheets ORDER BY id")]
    finally:
        db.conn.close()
    return PaperData(entries, pages, sheets)
