"""Payments: the régie's paper journal against the restored family accounts.

Each paper line becomes exactly one of:
- ``annulee``   the "Quittance annulée" box is ticked: reported, never counted as paid;
- ``a_verifier`` a field that decides the payment (family, amount, date, service, mode, cancelled box) is still
  awaiting review, missing, impossible, or the family is unknown: listed with the reason, neither counted as
  paid nor dropped;
- ``connu``      the restored system already has it (same receipt number, else same family + amount + date);
- ``conflit``    same receipt number but a different amount or family in the restored system, or the same
  payment written twice on paper (same family, amount, date and service on two receipts: the first counts);
- ``a_saisir``   the restored system lacks it: to re-enter.

The family balance is what the invoices ask minus what the restored system knows minus what is to re-enter:
the balance once `paiements_a_saisir.csv` has been keyed in. Lines "à vérifier" and conflicts are shown beside it.
"""

from __future__ import annotations

import datetime as _dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from papier.checks import luhn_valid
from papier.reconcile.common import (
    Read, cents_of, date_of, entry_copy, euros, field as get, is_page_block, sheet_ref,
)
from papier.reconcile.restored import MODES, SERVICES, Payment, RestoredData

FORM = "paiement"
KEY_FIELDS = ("famille", "montant", "date", "service", "mode", "annulee")
OTHER_FIELDS = ("nature", "payeur", "periode", "cheque", "visa")
FIELD_LABELS = {"famille": "n° de famille", "montant": "montant", "date": "date", "service": "service",
                "mode": "mode de paiement", "annulee": "case « quittance annulée »", "nature": "nature",
                "payeur": "nom du payeur", "periode": "période", "cheque": "n° de chèque", "visa": "initiales",
                "total": "total de la page"}


@dataclass
class PaperPayment:
    page_key: str
    copy: int
    row: int
    quittance: str
    sheet: str
    famille: str | None = None
    montant: int | None = None
    date: _dt.date | None = None
    service: str | None = None
    mode: str | None = None
    nature: str | None = None
    cheque: str | None = None
    payeur: str | None = None
    periode: str | None = None
    status: str = "a_saisir"           # annulee | a_verifier | connu | conflit | a_saisir
    reasons: list[str] = field(default_factory=list)  # why à vérifier / conflict / how matched
    other_review: list[str] = field(default_factory=list)  # non-deciding fields still in review
    notes: list[str] = field(default_factory=list)
    restored: Payment | None = None
    raw: dict[str, Read] = field(default_factory=dict)

    @property
    def receipt(self) -> str:
        """Receipt identity: the pre-printed number, plus the copy number on a photocopied blank."""
        return self.quittance + (f"-c{self.copy}" if self.copy else "")

    @property
    def sort_key(self) -> tuple[Any, ...]:
        kit = self.page_key.split("-", 1)[0]
        q = int(self.quittance) if self.quittance.isdigit() else 10**9
        return (kit, self.copy, q, self.page_key, self.row)

    @property
    def counted(self) -> bool:
        return self.status in ("connu", "a_saisir")


@dataclass
class PageTotal:
    page_key: str
    copy: int
    sheet: str
    written: int | None
    computed: int
    status: str        # ok | ecart | non_verifiable | absent
    detail: str = ""


@dataclass
class Balance:
    famille: str
    nom: str
    service: str
    invoiced: int = 0
    paid_system: int = 0
    paid_paper: int = 0          # to re-enter
    review_count: int = 0
    review_amount: int = 0       # amounts read (possibly uncertain) on lines "à vérifier"
    conflicts: int = 0

    @property
    def balance(self) -> int:
        return self.invoiced - self.paid_system - self.paid_paper


@dataclass
class PaymentsResult:
    lines: list[PaperPayment]
    totals: list[PageTotal]
    balances: list[Balance]
    system_only: list[Payment]   # restored payments dated within the paper period that no paper line explains

    def by_status(self, status: str) -> list[PaperPayment]:
        return [p for p in self.lines if p.status == status]


