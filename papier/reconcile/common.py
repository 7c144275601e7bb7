"""Small shared helpers of the recollement: reading one field of an export-format entry, money and dates.

An *entry* here is a dict in the CONTRACTS.md jsonl export format::

    {"page_key": "…", "form": "paiement", "row": 3, "copy": None, "printed": {"quittance": "00013"},
     "sheet_status": "primary",
     "fields": {"montant": {"value": "1250", "status": "auto", "confidence": 0.99}, …}}

A field is *usable* when its status is ``auto`` (read and accepted by the machine) or ``verified`` (confirmed by a
human). A field in ``review`` is never used as if it were known: the line goes to the "à vérifier" lists.
A field a reviewer marked unreadable is ``verified`` with value null and named in the entry's ``illegible`` list:
it is said « illisible » (never « non rempli ») wherever it decides something.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from papier.checks import parse_date

USABLE = ("auto", "verified")
MISSING = object()  # a field absent from the entry


@dataclass(frozen=True)
class Read:
    """One field of an entry as the recollement sees it."""

    name: str
    value: Any
    status: str           # auto | review | verified | absent
    confidence: float | None = None
    illegible: bool = False  # a reviewer marked it unreadable (verified, value null: the entry's `illegible` list)

    @property
    def usable(self) -> bool:
        return self.status in USABLE

    @property
    def in_review(self) -> bool:
        return self.status == "review"

    @property
    def blank(self) -> bool:
        return self.value in (None, "", [], False)


def field(entry: dict[str, Any], name: str) -> Read:
    f = (entry.get("fields") or {}).get(name)
    if f is None:
        return Read(name, None, "absent")
    status = f.get("status") or "review"
    return Read(name, f.get("value"), status, f.get("confidence"),
                status == "verified" and name in (entry.get("illegible") or ()))


def fields_in_review(entry: dict[str, Any], names: list[str] | tuple[str, ...] | None = None) -> list[str]:
    """Names of the entry's fields still awaiting a human (in form order when `names` is given)."""
    fs = entry.get("fields") or {}
    order = names if names is not None else sorted(fs)
    return [n for n in order if n in fs and (fs[n].get("status") == "review")]


def is_page_block(entry: dict[str, Any]) -> bool:
    """The page-level block (copy number, control total) rather than a register line."""
    if entry.get("kind") == "page":
        return True
    names = set((entry.get("fields") or {}).keys())
    return bool(names) and names <= {"copie", "total"}


def entry_copy(entry: dict[str, Any]) -> int:
    """The photocopy number of the sheet the entry is on (0 for the printed original)."""
    c = entry.get("copy")
    try:
        return int(c) if c not in (None, "") else 0
    except (TypeError, ValueError):
        return 0


def sheet_ref(entry: dict[str, Any]) -> str:
    """A human reference to a sheet: page key, plus the copy number when it is a photocopy."""
    c = entry_copy(entry)
    return f"{entry.get('page_key')}" + (f" (copie {c})" if c else "")


# --- money ---------------------------------------------------------------------------------------------------------


def euros(cents: int | None, sign: bool = False) -> str:
    """French money text: 1234567 -> '12 345,67 €' (narrow no-break space as thousands separator)."""
    if cents is None:
        return "—"
    neg = cents < 0
    c = abs(int(cents))
    units = f"{c // 100:,}".replace(",", "\u202f")
    s = f"{units},{c % 100:02d} €"
    if neg:
        return "−" + s
    return ("+" + s) if sign and cents > 0 else s


def euros_csv(cents: int | None) -> str:
    """Money for a French spreadsheet cell: 1250 -> '12,50' (no currency sign, no thousands separator)."""
    if cents is None:
        return ""
    neg = cents < 0
    c = abs(int(cents))
    return ("-" if neg else "") + f"{c // 100},{c % 100:02d}"


def cents_of(value: Any) -> int | None:
    """A digits string of an amount_cents field -> int cents, or None."""
    if value is None:
        return None
    s = str(value).strip()
    if not s.isdigit():
        return None
    return int(s)


# --- dates ---------------------------------------------------------------------------------------------------------


def date_of(value: Any, semantic: str) -> _dt.date | None:
    if value is None or value == "":
        return None
    return parse_date(str(value), semantic)


def fr_date(d: _dt.date | None) -> str:
    return d.strftime("%d/%m/%Y") if d else ""


def iso(d: _dt.date | None) -> str:
    return d.isoformat() if d else ""


def easter(year: int) -> _dt.date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return _dt.date(year, month, day + 1)


def french_holidays(year: int) -> set[_dt.date]:
    """Public holidays in metropolitan France (without the Alsace-Moselle extras)."""
    e = easter(year)
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
    out = {_dt.date(year, m, d) for m, d in fixed}
    out |= {e + _dt.timedelta(days=1), e + _dt.timedelta(days=39), e + _dt.timedelta(days=50)}
    return out


def next_working_day(d: _dt.date) -> _dt.date:
    """`d` itself if it is a working day, else the next one (Saturday, Sunday and public holidays skipped)."""
    while d.weekday() >= 5 or d in french_holidays(d.year):
        d += _dt.timedelta(days=1)
    return d
