"""The review queue and every human decision: pure SQLite logic, no HTTP (the server is a thin layer on top).

Queue order is chosen for speed: fields are grouped by kind across all sheets (amounts, then family numbers,
then other digits, then marks, then text to transcribe), each group by field name, lowest confidence first; a
person types the same kind of value again and again with the image in front of them.

Decisions:
- ``accept`` (the machine's current value), ``set`` (a typed or chosen value), ``illegible`` (value null,
  note « illisible »), ``blank`` (nothing written: value null / false / []).
- The field becomes ``verified``; a ``reviews`` row keeps who, when, old and new value and status.
- Optimistic concurrency: every write is ``UPDATE … WHERE id = ? AND rev = ?``; a stale ``rev`` raises
  ``Conflict`` (the page shows a French message and reloads the item): two reviewers never overwrite each
  other silently.
- Double entry (setting ``double_entry``): for amounts and état-civil fields, a decision is recorded as an
  ``entry`` (the field stays ``review``, ``rev`` still bumps); the field becomes ``verified`` once two different
  reviewers' latest entries agree. A reviewer does not see a field again after their entry unless someone else
  entered a different value (a dispute: then both values are shown).
- A verified field keeps the action that verified it in ``fields.decision`` (« illisible » is ``illegible``:
  value null, status verified — the export says so in the entry's ``illegible`` list).
- Page-level problems (unidentified pages, two different scans of the same sheet) are resolved by actions logged
  in ``reviews`` with ``field_id`` NULL and kept on the page row (``pages.resolution``, ``resolved_by``,
  ``resolved_at``); a conflict resolution flips ``sheets.status`` (``primary`` /
  ``superseded``). Only fields of ``primary`` sheets are queued.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

import sqlite_utils

from papier.checks import value_problem
from papier.db import jdump, jload, now, put_setting, write_transaction
from papier.identity import BLANK_PAGE_REASON

# --- queue groups -------------------------------------------------------------------------------------------------

GROUPS: tuple[tuple[str, str], ...] = (
    ("amount", "Montants"),
    ("famille", "N° de famille"),
    ("digits", "Autres chiffres"),
    ("mark", "Cases et choix"),
    ("text", "Texte à transcrire"),
)
GROUP_RANK = {k: i for i, (k, _) in enumerate(GROUPS)}
GROUP_LABEL = dict(GROUPS)
ETAT_CIVIL_FORMS = frozenset({"naissance", "deces"})
SHEET_QUEUED = ("primary",)  # sheets whose fields are reviewed (NULL status counts as primary)
DEFAULT_SETTINGS: dict[str, Any] = {"double_entry": False}

ACTIONS = ("accept", "set", "illegible", "blank")
PAGE_ACTIONS = {
    "unidentified": ("not_papier", "rescan"),
    "conflict": ("keep_a", "keep_b"),
}
PAGE_ACTION_LABEL = {
    "not_papier": "pas une page papier",
    "rescan": "à rescanner",
    "keep_a": "garder la première image (A)",
    "keep_b": "garder la nouvelle image (B)",
}


class ReviewError(Exception):
    """A request that cannot be carried out (French message for the page)."""

    status = 400


class NotFound(ReviewError):
    status = 404


class Conflict(ReviewError):
    """Someone else changed the field (or page) first."""

    status = 409

    def __init__(self, message: str, item: dict[str, Any] | None = None):
        super().__init__(message)
        self.item = item


# --- field metadata from the form definitions ------------------------------------------------------------------


@dataclass(frozen=True)
class FieldMeta:
    name: str
    type: str
    label: str
    options: tuple[tuple[str, str], ...] = ()
    length: int = 0
    groups: tuple[int, ...] = ()
    separator: str = ""
    semantic: str | None = None
    check: str | None = None
    known: str | None = None
    review_always: bool = False
    section: str | None = None
    known_form: bool = True

    @property
    def group(self) -> str:
        if self.type == "digits":
            if self.semantic == "amount_cents":
                return "amount"
            if self.known == "familles":
                return "famille"
            return "digits"
        if self.type in ("choice", "multi", "checkbox"):
            return "mark"
        return "text"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "type": self.type, "label": self.label,
            "options": [{"value": v, "label": lab} for v, lab in self.options],
            "length": self.length, "groups": list(self.groups), "separator": self.separator,
            "semantic": self.semantic, "check": self.check, "known": self.known, "section": self.section,
        }


def _custom_forms(db: sqlite_utils.Database | None) -> dict[tuple[str, int], Any]:
    if db is None:
        return {}
    out: dict[tuple[str, int], Any] = {}
    for m in kit_manifests(db).values():
        out.update(getattr(m, "custom_forms", {}) or {})
    return out


def kit_manifests(db: sqlite_utils.Database) -> dict[str, Any]:
    """Kit manifests reassembled from their stored QR chunks (best effort: incomplete ones are skipped)."""
    key = str(db.conn)  # one cache per connection object is enough: manifests only grow
    if "manifests" not in db.table_names():
        return {}
    rows = db.execute("SELECT kit_id, idx, count, data FROM manifests ORDER BY kit_id, idx").fetchall()
    sig = (key, len(rows))
    cached = _MANIFEST_CACHE.get(sig)
    if cached is not None:
        return cached
    out: dict[str, Any] = {}
    try:
        from papier.identity import ManifestChunk, join_manifest
        from papier.manifest import parse_manifest
    except ImportError:  # pragma: no cover
        return out
    by_kit: dict[str, list[Any]] = {}
    for kit_id, idx, count, data in rows:
        by_kit.setdefault(kit_id, []).append(ManifestChunk(kit_id, idx, count, data))
    for kit_id, chunks in by_kit.items():
        try:
            out[kit_id] = parse_manifest(join_manifest(chunks))
        except Exception:  # incomplete or unreadable manifest: nothing to offer
            continue
    _MANIFEST_CACHE.clear()
    _MANIFEST_CACHE[sig] = out
    return out


_MANIFEST_CACHE: dict[tuple[str, int], dict[str, Any]] = {}


@lru_cache(maxsize=64)
def _builtin_layout(form: str, version: int) -> Any:
    from papier.forms import resolve_form
    from papier.layout import layout_form

    try:
        return layout_form(resolve_form(form, version))
    except Exception:
        return None


def form_layout(form: str | None, version: int | None, db: sqlite_utils.Database | None = None) -> Any:
    """The PageLayout of a sheet's form (built-in, or custom from the kit manifest), or None."""
    if not form or version is None:
        return None
    lay = _builtin_layout(form, int(version))
    if lay is not None:
        return lay
    custom = _custom_forms(db)
    if (form, int(version)) in custom:
        from papier.layout import layout_form

        try:
            return layout_form(custom[(form, int(version))])
        except Exception:
            return None
    return None