def _read_line(e: dict[str, Any]) -> PaperPayment:
    printed = e.get("printed") or {}
    p = PaperPayment(page_key=str(e.get("page_key")), copy=entry_copy(e), row=int(e.get("row") or 0),
                     quittance=str(printed.get("quittance") or ""), sheet=sheet_ref(e))
    r = {n: get(e, n) for n in KEY_FIELDS + OTHER_FIELDS}
    p.raw = r
    # values as read (shown in the lists even when uncertain), typed
    p.famille = (str(r["famille"].value) if r["famille"].value not in (None, "") else None)
    p.montant = cents_of(r["montant"].value)
    p.date = date_of(r["date"].value, "date_ddmmyy")
    p.service = r["service"].value or None
    p.mode = r["mode"].value or None
    p.nature = r["nature"].value or None
    p.cheque = r["cheque"].value or None
    p.payeur = r["payeur"].value or None
    p.periode = r["periode"].value or None
    p.other_review = [n for n in OTHER_FIELDS if r[n].in_review]
    if e.get("sheet_status") == "conflict":
        p.status = "a_verifier"
        p.reasons.append("feuille en conflit (deux images différentes de la même page) : choisir la bonne image")
        return p
    ann = r["annulee"]
    if ann.in_review:
        p.status = "a_verifier"
        p.reasons.append("case « quittance annulée » à vérifier")
        return p
    if ann.usable and ann.value is True:
        p.status = "annulee"
        return p
    for n in KEY_FIELDS[:-1]:
        f = r[n]
        if f.in_review:
            p.reasons.append(f"{FIELD_LABELS[n]} à vérifier")
        elif f.illegible:
            p.reasons.append(f"{FIELD_LABELS[n]} illisible (relecture)")
        elif f.status == "absent" or f.blank:
            p.reasons.append(f"{FIELD_LABELS[n]} non rempli")
    if not p.reasons:
        if not (p.famille and len(p.famille) == 5 and p.famille.isdigit() and luhn_valid(p.famille)):
            p.reasons.append(f"n° de famille « {p.famille} » invalide")
        if p.montant is None or p.montant <= 0:
            p.reasons.append(f"montant « {r['montant'].value} » invalide")
        if p.date is None:
            p.reasons.append(f"date « {r['date'].value} » impossible")
        if p.service not in SERVICES:
            p.reasons.append(f"service « {p.service} » inconnu")
        if p.mode not in MODES:
            p.reasons.append(f"mode « {p.mode} » inconnu")
    if p.reasons:
        p.status = "a_verifier"
    if p.mode == "cesu" and p.service == "restauration":
        p.notes.append("CESU non accepté pour la restauration scolaire")
    if p.mode == "cheque" and not p.cheque and not r["cheque"].in_review:
        p.notes.append("n° de chèque non noté")
    return p


def analyse_payments(entries: list[dict[str, Any]], restored: RestoredData) -> PaymentsResult:
    mine = [e for e in entries if e.get("form") == FORM]
    lines = sorted((_read_line(e) for e in mine if not is_page_block(e)), key=lambda p: p.sort_key)

    # the family must exist in the restored accounts (when they were restored)
    if restored.has("familles"):
        for p in lines:
            if p.status == "a_saisir" and p.famille not in restored.families:
                p.status = "a_verifier"
                p.reasons.append(f"famille {p.famille} inconnue du système restauré")

    ready = [p for p in lines if p.status == "a_saisir"]

    # 1. the same payment written twice on paper: the first receipt counts, the others are conflicts
    groups: dict[tuple[Any, ...], list[PaperPayment]] = defaultdict(list)
    for p in ready:
        groups[(p.famille, p.montant, p.date, p.service)].append(p)
    for group in groups.values():
        for dup in group[1:]:
            dup.status = "conflit"
            dup.reasons.append(f"paiement écrit deux fois : même famille, montant, date et service que la "
                               f"quittance {group[0].receipt} ({group[0].sheet}, ligne {group[0].row})")

    # 2. match against the restored system: receipt number first, then family + amount + date
    by_receipt: dict[str, list[Payment]] = defaultdict(list)
    for rp in restored.payments:
        if rp.quittance:
            by_receipt[rp.quittance.lstrip("0") or "0"].append(rp)
    used: set[int] = set()
    for p in (x for x in ready if x.status == "a_saisir"):
        cands = [rp for rp in by_receipt.get(p.receipt.lstrip("0") or "0", []) if id(rp) not in used]
        if cands:
            rp = cands[0]
            used.add(id(rp))
            p.restored = rp
            diffs = []
            if rp.montant != p.montant:
                diffs.append(f"montant {_eur(p.montant)} sur papier, {_eur(rp.montant)} dans le système")
            if rp.famille != p.famille:
                diffs.append(f"famille {p.famille} sur papier, {rp.famille} dans le système")
            if diffs:
                p.status = "conflit"
                p.reasons.append(f"même quittance {p.receipt}, " + " ; ".join(diffs) + f" ({rp.where})")
            else:
                p.status = "connu"
                p.reasons.append(f"déjà saisi (quittance {rp.quittance}, {rp.where})")
    index: dict[tuple[Any, ...], list[Payment]] = defaultdict(list)
    for rp in restored.payments:
        index[(rp.famille, rp.montant, rp.date)].append(rp)
    for p in (x for x in ready if x.status == "a_saisir"):
        cands = [rp for rp in index.get((p.famille, p.montant, p.date), [])
                 if id(rp) not in used and (not rp.service or rp.service == p.service)]
        if cands:
            rp = cands[0]
            used.add(id(rp))
            p.restored = rp
            p.status = "connu"
            p.reasons.append(f"déjà saisi sans n° de quittance correspondant (même famille, montant et date ; "
                             f"{rp.where})")

    totals = _page_totals(mine, lines)
    balances = _balances(lines, restored)
    dated = [p.date for p in lines if p.date]
    system_only: list[Payment] = []
    if dated:
        lo, hi = min(dated), max(dated)
        system_only = sorted((rp for rp in restored.payments if id(rp) not in used and lo <= rp.date <= hi),
                             key=lambda rp: (rp.date, rp.famille, rp.quittance))
    return PaymentsResult(lines, totals, balances, system_only)


