"""Export what ingest stored: JSON lines (one per entry with ink, or one per page image seen) and a CSV for a
French spreadsheet (``;`` separator, UTF-8 with BOM, decimal comma for amounts).

Formats are stable interfaces (docs CONTRACTS.md): keys are only ever added.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from papier.db import jload, open_db

STATUS_FR = {"auto": "lu", "review": "à vérifier", "verified": "vérifié"}
SHEET_FR = {"primary": "", "conflict": "conflit", "superseded": "remplacée"}


def entry_rows(db: Any, form: str | None, all_sheets: bool = True) -> Iterator[dict[str, Any]]:
    """Entries with ink, in the order their pages were seen, each with its fields.

    ``export`` asks for ``primary`` sheets only (its default): a sheet read a second time from another image (``conflict``, not decided
    yet) or set aside by a reviewer (``superseded``) is never merged into the data silently. Conflict pages stay
    visible in ``--pages`` (status ``conflict``, with ``sheet_status``) and are counted on stderr by ``export``;
    ``all_sheets=True`` (this builder's default, what papier.reconcile reads) gives every sheet, each line saying
    its ``sheet_status``."""
    sql = (
        "SELECT e.id, e.row, e.kind, e.printed, s.page_key, s.form, s.copy, s.status, p.source, p.idx, s.id "
        "FROM entries e JOIN sheets s ON s.id = e.sheet_id JOIN pages p ON p.id = s.page_id "
        "WHERE e.has_ink = 1" + ("" if all_sheets else " AND s.status = 'primary'")
        + (" AND s.form = ?" if form else "") + " ORDER BY p.seq, e.row")
    rows = db.execute(sql, [form] if form else []).fetchall()
    for eid, row, kind, printed, page_key, fname, copy, sheet_status, source, idx, sheet_id in rows:
        fields: dict[str, dict[str, Any]] = {}
        snippets: dict[str, str] = {}
        reasons: dict[str, str] = {}
        illegible: list[str] = []
        for name, value, status, conf, snippet, reason, decision in db.execute(
                "SELECT name, value, status, confidence, snippet, reason, decision FROM fields WHERE entry_id = ? "
                "ORDER BY id", [eid]):
            fields[name] = {"value": jload(value), "status": status, "confidence": conf}
            if snippet:
                snippets[name] = snippet
            if reason and status != "auto":
                reasons[name] = reason
            if status == "verified" and decision == "illegible":
                illegible.append(name)
        yield {
            "page_key": page_key, "form": fname, "row": row, "fields": fields,
            "copy": copy, "kind": kind, "printed": jload(printed) or {}, "snippet": snippets,
            "sheet_status": sheet_status, "source": source, "index": idx, "reasons": reasons,
            "illegible": illegible,
        }


def page_rows(db: Any) -> Iterator[dict[str, Any]]:
    """One line per page image seen; ``sheet_status`` (primary | conflict | superseded, null for pages without a
    sheet) says whether its reading is in the entry export (only ``primary`` is, by default); ``resolution`` is
    the review page's decision on the page's problem, ``{"action", "by", "at"}`` (action ``not_papier`` |
    ``rescan`` for an unidentified page, ``keep_a`` | ``keep_b`` for a conflict), or null."""
    for source, idx, sha, page_key, status, reason, sheet_status, res, res_by, res_at in db.execute(
            "SELECT p.source, p.idx, p.sha256, p.page_key, p.status, p.reason, s.status, p.resolution, "
            "p.resolved_by, p.resolved_at FROM pages p LEFT JOIN sheets s ON s.id = p.sheet_id ORDER BY p.seq"):
        yield {"source": source, "index": idx, "sha256": sha, "page_key": page_key, "status": status,
               "reason": reason, "sheet_status": sheet_status,
               "resolution": {"action": res, "by": res_by, "at": res_at} if res else None}


def _left_out(db: Any, form: str | None) -> Counter[str]:
    """Sheets whose entries the default export leaves out, by status."""
    sql = "SELECT status, count(*) FROM sheets WHERE status != 'primary'" + (" AND form = ?" if form else "") + \
        " GROUP BY status"
    return Counter({st: n for st, n in db.execute(sql, [form] if form else [])})


@contextmanager
def _out(output: str | Path | None, bom: bool) -> Iterator[IO[str]]:
    if output is None:
        if bom:
            sys.stdout.write("\ufeff")
        yield sys.stdout
        sys.stdout.flush()
        return
    p = Path(output)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        yield fh


def _cell(value: Any, ftype: str, semantic: str | None) -> str:
    """A value as a French spreadsheet shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if ftype == "digits" and semantic == "amount_cents" and isinstance(value, str) and value.isdigit():
        return f"{int(value) // 100},{int(value) % 100:02d}"
    if ftype == "digits" and isinstance(value, str) and semantic and semantic.startswith("date_") and value.isdigit():
        if len(value) in (4, 6, 8):
            return "/".join([value[0:2], value[2:4]] + ([value[4:]] if len(value) > 4 else []))
    if ftype == "digits" and semantic == "time_hhmm" and isinstance(value, str) and len(value) == 4:
        return f"{value[:2]}h{value[2:]}"
    return str(value)


def _field_meta(form: str, version_hint: int | None = None) -> dict[str, tuple[str, str | None, str]]:
    """name → (type, semantic, label) for a form (built-in, latest version) — for CSV headers and formatting."""
    try:
        from papier.forms import builtin_form

        f = builtin_form(form, version_hint)
    except Exception:  # noqa: BLE001 - a custom form unknown here: raw values
        return {}
    return {fd.name: (fd.type, fd.semantic, fd.label) for fd in f.fields + f.page_fields}


def _write_csv(entries: list[dict[str, Any]], out: IO[str]) -> None:
    """One row per entry. Columns: where it comes from, a global flag, then per field its value and, when the
    field is not certain, « à vérifier » in its own status column — what a régie agent filters on."""
    names: list[str] = []
    forms = sorted({e["form"] for e in entries})
    meta: dict[str, tuple[str, str | None, str]] = {}
    for fm in forms:
        meta.update(_field_meta(fm))
    for e in entries:
        for n in e["fields"]:
            if n not in names:
                names.append(n)
    # the columns in the order of the latest built-in definition: the same columns in the same order whichever
    # version's pages came first (a later version may order a line's fields differently: forms/paiement/v2.toml)
    order, seen = {n: i for i, n in enumerate(meta)}, {n: i for i, n in enumerate(names)}
    names.sort(key=lambda n: (order.get(n, len(order)), seen[n]))
    header = ["formulaire", "page", "copie", "ligne", "pré-imprimé", "à vérifier", "champs à vérifier",
              "feuille", "fichier", "page du fichier"]
    for n in names:
        label = meta.get(n, ("", None, n))[2] or n
        header += [label, f"{label} (état)"]
    w = csv.writer(out, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(header)
    for e in entries:
        flagged = [n for n, f in e["fields"].items() if f["status"] == "review"]
        printed = " ".join(f"{v}" for v in e["printed"].values())
        row = [e["form"], e["page_key"], e["copy"] if e["copy"] is not None else "?", e["row"], printed,
               "OUI" if flagged or e["sheet_status"] != "primary" else "", ", ".join(flagged),
               SHEET_FR.get(e["sheet_status"], e["sheet_status"]), e["source"], e["index"]]
        for n in names:
            f = e["fields"].get(n)
            if f is None:
                row += ["", ""]
                continue
            ftype, sem, _ = meta.get(n, ("", None, n))
            row += [_cell(f["value"], ftype, sem), STATUS_FR.get(f["status"], f["status"])]
        w.writerow(row)


def export(db_path: str | Path, fmt: str = "jsonl", form: str | None = None, pages: bool = False,
           output: str | Path | None = None, all_sheets: bool = False) -> int:
    """Write the export; returns the number of lines (entries or pages) written.

    Entries come from ``primary`` sheets only unless ``all_sheets`` (see ``entry_rows``); the sheets left out are
    announced on stderr (never left out silently)."""
    db = open_db(db_path, create=False)
    if not pages and not all_sheets:
        left = _left_out(db, form)
        if left:
            parts = []
            if left["conflict"]:
                parts.append(f"{left['conflict']} feuille(s) en conflit (deux images différentes, à trancher dans "
                             "« papier review »)")
            if left["superseded"]:
                parts.append(f"{left['superseded']} feuille(s) remplacée(s) par une autre image")
            print("Non exportées : " + " ; ".join(parts) + ". Liste : « papier export --format jsonl --pages ».",
                  file=sys.stderr)
    n = 0
    if pages:
        if fmt != "jsonl":
            from papier.errors import PapierError

            raise PapierError("--pages n'existe qu'au format jsonl")
        with _out(output, bom=False) as out:
            for p in page_rows(db):
                out.write(json.dumps(p, ensure_ascii=False) + "\n")
                n += 1
        return n
    if fmt == "jsonl":
        with _out(output, bom=False) as out:
            for e in entry_rows(db, form, all_sheets):
                out.write(json.dumps(e, ensure_ascii=False) + "\n")
                n += 1
        return n
    entries = list(entry_rows(db, form, all_sheets))
    buf = io.StringIO()
    _write_csv(entries, buf)
    with _out(output, bom=True) as out:
        out.write(buf.getvalue())
    return len(entries)
