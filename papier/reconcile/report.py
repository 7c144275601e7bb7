"""Writing the recollement: CSV files to re-enter (`;`, UTF-8 with BOM, for a French spreadsheet), the Koha .koc
file, summary.json and a printable French HTML report.

Everything is sorted and free of timestamps so that running twice gives byte-identical files; the only exception
is the one "Rapport généré le …" line at the top of the HTML report.
"""

from __future__ import annotations

import csv
import datetime as _dt
import html
import io
import json
from pathlib import Path
from typing import Any, Iterable

from papier.reconcile.civil import CivilResult, Fiche
from papier.reconcile.common import euros, euros_csv, fr_date
from papier.reconcile.ledger import LedgerResult
from papier.reconcile.library import LibraryResult
from papier.reconcile.payments import FIELD_LABELS, PaperPayment, PaymentsResult
from papier.reconcile.restored import MODE_LABELS, SERVICE_LABELS, RestoredData

STATUS_LABELS = {"a_saisir": "à saisir", "connu": "déjà connu", "conflit": "conflit", "a_verifier": "à vérifier",
                 "annulee": "annulée"}
LEDGER_LABELS = {"manquante": "Page manquante", "non_scannee": "Non scannée (vierge ?)", "doublon": "Scannée deux fois",
                 "conflit": "Deux images différentes", "non_identifiee": "Page non identifiée",
                 "blanche": "Page blanche (verso ?)",
                 "hors_kit": "Page d'un autre kit"}
CIVIL_LABELS = {"a_dresser": "à dresser", "dresse": "acte dressé (noté sur la fiche)",
                "dresse_logiciel": "acte trouvé dans le logiciel", "annulee": "fiche annulée",
                "a_verifier": "à vérifier"}


def write_csv(path: Path, header: list[str], rows: Iterable[list[Any]]) -> int:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(header)
    n = 0
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
        n += 1
    path.write_text(buf.getvalue(), encoding="utf-8-sig", newline="")
    return n


def _svc(s: str | None) -> str:
    return SERVICE_LABELS.get(s or "", s or "")


def _mode(m: str | None) -> str:
    return MODE_LABELS.get(m or "", m or "")


def _uncertain(p: PaperPayment, name: str, shown: Any) -> str:
    """A value for a list: shown as read, with a visible mark when it still awaits review."""
    r = p.raw.get(name)
    if shown in (None, ""):
        return "(à vérifier)" if r is not None and r.in_review else ""
    return f"{shown} (à vérifier)" if r is not None and r.in_review else str(shown)


def _family_name(restored: RestoredData, fam: str | None) -> str:
    f = restored.families.get(fam or "")
    return f"{f.nom} {f.prenom}".strip() if f else ""


