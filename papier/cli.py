"""Command line: a thin Click layer. Each command parses, calls one library function, prints.

Library errors (papier.errors.PapierError) become a one-line French message and exit status 1; `-v` shows the
traceback. Imports of heavy modules happen inside commands so `papier --help` stays instant.
"""

from __future__ import annotations

import functools
import sqlite3
import sys
from pathlib import Path
from typing import Any, Callable

import click

from papier.errors import PapierError, storage_advice, storage_problem

DEFAULT_DB = "papier.db"


def _handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PapierError as exc:
            if click.get_current_context().find_root().obj.get("verbose"):
                raise
            raise click.ClickException(str(exc)) from None
        except (OSError, sqlite3.OperationalError) as exc:  # a disk that refuses writes, in any command
            why = storage_problem(exc)
            if why is None or click.get_current_context().find_root().obj.get("verbose"):
                raise
            raise click.ClickException(f"{why} : {storage_advice('ce disque')} puis recommencez") from None
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Afficher le détail technique (traceback) des erreurs.")
@click.version_option(package_name="papier")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """papier: registres papier de secours pour une mairie, et le retour du papier vers les données."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose


# --- forms --------------------------------------------------------------------------------------------------------


@main.group()
def forms() -> None:
    """Définitions des registres (formulaires) : lister, afficher, vérifier."""


@forms.command("list")
@_handle_errors
def forms_list() -> None:
    """Lister les formulaires intégrés et toutes les versions lisibles par cette installation."""
    from papier.forms import builtin_form, builtin_versions

    for name, versions in builtin_versions().items():
        f = builtin_form(name)
        click.echo(f"{name:<15} v{','.join(map(str, versions)):<6} {f.title}")


@forms.command("show")
@click.argument("name")
@click.option("--version", "version", type=int, default=None, help="Version du formulaire (par défaut : la dernière).")
@_handle_errors
def forms_show(name: str, version: int | None) -> None:
    """Afficher les champs d'un formulaire et le résumé de sa mise en page."""
    from papier.forms import builtin_form, load_form_file
    from papier.layout import layout_form

    form = load_form_file(name) if name.endswith(".toml") else builtin_form(name, version)
    layout = layout_form(form)
    click.echo(f"{form.name} v{form.version} — {form.title}")
    click.echo(f"  {form.kind}, {form.orientation}, {len(layout.line_entries)} entrée(s) par page")
    for f in form.fields + form.page_fields:
        extra = []
        if f.type == "digits":
            extra.append(f"{f.length} cases")
        for key in ("semantic", "check", "known", "sum_of"):
            if getattr(f, key, None):
                extra.append(f"{key}={getattr(f, key)}")
        if f.options:
            extra.append("/".join(o.value for o in f.options))
        where = "pied de page" if f in form.page_fields else ""
        click.echo(f"  - {f.name:<26} {f.type:<8} {f.label}  {' '.join(extra)} {where}".rstrip())


@forms.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
@_handle_errors
def forms_check(file: str) -> None:
    """Vérifier un fichier de définition de formulaire (TOML) et sa mise en page."""
    from papier.forms import load_form_file
    from papier.layout import layout_form

    form = load_form_file(file)
    layout = layout_form(form)
    click.echo(f"{file}: OK — {form.name} v{form.version}, {len(layout.line_entries)} entrée(s) par page")


# --- kit ----------------------------------------------------------------------------------------------------------


@main.group()
def kit() -> None:
    """Le kit de secours à imprimer et à garder au coffre."""


@kit.command("build")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Dossier de sortie (kit.pdf et layout.json).")
@click.option("--roster", type=click.Path(dir_okay=False), help="Liste des familles en CSV (par défaut : exemple intégré).")
@click.option("--catalog", type=click.Path(dir_okay=False), help="Catalogue de la médiathèque en CSV (par défaut : exemple intégré).")
@click.option("--readers", type=click.Path(dir_okay=False),
              help="Lecteurs de la médiathèque en CSV : nom;prenom;numero_carte (par défaut : exemple intégré).")
@click.option("--kit", "recipe", type=click.Path(dir_okay=False), help="Recette du kit en TOML (par défaut : print_kits/commune.toml).")
@click.option("--pages-per-register", type=click.IntRange(1, 500), default=None,
              help="Nombre de pages de chaque registre (remplace la recette).")
@click.option("--commune", default=None, help="Nom de la commune imprimé sur la couverture.")
@_handle_errors
def kit_build(out_dir: str, roster: str | None, catalog: str | None, readers: str | None, recipe: str | None,
              pages_per_register: int | None, commune: str | None) -> None:
    """Fabriquer DIR/kit.pdf et DIR/layout.json."""
    from papier.kit import build_kit

    result = build_kit(Path(out_dir), roster=roster, catalog=catalog, recipe=recipe,
                       pages_per_register=pages_per_register, commune=commune, readers=readers)
    click.echo(result.summary())


# --- scan ---------------------------------------------------------------------------------------------------------


@main.group()
def scan() -> None:
    """Relire les feuilles scannées."""


def _parse_period(text: str) -> tuple["dt.date", "dt.date"]:
    import datetime as dt

    try:
        a, b = (dt.date.fromisoformat(x.strip()) for x in text.split(":"))
    except ValueError:
        raise click.BadParameter(f"« {text} » : attendu AAAA-MM-JJ:AAAA-MM-JJ (ex. 2026-09-14:2026-11-30)",
                                 param_hint="--periode") from None
    if b < a:
        raise click.BadParameter("la fin de la période est avant son début", param_hint="--periode")
    return a, b


