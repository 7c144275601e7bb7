"""Library: the paper loan and return registers replayed, in the order they happened, as a Koha .koc file.

Koha's offline circulation file (checked against Koha's offline_circ/process_koc.pl): UTF-8 text, one header
line of tab-separated ``key=value`` pairs (``Version=1.0`` is the version Koha is coded against), then one
tab-separated line per transaction::

    2026-03-14 12:00:00 001<TAB>issue<TAB>cardnumber<TAB>barcode
    2026-03-15 09:00:00 002<TAB>return<TAB>barcode

The timestamp is ``date time id`` separated by spaces. The paper holds dates, not times: papier writes returns of
items lent on an earlier day at 09:00, loans at 12:00 and returns of items lent the same day at 17:00, with a
sequence number as the id, so that replaying in file order gives back the order of events of each day.
"""

from __future__ import annotations

import datetime as _dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from papier.checks import ean13_valid
from papier.reconcile.common import date_of, field as get, is_page_block, sheet_ref
from papier.reconcile.restored import RestoredData

KOC_HEADER = "Version=1.0\tGenerator=papier\tGeneratorVersion={version}"
PHASE_TIME = {0: "09:00:00", 1: "12:00:00", 2: "17:00:00"}
LABELS = {"date": "date du prêt", "carte": "n° de carte", "code_barres": "code-barres", "rendu": "case « rendu »",
          "date_retour": "date de retour", "annule": "case « annulé »", "retour_prevu": "date de retour prévue"}


@dataclass
class CircEvent:
    date: _dt.date
    phase: int           # 0 return (lent earlier), 1 issue, 2 return (lent the same day)
    op: str              # issue | return
    barcode: str
    card: str = ""
    origin: str = ""     # "sheet, ligne n"

    @property
    def sort_key(self) -> tuple[Any, ...]:
        return (self.date, self.phase, self.barcode, self.card, self.origin)


@dataclass
class LibLine:
    form: str            # pret | retour
    sheet: str
    row: int
    status: str          # ok | annule | a_verifier | deja_connu
    reasons: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class StillOut:
    barcode: str
    card: str
    since: _dt.date | None
    due: _dt.date | None
    origin: str          # "papier" | "système"


@dataclass
class LibraryResult:
    events: list[CircEvent]
    lines: list[LibLine]
    anomalies: list[str]
    still_out: list[StillOut]

    def koc_text(self, version: str = "0.1") -> str:
        out = [KOC_HEADER.format(version=version)]
        per_day: dict[_dt.date, int] = defaultdict(int)
        for ev in self.events:
            per_day[ev.date] += 1
            stamp = f"{ev.date.isoformat()} {PHASE_TIME[ev.phase]} {per_day[ev.date]:03d}"
            if ev.op == "issue":
                out.append(f"{stamp}\tissue\t{ev.card}\t{ev.barcode}")
            else:
                out.append(f"{stamp}\treturn\t{ev.barcode}")
        return "\n".join(out) + "\n"


def _check(e: dict[str, Any], names: tuple[str, ...], reasons: list[str]) -> dict[str, Any]:
    vals: dict[str, Any] = {}
    for n in names:
        f = get(e, n)
        vals[n] = f.value
        if f.in_review:
            reasons.append(f"{LABELS.get(n, n)} à vérifier")
        elif f.illegible:
            reasons.append(f"{LABELS.get(n, n)} illisible (relecture)")
        elif f.status == "absent" or f.blank:
            reasons.append(f"{LABELS.get(n, n)} non rempli")
    return vals



def _date_and_barcode(vals: dict[str, Any], reasons: list[str]) -> _dt.date | None:
    """The line's date, after checking it and the EAN-13 barcode (problems appended to `reasons`)."""
    d = date_of(vals["date"], "date_ddmmyy")
    if not reasons and d is None:
        reasons.append(f"date « {vals['date']} » impossible")
    if not reasons and not ean13_valid(str(vals["code_barres"])):
        reasons.append(f"code-barres « {vals['code_barres']} » invalide")
    return d