def write_outputs(out: Path, pay: PaymentsResult, lib: LibraryResult, civ: CivilResult, led: LedgerResult,
                  restored: RestoredData, summary: dict[str, Any], today: _dt.date,
                  version: str = "0.1") -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}

    def csvf(name: str, header: list[str], rows: Iterable[list[Any]]) -> None:
        files[name] = out / name
        write_csv(out / name, header, rows)

    def pay_cols(p: PaperPayment) -> list[Any]:
        return [p.quittance, p.copy or "", fr_date(p.date), p.famille, _family_name(restored, p.famille),
                _svc(p.service), euros_csv(p.montant), _mode(p.mode)]

    csvf("paiements_a_saisir.csv",
         ["N° quittance", "Copie", "Date", "N° famille", "Famille (système)", "Service", "Montant (€)", "Mode",
          "N° chèque", "Nature", "Période", "Payeur", "Feuille", "Ligne", "Champs encore à vérifier", "Remarques"],
         ([*pay_cols(p), _uncertain(p, "cheque", p.cheque), _uncertain(p, "nature", p.nature),
           _uncertain(p, "periode", p.periode), _uncertain(p, "payeur", p.payeur), p.page_key, p.row,
           ", ".join(FIELD_LABELS[n] for n in p.other_review), " ; ".join(p.notes)]
          for p in pay.by_status("a_saisir")))
    csvf("paiements_connus.csv",
         ["N° quittance", "Copie", "Date", "N° famille", "Famille (système)", "Service", "Montant (€)", "Mode",
          "Feuille", "Ligne", "Correspondance"],
         ([*pay_cols(p), p.page_key, p.row, " ; ".join(p.reasons)] for p in pay.by_status("connu")))
    csvf("conflits.csv",
         ["N° quittance", "Copie", "Date", "N° famille", "Famille (système)", "Service", "Montant papier (€)", "Mode",
          "Montant système (€)", "Feuille", "Ligne", "Conflit"],
         ([*pay_cols(p), euros_csv(p.restored.montant) if p.restored else "", p.page_key, p.row,
           " ; ".join(p.reasons)] for p in pay.by_status("conflit")))

    review_rows: list[list[Any]] = []
    for p in pay.by_status("a_verifier"):
        read = (f"famille {p.famille or '?'}, {euros(p.montant) if p.montant is not None else 'montant ?'}, "
                f"{fr_date(p.date) or 'date ?'}, {_svc(p.service) or 'service ?'}, {_mode(p.mode) or 'mode ?'}")
        review_rows.append(["Paiement", p.sheet, p.row, f"quittance {p.receipt}", " ; ".join(p.reasons), read])
    for ln in lib.lines:
        if ln.status == "a_verifier" or (ln.reasons and ln.status not in ("deja_connu",)):
            vals = ", ".join(f"{k} {v}" for k, v in ln.values.items() if not k.startswith("_") and v not in (None, ""))
            review_rows.append(["Prêt" if ln.form == "pret" else "Retour", ln.sheet, ln.row, "",
                                " ; ".join(ln.reasons), vals])
    for f in civ.fiches:
        if f.review:
            review_rows.append(["Naissance" if f.type == "naissance" else "Décès", f.sheet, 1, f.fiche,
                                "à vérifier : " + ", ".join(f.review), _civil_read(f)])
    for t in pay.totals:
        if t.status == "non_verifiable":
            review_rows.append(["Total de page", t.sheet, "", "", t.detail,
                                f"total écrit {euros(t.written)}, lignes lisibles {euros(t.computed)}"])
    csvf("a_verifier.csv", ["Registre", "Feuille", "Ligne", "Référence", "Raison", "Valeurs lues (incertaines)"],
         review_rows)

    cancel_rows: list[list[Any]] = [["Paiement", p.sheet, p.row, f"quittance {p.receipt}",
                                     f"{euros(p.montant) if p.montant is not None else ''}"]
                                    for p in pay.by_status("annulee")]
    cancel_rows += [["Prêt" if ln.form == "pret" else "Retour", ln.sheet, ln.row, "", ""]
                    for ln in lib.lines if ln.status == "annule"]
    cancel_rows += [["Naissance" if f.type == "naissance" else "Décès", f.sheet, 1, f.fiche, ""]
                    for f in civ.fiches if f.status == "annulee"]
    csvf("annulations.csv", ["Registre", "Feuille", "Ligne", "Référence", "Montant"], cancel_rows)

    csvf("soldes_familles.csv",
         ["N° famille", "Famille", "Service", "Facturé (€)", "Payé selon le système (€)", "Payé sur papier, à saisir (€)",
          "Solde dû (€)", "Lignes à vérifier", "Montant lu sur ces lignes (€)", "Conflits"],
         ([b.famille, b.nom, _svc(b.service), euros_csv(b.invoiced), euros_csv(b.paid_system),
           euros_csv(b.paid_paper), euros_csv(b.balance), b.review_count or "",
           euros_csv(b.review_amount) if b.review_count else "", b.conflicts or ""] for b in pay.balances))
    csvf("totaux_pages.csv", ["Feuille", "Total écrit (€)", "Somme des lignes (€)", "Contrôle", "Détail"],
         ([t.sheet, euros_csv(t.written), euros_csv(t.computed),
           {"ok": "OK", "ecart": "ÉCART", "non_verifiable": "à vérifier", "absent": "total non écrit"}[t.status],
           t.detail] for t in pay.totals))
    csvf("quittances_manquantes.csv", ["N° quittance", "Feuille", "Ligne", "Cause probable"],
         ([m.quittance, m.page_key, m.row,
           "feuille non scannée (perdue ?)" if m.reason == "feuille_manquante" else "ligne laissée vide"]
          for m in led.missing_receipts))
    csvf("paiements_systeme_seul.csv",
         ["N° quittance", "Date", "N° famille", "Famille", "Service", "Montant (€)", "Mode", "Origine"],
         ([r.quittance, fr_date(r.date), r.famille, _family_name(restored, r.famille), _svc(r.service),
           euros_csv(r.montant), _mode(r.mode), r.where] for r in pay.system_only))
    csvf("actes_a_dresser.csv",
         ["Type", "N° de fiche", "Feuille", "Déclaré le", "Né(e) / décédé(e) le", "Nom", "Prénoms", "Échéance",
          "Échéance dépassée", "Base de l'échéance", "Suivi", "Acte dressé le", "N° d'acte", "Champs à vérifier",
          "Remarques"],
         ([f.type, f.fiche, f.sheet, fr_date(f.declared), fr_date(f.event) or (
             f"{_ddmmyyyy(f.event_read)} (à vérifier)" if f.event_read else ""),
           f.nom or ("(à transcrire)" if "nom" in f.review else ""),
           f.prenoms or ("(à transcrire)" if "prénoms" in f.review else ""), fr_date(f.deadline),
           "" if f.passed is None else ("oui" if f.passed else "non"), f.deadline_note, CIVIL_LABELS[f.status],
           fr_date(f.acte_date), f.acte_numero or "", ", ".join(f.review), " ; ".join(f.notes)]
          for f in civ.fiches))
    csvf("documents_sortis.csv", ["Code-barres", "N° de carte", "Sorti le", "Retour prévu", "En retard", "Selon"],
         ([s.barcode, s.card, fr_date(s.since), fr_date(s.due),
           "" if s.due is None else ("oui" if s.due < today else "non"), s.origin] for s in lib.still_out))
    csvf("feuilles.csv", ["Constat", "Page", "Registre", "N° de page", "Image", "Détail"],
         ([LEDGER_LABELS[ln.kind], ln.page_key or "", ln.form or "", ln.serial or "", ln.source, ln.detail]
          for ln in led.lines))

    files["prets.koc"] = out / "prets.koc"
    (out / "prets.koc").write_text(lib.koc_text(version), encoding="utf-8", newline="\n")
    files["summary.json"] = out / "summary.json"
    (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
                                      encoding="utf-8")
    files["rapport.html"] = out / "rapport.html"
    (out / "rapport.html").write_text(render_html(pay, lib, civ, led, restored, summary, today), encoding="utf-8")
    return files


