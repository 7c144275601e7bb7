"""Command line: a thin Click layer. Each command parses, calls one library function, prints.

Library errors (papier.errors.PapierError) become a one-line French message and exit status 1; `-v` shows the
traceback. Imports of heavy modules happen inside commands so `papier --help` stays instant.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any, Callable

import click

from papier.errors import PapierError

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
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(package_name="papier")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """papier: registres papier de secours pour une mairie, et le retour du papier vers les données."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose


# --- forms --------------------------------------------------------------------------------------------------------


@main.group()
def forms() -> None:
    """Form definitions (registers): list, show, check."""


@forms.command("list")
@_handle_errors
def forms_list() -> None:
    """List the built-in forms and every version this install can read."""
    from papier.forms import builtin_form, builtin_versions

    for name, versions in builtin_versions().items():
        f = builtin_form(name)
        click.echo(f"{name:<15} v{','.join(map(str, versions)):<6} {f.title}")


@forms.command("show")
@click.argument("name")
@click.option("--version", "version", type=int, default=None, help="Form version (default: latest).")
@_handle_errors
def forms_show(name: str, version: int | None) -> None:
    """Show a form's fields and page geometry summary."""
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
    """Validate a form definition file (TOML) and its page layout."""
    from papier.forms import load_form_file
    from papier.layout import layout_form

    form = load_form_file(file)
    layout = layout_form(form)
    click.echo(f"{file}: OK — {form.name} v{form.version}, {len(layout.line_entries)} entrée(s) par page")


# --- kit ----------------------------------------------------------------------------------------------------------


@main.group()
def kit() -> None:
    """The emergency kit to print and keep in the safe."""


@kit.command("build")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--roster", type=click.Path(dir_okay=False), help="Family roster CSV (default: built-in sample).")
@click.option("--catalog", type=click.Path(dir_okay=False), help="Library catalogue CSV (default: built-in sample).")
@click.option("--kit", "recipe", type=click.Path(dir_okay=False), help="Kit recipe TOML (default: commune).")
@click.option("--pages-per-register", type=click.IntRange(1, 500), default=None,
              help="Pages for every register (overrides the recipe).")
@click.option("--commune", default=None, help="Commune name printed on the cover.")
@_handle_errors
def kit_build(out_dir: str, roster: str | None, catalog: str | None, recipe: str | None,
              pages_per_register: int | None, commune: str | None) -> None:
    """Build DIR/kit.pdf and DIR/layout.json."""
    from papier.kit import build_kit

    result = build_kit(Path(out_dir), roster=roster, catalog=catalog, recipe=recipe,
                       pages_per_register=pages_per_register, commune=commune)
    click.echo(result.summary())


# --- scan ---------------------------------------------------------------------------------------------------------


@main.group()
def scan() -> None:
    """Read scanned sheets back."""


@scan.command("ingest")
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, type=click.Path(dir_okay=False),
              help="Database file (its scans and snippets live beside it in FILE.files/).")
@click.option("--keep-work", type=click.Path(file_okay=False), help="Write each aligned page with detections drawn.")
@click.option("--workers", type=int, default=None, help="Worker processes (default: number of cores).")
@_handle_errors
def scan_ingest(inputs: tuple[str, ...], db_path: str, keep_work: str | None, workers: int | None) -> None:
    """Ingest PDF, TIFF, JPEG, PNG files or folders into the database."""
    from scan_ingest.pipeline import ingest

    report = ingest(list(inputs), db_path=db_path, keep_work=keep_work, workers=workers, progress=True)
    click.echo(report.summary())


# --- export -------------------------------------------------------------------------------------------------------


@main.command("export")
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, type=click.Path(dir_okay=False),
              help="Database file (its scans and snippets live beside it in FILE.files/).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), required=True,
              help="jsonl: one JSON object per line; csv: ';'-separated UTF-8 with BOM for a French spreadsheet.")
@click.option("--form", "form", default=None, help="Only entries of this form.")
@click.option("--pages", is_flag=True, help="One line per scanned page image instead of per entry (jsonl).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="File (default: stdout).")
@_handle_errors
def export_cmd(db_path: str, fmt: str, form: str | None, pages: bool, output: str | None) -> None:
    """Export entries (or pages) as JSON lines or a CSV for a French spreadsheet."""
    from papier.export import export

    export(db_path, fmt=fmt, form=form, pages=pages, output=output)


# --- review -------------------------------------------------------------------------------------------------------


@main.command("review")
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, type=click.Path(dir_okay=False),
              help="Database file (its scans and snippets live beside it in FILE.files/).")
@click.option("--port", type=int, default=0, help="Port (default: a free one).")
@click.option("--no-browser", is_flag=True, help="Do not try to open a browser.")
@_handle_errors
def review(db_path: str, port: int, no_browser: bool) -> None:
    """Local web page to check what the machine was unsure of."""
    from papier.review.server import serve

    serve(db_path, port=port, open_browser=not no_browser)


# --- reconcile ----------------------------------------------------------------------------------------------------


@main.command("reconcile")
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, type=click.Path(dir_okay=False),
              help="Database file (its scans and snippets live beside it in FILE.files/).")
@click.option("--against", "source", required=True, type=click.Path(),
              help="Restored data: a SQLite file, a folder of CSV exports with mapping.toml, or 'sample'.")
@click.option("--mapping", type=click.Path(dir_okay=False), default=None, help="Mapping TOML (which column is what).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the report, the CSV files to re-enter and the .koc file.")
@click.option("--kit-layout", type=click.Path(dir_okay=False), default=None,
              help="The kit's layout.json: every page issued (default: deduced from the pages scanned).")
@click.option("--date", "today", type=click.DateTime(formats=["%Y-%m-%d", "%d/%m/%Y"]), default=None,
              help="Reference date for legal deadlines and late items (default: today).")
@click.option("--scenario", type=click.Path(dir_okay=False), default=None,
              help="With --against sample: the simulator's scenario.json, to align the sample backup with it.")
@_handle_errors
def reconcile(db_path: str, source: str, mapping: str | None, out_dir: str, kit_layout: str | None,
              today: Any, scenario: str | None) -> None:
    """Compare the paper with the restored systems (recollement)."""
    from papier.reconcile import reconcile as run

    result = run(db_path, source, out_dir=out_dir, mapping=mapping, kit_layout=kit_layout,
                 today=today.date() if today else None, scenario=scenario)
    click.echo(result.summary())


# --- demo ---------------------------------------------------------------------------------------------------------


@main.command("demo")
@click.option("--out", "out_dir", default="demo-out", show_default=True, type=click.Path(file_okay=False),
              help="Folder where the demo writes its kit, scans, database and report.")
@_handle_errors
def demo(out_dir: str) -> None:
    """The whole story on built-in sample data."""
    from papier.demo import run_demo

    run_demo(Path(out_dir))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