@lru_cache(maxsize=256)
def form_title(form: str | None, version: int | None) -> str:
    lay = _builtin_layout(form, int(version)) if form and version is not None else None
    if lay is None:
        return form or "formulaire inconnu"
    from papier.forms import resolve_form

    return resolve_form(form, int(version)).title


@lru_cache(maxsize=4096)
def _meta_cached(form: str, version: int, row: int, name: str, db_type: str) -> FieldMeta:
    lay = _builtin_layout(form, version)
    return _meta_from_layout(lay, row, name, db_type)


def _section_of(lay: Any, name: str) -> str | None:
    """The section heading a field sits under (a section starts at the field that names it)."""
    sec = None
    for f in (lay.entries[0].fields if lay.entries else ()):
        if f.defn.section:
            sec = f.defn.section
        if f.name == name:
            return sec
    return None


def _meta_from_layout(lay: Any, row: int, name: str, db_type: str) -> FieldMeta:
    geom = field_geom(lay, row, name)
    if geom is None:
        return FieldMeta(name=name, type=db_type or "text", label=name, known_form=False)
    d = geom.defn
    return FieldMeta(
        name=d.name, type=d.type, label=d.label, options=tuple((o.value, o.label) for o in d.options),
        length=d.length, groups=tuple(d.groups), separator=d.separator or "", semantic=d.semantic, check=d.check,
        known=d.known, review_always=bool(d.review_always), section=_section_of(lay, name),
    )


def field_geom(lay: Any, row: int, name: str) -> Any:
    """The FieldGeom of field `name` on entry `row` of a layout (None when unknown)."""
    if lay is None:
        return None
    entries = lay.entries
    cands = [e for e in entries if e.row == row] + list(entries)
    for e in cands:
        for f in e.fields:
            if f.name == name:
                return f
    return None


def field_meta(form: str | None, version: int | None, row: int, name: str, db_type: str,
               db: sqlite_utils.Database | None = None) -> FieldMeta:
    if form and version is not None and _builtin_layout(form, int(version)) is not None:
        return _meta_cached(form, int(version), int(row or 0), name, db_type or "")
    lay = form_layout(form, version, db)
    return _meta_from_layout(lay, int(row or 0), name, db_type or "")


def needs_double(meta: FieldMeta, form: str | None) -> bool:
    """Fields that want two people to agree when double entry is on: amounts and état-civil values."""
    return meta.semantic == "amount_cents" or (form in ETAT_CIVIL_FORMS) or meta.review_always


# --- settings --------------------------------------------------------------------------------------------------


def get_settings(db: sqlite_utils.Database) -> dict[str, Any]:
    out = dict(DEFAULT_SETTINGS)
    if "settings" in db.table_names():
        for k, v in db.execute("SELECT key, value FROM settings WHERE key LIKE 'review.%'").fetchall():
            try:
                out[k[len("review."):]] = json.loads(v)
            except (TypeError, json.JSONDecodeError):
                continue
    return out


def set_setting(db: sqlite_utils.Database, key: str, value: Any, reviewer: str = "") -> dict[str, Any]:
    if key not in DEFAULT_SETTINGS:
        raise ReviewError(f"réglage inconnu : {key}")
    if key == "double_entry":
        value = bool(value)
    old = get_settings(db).get(key)
    with write_transaction(db.conn):
        put_setting(db, f"review.{key}", value)
        db.conn.execute(
            "INSERT INTO reviews(field_id, page_id, reviewer, at, action, old_value, new_value, old_status, "
            "new_status, note) VALUES (NULL, NULL, ?, ?, 'setting', ?, ?, NULL, NULL, ?)",
            (reviewer, now(), jdump(old), jdump(value), key))
    return get_settings(db)


# --- queue -----------------------------------------------------------------------------------------------------

# Queue order is computed by SQLite: a per-connection TEMP table maps (form, version, field name) to the queue
# group (from the form definitions), so sorting 10,000 pending fields is one indexed query, not Python work.
_QUEUE_SQL = """
SELECT f.id, COALESCE(g.rank, CASE f.type WHEN 'digits' THEN 2 WHEN 'text' THEN 4 ELSE 3 END) AS rk
FROM fields f
JOIN entries e ON e.id = f.entry_id
JOIN sheets s ON s.id = e.sheet_id
LEFT JOIN temp.review_groups g ON g.form = s.form AND g.version = s.form_version AND g.name = f.name
WHERE f.status = 'review' AND (s.status IS NULL OR s.status = 'primary')
ORDER BY rk, COALESCE(g.sub, f.name), COALESCE(f.confidence, 0), s.id, e.row, f.id
"""


def _ensure_groups(db: sqlite_utils.Database) -> None:
    """Fill this connection's TEMP table of queue groups for every form version present in the database."""
    db.conn.execute("CREATE TEMP TABLE IF NOT EXISTS review_groups (form TEXT, version INTEGER, name TEXT, "
                    "rank INTEGER, sub TEXT, PRIMARY KEY (form, version, name))")
    loaded = {(f, int(v)) for f, v in db.conn.execute("SELECT DISTINCT form, version FROM temp.review_groups")}
    forms = [(f, int(v)) for f, v in db.execute(
        "SELECT DISTINCT form, form_version FROM sheets WHERE form IS NOT NULL AND form_version IS NOT NULL")]
    for form, version in forms:
        if (form, version) in loaded:
            continue
        lay = form_layout(form, version, db)
        rows = []
        if lay is not None:
            for e in lay.entries:
                for f in e.fields:
                    meta = _meta_from_layout(lay, e.row, f.name, f.type)
                    g = meta.group
                    rows.append((form, version, f.name, GROUP_RANK[g], "" if g in ("amount", "famille") else f.name))
        db.conn.executemany("INSERT OR IGNORE INTO temp.review_groups VALUES (?, ?, ?, ?, ?)", rows)
        loaded.add((form, version))