def _ddmmyyyy(s: str) -> str:
    return f"{s[:2]}/{s[2:4]}/{s[4:]}" if len(s) == 8 and s.isdigit() else s


def _civil_read(f: Fiche) -> str:
    parts = []
    if f.event_read:
        parts.append(f"date lue {_ddmmyyyy(f.event_read)}")
    if f.nom:
        parts.append(f.nom)
    return ", ".join(parts)


# --- HTML -----------------------------------------------------------------------------------------------------------

CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;font-size:10.5pt;color:#111;max-width:1100px;margin:1.5em auto;
padding:0 1em}
h1{font-size:17pt;margin:.2em 0}h2{font-size:13.5pt;border-bottom:2px solid #333;margin-top:1.6em;padding-bottom:.15em}
h3{font-size:11.5pt;margin:1.1em 0 .3em}
.meta{color:#444;font-size:9.5pt}
table{border-collapse:collapse;width:100%;margin:.4em 0 1em}th,td{border:1px solid #999;padding:2px 5px;
vertical-align:top;text-align:left}th{background:#e8e8e8}td.n,th.n{text-align:right;white-space:nowrap}
.cards{display:flex;flex-wrap:wrap;gap:.6em}.card{border:1px solid #555;padding:.4em .7em;min-width:12em}
.card b{font-size:14pt;display:block}.warn{background:#fff3cd}.bad{background:#f8d7da}.ok{background:#e7f4e4}
.note{font-size:9pt;color:#333}
details>summary{cursor:pointer;font-weight:bold;margin:.4em 0}
@media print{body{max-width:none;margin:0;font-size:9pt}h2{page-break-after:avoid}tr{page-break-inside:avoid}
details{display:block}details>summary{display:none}details:not([open])>*{display:block}a{color:#000;
text-decoration:none}.noprint{display:none}@page{size:A4;margin:12mm}}
"""


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _table(header: list[str], rows: Iterable[list[Any]], num: tuple[int, ...] = (), cls: Any = None) -> str:
    rows = list(rows)
    if not rows:
        return '<p class="note">Aucun.</p>'
    h = "".join(f'<th{" class=n" if i in num else ""}>{_e(x)}</th>' for i, x in enumerate(header))
    body = []
    for r in rows:
        c = cls(r) if cls else ""
        tds = "".join(f'<td{" class=n" if i in num else ""}>{_e(x)}</td>' for i, x in enumerate(r))
        body.append(f'<tr{f" class={c}" if c else ""}>{tds}</tr>')
    return f"<table><thead><tr>{h}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(pay: PaymentsResult, lib: LibraryResult, civ: CivilResult, led: LedgerResult,
                restored: RestoredData, s: dict[str, Any], today: _dt.date) -> str:
    P, B, C, L = s["paiements"], s["mediatheque"], s["etat_civil"], s["feuilles"]
    generated = _dt.datetime.now().strftime("%d/%m/%Y à %H:%M")
    out = [f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>Recollement — papier</title>'
           f"<style>{CSS}</style></head><body>",
           f'<p class="meta">Rapport généré le {generated}</p>',
           "<h1>Recollement : le papier face aux systèmes restaurés</h1>",
           f'<p class="meta">Base papier : {_e(s["base_papier"])} — système restauré : {_e(s["source"])}'
           + (f" (sauvegarde du {fr_date(restored.backup_date)})" if restored.backup_date else "")
           + f" — échéances appréciées au {fr_date(today)}</p>",
           "<h2>En bref</h2><div class=cards>",
           _card("Paiements à saisir", P["a_saisir"]["nombre"], euros(P["a_saisir"]["montant_centimes"])),
           _card("Déjà connus du système", P["connus"]["nombre"], euros(P["connus"]["montant_centimes"])),
           _card("Conflits", P["conflits"], "à trancher", "bad" if P["conflits"] else "ok"),
           _card("Lignes à vérifier", P["a_verifier"], "ni comptées ni oubliées", "warn" if P["a_verifier"] else "ok"),
           _card("Quittances annulées", P["annulees"], "jamais comptées"),
           _card("Quittances sur feuille manquante", P["quittances_feuille_manquante"],
                 f"+ {P['quittances_manquantes'] - P['quittances_feuille_manquante']} ligne(s) laissée(s) vide(s)",
                 "bad" if P["quittances_feuille_manquante"] else "ok"),
           _card("Totaux de page faux", P["totaux_pages"]["ecart"], f"{P['totaux_pages']['ok']} justes",
                 "bad" if P["totaux_pages"]["ecart"] else "ok"),
           _card("Familles débitrices", P["familles_debitrices"], euros(P["reste_du_centimes"])),
           _card("Opérations Koha (.koc)", B["operations"], f"{B['prets']} prêts, {B['retours']} retours"),
           _card("Documents encore sortis", B["encore_sortis"], f"dont {B['en_retard']} en retard"),
           _card("Actes à dresser", C["a_dresser"], f"dont {C['echeance_depassee']} hors délai",
                 "bad" if C["echeance_depassee"] else "warn" if C["a_dresser"] else "ok"),
           _card("Pages manquantes", L["manquantes"], f"{L['scannees']} scannées / {L['emises']} émises",
                 "bad" if L["manquantes"] else "ok"),
           "</div>",
           '<p class="note">Règle : une valeur encore « à vérifier » n\'est jamais utilisée comme si elle était sûre. '
           "Les lignes concernées sont listées (fichier a_verifier.csv) : ni comptées comme payées, ni ignorées. "
           "Après vérification dans <code>papier review</code>, relancez <code>papier reconcile</code>.</p>"]

    # payments
    out.append("<h2>1. Paiements (journal de régie)</h2>")
    out.append(_table(["", "Nombre", "Montant"], [
        ["Lignes de paiement lues", P["lignes"], ""],
        ["À saisir dans le logiciel (paiements_a_saisir.csv)", P["a_saisir"]["nombre"],
         euros(P["a_saisir"]["montant_centimes"])],
        ["Déjà connus du système (paiements_connus.csv)", P["connus"]["nombre"],
         euros(P["connus"]["montant_centimes"])],
        ["Conflits (conflits.csv)", P["conflits"], ""],
        ["À vérifier (a_verifier.csv)", P["a_verifier"], ""],
        ["Quittances annulées (annulations.csv)", P["annulees"], ""],
        ["Paiements du système sans trace papier sur la période", P["systeme_seul"], ""],
    ], num=(1, 2)))
    out.append("<h3>Par service</h3>")
    out.append(_table(["Service", "Paiements à saisir", "Montant à saisir", "Déjà connus", "Montant connu"],
                      [[_svc(k), v["a_saisir"], euros(v["a_saisir_centimes"]), v["connus"],
                        euros(v["connus_centimes"])] for k, v in sorted(P["par_service"].items())], num=(1, 2, 3, 4)))
    out.append("<h3>Conflits</h3>")
    out.append(_table(["Quittance", "Feuille", "Ligne", "Famille", "Montant papier", "Conflit"],
                      [[p.receipt, p.sheet, p.row, p.famille, euros(p.montant), " ; ".join(p.reasons)]
                       for p in pay.by_status("conflit")], num=(4,), cls=lambda r: "bad"))
    out.append("<h3>À vérifier</h3>")
    out.append(_table(["Quittance", "Feuille", "Ligne", "Raison"],
                      [[p.receipt, p.sheet, p.row, " ; ".join(p.reasons)] for p in pay.by_status("a_verifier")],
                      cls=lambda r: "warn"))
    out.append("<h3>Quittances manquantes dans la séquence</h3>")
    out.append(_table(["Quittance", "Feuille", "Ligne", "Cause probable"],
                      [[m.quittance, m.page_key, m.row, "feuille non scannée (perdue ?)"
                        if m.reason == "feuille_manquante" else "ligne laissée vide"] for m in led.missing_receipts]))
    out.append("<h3>Totaux de page</h3>")
    bad_totals = [t for t in pay.totals if t.status != "ok"]
    out.append(f'<p class="note">{P["totaux_pages"]["ok"]} page(s) dont le total écrit égale la somme des lignes.</p>')
    out.append(_table(["Feuille", "Total écrit", "Somme des lignes", "Détail"],
                      [[t.sheet, euros(t.written), euros(t.computed), t.detail] for t in bad_totals], num=(1, 2),
                      cls=lambda r: "bad" if "écart" in r[3] else "warn"))

    # per family
    out.append("<h2>2. Soldes par famille</h2>")
    out.append('<p class="note">Solde dû = facturé − payé selon le système − payé sur papier à saisir. Les lignes '
               "à vérifier et les conflits sont indiqués à part : ils ne sont pas comptés.</p>")
    touched = [b for b in pay.balances if b.paid_paper or b.review_count or b.conflicts]
    out.append(f"<details open><summary>Familles concernées par le papier ({len(touched)})</summary>")
    out.append(_table(["N° famille", "Famille", "Service", "Facturé", "Payé (système)", "Payé (papier)", "Solde dû",
                       "À vérifier", "Conflits"],
                      [[b.famille, b.nom, _svc(b.service), euros(b.invoiced), euros(b.paid_system),
                        euros(b.paid_paper), euros(b.balance), b.review_count or "", b.conflicts or ""]
                       for b in touched], num=(3, 4, 5, 6, 7, 8),
                      cls=lambda r: "warn" if r[7] or r[8] else ""))
    out.append("</details><p class=note>Toutes les familles : soldes_familles.csv.</p>")

    # library
    out.append("<h2>3. Médiathèque</h2>")
    out.append(f"<p>{B['prets']} prêt(s) et {B['retours']} retour(s) à rejouer dans Koha, dans l'ordre où ils ont eu "
               "lieu : fichier <b>prets.koc</b> (Circulation › Transférer le fichier de circulation hors ligne). "
               f"{B['a_verifier']} ligne(s) à vérifier, {B['annules']} annulée(s).</p>")
    if lib.anomalies:
        out.append("<h3>Anomalies</h3><ul>" + "".join(f"<li>{_e(a)}</li>" for a in lib.anomalies) + "</ul>")
    out.append(f"<h3>Documents encore sortis ({len(lib.still_out)})</h3>")
    out.append(_table(["Code-barres", "Carte", "Sorti le", "Retour prévu", "Selon"],
                      [[x.barcode, x.card, fr_date(x.since), fr_date(x.due), x.origin] for x in lib.still_out],
                      cls=lambda r: ""))

    # civil status
    out.append("<h2>4. État civil : fiches de recueil → actes</h2>")
    out.append('<p class="note">Naissance : déclaration dans les 5 jours de l\'accouchement (code civil art. 55, '
               "prorogé au premier jour ouvrable). Décès : acte dressé dans les meilleurs délais (art. 78-79 ; "
               "usage : 24 h après la déclaration).</p>")
    out.append(_table(["Fiche", "Type", "Déclarée le", "Événement le", "Nom", "Échéance", "Dépassée", "Suivi",
                       "À vérifier"],
                      [[f.fiche, f.type, fr_date(f.declared), fr_date(f.event) or (
                          _ddmmyyyy(f.event_read) + " ?" if f.event_read else ""),
                        f.nom or ("(à transcrire)" if "nom" in f.review else ""), fr_date(f.deadline),
                        "" if f.passed is None else ("OUI" if f.passed else "non"),
                        CIVIL_LABELS[f.status] + (f" n° {f.acte_numero}" if f.acte_numero else ""),
                        ", ".join(f.review)] for f in civ.fiches],
                      cls=lambda r: "bad" if r[6] == "OUI" and "dresser" in r[7] else ""))

    # ledger
    out.append("<h2>5. Registre des feuilles</h2>")
    out.append(f"<p>{L['emises']} page(s) émises" + (" (selon layout.json du kit)" if led.from_layout else
                                                      " (déduites des pages vues)")
               + f", {L['scannees']} scannée(s), {L['images']} image(s) lue(s). Manquantes : {L['manquantes']}, "
               f"scannées deux fois : {L['doublons']}, conflits : {L['conflits']}, non identifiées : "
               f"{L['non_identifiees']}" + (f", pages blanches (versos ?) : {L['blanches']}" if L["blanches"] else "")
               + ".</p>")
    out.append(_table(["Constat", "Page", "Image", "Détail"],
                      [[LEDGER_LABELS[ln.kind], ln.page_key or "", ln.source, ln.detail] for ln in led.lines
                       if ln.kind not in ("non_scannee", "blanche")],
                      cls=lambda r: "bad" if r[0] in ("Page manquante", "Deux images différentes") else ""))
    out.append(f'<p class="note">{L["non_scannees"]} page(s) non scannée(s) après la dernière page utilisée de leur '
               "registre (sans doute vierges) : voir feuilles.csv.</p>")
    out.append("<h2>Fichiers</h2><ul>" + "".join(f"<li><code>{_e(n)}</code></li>" for n in s["fichiers"]) + "</ul>")
    out.append("</body></html>\n")
    return "\n".join(out)


def _card(title: str, value: Any, sub: str, cls: str = "") -> str:
    return f'<div class="card {cls}">{_e(title)}<b>{_e(value)}</b><span class=note>{_e(sub)}</span></div>'
