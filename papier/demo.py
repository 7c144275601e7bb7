"""`papier demo`: the whole story on built-in data, in under two minutes.

1. build the emergency kit for the 700 families of the sample roster (papier.kit);
2. simulate a six-week outage: registers filled at the counters, two payment sheets lost, one page scanned twice,
   all scanned as a batch with the kit's manifest pages, as the kit tells staff (papier.simulate);
3. read the batch into a database (scan_ingest), with a progress bar;
4. show what still needs a human and the command that opens the review page;
5. write the built-in "restored backup" (the state of the systems at the last backup before the outage, plus a few
   payments keyed in by hand after recovery) as a SQLite database, and reconcile the paper against it;
6. print where the report is and its headline figures.

Everything goes under ``out_dir`` (default ``demo-out/``). A step whose component is not installed is reported as
unavailable and the story goes on as far as it can.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

DEMO_WEEKS = 6
DEMO_SEED = 0


@dataclass
class DemoResult:
    out_dir: Path
    steps: dict[str, float] = field(default_factory=dict)       # step -> seconds
    unavailable: dict[str, str] = field(default_factory=dict)   # step -> why
    kit_dir: Path | None = None
    scans_dir: Path | None = None
    db_path: Path | None = None
    backup_path: Path | None = None
    report_dir: Path | None = None
    figures: dict[str, Any] | None = None
    seconds: float = 0.0


def _step(console: Console, n: int, title: str) -> None:
    console.print()
    console.rule(f"[bold]Étape {n} — {title}", align="left")


def _timed(res: DemoResult, key: str, fn: Callable[[], Any]) -> Any:
    t = time.perf_counter()
    try:
        return fn()
    finally:
        res.steps[key] = time.perf_counter() - t


def _unavailable(console: Console, res: DemoResult, key: str, exc: BaseException) -> None:
    res.unavailable[key] = f"{type(exc).__name__}: {exc}"
    console.print(f"[yellow]Étape indisponible dans cette installation[/] ({exc}). La démonstration continue "
                  "avec ce qui est disponible.")


def _clean(out: Path) -> None:
    """Remove what a previous demo wrote (only the demo's own paths)."""
    for name in ("kit", "scans", "recollement"):
        shutil.rmtree(out / name, ignore_errors=True)
    for name in ("papier.db", "papier.db-wal", "papier.db-shm", "sauvegarde.sqlite"):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "papier.db.files", ignore_errors=True)