@scan.command("ingest")
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, type=click.Path(dir_okay=False),
              help="Fichier de base (les scans et extraits sont gardés à côté, dans FILE.files/).")
@click.option("--keep-work", type=click.Path(file_okay=False), help="Écrire chaque page redressée avec ce qui a été détecté dessiné dessus.")
@click.option("--workers", type=int, default=None, help="Processus de lecture (par défaut : nombre de cœurs).")
@click.option("--periode", "period", metavar="AAAA-MM-JJ:AAAA-MM-JJ", default=None,
              help="Période de la crise : une date écrite hors de cette période est montrée à un agent. "
                   "Gardée dans la base pour les lots suivants (par défaut : celle d'un lot précédent, sinon "
                   "des deux dernières années à deux mois après aujourd'hui).")
@_handle_errors
def scan_ingest(inputs: tuple[str, ...], db_path: str, keep_work: str | None, workers: int | None,
                period: str | None) -> None:
    """Lire des fichiers PDF, TIFF, JPEG, PNG, HEIC (photos d'iPhone) ou des dossiers dans la base."""
    from scan_ingest.pipeline import ingest

    report = ingest(list(inputs), db_path=db_path, keep_work=keep_work, workers=workers, progress=True,
                    period=_parse_period(period) if period else None)
    click.echo(report.summary())


# --- export -------------------------------------------------------------------------------------------------------


@main.command("export")
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, type=click.Path(dir_okay=False),
              help="Fichier de base (les scans et extraits sont gardés à côté, dans FILE.files/).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), required=True,
              help="jsonl : un objet JSON par ligne ; csv : séparateur « ; », UTF-8 avec BOM, pour un tableur.")
@click.option("--form", "form", default=None, help="Seulement les entrées de ce formulaire.")
@click.option("--pages", is_flag=True, help="Une ligne par image de page scannée au lieu d'une par entrée (jsonl).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Fichier de sortie (par défaut : l'écran).")
@click.option("--all-sheets", is_flag=True,
              help="Exporter aussi les feuilles en conflit (deux images différentes, pas encore tranchées) et les "
                   "feuilles remplacées ; chaque ligne le dit (sheet_status, colonne « feuille »). Par défaut : "
                   "seulement les feuilles retenues.")
@_handle_errors
def export_cmd(db_path: str, fmt: str, form: str | None, pages: bool, output: str | None, all_sheets: bool) -> None:
    """Exporter les entrées (ou les pages) en JSON lines ou en CSV pour un tableur."""
    from papier.export import export

    export(db_path, fmt=fmt, form=form, pages=pages, output=output, all_sheets=all_sheets)


# --- review -------------------------------------------------------------------------------------------------------


@main.command("review")
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, type=click.Path(dir_okay=False),
              help="Fichier de base (les scans et extraits sont gardés à côté, dans FILE.files/).")
@click.option("--port", type=int, default=0, help="Port (par défaut : un port libre).")
@click.option("--no-browser", is_flag=True, help="Ne pas essayer d'ouvrir un navigateur.")
@click.option("--roster", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Liste des familles de la commune en CSV (celle du kit) : propose les noms des payeurs.")
@click.option("--catalog", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Catalogue de la médiathèque en CSV (celui du kit) : propose titres et cotes.")
@_handle_errors
def review(db_path: str, port: int, no_browser: bool, roster: str | None, catalog: str | None) -> None:
    """Page web locale pour vérifier ce dont la machine n'était pas sûre."""
    from papier.review.server import serve

    serve(db_path, port=port, open_browser=not no_browser, roster=roster, catalog=catalog)


# --- reconcile ----------------------------------------------------------------------------------------------------


@main.command("reconcile")
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, type=click.Path(dir_okay=False),
              help="Fichier de base (les scans et extraits sont gardés à côté, dans FILE.files/).")
@click.option("--against", "source", required=True, type=click.Path(),
              help="Données restaurées : une base SQLite, un dossier d'exports CSV avec mapping.toml, ou « sample ».")
@click.option("--mapping", type=click.Path(dir_okay=False), default=None, help="Fichier de correspondance TOML (quelle colonne est quoi).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Dossier du rapport, des CSV à ressaisir et du fichier .koc.")
@click.option("--kit-layout", type=click.Path(dir_okay=False), default=None,
              help="layout.json du kit : toutes les pages émises (par défaut : déduites des pages scannées).")
@click.option("--date", "today", type=click.DateTime(formats=["%Y-%m-%d", "%d/%m/%Y"]), default=None,
              help="Date de référence pour les délais légaux et les retards (par défaut : aujourd'hui).")
@click.option("--scenario", type=click.Path(dir_okay=False), default=None,
              help="Avec --against sample : le scenario.json du simulateur, pour y aligner la sauvegarde d'exemple.")
@_handle_errors
def reconcile(db_path: str, source: str, mapping: str | None, out_dir: str, kit_layout: str | None,
              today: Any, scenario: str | None) -> None:
    """Comparer le papier avec les systèmes restaurés (recollement)."""
    from papier.reconcile import reconcile as run

    result = run(db_path, source, out_dir=out_dir, mapping=mapping, kit_layout=kit_layout,
                 today=today.date() if today else None, scenario=scenario)
    click.echo(result.summary())


# --- demo ---------------------------------------------------------------------------------------------------------


@main.command("demo")
@click.option("--out", "out_dir", default="demo-out", show_default=True, type=click.Path(file_okay=False),
              help="Dossier où la démo écrit son kit, ses scans, sa base et son rapport.")
@_handle_errors
def demo(out_dir: str) -> None:
    """Toute l'histoire sur des données d'exemple intégrées."""
    from papier.demo import run_demo

    run_demo(Path(out_dir))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
