"""Recollement: reconcile what the paper says with what the restored business systems know.

``reconcile(db_path, source, out_dir=…, mapping=…)`` reads the papier database (the export format, through
`paper.read_paper`), reads the restored data (a SQLite file or a folder of CSV files through a mapping TOML, or the
built-in sample backup), and writes, in ``out_dir``:

- ``rapport.html``            the French report (printable to PDF from the browser)
- ``paiements_a_saisir.csv``  paper payments the restored system lacks, ready to re-enter
- ``paiements_connus.csv``    paper payments the system already has
- ``conflits.csv``            same receipt with another amount or family; the same payment written twice
- ``a_verifier.csv``          every line whose deciding fields still await a human (never used, never dropped)
- ``annulations.csv``         cancelled receipts, loans, fiches (never counted)
- ``soldes_familles.csv``     each family's balance per service against its invoices
- ``totaux_pages.csv``        each journal page's control total against its lines
- ``quittances_manquantes.csv`` receipt numbers missing from the pre-printed sequence
- ``paiements_systeme_seul.csv`` restored payments of the paper period no paper line explains
- ``prets.koc``               loans and returns to replay in Koha (offline circulation file)
- ``documents_sortis.csv``    items still out after the replay
- ``actes_a_dresser.csv``     civil-status declarations, their deadline, and the "acte dressé" follow-up
- ``feuilles.csv``            the sheet ledger: pages issued vs scanned
- ``summary.json``            the headline figures (machine-readable)

Pure analysis lives in payments.py, library.py, civil.py, ledger.py (functions of export-format entries and a
RestoredData); restored.py reads sources; report.py writes. Running twice gives identical files (apart from the
HTML report's "generated on" line).
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from papier.errors import InputDataError
from papier.reconcile.civil import CivilResult, analyse_civil
from papier.reconcile.common import euros
from papier.reconcile.ledger import LedgerResult, analyse_ledger
from papier.reconcile.library import LibraryResult, analyse_library
from papier.reconcile.paper import PaperData, read_paper
from papier.reconcile.payments import PaymentsResult, analyse_payments
from papier.reconcile.restored import RestoredData, load_restored

__all__ = ["ReconcileResult", "reconcile", "reconcile_data", "load_source"]


@dataclass
class ReconcileResult:
    out_dir: Path
    figures: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)
    payments: PaymentsResult | None = None
    library: LibraryResult | None = None
    civil: CivilResult | None = None
    ledger: LedgerResult | None = None

    @property
    def report_path(self) -> Path:
        return self.out_dir / "rapport.html"

    def summary(self) -> str:
        """A short French summary for the terminal."""
        s = self.figures
        P, B, C, L = s["paiements"], s["mediatheque"], s["etat_civil"], s["feuilles"]
        lines = [
            f"Recollement écrit dans {self.out_dir}/ (rapport : {self.report_path.name})",
            f"  Paiements : {P['lignes']} lignes papier — {P['a_saisir']['nombre']} à saisir "
            f"({euros(P['a_saisir']['montant_centimes'])}), {P['connus']['nombre']} déjà connus, "
            f"{P['conflits']} conflit(s), {P['a_verifier']} à vérifier, {P['annulees']} annulée(s)",
            f"             {P['quittances_feuille_manquante']} quittance(s) sur feuille manquante, "
            f"{P['quittances_manquantes'] - P['quittances_feuille_manquante']} ligne(s) laissée(s) vide(s), "
            f"{P['totaux_pages']['ecart']} total(aux) de page faux, {P['familles_debitrices']} famille(s) "
            f"débitrice(s) ({euros(P['reste_du_centimes'])})",
            f"  Médiathèque : {B['operations']} opérations dans prets.koc ({B['prets']} prêts, {B['retours']} "
            f"retours), {B['encore_sortis']} document(s) encore sorti(s), {B['a_verifier']} ligne(s) à vérifier",
            f"  État civil : {C['a_dresser']} acte(s) à dresser (dont {C['echeance_depassee']} hors délai), "
            f"{C['dresses']} dressé(s), {C['a_verifier']} à vérifier",
            f"  Feuilles : {L['scannees']} scannée(s) sur {L['emises']} émise(s), {L['manquantes']} manquante(s), "
            f"{L['doublons']} scannée(s) deux fois, {L['conflits']} conflit(s), {L['non_identifiees']} non "
            f"identifiée(s)" + (f", {L['blanches']} page(s) blanche(s)" if L["blanches"] else ""),
        ]
        return "\n".join(lines)


def load_source(source: str | Path, mapping: str | Path | None = None,
                scenario: str | Path | dict[str, Any] | None = None) -> RestoredData:
    """The restored data: 'sample' (built-in backup), a SQLite file, or a folder of CSV files (+ mapping)."""
    if str(source) == "sample":
        from papier.reconcile.sample import sample_restored

        if scenario is not None and not isinstance(scenario, dict):
            try:
                scenario = json.loads(Path(scenario).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputDataError(f"{scenario} : scénario illisible ({exc})") from None
        return sample_restored(scenario)  # type: ignore[arg-type]
    return load_restored(source, mapping)


def reconcile(db_path: str | Path, source: str | Path, out_dir: str | Path = "recollement",
              mapping: str | Path | None = None, kit_layout: str | Path | None = None,
              today: _dt.date | None = None, scenario: str | Path | dict[str, Any] | None = None) -> ReconcileResult:
    """Compare the paper (database `db_path`) with the restored systems (`source`) and write the recollement."""
    restored = load_source(source, mapping, scenario)
    layout = None
    if kit_layout is not None:
        try:
            layout = json.loads(Path(kit_layout).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputDataError(f"{kit_layout} : layout.json du kit illisible ({exc})") from None
        if not isinstance(layout, dict) or not str(layout.get("schema", "")).startswith("papier.layout/"):
            raise InputDataError(f"{kit_layout} : ce n'est pas un layout.json de kit papier (schema papier.layout/1)")
    paper = read_paper(db_path)
    return reconcile_data(paper, restored, Path(out_dir), layout=layout, today=today, db_label=str(db_path))


def reconcile_data(paper: PaperData, restored: RestoredData, out_dir: Path, layout: dict[str, Any] | None = None,
                   today: _dt.date | None = None, db_label: str = "") -> ReconcileResult:
    """The recollement of already-loaded data (what `reconcile` runs after reading its inputs)."""
    from papier import __version__
    from papier.reconcile.report import write_outputs

    today = today or _dt.date.today()
    pay = analyse_payments(paper.entries, restored)
    lib = analyse_library(paper.entries, restored)
    civ = analyse_civil(paper.entries, restored, today)
    led = analyse_ledger(paper.pages, paper.sheets, paper.entries, layout)
    figures = _figures(pay, lib, civ, led, restored, today, db_label)
    files = write_outputs(Path(out_dir), pay, lib, civ, led, restored, figures, today, str(__version__))
    return ReconcileResult(Path(out_dir), figures, files, pay, lib, civ, led)


FILES = ["rapport.html", "paiements_a_saisir.csv", "paiements_connus.csv", "conflits.csv", "a_verifier.csv",
         "annulations.csv", "soldes_familles.csv", "totaux_pages.csv", "quittances_manquantes.csv",
         "paiements_systeme_seul.csv", "prets.koc", "documents_sortis.csv", "actes_a_dresser.csv", "feuilles.csv",
         "summary.json"]


def _figures(pay: PaymentsResult, lib: LibraryResult, civ: CivilResult, led: LedgerResult, restored: RestoredData,
             today: _dt.date, db_label: str) -> dict[str, Any]:
    def amount(ps: list[Any]) -> int:
        return sum(p.montant or 0 for p in ps)

    per_service: dict[str, dict[str, int]] = {}
    for p in pay.lines:
        if p.status in ("a_saisir", "connu") and p.service:
            d = per_service.setdefault(p.service, {"a_saisir": 0, "a_saisir_centimes": 0, "connus": 0,
                                                   "connus_centimes": 0})
            k = "a_saisir" if p.status == "a_saisir" else "connus"
            d[k] += 1
            d[k + "_centimes"] += p.montant or 0
    debtors = [b for b in pay.balances if b.balance > 0]
    tot = {k: sum(1 for t in pay.totals if t.status == k) for k in ("ok", "ecart", "non_verifiable", "absent")}
    fiches_open = [f for f in civ.fiches if f.status in ("a_dresser", "a_verifier")]
    counts = led.counts
    return {
        "schema": "papier.reconcile/1",
        "base_papier": db_label,
        "source": restored.label,
        "date_reference": today.isoformat(),
        "paiements": {
            "lignes": len(pay.lines),
            "a_saisir": {"nombre": len(pay.by_status("a_saisir")), "montant_centimes": amount(pay.by_status("a_saisir"))},
            "connus": {"nombre": len(pay.by_status("connu")), "montant_centimes": amount(pay.by_status("connu"))},
            "conflits": len(pay.by_status("conflit")),
            "a_verifier": len(pay.by_status("a_verifier")),
            "annulees": len(pay.by_status("annulee")),
            "quittances_manquantes": len(led.missing_receipts),
            "quittances_feuille_manquante": sum(1 for m in led.missing_receipts if m.reason == "feuille_manquante"),
            "totaux_pages": tot,
            "systeme_seul": len(pay.system_only),
            "par_service": per_service,
            "familles_debitrices": len({b.famille for b in debtors}),
            "reste_du_centimes": sum(b.balance for b in debtors),
        },
        "mediatheque": {
            "operations": len(lib.events),
            "prets": sum(1 for e in lib.events if e.op == "issue"),
            "retours": sum(1 for e in lib.events if e.op == "return"),
            "a_verifier": sum(1 for ln in lib.lines if ln.status == "a_verifier" or
                              (ln.reasons and ln.status == "ok")),
            "annules": sum(1 for ln in lib.lines if ln.status == "annule"),
            "deja_connus": sum(1 for ln in lib.lines if ln.status == "deja_connu"),
            "encore_sortis": len(lib.still_out),
            "en_retard": sum(1 for s in lib.still_out if s.due and s.due < today),
            "anomalies": len(lib.anomalies),
        },
        "etat_civil": {
            "fiches": len(civ.fiches),
            "a_dresser": len(fiches_open),
            "echeance_depassee": sum(1 for f in fiches_open if f.passed),
            "dresses": len(civ.by_status("dresse")) + len(civ.by_status("dresse_logiciel")),
            "a_verifier": sum(1 for f in civ.fiches if f.review),
            "annulees": len(civ.by_status("annulee")),
        },
        "feuilles": {
            "emises": counts.get("emises", 0),
            "scannees": counts.get("scannees", 0),
            "images": counts.get("images", 0),
            "manquantes": counts.get("manquante", 0),
            "non_scannees": counts.get("non_scannee", 0),
            "doublons": counts.get("doublon", 0),
            "conflits": counts.get("conflit", 0),
            "non_identifiees": counts.get("non_identifiee", 0),
            "blanches": counts.get("blanche", 0),
            "hors_kit": counts.get("hors_kit", 0),
        },
        # lines / fiches holding a field a reviewer marked unreadable (they are in a_verifier.csv as « illisible »)
        "illisibles": {
            "paiements": sum(1 for p in pay.lines if any("illisible" in r for r in p.reasons)),
            "mediatheque": sum(1 for ln in lib.lines if any("illisible" in r for r in ln.reasons)),
            "etat_civil": sum(1 for f in civ.fiches if any("illisible" in r for r in f.review)),
        },
        "fichiers": FILES,
    }