def _pending_entries(db: sqlite_utils.Database) -> dict[int, dict[str, Any]]:
    """Latest double-entry value per reviewer, for fields still under review: {field_id: {reviewer: value}}."""
    rows = db.execute(
        "SELECT r.field_id, r.reviewer, r.new_value FROM reviews r JOIN fields f ON f.id = r.field_id "
        "WHERE r.action = 'entry' AND f.status = 'review' ORDER BY r.id").fetchall()
    out: dict[int, dict[str, Any]] = {}
    for fid, who, val in rows:
        out.setdefault(fid, {})[who] = val
    return out


def _hidden_for(reviewer: str, entries: dict[str, Any]) -> bool:
    """A reviewer whose entry stands and is not disputed by anyone else does not see the field again."""
    if reviewer not in entries:
        return False
    mine = entries[reviewer]
    return all(v == mine for who, v in entries.items() if who != reviewer)


def _ordered_all(db: sqlite_utils.Database) -> list[tuple[int, int]]:
    """(field id, group rank) of every field under review on a kept sheet, in queue order."""
    _ensure_groups(db)
    return db.conn.execute(_QUEUE_SQL).fetchall()


class QueueCache:
    """The ordered queue kept between requests (one per server), updated from the audit log.

    Every change that can alter the queue leaves a trace the cache can see cheaply: a decision, an undo, a page
    resolution or a setting adds a ``reviews`` row; an ingest adds ``fields`` rows. New reviews rows about fields
    only: those fields are re-checked (a field that left ``review`` is dropped); anything else → full rebuild.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: list[tuple[int, int]] = []
        self.pos: set[int] = set()
        self.key: tuple[Any, ...] | None = None
        self.reviews_max = 0
        self.rebuilds = 0
        self._counts: Counter[int] | None = None

    def rank_counts(self, rows: list[tuple[int, int]]) -> Counter[int]:
        with self.lock:
            if rows is self.rows and self._counts is not None:
                return self._counts
            c = Counter(rk for _, rk in rows)
            if rows is self.rows:
                self._counts = c
            return c

    def get(self, db: sqlite_utils.Database) -> list[tuple[int, int]]:
        fields_max, sheets_n, reviews_max = db.conn.execute(
            "SELECT (SELECT MAX(id) FROM fields), (SELECT COUNT(*) FROM sheets WHERE status IS NULL OR "
            "status = 'primary'), (SELECT COALESCE(MAX(id), 0) FROM reviews)").fetchone()
        key = (fields_max, sheets_n)
        with self.lock:
            if self.key == key and reviews_max == self.reviews_max:
                return self.rows
            if self.key == key and reviews_max > self.reviews_max:
                delta = db.conn.execute("SELECT r.field_id, f.status FROM reviews r LEFT JOIN fields f "
                                        "ON f.id = r.field_id WHERE r.id > ?", (self.reviews_max,)).fetchall()
                if all(fid is not None for fid, _ in delta):
                    gone = {fid for fid, st in delta if st != "review"}
                    back = {fid for fid, st in delta if st == "review" and fid not in self.pos}
                    if not back:
                        if gone & self.pos:
                            self.rows = [r for r in self.rows if r[0] not in gone]
                            self.pos -= gone
                            self._counts = None
                        self.reviews_max = reviews_max
                        return self.rows
            self.rows = _ordered_all(db)
            self.pos = {fid for fid, _ in self.rows}
            self._counts = None
            self.key, self.reviews_max = key, reviews_max
            self.rebuilds += 1
            return self.rows


def queue_order(db: sqlite_utils.Database, reviewer: str = "", cache: QueueCache | None = None
                ) -> list[tuple[int, str]]:
    """Every field id waiting for this reviewer, in queue order, with its group."""
    rows = cache.get(db) if cache is not None else _ordered_all(db)
    pending = _pending_entries(db)
    keys = [k for k, _ in GROUPS]
    if pending:
        hidden = {fid for fid, ent in pending.items() if _hidden_for(reviewer, ent)}
        return [(fid, keys[rk]) for fid, rk in rows if fid not in hidden]
    return [(fid, keys[rk]) for fid, rk in rows]


def counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Fields under review and verified, on kept sheets."""
    left = db.conn.execute("SELECT COUNT(*) FROM fields WHERE status = 'review'").fetchone()[0]
    done = db.conn.execute("SELECT COUNT(*) FROM fields WHERE status = 'verified'").fetchone()[0]
    off_sheets = [r[0] for r in db.conn.execute(
        "SELECT id FROM sheets WHERE status IS NOT NULL AND status != 'primary'")]
    off_r = off_v = 0
    for i in range(0, len(off_sheets), 500):
        chunk = off_sheets[i:i + 500]
        r, v = db.conn.execute(
            f"SELECT SUM(f.status = 'review'), SUM(f.status = 'verified') FROM entries e "
            f"JOIN fields f ON f.entry_id = e.id WHERE e.sheet_id IN ({','.join('?' * len(chunk))})",
            chunk).fetchone()
        off_r += r or 0
        off_v += v or 0
    return {"left": int(left - off_r), "done": int(done - off_v)}