def analyse_library(entries: list[dict[str, Any]], restored: RestoredData) -> LibraryResult:
    lines: list[LibLine] = []
    events: list[CircEvent] = []
    anomalies: list[str] = []
    known_loans = {(ln.carte, ln.code_barres, ln.date_pret) for ln in restored.loans}
    for e in sorted((x for x in entries if x.get("form") in ("pret", "retour") and not is_page_block(x)),
                    key=lambda x: (str(x.get("page_key")), int(x.get("copy") or 0), int(x.get("row") or 0))):
        form = str(e["form"])
        ln = LibLine(form, sheet_ref(e), int(e.get("row") or 0), "ok")
        lines.append(ln)
        origin = f"{ln.sheet}, ligne {ln.row}"
        if e.get("sheet_status") == "conflict":
            ln.status = "a_verifier"
            ln.reasons.append("feuille en conflit (deux images différentes de la même page)")
            continue
        ann = get(e, "annule")
        if ann.in_review:
            ln.status = "a_verifier"
            ln.reasons.append("case « annulé » à vérifier")
            continue
        if ann.usable and ann.value is True:
            ln.status = "annule"
            continue
        if form == "retour":
            vals = _check(e, ("date", "code_barres"), ln.reasons)
            ln.values = vals
            d = _date_and_barcode(vals, ln.reasons)
            if ln.reasons:
                ln.status = "a_verifier"
                continue
            assert d is not None
            events.append(CircEvent(d, 0, "return", str(vals["code_barres"]), origin=origin))
            continue
        vals = _check(e, ("date", "carte", "code_barres"), ln.reasons)
        ln.values = dict(vals)
        d = _date_and_barcode(vals, ln.reasons)
        if ln.reasons:
            ln.status = "a_verifier"
            continue
        assert d is not None
        card, bc = str(vals["carte"]), str(vals["code_barres"])
        due_f = get(e, "retour_prevu")
        ln.values["retour_prevu"] = due_f.value
        due = date_of(due_f.value, "date_ddmmyy") if due_f.usable else None
        ln.values["_due"] = due
        if (card, bc, d) in known_loans:
            ln.status = "deja_connu"
            ln.reasons.append("prêt déjà présent dans le système restauré")
        else:
            events.append(CircEvent(d, 1, "issue", bc, card, origin))
        # the return part of the loan line
        rendu, dret = get(e, "rendu"), get(e, "date_retour")
        ln.values["rendu"], ln.values["date_retour"] = rendu.value, dret.value
        if rendu.in_review or dret.in_review:
            ln.status = "a_verifier" if ln.status == "ok" else ln.status
            ln.reasons.append("retour à vérifier (" + ", ".join(
                LABELS[n] for n, f in (("rendu", rendu), ("date_retour", dret)) if f.in_review) + ") : le prêt "
                "est rejoué, pas le retour")
            continue
        returned = (rendu.usable and rendu.value is True) or (dret.usable and not dret.blank)
        if not returned:
            continue
        rd = date_of(dret.value, "date_ddmmyy") if dret.usable and not dret.blank else None
        if rd is None:
            ln.status = "a_verifier" if ln.status == "ok" else ln.status
            ln.reasons.append("rendu sans date de retour lisible : le prêt est rejoué, pas le retour")
            continue
        if rd < d:
            ln.status = "a_verifier" if ln.status == "ok" else ln.status
            ln.reasons.append("date de retour antérieure au prêt : le prêt est rejoué, pas le retour")
            continue
        events.append(CircEvent(rd, 2 if rd == d else 0, "return", bc, origin=origin))

    events.sort(key=lambda ev: ev.sort_key)
    # replay over the loans the restored system has out
    out: dict[str, StillOut] = {}
    for lo in sorted(restored.loans, key=lambda x: (x.date_pret, x.code_barres)):
        if lo.date_retour is None:
            out[lo.code_barres] = StillOut(lo.code_barres, lo.carte, lo.date_pret, lo.date_retour_prevue, "système")
    due_of = {(ln.values.get("carte"), ln.values.get("code_barres"), date_of(ln.values.get("date"), "date_ddmmyy")):
              ln.values.get("_due") for ln in lines if ln.form == "pret" and ln.values}
    for ev in events:
        if ev.op == "issue":
            if ev.barcode in out:
                prev = out[ev.barcode]
                anomalies.append(f"{ev.date:%d/%m/%Y} : {ev.barcode} prêté à la carte {ev.card} alors qu'il est "
                                 f"encore sorti (carte {prev.card}, depuis le {_fd(prev.since)}) — retour non noté ? "
                                 f"({ev.origin})")
            out[ev.barcode] = StillOut(ev.barcode, ev.card, ev.date, due_of.get((ev.card, ev.barcode, ev.date)),
                                       "papier")
        else:
            if ev.barcode not in out:
                anomalies.append(f"{ev.date:%d/%m/%Y} : retour de {ev.barcode}, qui n'était pas sorti selon le "
                                 f"système ni le papier ({ev.origin})")
            out.pop(ev.barcode, None)
    still = sorted(out.values(), key=lambda s: (s.since or _dt.date.min, s.barcode))
    return LibraryResult(events, lines, anomalies, still)


def _fd(d: _dt.date | None) -> str:
    return d.strftime("%d/%m/%Y") if d else "?"


def parse_koc(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Parse a .koc text the way Koha does (header, then commands); raises ValueError when malformed."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise ValueError("fichier vide")
    header = dict(kv.split("=", 1) for kv in lines[0].split("\t"))
    if header.get("Version") != "1.0":
        raise ValueError(f"version {header.get('Version')!r}")
    args = {"issue": ("cardnumber", "barcode"), "return": ("barcode",), "payment": ("cardnumber", "amount")}
    cmds = []
    for i, ln in enumerate(lines[1:], 2):
        parts = ln.split("\t")
        stamp, op, rest = parts[0], parts[1] if len(parts) > 1 else "", parts[2:]
        if op not in args or len(rest) != len(args[op]):
            raise ValueError(f"ligne {i} : {ln!r}")
        date, time_, id_ = stamp.split(" ")
        _dt.date.fromisoformat(date)
        _dt.time.fromisoformat(time_)
        cmds.append({"date": date, "time": time_, "id": id_, "command": op, **dict(zip(args[op], rest))})
    return header, cmds
