"""The sheet ledger: every page the kit issued against every page image scanned; and the receipt sequence.

Pages issued come from the kit's layout.json when given (``--kit-layout``); otherwise they are inferred from the
page keys seen: for each kit and register, serials 1 to the highest serial scanned.

A page issued but not scanned is ``manquante`` when a later page of the same register was scanned (it was used,
then lost?) and ``non_scannee`` after the last scanned page (most likely still blank in the safe).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from papier.identity import BLANK_PAGE_REASON, parse_page_key
from papier.reconcile.common import entry_copy, is_page_block


@dataclass
class LedgerLine:
    kind: str          # manquante | non_scannee | doublon | conflit | non_identifiee | blanche | hors_kit
    page_key: str | None
    form: str | None
    serial: int | None
    detail: str
    source: str = ""


@dataclass
class MissingReceipt:
    quittance: str
    page_key: str
    row: int
    reason: str        # feuille_manquante | ligne_vide


@dataclass
class LedgerResult:
    issued: list[dict[str, Any]]               # {page_key, kit_id, form, serial}
    scanned_keys: set[str]
    lines: list[LedgerLine]
    missing_receipts: list[MissingReceipt]
    from_layout: bool
    counts: dict[str, int] = field(default_factory=dict)


def _key(page_key: str) -> tuple[str, str, int] | None:
    try:
        return parse_page_key(page_key)
    except (ValueError, AttributeError):
        return None


@lru_cache(maxsize=32)
def _builtin_printed(form: str, kit: str, serial: int) -> tuple[tuple[int, str], ...]:
    """(row, receipt number) of a page of a built-in register, from its layout."""
    from papier.forms import builtin_form
    from papier.layout import layout_form

    lay = layout_form(builtin_form(form))
    vals = lay.printed_values(kit, serial)
    return tuple((row, v.get("quittance", "")) for row, v in sorted(vals.items()))


def analyse_ledger(paper_pages: list[dict[str, Any]], sheets: list[dict[str, Any]], entries: list[dict[str, Any]],
                   layout: dict[str, Any] | None = None) -> LedgerResult:
    lines: list[LedgerLine] = []
    # what was scanned: sheets (identified pages), else identified page images
    scanned: dict[str, set[int]] = defaultdict(set)  # page_key -> copies
    for s in sheets:
        if s.get("page_key"):
            scanned[s["page_key"]].add(int(s.get("copy") or 0))
    for p in paper_pages:
        if p.get("page_key") and p.get("status") in ("identified", "conflict"):
            scanned[p["page_key"]].add(int(p.get("copy") or 0))

    # what was issued
    printed_by_key: dict[str, dict[int, str]] = {}
    if layout is not None:
        issued = []
        for pg in layout.get("pages", []):
            k = _key(pg.get("page_key", ""))
            kit = layout.get("kit_id") or (k[0] if k else "")
            issued.append({"page_key": pg["page_key"], "kit_id": kit, "form": pg.get("form"),
                           "serial": int(pg.get("serial") or (k[2] if k else 0))})
            pr = {int(e["row"]): str(e["printed"].get("quittance")) for e in pg.get("entries", [])
                  if isinstance(e.get("printed"), dict) and e["printed"].get("quittance")}
            if pr:
                printed_by_key[pg["page_key"]] = pr
    else:
        top: dict[tuple[str, str], int] = {}
        for pk in scanned:
            k = _key(pk)
            if k:
                top[(k[0], k[1])] = max(top.get((k[0], k[1]), 0), k[2])
        issued = []
        for (kit, form), hi in sorted(top.items()):
            for s in range(1, hi + 1):
                issued.append({"page_key": f"{kit}-{form}-{s:03d}", "kit_id": kit, "form": form, "serial": s})
    issued_keys = {i["page_key"] for i in issued}

    # the highest scanned serial per (kit, form): pages before it that are missing were probably used
    last_scanned: dict[tuple[str, str], int] = {}
    for pk in scanned:
        k = _key(pk)
        if k:
            last_scanned[(k[0], k[1])] = max(last_scanned.get((k[0], k[1]), 0), k[2])
    # a register continued on photocopies of blank pages had used up all its originals
    on_copies: set[tuple[str, str]] = set()
    for pk, copies in scanned.items():
        k = _key(pk)
        if k and any(copies):
            on_copies.add((k[0], k[1]))
    for i in sorted(issued, key=lambda x: (x["kit_id"], x["form"] or "", x["serial"])):
        if i["page_key"] in scanned:
            continue
        reg = (i["kit_id"], i["form"])
        hi = last_scanned.get(reg, 0)
        if i["serial"] < hi:
            lines.append(LedgerLine("manquante", i["page_key"], i["form"], i["serial"],
                                    f"page {i['serial']} non scannée alors que la page {hi} du même registre l'a "
                                    f"été : feuille perdue ou oubliée ?"))
        elif reg in on_copies:
            lines.append(LedgerLine("manquante", i["page_key"], i["form"], i["serial"],
                                    f"page {i['serial']} non scannée alors que le registre a été continué sur des "
                                    f"photocopies : toutes les pages originales avaient servi"))
        elif hi and i["serial"] == hi + 1:
            lines.append(LedgerLine("non_scannee", i["page_key"], i["form"], i["serial"],
                                    f"non scannée ; c'est la page qui suit la dernière page scannée du registre "
                                    f"(page {hi}) : vérifiez qu'elle est bien restée vierge, sinon elle est perdue"))
        else:
            lines.append(LedgerLine("non_scannee", i["page_key"], i["form"], i["serial"],
                                    "non scannée (sans doute restée vierge)"))
    for p in paper_pages:
        src = f"{p.get('source')} p. {p.get('index')}"
        st = p.get("status")
        k = _key(p.get("page_key") or "")
        if st == "duplicate":
            lines.append(LedgerLine("doublon", p.get("page_key"), k[1] if k else None, k[2] if k else None,
                                    "même image scannée deux fois : stockée une seule fois", src))
        elif st == "conflict":
            lines.append(LedgerLine("conflit", p.get("page_key"), k[1] if k else None, k[2] if k else None,
                                    "seconde image, différente, d'une page déjà scannée : à départager", src))
        elif st == "unidentified" and p.get("reason") == BLANK_PAGE_REASON:
            lines.append(LedgerLine("blanche", None, None, None, "image sans QR code ni écriture : rien à lire", src))
        elif st == "unidentified":
            lines.append(LedgerLine("non_identifiee", None, None, None,
                                    f"page non identifiée : {p.get('reason') or 'QR illisible'}", src))
        if layout is not None and p.get("page_key") and st in ("identified", "conflict") \
                and p["page_key"] not in issued_keys:
            lines.append(LedgerLine("hors_kit", p.get("page_key"), k[1] if k else None, k[2] if k else None,
                                    "page d'un autre kit que celui indiqué", src))

    # photocopies of the same blank page are numbered 1, 2, 3…: a gap in a page's copy numbers is a lost copy
    missing = _missing_receipts(issued, scanned, entries, printed_by_key)
    # …and a register continued on photocopies is copied whole, page after page: copy n of a later page of the
    # register scanned means copy n of this page was used too
    top_copy: dict[tuple[str, str], tuple[int, int]] = {}
    for pk, copies in scanned.items():
        k = _key(pk)
        if k and max(copies) > 0:
            top_copy[(k[0], k[1])] = max(top_copy.get((k[0], k[1]), (0, 0)), (max(copies), k[2]))
    for pk in sorted(set(scanned) | {i["page_key"] for i in issued}):
        copies = scanned.get(pk, set())
        k = _key(pk)
        reg_top = top_copy.get((k[0], k[1])) if k else None
        upto = max(copies | {0})
        if k and reg_top:
            upto = max(upto, reg_top[0] + 1 if k[2] < reg_top[1] else reg_top[0])
        for c in range(1, upto):
            if c in copies:
                continue
            why = (f"la copie n° {max(copies)} de la même page l'a été" if copies and max(copies) > c else
                   "des copies suivantes du registre l'ont été")
            lines.append(LedgerLine("manquante", pk, k[1] if k else None, k[2] if k else None,
                                    f"photocopie n° {c} non scannée alors que {why} : feuille perdue ?"))
            if k and k[1] == "paiement":
                printed = printed_by_key.get(pk) or dict(_builtin_printed("paiement", k[0], k[2]))
                missing += [MissingReceipt(f"{q}-c{c}", pk, row, "feuille_manquante")
                            for row, q in sorted(printed.items())]
    counts: dict[str, int] = defaultdict(int)
    for ln in lines:
        counts[ln.kind] += 1
    counts["emises"] = len(issued)
    counts["scannees"] = len(scanned)
    counts["images"] = len(paper_pages)
    return LedgerResult(issued, set(scanned), lines, missing, layout is not None, dict(counts))


def _missing_receipts(issued: list[dict[str, Any]], scanned: dict[str, set[int]], entries: list[dict[str, Any]],
                      printed_by_key: dict[str, dict[int, str]]) -> list[MissingReceipt]:
    """Receipt numbers of the printed (not photocopied) journal up to the last one used that no line carries."""
    used: dict[str, set[str]] = defaultdict(set)   # kit -> receipt numbers written on (original) sheets
    on_copies: set[str] = set()                     # kits whose journal went on to photocopies
    for e in entries:
        if e.get("form") != "paiement" or is_page_block(e):
            continue
        q = (e.get("printed") or {}).get("quittance")
        k = _key(str(e.get("page_key")))
        if entry_copy(e):
            if k:
                on_copies.add(k[0])
            continue
        if q and k:
            used[k[0]].add(str(q))
    out: list[MissingReceipt] = []
    for kit in sorted(used):
        last = max(int(q) for q in used[kit] if q.isdigit())
        if kit in on_copies:  # every original page was used: the whole printed sequence
            for i in issued:
                if i["kit_id"] == kit and i["form"] == "paiement":
                    pr = printed_by_key.get(i["page_key"]) or dict(_builtin_printed("paiement", kit, i["serial"]))
                    last = max([last] + [int(q) for q in pr.values() if q.isdigit()])
        pages = sorted((i for i in issued if i["kit_id"] == kit and i["form"] == "paiement"),
                       key=lambda i: i["serial"])
        for i in pages:
            printed = printed_by_key.get(i["page_key"]) or dict(_builtin_printed("paiement", kit, i["serial"]))
            for row, q in sorted(printed.items()):
                if not q.isdigit() or int(q) > last or q in used[kit]:
                    continue
                if i["page_key"] in scanned:
                    out.append(MissingReceipt(q, i["page_key"], row, "ligne_vide"))
                else:
                    out.append(MissingReceipt(q, i["page_key"], row, "feuille_manquante"))
    return out