def queue(db: sqlite_utils.Database, reviewer: str = "", limit: int = 30,
          exclude: Iterable[int] = (), cache: QueueCache | None = None) -> dict[str, Any]:
    """The head of the queue for a reviewer: counts per group and the first `limit` items in full."""
    rows = cache.get(db) if cache is not None else _ordered_all(db)
    pending = _pending_entries(db)
    hidden = {fid for fid, ent in pending.items() if _hidden_for(reviewer, ent)} if pending else set()
    keys = [k for k, _ in GROUPS]
    per_rank = cache.rank_counts(rows) if cache is not None else Counter(rk for _, rk in rows)
    per_rank = Counter(per_rank)
    if hidden:
        for fid, rk in rows:
            if fid in hidden:
                per_rank[rk] -= 1
    skip = hidden | {int(x) for x in exclude}
    n = max(0, min(int(limit), 200))
    head: list[int] = []
    if n:
        for fid, _ in rows:
            if fid not in skip:
                head.append(fid)
                if len(head) >= n:
                    break
    items = items_by_id(db, head, reviewer)
    c = counts(db)
    return {
        "left": sum(per_rank.values()), "left_all": c["left"], "done": c["done"],
        "groups": [{"key": k, "label": lab, "count": per_rank.get(i, 0)} for i, (k, lab) in enumerate(GROUPS)],
        "items": [items[i] for i in head if i in items],
        "settings": get_settings(db),
        "page_problems": len(page_problems(db)),
    }


_ITEM_SQL = """
SELECT f.id, f.entry_id, f.name, f.type, f.value, f.status, f.confidence, f.alternatives, f.reason, f.has_ink,
       f.snippet, f.bbox_mm, f.machine_value, f.rev, f.updated_at,
       e.row, e.kind, e.printed, e.has_ink, s.id, s.page_key, s.copy, s.form, s.form_version, s.kit_id, s.serial,
       s.status, s.page_id
FROM fields f JOIN entries e ON e.id = f.entry_id JOIN sheets s ON s.id = e.sheet_id
"""


def _bbox(raw: str | None) -> dict[str, float] | None:
    v = jload(raw) if raw else None
    if isinstance(v, dict) and all(k in v for k in ("x", "y", "w", "h")):
        return {k: float(v[k]) for k in ("x", "y", "w", "h")}
    if isinstance(v, (list, tuple)) and len(v) == 4:
        return dict(zip(("x", "y", "w", "h"), map(float, v)))
    return None


def _rev(v: Any) -> int:
    return int(v) if v is not None else 0