def _eur(c: int | None) -> str:
    return euros(c)


def _page_totals(entries: list[dict[str, Any]], lines: list[PaperPayment]) -> list[PageTotal]:
    by_sheet: dict[tuple[str, int], list[PaperPayment]] = defaultdict(list)
    for p in lines:
        by_sheet[(p.page_key, p.copy)].append(p)
    blocks = {(str(e.get("page_key")), entry_copy(e)): e for e in entries
              if is_page_block(e) and e.get("sheet_status") != "conflict"}
    out = []
    for key in sorted(set(by_sheet) | set(blocks)):
        ls = [p for p in by_sheet.get(key, []) if "feuille en conflit" not in " ".join(p.reasons)]
        block = blocks.get(key)
        total = get(block, "total") if block else Read("total", None, "absent")
        sheet = key[0] + (f" (copie {key[1]})" if key[1] else "")
        computed = 0
        unsure = []
        for p in ls:
            ann, mt = p.raw["annulee"], p.raw["montant"]
            if ann.in_review:
                unsure.append(f"ligne {p.row} : case annulée à vérifier")
                continue
            if ann.usable and ann.value is True:
                continue
            if mt.in_review:
                unsure.append(f"ligne {p.row} : montant à vérifier")
            elif p.montant is not None:
                computed += p.montant
        if total.status == "absent" or (total.usable and total.blank):
            out.append(PageTotal(key[0], key[1], sheet, None, computed, "absent", "total de la page non écrit"))
            continue
        written = cents_of(total.value)
        if total.in_review:
            unsure.insert(0, "total de la page à vérifier")
        if unsure:
            out.append(PageTotal(key[0], key[1], sheet, written, computed, "non_verifiable", " ; ".join(unsure)))
        elif written != computed:
            out.append(PageTotal(key[0], key[1], sheet, written, computed, "ecart",
                                 f"écart de {_eur((written or 0) - computed)} entre le total écrit et les lignes"))
        else:
            out.append(PageTotal(key[0], key[1], sheet, written, computed, "ok"))
    return out


def _balances(lines: list[PaperPayment], restored: RestoredData) -> list[Balance]:
    acc: dict[tuple[str, str], Balance] = {}

    def b(fam: str, service: str) -> Balance:
        k = (fam, service or "")
        if k not in acc:
            f = restored.families.get(fam)
            nom = f"{f.nom} {f.prenom}".strip() if f else ""
            acc[k] = Balance(fam, nom, service or "")
        return acc[k]

    for inv in restored.invoices:
        b(inv.famille, inv.service).invoiced += inv.montant
    for rp in restored.payments:
        b(rp.famille, rp.service).paid_system += rp.montant
    for p in lines:
        if p.status == "a_saisir":
            b(p.famille or "", p.service or "").paid_paper += p.montant or 0
        elif p.status == "a_verifier" and p.famille and p.famille.isdigit():
            x = b(p.famille, p.service or "")
            x.review_count += 1
            x.review_amount += p.montant or 0
        elif p.status == "conflit" and p.famille:
            b(p.famille, p.service or "").conflicts += 1
    return [acc[k] for k in sorted(acc)]