def run_demo(out_dir: Path, console: Console | None = None, weeks: int = DEMO_WEEKS, seed: int = DEMO_SEED,
             workers: int | None = None) -> DemoResult:
    console = console or Console()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _clean(out)
    res = DemoResult(out)
    t0 = time.perf_counter()
    console.print(Panel.fit(
        "[bold]papier — démonstration[/]\n"
        "Une mairie de 700 familles est frappée par un rançongiciel. Les agents passent aux registres papier "
        f"du kit de secours pendant {weeks} semaines ;\nau retour des systèmes, les feuilles sont scannées, lues, "
        "vérifiées, puis comparées à la sauvegarde restaurée (le recollement).",
        border_style="blue"))

    # 1. the kit ----------------------------------------------------------------------------------------------------
    _step(console, 1, "le kit de secours (avant la crise)")
    kit = None
    try:
        from papier.kit import build_kit

        kit = _timed(res, "kit", lambda: build_kit(out / "kit", commune="Commune de démonstration"))
        res.kit_dir = out / "kit"
        fams = len((kit.layout.get("known_values") or {}).get("familles") or [])
        console.print(f"Kit {kit.kit_id} : {kit.page_count} pages à imprimer ({kit.pdf_path}), "
                      f"{fams} familles dans la liste imprimée — {res.steps['kit']:.1f} s")
    except ImportError as exc:
        _unavailable(console, res, "kit", exc)

    # 2. the outage ----------------------------------------------------------------------------------------------------
    _step(console, 2, f"{weeks} semaines de crise sur papier, puis le scan")
    scenario_path = None
    read_day: dt.date | None = None
    crisis_start: dt.date | None = None
    if res.kit_dir is not None:
        try:
            from papier.simulate.outage import simulate_outage

            truth = _timed(res, "simulation", lambda: simulate_outage(res.kit_dir, out / "scans", weeks=weeks,
                                                                      seed=seed))
            res.scans_dir = Path(truth).parent
            scenario_path = res.scans_dir / "scenario.json"
            import json

            sc = json.loads(scenario_path.read_text(encoding="utf-8"))
            read_day = dt.date.fromisoformat(sc["end"]) + dt.timedelta(days=7)
            crisis_start = dt.date.fromisoformat(sc["start"])
            scans = sorted(p.name for p in res.scans_dir.iterdir() if p.suffix.lower() in (".pdf", ".tif", ".jpg",
                                                                                            ".png"))
            console.print(f"Du {sc['start']} au {sc['end']} : {len(sc['payments'])} lignes de paiement, "
                          f"{len(sc['loans'])} prêts, {len(sc['returns'])} retours, {len(sc['births'])} naissance(s), "
                          f"{len(sc['deaths'])} décès, {len(sc['log'])} lignes de main courante.")
            console.print(f"Avant le scan, {len(sc['missing_pages'])} feuille(s) de la régie se sont perdues ; "
                          f"{len(sc['rescanned'])} page(s) passe(nt) deux fois dans le scanner.")
            console.print(f"Lot scanné : {', '.join(scans)} dans {res.scans_dir} — {res.steps['simulation']:.1f} s")
        except ImportError as exc:
            _unavailable(console, res, "simulation", exc)
    else:
        console.print("[yellow]Sans kit, pas de registres à remplir.[/]")

    # 3. ingest -------------------------------------------------------------------------------------------------------
    _step(console, 3, "lecture du lot (papier scan ingest)")
    db_path = out / "papier.db"
    if res.scans_dir is not None:
        try:
            from scan_ingest.pipeline import ingest

            inputs = sorted(str(p) for p in res.scans_dir.iterdir()
                            if p.suffix.lower() in (".pdf", ".tif", ".tiff", ".jpg", ".jpeg", ".png"))
            # read a week after the outage ends, whatever the machine's clock says; the staff know when their
            # crisis began, so the demo gives the period as they would (papier scan ingest --periode START:READ_DAY)
            period = (crisis_start, read_day) if crisis_start and read_day else None
            report = _timed(res, "lecture", lambda: ingest(inputs, db_path=db_path, progress=True, workers=workers,
                                                           period=period))
            res.db_path = db_path
            console.print(report.summary().split("\nVérifiez")[0])
            console.print(f"{report.pages_seen} pages en {res.steps['lecture']:.1f} s "
                          f"({report.pages_per_second:.1f} page/s).")
        except ImportError as exc:
            _unavailable(console, res, "lecture", exc)
    else:
        console.print("[yellow]Pas de lot scanné à lire.[/]")

    # 4. review --------------------------------------------------------------------------------------------------------
    _step(console, 4, "ce qu'un agent doit vérifier")
    if res.db_path is not None:
        _show_review(console, res.db_path)
    else:
        console.print("[yellow]Pas de base à vérifier.[/]")

    # 5. reconcile -----------------------------------------------------------------------------------------------------
    _step(console, 5, "recollement avec la sauvegarde restaurée (papier reconcile)")
    if res.db_path is not None:
        from papier.reconcile import reconcile
        from papier.reconcile.sample import mapping_path, write_sample_sqlite

        backup = _timed(res, "sauvegarde", lambda: write_sample_sqlite(out / "sauvegarde.sqlite", scenario_path))
        res.backup_path = backup
        console.print(f"Sauvegarde intégrée écrite en base SQLite : {backup} (état des logiciels avant la crise, "
                      "plus quelques paiements ressaisis à la main depuis la reprise).")
        layout = (res.kit_dir / "layout.json") if res.kit_dir else None
        rr = _timed(res, "recollement", lambda: reconcile(db_path, backup, out_dir=out / "recollement",
                                                          mapping=mapping_path(), kit_layout=layout))
        res.report_dir, res.figures = rr.out_dir, rr.figures
        console.print(f"[dim]Commande équivalente : papier reconcile --db {db_path} --against {backup} "
                      f"--mapping {mapping_path()} --kit-layout {layout} --out {out / 'recollement'}[/]")
        console.print(f"(ou, sans fichier : papier reconcile --db {db_path} --against sample "
                      f"--scenario {scenario_path} --out …)")
    else:
        console.print("[yellow]Pas de base papier à rapprocher.[/]")

    # 6. the headline ----------------------------------------------------------------------------------------------------
    _step(console, 6, "résultat")
    res.seconds = time.perf_counter() - t0
    if res.figures is not None and res.report_dir is not None:
        _show_figures(console, res)
    if res.unavailable:
        console.print("[yellow]Étapes indisponibles :[/] " + ", ".join(res.unavailable))
    console.print(f"Démonstration terminée en {res.seconds:.0f} s — tout est dans {out}/")
    return res


