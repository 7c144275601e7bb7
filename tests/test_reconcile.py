"""Recollement on constructed export-format entries: every classification, the .koc file, deadlines, the sheet
ledger, mapping and source errors, determinism, and the database read path."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from papier.checks import ean13_check_digit, luhn_check_digit
from papier.errors import InputDataError
from papier.identity import BLANK_PAGE_REASON
from papier.reconcile import reconcile, reconcile_data
from papier.reconcile.civil import analyse_civil
from papier.reconcile.common import euros, next_working_day
from papier.reconcile.library import analyse_library, parse_koc
from papier.reconcile.paper import PaperData
from papier.reconcile.payments import analyse_payments
from papier.reconcile.restored import (
    Act, Family, Invoice, Loan, Payment, RestoredData, load_mapping, load_restored, parse_mapping,
)

KIT = "AAAAAAAA"
TODAY = dt.date(2026, 11, 22)


def fam(stem: str) -> str:
    return stem + luhn_check_digit(stem)


def ean(stem12: str) -> str:
    return stem12 + ean13_check_digit(stem12)


F1, F2, F3, F4, F5 = fam("1000"), fam("1001"), fam("1002"), fam("1003"), fam("1004")
B1, B2, B3 = ean("978200000001"), ean("978200000002"), ean("978200000003")


def F(v: Any, st: str = "auto") -> dict[str, Any]:
    return {"value": v, "status": st, "confidence": 0.99 if st == "auto" else 0.5}


def pkey(form: str, serial: int) -> str:
    return f"{KIT}-{form}-{serial:03d}"


def pay(serial: int, row: int, fam_: str, amount: int, day: str, service: str = "restauration",
        mode: str = "cheque", ann: bool = False, copy: int | None = None, **over: Any) -> dict[str, Any]:
    fields = {"date": F(day), "famille": F(fam_), "montant": F(str(amount)), "payeur": F("DUPONT", "review"),
              "service": F(service), "nature": F("total"), "mode": F(mode), "periode": F("oct. 2026", "review"),
              "cheque": F("1234567" if mode == "cheque" else None), "visa": F("ML", "review"),
              "annulee": F(ann)}
    fields.update(over)
    return {"page_key": pkey("paiement", serial), "form": "paiement", "row": row, "kind": "line", "copy": copy,
            "printed": {"quittance": f"{(serial - 1) * 6 + row:05d}"}, "sheet_status": "primary", "fields": fields}


def page_total(serial: int, total: str | None, st: str = "auto") -> dict[str, Any]:
    return {"page_key": pkey("paiement", serial), "form": "paiement", "row": 7, "kind": "page", "copy": None,
            "printed": {}, "sheet_status": "primary", "fields": {"copie": F(None), "total": F(total, st)}}


def loan(serial: int, row: int, day: str, card: str, bc: str, back: bool = False, back_on: str | None = None,
         **over: Any) -> dict[str, Any]:
    fields = {"date": F(day), "carte": F(card), "code_barres": F(bc), "cote": F("R DUP", "review"),
              "titre": F("Titre", "review"), "support": F("livre"), "retour_prevu": F(None), "rendu": F(back),
              "date_retour": F(back_on), "visa": F(None), "annule": F(False)}
    fields.update(over)
    return {"page_key": pkey("pret", serial), "form": "pret", "row": row, "kind": "line", "copy": None,
            "printed": {}, "sheet_status": "primary", "fields": fields}


def ret(serial: int, row: int, day: str, bc: str, **over: Any) -> dict[str, Any]:
    fields = {"date": F(day), "code_barres": F(bc), "visa": F(None), "annule": F(False)}
    fields.update(over)
    return {"page_key": pkey("retour", serial), "form": "retour", "row": row, "kind": "line", "copy": None,
            "printed": {}, "sheet_status": "primary", "fields": fields}


def fiche(form: str, serial: int, declared: str, event: str, nom: str | None = "MARTIN", st_event: str = "verified",
          **over: Any) -> dict[str, Any]:
    ev = "date_naissance" if form == "naissance" else "date_deces"
    nm = "enfant_nom" if form == "naissance" else "defunt_nom"
    fields = {"date_declaration": F(declared), "annulee": F(False), ev: F(event, st_event),
              nm: F(nom, "verified" if nom else "review"), "acte_date": F(None), "acte_numero": F(None)}
    fields.update(over)
    letter = "N" if form == "naissance" else "D"
    return {"page_key": pkey(form, serial), "form": form, "row": 1, "kind": "fiche", "copy": None,
            "printed": {"fiche": f"{letter}-{serial:04d}"}, "sheet_status": "primary", "fields": fields}


def restored_base() -> RestoredData:
    r = RestoredData(label="test", sections=("familles", "factures", "paiements", "prets", "actes"))
    for f in (F1, F2, F3, F4, F5):
        r.families[f] = Family(f, "NOM" + f, "")
    r.invoices += [Invoice(F1, "restauration", 5000, "2026-09"), Invoice(F2, "restauration", 3000, "2026-09"),
                   Invoice(F3, "creche", 20000, "2026-09")]
    # a payment re-entered by hand with the paper receipt number; one with a typing error; one without receipt
    r.payments += [Payment(F2, 1500, dt.date(2026, 9, 15), "00002", "restauration", "cheque"),
                   Payment(F3, 10100, dt.date(2026, 9, 16), "00003", "creche", "cheque"),
                   Payment(F4, 700, dt.date(2026, 9, 16), "", "restauration", "especes"),
                   Payment(F1, 2000, dt.date(2026, 8, 20), "R26-00001", "restauration", "cb")]
    return r


def payment_entries() -> list[dict[str, Any]]:
    return [
        pay(1, 1, F1, 1250, "150926"),                                   # to re-enter
        pay(1, 2, F2, 1500, "150926"),                                   # known by receipt
        pay(1, 3, F3, 10000, "160926", service="creche"),                # conflict: system says 101,00 €
        pay(1, 4, F4, 700, "160926", mode="especes"),                    # known by family+amount+date
        pay(1, 5, F1, 1250, "150926"),                                   # written twice (same as row 1)
        pay(1, 6, F5, 900, "170926", ann=True),                      # cancelled
        page_total(1, str(1250 + 1500 + 10000 + 700 + 1250)),            # right total (cancelled excluded)
        pay(3, 1, F5, 880, "210926", montant=F("880", "review")),        # amount in review
        pay(3, 2, fam("9999"), 500, "210926"),                           # family unknown to the system
        pay(3, 3, F5, 1000, "220926", annulee=F(True, "review")),        # cancelled box in review
        page_total(3, "9999"),                                           # wrong total … but amounts in review
        pay(4, 1, F5, 2000, "230926"),                                   # to re-enter
        page_total(4, "2100"),                                           # wrong total
    ]


def test_payment_classification():
    res = analyse_payments(payment_entries(), restored_base())
    st = {p.quittance: p.status for p in res.lines}
    assert st == {"00001": "a_saisir", "00002": "connu", "00003": "conflit", "00004": "connu", "00005": "conflit",
                  "00006": "annulee", "00013": "a_verifier", "00014": "a_verifier", "00015": "a_verifier",
                  "00019": "a_saisir"}
    by_q = {p.quittance: p for p in res.lines}
    assert "même quittance" in by_q["00003"].reasons[0] and "101,00" in by_q["00003"].reasons[0]
    assert "écrit deux fois" in by_q["00005"].reasons[0] and "00001" in by_q["00005"].reasons[0]
    assert "montant à vérifier" in by_q["00013"].reasons
    assert "inconnue du système" in by_q["00014"].reasons[0]
    assert "annulée" in by_q["00015"].reasons[0]
    # non-deciding fields in review are listed on lines to re-enter, not hidden
    assert by_q["00001"].other_review == ["payeur", "periode", "visa"]
    totals = {t.page_key[-3:]: t.status for t in res.totals}
    assert totals == {"001": "ok", "003": "non_verifiable", "004": "ecart"}
    bal = {(b.famille, b.service): b for b in res.balances}
    # F1: invoiced 50,00, paid 20,00 before the outage (system) + 12,50 on paper (the duplicate is not counted)
    assert bal[(F1, "restauration")].balance == 5000 - 2000 - 1250
    assert bal[(F1, "restauration")].conflicts == 1
    assert bal[(F5, "restauration")].review_count == 2 and bal[(F5, "restauration")].review_amount == 1880
    # a cancelled receipt is never counted as paid
    assert all(p.status != "a_saisir" for p in res.lines if p.quittance == "00006")


def test_amount_in_review_verified_by_a_human_becomes_usable():
    entries = [pay(1, 1, F1, 880, "150926", montant=F("880", "verified"))]
    res = analyse_payments(entries, restored_base())
    assert res.lines[0].status == "a_saisir"


def test_fields_marked_illegible_are_said_illegible_not_blank(tmp_path: Path):
    """« Illisible » in the review page: the field is verified with value null and named in the entry's
    `illegible` list (export format); the recollement lists the line as « illisible », never « non rempli »."""
    pay_e = pay(1, 1, F1, 880, "150926", montant=F(None, "verified"))
    pay_e["illegible"] = ["montant"]
    blank_e = pay(1, 2, F2, 600, "150926", montant=F("", "verified"))  # really left blank: « non rempli »
    res = analyse_payments([pay_e, blank_e], restored_base())
    one, two = res.lines
    assert one.status == "a_verifier" and "montant illisible (relecture)" in one.reasons
    assert two.status == "a_verifier" and "montant non rempli" in two.reasons
    lib_e = loan(1, 1, "150926", F1, ean("978000000001"), code_barres=F(None, "verified"))
    lib_e["illegible"] = ["code_barres"]
    lib = analyse_library([lib_e], restored_base())
    assert any("illisible" in r for r in lib.lines[0].reasons)
    fi = fiche("naissance", 1, "16092026", "14092026", nom=None, enfant_nom=F(None, "verified"))
    fi["illegible"] = ["enfant_nom"]
    civ = analyse_civil([fi], restored_base(), TODAY)
    assert "nom illisible" in civ.fiches[0].review
    out = reconcile_data(PaperData([pay_e, blank_e, lib_e, fi], [], []), restored_base(), tmp_path / "out",
                         today=TODAY)
    rows = (out.out_dir / "a_verifier.csv").read_text(encoding="utf-8-sig")
    assert "montant illisible" in rows and "nom illisible" in rows
    summary = json.loads((out.out_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["illisibles"] == {"paiements": 1, "mediatheque": 1, "etat_civil": 1}


def test_photocopied_sheet_receipts_are_distinct():
    e1 = pay(1, 1, F1, 1250, "150926")
    e2 = pay(1, 1, F2, 600, "150926", copy=2)
    r = restored_base()
    r.payments.append(Payment(F2, 999, dt.date(2026, 9, 15), "00001", "restauration", "cheque"))
    res = analyse_payments([e1, e2], r)
    st = {p.receipt: p.status for p in res.lines}
    assert st == {"00001": "conflit", "00001-c2": "a_saisir"}


def test_full_outputs_and_missing_receipts(tmp_path: Path):
    entries = payment_entries() + [loan(1, 1, "150926", "2000000001", B1)]
    pages = [{"source": "lot.pdf", "index": i, "sha256": f"h{i}", "page_key": k, "status": s, "reason": None}
             for i, (k, s) in enumerate([(pkey("paiement", 1), "identified"), (pkey("paiement", 3), "identified"),
                                         (pkey("paiement", 4), "identified"), (pkey("paiement", 4), "duplicate"),
                                         (None, "unidentified"), (pkey("pret", 1), "identified"),
                                         (None, "unidentified")], 1)]
    pages[4]["reason"] = "QR illisible"
    pages[6]["reason"] = BLANK_PAGE_REASON  # the back of a sheet scanned recto verso
    sheets = [{"page_key": p["page_key"], "copy": None} for p in pages if p["status"] == "identified"]
    res = reconcile_data(PaperData(entries, pages, sheets), restored_base(), tmp_path / "out", today=TODAY)
    s = res.figures
    assert s["paiements"]["a_saisir"] == {"nombre": 2, "montant_centimes": 1250 + 2000}
    assert s["paiements"]["connus"] == {"nombre": 2, "montant_centimes": 1500 + 700}
    assert s["paiements"]["conflits"] == 2 and s["paiements"]["a_verifier"] == 3 and s["paiements"]["annulees"] == 1
    # page 2 (receipts 7–12) was never scanned though page 3 was: a lost sheet; 16–18 left blank on page 3
    missing = {(m.quittance, m.reason) for m in res.ledger.missing_receipts}
    assert {(f"{n:05d}", "feuille_manquante") for n in range(7, 13)} <= missing
    assert {(f"{n:05d}", "ligne_vide") for n in range(16, 19)} <= missing
    assert s["feuilles"]["manquantes"] == 1 and s["feuilles"]["doublons"] == 1
    assert s["feuilles"]["non_identifiees"] == 1 and s["feuilles"]["blanches"] == 1
    assert [ln.source for ln in res.ledger.lines if ln.kind == "blanche"] == ["lot.pdf p. 7"]
    for name in ("paiements_a_saisir.csv", "conflits.csv", "a_verifier.csv", "soldes_familles.csv",
                 "actes_a_dresser.csv", "prets.koc", "summary.json", "rapport.html", "feuilles.csv"):
        assert (tmp_path / "out" / name).is_file(), name
    raw = (tmp_path / "out" / "paiements_a_saisir.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0].split(";")[:3] == ["N° quittance", "Copie", "Date"]
    assert lines[1].split(";")[:8] == ["00001", "", "15/09/2026", F1, "NOM" + F1, "Restauration scolaire", "12,50",
                                       "Chèque"]
    review = (tmp_path / "out" / "a_verifier.csv").read_text(encoding="utf-8-sig")
    assert "quittance 00013" in review and "montant à vérifier" in review
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["paiements"]["conflits"] == 2
    html = (tmp_path / "out" / "rapport.html").read_text()
    assert "@media print" in html and "Recollement" in html and euros(3250) in html
    assert "Paiements :" in res.summary()


def test_running_twice_gives_identical_files(tmp_path: Path):
    entries = payment_entries() + [loan(1, 1, "150926", "2000000001", B1, back=True, back_on="200926"),
                                   fiche("naissance", 1, "16092026", "14092026")]
    paper = PaperData(entries, [], [])
    a = reconcile_data(paper, restored_base(), tmp_path / "a", today=TODAY)
    b = reconcile_data(paper, restored_base(), tmp_path / "b", today=TODAY)
    for name, p in a.files.items():
        ta, tb = p.read_bytes(), b.files[name].read_bytes()
        if name == "rapport.html":  # the one "generated on" line may differ
            ta = b"\n".join(x for x in ta.split(b"\n") if b"Rapport g\xc3\xa9n\xc3\xa9r\xc3\xa9 le" not in x)
            tb = b"\n".join(x for x in tb.split(b"\n") if b"Rapport g\xc3\xa9n\xc3\xa9r\xc3\xa9 le" not in x)
        assert ta == tb, name


# --- library ---------------------------------------------------------------------------------------------------------


def test_koc_order_and_format():
    r = restored_base()
    r.loans.append(Loan("2000000009", B3, dt.date(2026, 9, 1), dt.date(2026, 9, 22), None))  # out at the backup
    entries = [
        loan(1, 1, "150926", "2000000001", B1, back=True, back_on="150926"),  # lent and back the same day
        loan(1, 2, "150926", "2000000002", B2, back=True, back_on="180926"),
        ret(1, 1, "150926", B3),                                                   # returns an item lent before
        loan(1, 3, "160926", "2000000003", B3),                                    # … then lent again
        loan(1, 4, "170926", "2000000004", B1, carte=F("2000000004", "review")),   # card in review: not replayed
        loan(1, 5, "170926", "2000000005", ean("978200000005"), annule=F(True)),   # cancelled
    ]
    lib = analyse_library(entries, r)
    header, cmds = parse_koc(lib.koc_text())
    assert header == {"Version": "1.0", "Generator": "papier", "GeneratorVersion": "0.1"}
    assert [(c["date"], c["command"], c.get("barcode")) for c in cmds] == [
        ("2026-09-15", "return", B3), ("2026-09-15", "issue", B1), ("2026-09-15", "issue", B2),
        ("2026-09-15", "return", B1), ("2026-09-16", "issue", B3), ("2026-09-18", "return", B2)]
    # timestamps strictly increase in file order
    stamps = [(c["date"], c["time"], c["id"]) for c in cmds]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert cmds[1]["cardnumber"] == "2000000001"
    assert {s.barcode for s in lib.still_out} == {B3}
    assert [s.card for s in lib.still_out] == ["2000000003"]
    st = [ln.status for ln in lib.lines]
    assert st.count("a_verifier") == 1 and st.count("annule") == 1
    assert not lib.anomalies


def test_koc_anomalies_are_reported():
    entries = [ret(1, 1, "150926", B2), loan(1, 1, "150926", "2000000001", B1), loan(1, 2, "160926", "2000000002", B1)]
    lib = analyse_library(entries, restored_base())
    assert len(lib.anomalies) == 2
    assert "pas sorti" in lib.anomalies[0] or "pas sorti" in lib.anomalies[1]


# --- civil status ----------------------------------------------------------------------------------------------------


def test_french_deadlines():
    assert next_working_day(dt.date(2026, 9, 19)) == dt.date(2026, 9, 21)   # Saturday -> Monday
    assert next_working_day(dt.date(2026, 11, 11)) == dt.date(2026, 11, 12)  # Armistice
    assert next_working_day(dt.date(2026, 4, 6)) == dt.date(2026, 4, 7)     # Easter Monday 2026


def test_civil_deadlines_and_follow_up():
    r = restored_base()
    r.acts.append(Act("naissance", dt.date(2026, 9, 20), "00077", "DURAND", "Léa"))
    entries = [
        fiche("naissance", 1, "16092026", "14092026"),                       # Mon 14 + 5 = Sat 19 -> Mon 21
        fiche("naissance", 2, "21092026", "20092026", nom="DURAND"),         # drawn up in the software
        fiche("naissance", 3, "21092026", "20092026", nom=None, st_event="review"),
        fiche("naissance", 4, "22092026", "21092026", acte_date=F("23092026"), acte_numero=F("00078")),
        fiche("deces", 1, "02102026", "01102026"),
        fiche("deces", 2, "03102026", "02102026", annulee=F(True)),
    ]
    civ = analyse_civil(entries, r, TODAY)
    by = {f.fiche: f for f in civ.fiches}
    n1 = by["N-0001"]
    assert n1.status == "a_dresser" and n1.deadline == dt.date(2026, 9, 21) and n1.passed is True
    assert by["N-0002"].status == "dresse_logiciel" and by["N-0002"].acte_numero == "00077"
    n3 = by["N-0003"]
    assert n3.status == "a_dresser" and n3.deadline is None and "date de naissance" in n3.review
    assert "nom" in n3.review and n3.event_read == "20092026"
    assert by["N-0004"].status == "dresse" and by["N-0004"].passed is False
    d1 = by["D-0001"]
    assert d1.deadline == dt.date(2026, 10, 3) and d1.passed is True
    assert by["D-0002"].status == "annulee"
    # not yet passed when looked at early
    early = analyse_civil(entries[:1], r, dt.date(2026, 9, 18)).fiches[0]
    assert early.passed is False


# --- sources and mappings --------------------------------------------------------------------------------------------


def test_csv_example_folder_loads():
    d = load_restored(Path(__file__).parent.parent / "papier" / "data" / "restored" / "exemple_csv", None)
    assert set(d.families) == {"10009", "12344"}
    assert d.payments[0].montant == 4550 and d.payments[0].mode == "cheque"
    assert d.invoices[1].service == "periscolaire"
    assert d.acts[0].type == "naissance" and d.loans[0].date_retour is None


@pytest.mark.parametrize("doc,needle", [
    ({"familles": {"table": "f"}}, "colonne obligatoire « numero_famille »"),
    ({"familles": {"table": "f", "file": "f.csv", "numero_famille": "n"}}, "pas les deux"),
    ({"famille": {"table": "f"}}, "section « [famille] » inconnue"),
    ({"paiements": {"table": "p", "famille": "f", "montant": "m", "date": "d", "banque": "b"}},
     "clé « banque » inconnue"),
    ({"options": {"amount_unit": "francs"}, "familles": {"table": "f", "numero_famille": "n"}}, "amount_unit"),
    ({"values": {"service": {"CANT": "cantine"}}, "familles": {"table": "f", "numero_famille": "n"}},
     "valeur inconnue"),
    ({"format": "autre/2"}, "format « autre/2 » inconnu"),
    ({}, "aucune section"),
])
def test_bad_mapping_documents(doc, needle):
    with pytest.raises(InputDataError) as ei:
        parse_mapping(doc, "m.toml")
    assert needle in str(ei.value) and str(ei.value).startswith("m.toml")


def test_bad_mapping_file(tmp_path: Path):
    p = tmp_path / "m.toml"
    p.write_text("[familles\ntable=", encoding="utf-8")
    with pytest.raises(InputDataError, match="TOML invalide"):
        load_mapping(p)
    with pytest.raises(InputDataError, match="introuvable"):
        load_mapping(tmp_path / "absent.toml")


def _csv_source(tmp_path: Path, reglements: str) -> Path:
    d = tmp_path / "src"
    d.mkdir(exist_ok=True)
    (d / "reglements.csv").write_text(reglements, encoding="utf-8")
    (d / "mapping.toml").write_text(
        'format = "papier.mapping/1"\n[paiements]\nfile = "reglements.csv"\nquittance = "Quittance"\n'
        'famille = "Famille"\nmontant = "Montant"\ndate = "Date"\nservice = "Service"\n'
        '[values.service]\nCantine = "restauration"\n', encoding="utf-8")
    return d


@pytest.mark.parametrize("body,needle", [
    ("Quittance;Famille;Montant;Date;Service\nR1;10009;12,5O;15/09/2026;Cantine\n",
     "reglements.csv, ligne 2, colonne « Montant » : montant « 12,5O » illisible"),
    ("Quittance;Famille;Montant;Date;Service\nR1;10009;12,50;31/09/2026;Cantine\n",
     "reglements.csv, ligne 2, colonne « Date » : date « 31/09/2026 » illisible"),
    ("Quittance;Famille;Montant;Date;Service\nR1;10009;12,50;15/09/2026;Cantine\nR2;10009;3,00;15/09/2026;Piscine\n",
     "reglements.csv, ligne 3, colonne « Service » : valeur « Piscine » inconnue"),
    ("Quittance;Famille;Somme;Date;Service\n", "reglements.csv, ligne 1 : colonne « Montant » introuvable"),
    ("Quittance;Famille;Montant;Date;Service\nR1;1OO09;12,50;15/09/2026;Cantine\n",
     "reglements.csv, ligne 2, colonne « Famille » : n° de famille « 1OO09 » invalide"),
    ("Quittance;Famille;Montant;Date;Service\nR1;10009;12,50\n", "reglements.csv, ligne 2 : 3 colonnes au lieu de 5"),
])
def test_bad_csv_source_data(tmp_path: Path, body: str, needle: str):
    d = _csv_source(tmp_path, body)
    with pytest.raises(InputDataError) as ei:
        load_restored(d, None)
    assert needle in str(ei.value)


def test_csv_in_cp1252_needs_the_encoding_option(tmp_path: Path):
    d = _csv_source(tmp_path, "")
    (d / "reglements.csv").write_bytes("Quittance;Famille;Montant;Date;Service\nRé1;10009;1,00;15/09/2026;Cantine\n"
                                       .encode("cp1252"))
    with pytest.raises(InputDataError, match="encoding"):
        load_restored(d, None)
    m = (d / "mapping.toml").read_text().replace("[paiements]", '[options]\nencoding = "cp1252"\n[paiements]')
    (d / "mapping.toml").write_text(m)
    assert load_restored(d, None).payments[0].quittance == "Ré1"


def test_sqlite_source_errors(tmp_path: Path):
    db = tmp_path / "s.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE encaissements (q TEXT, fam TEXT, montant TEXT, d TEXT)")
    conn.execute("INSERT INTO encaissements VALUES ('R1', '10009', 'douze', '2026-09-15')")
    conn.commit()
    conn.close()
    m = tmp_path / "m.toml"
    m.write_text('[paiements]\ntable = "reglements"\nfamille = "fam"\nmontant = "montant"\ndate = "d"\n')
    with pytest.raises(InputDataError, match="table « reglements » introuvable.*encaissements"):
        load_restored(db, m)
    m.write_text('[paiements]\ntable = "encaissements"\nfamille = "famille"\nmontant = "montant"\ndate = "d"\n')
    with pytest.raises(InputDataError, match="colonne « famille » introuvable"):
        load_restored(db, m)
    m.write_text('[paiements]\ntable = "encaissements"\nfamille = "fam"\nmontant = "montant"\ndate = "d"\n')
    with pytest.raises(InputDataError, match="table encaissements, ligne 1, colonne « montant »"):
        load_restored(db, m)
    notdb = tmp_path / "x.sqlite"
    notdb.write_text("bonjour")
    with pytest.raises(InputDataError, match="pas une base SQLite"):
        load_restored(notdb, m)
    with pytest.raises(InputDataError, match="aucune correspondance"):
        load_restored(db, None)


def test_sample_backup_round_trips_through_sqlite(tmp_path: Path):
    from papier.reconcile.sample import mapping_path, sample_restored, write_sample_sqlite

    p = write_sample_sqlite(tmp_path / "sauvegarde.sqlite")
    a, b = load_restored(p, mapping_path()), sample_restored()
    assert a.families == b.families
    strip = lambda xs: [x.__class__(**{**x.__dict__, "where": ""}) for x in xs]  # noqa: E731
    assert strip(a.invoices) == strip(b.invoices) and strip(a.payments) == strip(b.payments)
    assert strip(a.loans) == strip(b.loans) and strip(a.acts) == strip(b.acts)
    assert len(a.families) == 700 and all(x.date <= b.backup_date for x in a.payments)


# --- the database read path (papier.export's row builders) -------------------------------------------------------


def write_entries_db(db_path: Path, entries: list[dict[str, Any]]) -> None:
    """Store export-format entries in a papier database the way ingest does (one page image per sheet)."""
    from papier.db import jdump, open_db
    from papier.identity import parse_page_key

    db = open_db(db_path)
    sheets: dict[tuple[str, int], int] = {}
    for e in entries:
        key = (e["page_key"], e.get("copy") or 0)
        if key not in sheets:
            kit, form, serial = parse_page_key(e["page_key"])
            seq = len(sheets) + 1
            pid = db["pages"].insert({"seq": seq, "source": "lot.pdf", "idx": seq, "sha256": f"{seq:064x}",
                                      "status": "identified", "page_key": e["page_key"],
                                      "copy": e.get("copy")}).last_pk
            sheets[key] = db["sheets"].insert({"page_key": e["page_key"], "copy": e.get("copy"), "kit_id": kit,
                                               "form": form, "form_version": 1, "serial": serial, "page_id": pid,
                                               "status": e.get("sheet_status", "primary")}).last_pk
        eid = db["entries"].insert({"sheet_id": sheets[key], "row": e["row"], "kind": e.get("kind", "line"),
                                    "has_ink": 1, "printed": jdump(e.get("printed") or {})}).last_pk
        for name, f in e["fields"].items():
            db["fields"].insert({"entry_id": eid, "name": name, "type": "", "value": jdump(f["value"]),
                                 "status": f["status"], "confidence": f["confidence"]})
    db.conn.close()


def test_reconcile_reads_the_database_and_cli(tmp_path: Path):
    from click.testing import CliRunner

    from papier.cli import main

    entries = payment_entries()
    write_entries_db(tmp_path / "papier.db", entries)
    src = tmp_path / "sauvegarde"
    src.mkdir()
    (src / "familles.csv").write_text("num;nom\n" + "".join(f"{f};NOM{f}\n" for f in (F1, F2, F3, F4, F5)))
    (src / "reglements.csv").write_text("q;fam;montant;date;svc\n00002;%s;15,00;2026-09-15;restauration\n" % F2)
    (src / "mapping.toml").write_text(
        '[familles]\nfile = "familles.csv"\nnumero_famille = "num"\nnom = "nom"\n'
        '[paiements]\nfile = "reglements.csv"\nquittance = "q"\nfamille = "fam"\nmontant = "montant"\n'
        'date = "date"\nservice = "svc"\n')
    res = reconcile(tmp_path / "papier.db", src, out_dir=tmp_path / "out", today=TODAY)
    st = {p.quittance: p.status for p in res.payments.lines}
    assert st["00001"] == "a_saisir" and st["00002"] == "connu" and st["00013"] == "a_verifier"
    assert st["00004"] == "a_saisir"  # the system has no payment of family F4 in this source
    r = CliRunner().invoke(main, ["reconcile", "--db", str(tmp_path / "papier.db"), "--against", str(src),
                                  "--out", str(tmp_path / "out2"), "--date", "2026-11-22"])
    assert r.exit_code == 0, r.output
    assert "à saisir" in r.output
    r = CliRunner().invoke(main, ["reconcile", "--db", str(tmp_path / "papier.db"), "--against",
                                  str(tmp_path / "nulle_part"), "--out", str(tmp_path / "out3")])
    assert r.exit_code == 1 and "introuvable" in r.output


def test_cli_against_the_built_in_sample(tmp_path: Path):
    from click.testing import CliRunner

    from papier.cli import main
    from papier.sample_data import sample_roster

    fams = [f["numero_famille"] for f in sample_roster()[:3]]
    write_entries_db(tmp_path / "papier.db", [pay(1, i + 1, f, 1000 + i, "150926") for i, f in enumerate(fams)])
    r = CliRunner().invoke(main, ["reconcile", "--db", str(tmp_path / "papier.db"), "--against", "sample",
                                  "--out", str(tmp_path / "out"), "--date", "22/11/2026"])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert s["paiements"]["a_saisir"]["nombre"] == 3 and s["date_reference"] == "2026-11-22"
    assert "sauvegarde intégrée" in s["source"]
    r = CliRunner().invoke(main, ["reconcile", "--db", str(tmp_path / "papier.db"), "--against", "sample",
                                  "--out", str(tmp_path / "out"), "--kit-layout", str(tmp_path / "papier.db")])
    assert r.exit_code == 1 and "layout.json" in r.output