def items_by_id(db: sqlite_utils.Database, ids: list[int], reviewer: str = "") -> dict[int, dict[str, Any]]:
    """Full review items (field, its meaning, its context on the page) for the given field ids."""
    if not ids:
        return {}
    out: dict[int, dict[str, Any]] = {}
    rows = []
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        rows += db.execute(_ITEM_SQL + f" WHERE f.id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
    entry_ids = sorted({r[1] for r in rows})
    siblings: dict[int, list[dict[str, Any]]] = {}
    for i in range(0, len(entry_ids), 500):
        chunk = entry_ids[i:i + 500]
        for eid, name, ftype, value, status in db.execute(
                f"SELECT entry_id, name, type, value, status FROM fields WHERE entry_id IN "
                f"({','.join('?' * len(chunk))}) ORDER BY id", chunk).fetchall():
            siblings.setdefault(eid, []).append({"name": name, "type": ftype, "value": jload(value),
                                                 "status": status})
    settings = get_settings(db)
    pending = _pending_entries(db) if settings.get("double_entry") else {}
    for r in rows:
        (fid, eid, name, ftype, value, status, conf, alts, reason, has_ink, snippet, bbox, machine, rev, upd,
         row, kind, printed, e_ink, sheet_id, page_key, copy, form, version, kit_id, serial, s_status,
         page_id) = r
        meta = field_meta(form, version, row, name, ftype, db)
        lay = form_layout(form, version, db)
        sib = siblings.get(eid, [])
        labels = {}
        for s in sib:
            m = field_meta(form, version, row, s["name"], s["type"], db)
            s["label"] = m.label
            s["meta"] = {"type": m.type, "options": [{"value": v, "label": lab} for v, lab in m.options],
                         "semantic": m.semantic, "length": m.length, "groups": list(m.groups),
                         "separator": m.separator}
            labels[s["name"]] = m.label
        double = bool(settings.get("double_entry")) and needs_double(meta, form)
        entries = pending.get(fid, {}) if double else {}
        others = {who: jload(v) for who, v in entries.items() if who != reviewer}
        mine = entries.get(reviewer)
        disputed = bool(entries) and len({v for v in entries.values()}) > 1
        item = {
            "id": fid, "rev": _rev(rev), "status": status, "name": name, "type": ftype,
            "group": meta.group, "group_label": GROUP_LABEL[meta.group],
            "meta": meta.to_json(),
            "value": jload(value), "machine_value": jload(machine), "confidence": conf,
            "alternatives": [a for a in (jload(alts) or []) if a != jload(value)],
            "reason": reason, "has_ink": bool(has_ink),
            "snippet": bool(snippet), "bbox_mm": _bbox(bbox), "updated_at": upd,
            "context": {
                "form": form, "form_version": version, "form_title": form_title(form, version),
                "page_key": page_key, "copy": copy, "serial": serial, "kit_id": kit_id, "row": row, "kind": kind,
                "printed": jload(printed) or {}, "sheet_id": sheet_id, "page_id": page_id,
                "sheet_status": s_status,
            },
            "line": line_geometry(lay, row, name),
            "siblings": [s for s in sib if s["name"] != name],
            "double": {"on": double, "entries": len(entries), "mine": jload(mine) if mine is not None else None,
                       "others": others if disputed else {}, "disputed": disputed},
        }
        out[fid] = item
    return out


def line_geometry(lay: Any, row: int, name: str) -> dict[str, Any] | None:
    """The crop that shows the whole line (entry rect, padded) and where the field sits in it (mm)."""
    if lay is None:
        return None
    ent = next((e for e in lay.entries if e.row == row), None)
    geom = field_geom(lay, row, name)
    if ent is None or geom is None:
        return None
    z = geom.ink_zone()
    if ent.kind == "page":
        # the page-level block spans the page: show a band around the field instead
        x0, x1 = max(0.0, z.x - 60), min(lay.size_mm[0], z.x + z.w + 60)
        y0, y1 = max(0.0, z.y - 6), min(lay.size_mm[1], z.y + z.h + 6)
    elif ent.kind == "fiche":
        # a fiche is tall: show the band of the field's line across the page
        x0, x1 = ent.rect.x, ent.rect.x + ent.rect.w
        y0, y1 = max(0.0, z.y - 7), min(lay.size_mm[1], z.y + z.h + 7)
    else:
        x0, x1 = ent.rect.x, ent.rect.x + ent.rect.w
        y0, y1 = max(0.0, ent.rect.y - 1.5), min(lay.size_mm[1], ent.rect.y + ent.rect.h + 1.5)
    return {"crop": {"x": round(x0, 2), "y": round(y0, 2), "w": round(x1 - x0, 2), "h": round(y1 - y0, 2)},
            "field": {"x": round(z.x, 2), "y": round(z.y, 2), "w": round(z.w, 2), "h": round(z.h, 2)}}


def item(db: sqlite_utils.Database, field_id: int, reviewer: str = "") -> dict[str, Any]:
    items = items_by_id(db, [int(field_id)], reviewer)
    if int(field_id) not in items:
        raise NotFound("champ introuvable")
    return items[int(field_id)]


# --- validation ------------------------------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s,./:hH€-]")


def normalize(meta: FieldMeta, raw: Any) -> tuple[Any, list[str]]:
    """A submitted value in the export format for this field, and the problems a human should confirm.

    Raises ReviewError for values that cannot stand at all (letters in digits, an unknown option).
    """
    t = meta.type
    problems: list[str] = []
    if t == "digits":
        if raw is None:
            return None, problems
        s = _SEPARATORS.sub("", str(raw))
        if s and not s.isdigit():
            raise ReviewError("chiffres uniquement (0 à 9)")
        if meta.semantic == "amount_cents" and s and isinstance(raw, str) and "," in raw:
            euros, _, cents = raw.replace(" ", "").replace("€", "").partition(",")
            cents = (cents + "00")[:2] if len(cents) <= 2 else cents
            s = re.sub(r"\D", "", euros) + cents
        if meta.length and len(s) > meta.length:
            raise ReviewError(f"trop de chiffres : {len(s)} pour {meta.length} cases")
        if not s:
            return "", problems
        complete = not meta.length or len(s) == meta.length
        if meta.semantic == "amount_cents":
            p = value_problem(s, meta.semantic, None)
        elif complete:
            p = value_problem(s, meta.semantic, meta.check)
        else:
            p = None
            if meta.check or (meta.semantic and meta.semantic != "number"):
                p = f"incomplet : {len(s)} chiffre(s) sur {meta.length}"
        if p:
            problems.append(p)
        return s, problems
    if t == "choice":
        if raw in (None, ""):
            return None, problems
        vals = [v for v, _ in meta.options]
        if vals and raw not in vals:
            raise ReviewError("choix inconnu pour ce champ")
        return raw, problems
    if t == "multi":
        if raw in (None, ""):
            return [], problems
        if not isinstance(raw, list):
            raise ReviewError("liste de choix attendue")
        vals = [v for v, _ in meta.options]
        if vals and any(v not in vals for v in raw):
            raise ReviewError("choix inconnu pour ce champ")
        return [v for v in vals if v in raw] if vals else list(raw), problems
    if t == "checkbox":
        if isinstance(raw, bool):
            return raw, problems
        if raw in ("1", 1, "true", "oui"):
            return True, problems
        if raw in ("0", 0, "false", "non", None, ""):
            return False, problems
        raise ReviewError("case : cochée ou non")
    # text
    if raw is None:
        return None, problems
    s = " ".join(str(raw).split())
    if len(s) > 500:
        raise ReviewError("texte trop long (500 caractères au plus)")
    return (s or None), problems


def blank_value(meta: FieldMeta) -> Any:
    return {"digits": "", "choice": None, "multi": [], "checkbox": False}.get(meta.type)


# --- decisions -------------------------------------------------------------------------------------------------


def _log(db: sqlite_utils.Database, field_id: int | None, page_id: int | None, reviewer: str, action: str,
         old_value: Any, new_value: Any, old_status: str | None, new_status: str | None, note: str | None) -> None:
    db.conn.execute(
        "INSERT INTO reviews(field_id, page_id, reviewer, at, action, old_value, new_value, old_status, "
        "new_status, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (field_id, page_id, reviewer, now(), action, old_value, new_value, old_status, new_status, note))


def _reviewer(name: Any) -> str:
    s = " ".join(str(name or "").split())[:80]
    if not s:
        raise ReviewError("indiquez votre nom avant de valider")
    return s


def decide(db: sqlite_utils.Database, field_id: int, rev: int, action: str, reviewer: str, value: Any = None,
           force: bool = False) -> dict[str, Any]:
    """Record one human decision on a field. Returns {"ok": True, …} or {"ok": False, "warnings": […]} when the
    value looks invalid and `force` is not set (nothing written). Raises Conflict when `rev` is stale."""
    reviewer = _reviewer(reviewer)
    if action not in ACTIONS:
        raise ReviewError(f"action inconnue : {action}")
    row = db.execute(
        "SELECT f.name, f.type, f.value, f.status, f.rev, e.row, s.form, s.form_version, s.page_id, s.status "
        "FROM fields f JOIN entries e ON e.id = f.entry_id JOIN sheets s ON s.id = e.sheet_id WHERE f.id = ?",
        (int(field_id),)).fetchone()
    if row is None:
        raise NotFound("champ introuvable")
    name, ftype, old_raw, old_status, cur_rev, erow, form, version, page_id, s_status = row
    meta = field_meta(form, version, erow, name, ftype, db)
    if _rev(cur_rev) != int(rev):
        raise Conflict(_conflict_message(db, int(field_id)), item(db, int(field_id), reviewer))
    note = None
    if action == "accept":
        new, problems = normalize(meta, jload(old_raw))
        if meta.type == "text" and new is None:
            raise ReviewError("rien à accepter : tapez le texte, ou marquez « illisible » ou « vide »")
    elif action == "set":
        new, problems = normalize(meta, value)
        if meta.type == "text" and new is None:
            raise ReviewError("texte vide : tapez le texte, ou marquez « illisible » ou « vide »")
    elif action == "illegible":
        new, problems, note = None, [], "illisible"
    else:
        new, problems, note = blank_value(meta), [], "vide"
    if problems and not force:
        return {"ok": False, "warnings": problems}
    if problems:
        note = "; ".join(problems) + " (confirmé)"
    new_raw = jdump(new)
    settings = get_settings(db)
    double = bool(settings.get("double_entry")) and needs_double(meta, form)
    ts = now()
    with _write(db, lambda: _field_conflict(db, int(field_id), reviewer)):
        if double:
            prior = {who: v for who, v in _pending_entries_for(db, int(field_id)).items() if who != reviewer}
            agree = [who for who, v in prior.items() if v == new_raw]
            if agree:
                cur = db.conn.execute(
                    "UPDATE fields SET value = ?, status = 'verified', decision = ?, rev = COALESCE(rev, 0) + 1, "
                    "updated_at = ? WHERE id = ? AND COALESCE(rev, 0) = ?",
                    (new_raw, action, ts, int(field_id), int(rev)))
                new_status = "verified"
                note = ((note + "; ") if note else "") + f"double saisie concordante avec {agree[0]}"
            else:
                cur = db.conn.execute(
                    "UPDATE fields SET rev = COALESCE(rev, 0) + 1, updated_at = ? "
                    "WHERE id = ? AND COALESCE(rev, 0) = ?", (ts, int(field_id), int(rev)))
                new_status = old_status
            if cur.rowcount != 1:
                raise _StaleRev()
            _log(db, int(field_id), page_id, reviewer, "entry", old_raw, new_raw, old_status, new_status,
                 f"{action}" + (f"; {note}" if note else ""))
            if new_status == "verified":
                _log(db, int(field_id), page_id, reviewer, "double_ok", old_raw, new_raw, old_status, new_status,
                     note)
        else:
            cur = db.conn.execute(
                "UPDATE fields SET value = ?, status = 'verified', decision = ?, rev = COALESCE(rev, 0) + 1, "
                "updated_at = ? WHERE id = ? AND COALESCE(rev, 0) = ?", (new_raw, action, ts, int(field_id), int(rev)))
            if cur.rowcount != 1:
                raise _StaleRev()
            new_status = "verified"
            _log(db, int(field_id), page_id, reviewer, action, old_raw, new_raw, old_status, new_status, note)
    result: dict[str, Any] = {"ok": True, "status": new_status, "value": new, "rev": _rev(cur_rev) + 1,
                              "double": double}
    if double and new_status != "verified":
        result["message"] = "saisie enregistrée : une deuxième personne doit saisir la même valeur"
    return result


class _StaleRev(Exception):
    pass


@contextmanager
def _write(db: sqlite_utils.Database, on_stale: Callable[[], Exception]) -> Iterator[None]:
    """One write transaction: committed when the block ends, rolled back on any error; a stale read inside the
    block (``_StaleRev``) becomes the French conflict ``on_stale()`` builds, and nothing is written."""
    try:
        with write_transaction(db.conn):
            yield
    except _StaleRev:
        raise on_stale() from None


def _field_conflict(db: sqlite_utils.Database, field_id: int, reviewer: str) -> Conflict:
    return Conflict(_conflict_message(db, field_id), item(db, field_id, reviewer))


def _pending_entries_for(db: sqlite_utils.Database, field_id: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for who, val in db.conn.execute(
            "SELECT reviewer, new_value FROM reviews WHERE field_id = ? AND action = 'entry' ORDER BY id",
            (field_id,)).fetchall():
        out[who] = val
    return out


def _conflict_message(db: sqlite_utils.Database, field_id: int) -> str:
    r = db.execute("SELECT reviewer, at FROM reviews WHERE field_id = ? ORDER BY id DESC LIMIT 1",
                   (field_id,)).fetchone()
    who = f" par {r[0]}" if r and r[0] else ""
    return (f"Ce champ vient d'être modifié{who} pendant que vous le regardiez : rien n'a été écrasé. "
            "Voici sa valeur à jour, vérifiez-la.")


def undo(db: sqlite_utils.Database, field_id: int, rev: int, reviewer: str) -> dict[str, Any]:
    """Put a verified field back in the queue (logged; the value stays as the human left it)."""
    reviewer = _reviewer(reviewer)
    row = db.execute("SELECT value, status, rev FROM fields WHERE id = ?", (int(field_id),)).fetchone()
    if row is None:
        raise NotFound("champ introuvable")
    with _write(db, lambda: _field_conflict(db, int(field_id), reviewer)):
        cur = db.conn.execute("UPDATE fields SET status = 'review', decision = NULL, rev = COALESCE(rev, 0) + 1, "
                              "updated_at = ? WHERE id = ? AND COALESCE(rev, 0) = ?", (now(), int(field_id), int(rev)))
        if cur.rowcount != 1:
            raise _StaleRev()
        _log(db, int(field_id), None, reviewer, "reopen", row[0], row[0], row[1], "review", "annulation")
    return {"ok": True}


# --- pages -----------------------------------------------------------------------------------------------------


def _page_resolutions(db: sqlite_utils.Database) -> dict[int, tuple[str, str, str]]:
    """page id → (action, by, at) of the page problems already decided (kept on the page row, migration 3)."""
    return {pid: (action, who, at) for pid, action, who, at in db.execute(
        "SELECT id, resolution, resolved_by, resolved_at FROM pages WHERE resolution IS NOT NULL").fetchall()}


def _set_resolution(db: sqlite_utils.Database, page_id: int, action: str, reviewer: str) -> None:
    db.conn.execute("UPDATE pages SET resolution = ?, resolved_by = ?, resolved_at = ? WHERE id = ?",
                    (action, reviewer, now(), int(page_id)))


def blank_pages(db: sqlite_utils.Database) -> int:
    """Images with no code and no ink (the backs of sheets scanned recto verso): kept, nothing to do."""
    return db.execute("SELECT COUNT(*) FROM pages WHERE status = 'unidentified' AND reason = ?",
                      (BLANK_PAGE_REASON,)).fetchone()[0]


def page_problems(db: sqlite_utils.Database, include_resolved: bool = False) -> list[dict[str, Any]]:
    """Pages that need a person: unidentified images (not the blank ones: blank_pages), and sheets scanned twice
    with different images."""
    res = _page_resolutions(db)
    out: list[dict[str, Any]] = []
    for pid, source, idx, reason, seen in db.execute(
            "SELECT id, source, idx, reason, seen_at FROM pages WHERE status = 'unidentified' AND reason IS NOT ? "
            "ORDER BY id", (BLANK_PAGE_REASON,)).fetchall():
        r = res.get(pid)
        if r and not include_resolved:
            continue
        out.append({"kind": "unidentified", "page_id": pid, "source": source, "index": idx, "reason": reason,
                    "seen_at": seen, "actions": [{"action": a, "label": PAGE_ACTION_LABEL[a]}
                                                 for a in PAGE_ACTIONS["unidentified"]],
                    "resolved": {"action": r[0], "label": PAGE_ACTION_LABEL[r[0]], "by": r[1], "at": r[2]}
                    if r else None})
    # conflicts: a sheet in status 'conflict' against the primary sheet of the same page_key and copy
    for sid, page_key, copy, form, version, page_id, status in db.execute(
            "SELECT id, page_key, copy, form, form_version, page_id, status FROM sheets "
            "WHERE status = 'conflict' ORDER BY id").fetchall():
        prim = _primary_of(db, page_key, copy, exclude_sheet=sid)
        out.append(_conflict_json(db, sid, page_key, copy, form, version, page_id, prim))
    # pages flagged conflict whose sheet was not stored separately (the image is kept: show it with its key)
    known = {p["b"]["page_id"] for p in out if p["kind"] == "conflict" and p.get("b")}
    for pid, page_key, copy, reason in db.execute(
            "SELECT id, page_key, copy, reason FROM pages WHERE status = 'conflict' ORDER BY id").fetchall():
        if pid in known or (pid in res and not include_resolved):
            continue
        prim = _primary_of(db, page_key, copy)
        if prim is not None and prim[1] == pid:
            continue
        s = db.execute("SELECT form, form_version FROM sheets WHERE page_key = ? LIMIT 1", (page_key,)).fetchone()
        item_ = _conflict_json(db, None, page_key, copy, s[0] if s else None, s[1] if s else None, pid, prim)
        item_["reason"] = reason
        out.append(item_)
    return out


def _primary_of(db: sqlite_utils.Database, page_key: str, copy: int | None,
                exclude_sheet: int | None = None) -> Any:
    """(sheet id, page id) of the kept sheet for a page key and copy (an unread copy number matches any)."""
    return db.execute(
        "SELECT id, page_id FROM sheets WHERE page_key = ? AND id != ? AND (status IS NULL OR status = 'primary') "
        "ORDER BY (COALESCE(copy, -1) = COALESCE(?, -1)) DESC, (copy IS NULL) DESC, id LIMIT 1",
        (page_key, exclude_sheet if exclude_sheet is not None else -1, copy)).fetchone()


def _conflict_json(db: sqlite_utils.Database, sid: int | None, page_key: str, copy: int | None, form: str | None,
                   version: int | None, page_id: int | None, prim: Any) -> dict[str, Any]:
    def side(sheet_id: int | None, pid: int | None) -> dict[str, Any] | None:
        if pid is None:
            return None
        p = db.execute("SELECT source, idx, seen_at FROM pages WHERE id = ?", (pid,)).fetchone()
        n_fields = n_review = 0
        if sheet_id is not None:
            n_fields, n_review = db.execute(
                "SELECT COUNT(*), SUM(f.status = 'review') FROM fields f JOIN entries e ON e.id = f.entry_id "
                "WHERE e.sheet_id = ? AND f.has_ink", (sheet_id,)).fetchone()
        return {"sheet_id": sheet_id, "page_id": pid, "source": p[0] if p else None, "index": p[1] if p else None,
                "seen_at": p[2] if p else None, "fields_with_ink": n_fields or 0, "review": n_review or 0}

    return {"kind": "conflict", "page_key": page_key, "copy": copy, "form": form,
            "form_title": form_title(form, version), "a": side(prim[0], prim[1]) if prim else None,
            "b": side(sid, page_id), "page_id": page_id,
            "actions": [{"action": a, "label": PAGE_ACTION_LABEL[a]} for a in PAGE_ACTIONS["conflict"]],
            "resolved": None}


def resolve_page(db: sqlite_utils.Database, page_id: int, action: str, reviewer: str,
                 note: str | None = None) -> dict[str, Any]:
    """Resolve a page-level problem. For a conflict, `page_id` is the page of the second image (B)."""
    reviewer = _reviewer(reviewer)
    p = db.execute("SELECT status, page_key, copy FROM pages WHERE id = ?", (int(page_id),)).fetchone()
    if p is None:
        raise NotFound("page introuvable")
    status, page_key, copy = p
    if action in PAGE_ACTIONS["unidentified"]:
        if status != "unidentified":
            raise ReviewError("cette page n'est pas « non identifiée »")
        with _write(db, lambda: Conflict(
                f"Cette page a déjà été traitée par {done[1]} ({PAGE_ACTION_LABEL[done[0]]}).")):
            done = db.conn.execute(
                "SELECT action, reviewer FROM reviews WHERE page_id = ? AND field_id IS NULL "
                "AND action IN ('not_papier', 'rescan') ORDER BY id DESC LIMIT 1", (int(page_id),)).fetchone()
            if done is not None:
                raise _StaleRev()
            _log(db, None, int(page_id), reviewer, action, None, jdump(action), status, status,
                 note or PAGE_ACTION_LABEL[action])
            _set_resolution(db, int(page_id), action, reviewer)
        return {"ok": True}
    if action in PAGE_ACTIONS["conflict"]:
        with _write(db, lambda: Conflict(
                "Ce conflit a déjà été tranché par quelqu'un d'autre : la liste est rechargée.")):
            b = db.conn.execute("SELECT id, status FROM sheets WHERE page_id = ? AND page_key = ? ORDER BY id "
                                "LIMIT 1", (int(page_id), page_key)).fetchone()
            a = _primary_of(db, page_key, copy, exclude_sheet=b[0] if b is not None else None)
            if a is not None and a[1] == int(page_id):
                a = None
            if b is not None and b[1] != "conflict":
                raise _StaleRev()
            if b is None and status != "conflict":
                raise _StaleRev()
            if action == "keep_a":
                if b is not None:
                    db.conn.execute("UPDATE sheets SET status = 'superseded', resolved_by = ? WHERE id = ?",
                                    (reviewer, b[0]))
            else:
                if b is None:
                    raise ReviewError("la deuxième image n'a pas été lue : rescannez-la pour la garder")
                if a is not None:
                    db.conn.execute("UPDATE sheets SET status = 'superseded', resolved_by = ? WHERE id = ?",
                                    (reviewer, a[0]))
                db.conn.execute("UPDATE sheets SET status = 'primary', resolved_by = ? WHERE id = ?",
                                (reviewer, b[0]))
            _log(db, None, int(page_id), reviewer, action, jdump(a[0] if a else None), jdump(b[0] if b else None),
                 "conflict", "resolved", note or PAGE_ACTION_LABEL[action])
            _set_resolution(db, int(page_id), action, reviewer)
        return {"ok": True}
    raise ReviewError(f"action inconnue : {action}")


def pages_list(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every stored sheet (for the page view's list), with its counts."""
    rows = db.execute(
        "SELECT s.id, s.page_key, s.copy, s.form, s.form_version, s.serial, s.status, s.page_id, "
        "SUM(f.status = 'review'), SUM(f.status = 'verified'), SUM(f.has_ink) "
        "FROM sheets s LEFT JOIN entries e ON e.sheet_id = s.id LEFT JOIN fields f ON f.entry_id = e.id "
        "GROUP BY s.id ORDER BY s.form, s.serial, s.copy, s.id").fetchall()
    return [{"sheet_id": r[0], "page_key": r[1], "copy": r[2], "form": r[3], "form_title": form_title(r[3], r[4]),
             "serial": r[5], "status": r[6], "page_id": r[7], "review": r[8] or 0, "verified": r[9] or 0,
             "ink": r[10] or 0} for r in rows]


def page_view(db: sqlite_utils.Database, page_id: int) -> dict[str, Any]:
    """A scanned page with every detected value and where it sits (mm), for the overlay."""
    p = db.execute("SELECT id, source, idx, status, reason, page_key, copy, sheet_id, image_path, width, height, "
                   "dpi, orientation, residual_mm, align_method FROM pages WHERE id = ?", (int(page_id),)).fetchone()
    if p is None:
        raise NotFound("page introuvable")
    (pid, source, idx, status, reason, page_key, copy, sheet_id, image_path, w, h, dpi, orient, resid,
     method) = p
    sheet = db.execute("SELECT id, form, form_version, serial, kit_id, status FROM sheets WHERE page_id = ? "
                       "ORDER BY (status = 'primary') DESC, id LIMIT 1", (pid,)).fetchone()
    out: dict[str, Any] = {
        "page_id": pid, "source": source, "index": idx, "status": status, "reason": reason, "page_key": page_key,
        "copy": copy, "has_image": bool(image_path), "residual_mm": resid, "align_method": method,
        "sheet": None, "size_mm": None, "entries": [],
    }
    if sheet is None:
        return out
    sid, form, version, serial, kit_id, s_status = sheet
    lay = form_layout(form, version, db)
    out["sheet"] = {"sheet_id": sid, "form": form, "form_version": version, "form_title": form_title(form, version),
                    "serial": serial, "kit_id": kit_id, "status": s_status}
    if lay is not None:
        out["size_mm"] = list(lay.size_mm)
    rows = db.execute(
        "SELECT e.row, e.kind, e.printed, e.has_ink, f.id, f.name, f.type, f.value, f.status, f.confidence, "
        "f.has_ink, f.rev FROM entries e JOIN fields f ON f.entry_id = e.id WHERE e.sheet_id = ? "
        "ORDER BY e.row, f.id", (sid,)).fetchall()
    entries: dict[int, dict[str, Any]] = {}
    for row, kind, printed, e_ink, fid, name, ftype, value, fstatus, conf, f_ink, rev in rows:
        e = entries.setdefault(row, {"row": row, "kind": kind, "printed": jload(printed) or {},
                                     "has_ink": bool(e_ink), "fields": []})
        meta = field_meta(form, version, row, name, ftype, db)
        geom = field_geom_in_row(lay, row, name)
        e["fields"].append({"id": fid, "name": name, "label": meta.label, "type": ftype, "value": jload(value),
                            "status": fstatus, "confidence": conf, "has_ink": bool(f_ink), "rev": _rev(rev),
                            "meta": meta.to_json(), "geom": geom})
    out["entries"] = [entries[k] for k in sorted(entries)]
    return out


def field_geom_in_row(lay: Any, row: int, name: str) -> dict[str, Any] | None:
    if lay is None:
        return None
    ent = next((e for e in lay.entries if e.row == row), None)
    if ent is None:
        return None
    for f in ent.fields:
        if f.name == name:
            g: dict[str, Any] = {"zone": f.ink_zone().to_json()}
            if f.boxes:
                g["boxes"] = [b.to_json() for b in f.boxes]
            if f.options:
                g["options"] = [{"value": o.value, "cx": round(o.cx, 2), "cy": round(o.cy, 2), "r": round(o.r, 2)}
                                for o in f.options]
            if f.box is not None:
                g["box"] = f.box.to_json()
            return g
    return None


def history(db: sqlite_utils.Database, limit: int = 50) -> list[dict[str, Any]]:
    rows = db.execute("SELECT r.id, r.field_id, r.page_id, r.reviewer, r.at, r.action, r.old_value, r.new_value, "
                      "r.new_status, r.note, f.name FROM reviews r LEFT JOIN fields f ON f.id = r.field_id "
                      "ORDER BY r.id DESC LIMIT ?", (int(limit),)).fetchall()
    return [{"id": r[0], "field_id": r[1], "page_id": r[2], "reviewer": r[3], "at": r[4], "action": r[5],
             "old_value": jload(r[6]) if r[6] else None, "new_value": jload(r[7]) if r[7] else None,
             "new_status": r[8], "note": r[9], "field": r[10]} for r in rows]

