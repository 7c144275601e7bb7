"""Suggestions for text transcription, from pluggable sources (the family roster, the library catalogue).

A source answers ``suggest(ctx, query, limit)`` with ``[{"value", "hint", "source", "key"}]`` for the fields it
knows (``handles(form, field)``). ``ctx`` carries the other values of the same entry: when the entry's family
number is certain (read ``auto`` or ``verified``), the payer's name of that family comes first; when a loan's
barcode is certain, that document's title (or shelf mark) comes first. Typing filters by word prefixes, accents
ignored.

Sources are passed to the server (``build_server(..., sources=[…])``). By default (``default_sources``) the
built-in sample roster and catalogue are used only when the database's own family numbers and barcodes (the kit
manifest's known values, or values already read) show that the batch was filled with them — a real commune's
batch never gets sample names suggested.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable, Protocol

import sqlite_utils


def fold(s: str) -> str:
    s = unicodedata.normalize("NFKD", s)
    return "".join(c for c in s if not unicodedata.combining(c)).lower()


@dataclass
class SuggestContext:
    form: str | None
    field: str
    siblings: dict[str, dict[str, Any]]  # name → {"value", "status"}

    def certain(self, name: str) -> Any:
        s = self.siblings.get(name)
        if s and s.get("status") in ("auto", "verified") and s.get("value"):
            return s["value"]
        return None


class SuggestionSource(Protocol):
    label: str

    def handles(self, form: str | None, field: str) -> bool: ...

    def suggest(self, ctx: SuggestContext, query: str, limit: int) -> list[dict[str, Any]]: ...


class _Index:
    def __init__(self, rows: Iterable[tuple[str, str, str]]):
        # (display value, hint, key) with its folded words
        self.rows = [(v, h, k, fold(v).replace("-", " ").split()) for v, h, k in rows]

    def search(self, query: str, limit: int, exclude: set[str]) -> list[tuple[str, str, str]]:
        q = fold(query).replace("-", " ").split()
        if not q:
            return []
        out = []
        for v, h, k, words in self.rows:
            if v in exclude:
                continue
            if all(any(w.startswith(t) for w in words) for t in q):
                out.append((v, h, k))
                if len(out) >= limit:
                    break
        return out


class RosterSource:
    """Payer names from a family roster: rows with nom, prenom, numero_famille."""

    FIELDS = {("paiement", "payeur")}

    def __init__(self, families: list[dict[str, str]], label: str = "liste des familles"):
        self.label = label
        self.by_number: dict[str, list[str]] = {}
        rows = []
        for f in families:
            name = f"{f.get('nom', '').strip()} {f.get('prenom', '').strip()}".strip()
            num = str(f.get("numero_famille", "")).strip()
            self.by_number.setdefault(num, []).append(name)
            rows.append((name, f"famille {num}", num))
        self.index = _Index(sorted(rows))

    def handles(self, form: str | None, field: str) -> bool:
        return (form, field) in self.FIELDS

    def suggest(self, ctx: SuggestContext, query: str, limit: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        num = ctx.certain("famille")
        first = self.by_number.get(str(num), []) if num else []
        q = fold(query)
        for name in first:
            if not q or all(any(w.startswith(t) for w in fold(name).split()) for t in q.split()):
                out.append({"value": name, "hint": f"famille {num} (n° lu sur la ligne)", "source": self.label,
                            "key": num, "sure": True})
        for v, h, k in self.index.search(query, limit - len(out), {o["value"] for o in out}):
            out.append({"value": v, "hint": h, "source": self.label, "key": k})
        return out[:limit]


class CatalogSource:
    """Titles and shelf marks from a library catalogue: rows with code_barres, cote, titre."""

    FIELDS = {("pret", "titre"): "titre", ("pret", "cote"): "cote", ("retour", "titre"): "titre",
              ("retour", "cote"): "cote"}

    def __init__(self, documents: list[dict[str, str]], label: str = "catalogue"):
        self.label = label
        self.by_code = {str(d.get("code_barres", "")).strip(): d for d in documents}
        self.index = {col: _Index(sorted((str(d.get(col, "")), f"{d.get('code_barres', '')}",
                                          str(d.get("code_barres", ""))) for d in documents if d.get(col)))
                      for col in ("titre", "cote")}

    def handles(self, form: str | None, field: str) -> bool:
        return (form, field) in self.FIELDS

    def suggest(self, ctx: SuggestContext, query: str, limit: int) -> list[dict[str, Any]]:
        col = self.FIELDS[(ctx.form, ctx.field)]  # type: ignore[index]
        out: list[dict[str, Any]] = []
        code = ctx.certain("code_barres")
        doc = self.by_code.get(str(code)) if code else None
        if doc and doc.get(col):
            out.append({"value": doc[col], "hint": f"code-barres {code} (lu sur la ligne)", "source": self.label,
                        "key": code, "sure": True})
        for v, h, k in self.index[col].search(query, limit - len(out), {o["value"] for o in out}):
            out.append({"value": v, "hint": f"code-barres {h}", "source": self.label, "key": k})
        return out[:limit]


def suggest(sources: list[Any], ctx: SuggestContext, query: str, limit: int = 8) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for s in sources:
        if s.handles(ctx.form, ctx.field):
            out += s.suggest(ctx, query, limit - len(out))
        if len(out) >= limit:
            break
    return out


def has_source(sources: list[Any], form: str | None, field: str) -> str | None:
    for s in sources:
        if s.handles(form, field):
            return s.label
    return None


# --- defaults --------------------------------------------------------------------------------------------------


def _evidence(db: sqlite_utils.Database, known: str, field_names: tuple[str, ...]) -> set[str]:
    vals: set[str] = set()
    try:
        from papier.review.queue import kit_manifests

        for m in kit_manifests(db).values():
            vals.update(str(v) for v in (getattr(m, "known_values", {}) or {}).get(known, []))
    except Exception:
        pass
    if not vals:
        q = (f"SELECT value FROM fields WHERE name IN ({','.join('?' * len(field_names))}) "
             "AND status IN ('auto', 'verified') AND value IS NOT NULL LIMIT 3000")
        for (v,) in db.execute(q, field_names).fetchall():
            s = v.strip('"') if isinstance(v, str) else ""
            if s:
                vals.add(s)
    return vals


def default_sources(db: sqlite_utils.Database, min_overlap: float = 0.5) -> list[Any]:
    """Built-in sample roster and catalogue, only when this database's batch was filled with them."""
    out: list[Any] = []
    try:
        from papier.sample_data import sample_catalog, sample_roster
    except ImportError:  # pragma: no cover
        return out
    fams = _evidence(db, "familles", ("famille",))
    if fams:
        roster = sample_roster()
        nums = {f["numero_famille"] for f in roster}
        if len(fams & nums) >= min_overlap * len(fams):
            out.append(RosterSource(roster, "liste des familles (données d'exemple)"))
    docs = _evidence(db, "documents", ("code_barres",))
    if docs:
        cat = sample_catalog()
        codes = {d["code_barres"] for d in cat}
        if len(docs & codes) >= min_overlap * len(docs):
            out.append(CatalogSource(cat, "catalogue (données d'exemple)"))
    return out


def sources_from_files(roster: str | None = None, catalog: str | None = None) -> list[Any]:
    """Sources from the commune's own CSV exports (the files given to ``papier kit build``)."""
    out: list[Any] = []
    if roster:
        from papier.kit import load_roster

        out.append(RosterSource(load_roster(roster)))
    if catalog:
        from papier.kit import load_catalog

        out.append(CatalogSource(load_catalog(catalog)))
    return out