def _show_review(console: Console, db_path: Path) -> None:
    from papier.db import open_db

    db = open_db(db_path, create=False)
    try:
        rows = db.execute(
            "SELECT s.form, COUNT(*), COUNT(DISTINCT e.id) FROM fields f JOIN entries e ON e.id = f.entry_id "
            "JOIN sheets s ON s.id = e.sheet_id WHERE f.status = 'review' GROUP BY s.form ORDER BY s.form").fetchall()
        total = db.execute("SELECT COUNT(*) FROM fields f JOIN entries e ON e.id = f.entry_id "
                           "WHERE e.has_ink = 1").fetchone()[0]
        conflicts = db.execute("SELECT COUNT(*) FROM pages WHERE status IN ('conflict', 'unidentified')").fetchone()[0]
    finally:
        db.conn.close()
    t = Table(title="Valeurs à vérifier par registre", show_lines=False)
    t.add_column("Registre")
    t.add_column("Valeurs", justify="right")
    t.add_column("Lignes concernées", justify="right")
    n = 0
    for form, k, e in rows:
        t.add_row(form, str(k), str(e))
        n += k
    console.print(t)
    console.print(f"{n} valeur(s) à vérifier sur {total} lue(s) ; {conflicts} page(s) à départager ou non "
                  "identifiée(s). Les textes manuscrits (noms, titres) sont toujours soumis à un agent ; les "
                  "chiffres et les cases le sont seulement quand la machine hésite.")
    console.print(f"Pour vérifier : [bold]papier review --db {db_path}[/] (page web locale, dans le navigateur).")
    console.print("En attendant, le recollement liste ces lignes « à vérifier » : elles ne sont ni comptées ni "
                  "oubliées.")


def _show_figures(console: Console, res: DemoResult) -> None:
    from papier.reconcile.common import euros

    s = res.figures or {}
    P, B, C, L = s["paiements"], s["mediatheque"], s["etat_civil"], s["feuilles"]
    t = Table(title="Recollement — chiffres clés", show_header=False)
    t.add_column("", style="bold")
    t.add_column("")
    t.add_row("Paiements à saisir", f"{P['a_saisir']['nombre']} ({euros(P['a_saisir']['montant_centimes'])}) "
              "→ paiements_a_saisir.csv")
    t.add_row("Déjà connus du logiciel", f"{P['connus']['nombre']} ({euros(P['connus']['montant_centimes'])})")
    t.add_row("Conflits à trancher", f"{P['conflits']} → conflits.csv")
    t.add_row("Lignes à vérifier", f"{P['a_verifier']} → a_verifier.csv")
    t.add_row("Quittances annulées", str(P["annulees"]))
    t.add_row("Quittances sur feuille perdue", f"{P['quittances_feuille_manquante']} (feuilles manquantes : "
              f"{L['manquantes']})")
    t.add_row("Totaux de page faux", str(P["totaux_pages"]["ecart"]))
    t.add_row("Médiathèque", f"{B['operations']} opérations à rejouer dans Koha → prets.koc ; "
              f"{B['encore_sortis']} documents encore sortis")
    t.add_row("État civil", f"{C['a_dresser']} acte(s) à dresser, dont {C['echeance_depassee']} hors délai → "
              "actes_a_dresser.csv")
    t.add_row("Feuilles", f"{L['scannees']} scannées / {L['emises']} émises ; {L['doublons'] + L['conflits']} "
              f"scannée(s) deux fois ({L['conflits']} avec deux images différentes, à départager)")
    console.print(t)
    console.print(f"Rapport : [bold]{res.report_dir / 'rapport.html'}[/] (s'imprime en PDF depuis le navigateur)")
    console.print("Durées : " + ", ".join(f"{k} {v:.1f} s" for k, v in res.steps.items()))
