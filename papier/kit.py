"""The printed emergency kit: ``build_kit`` writes DIR/kit.pdf and DIR/layout.json.

Order of the kit: cover, how to use it, first-hours checklist, crisis directory, filling instructions, the
registers (pages drawn by papier.render.draw_register_page), the family roster, the library catalogue, the
library's readers, the manifest. Texts come from print_kits/ (a recipe names its texts file); nothing French is hard-coded here
beyond short labels.

Nothing partial is left behind: everything is written to a temporary folder beside DIR, then moved in.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import tempfile
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from reportlab.pdfgen.canvas import Canvas

from papier.errors import FormDefinitionError, InputDataError, KitRecipeError, PapierError
from papier.forms import FormDef, builtin_form, load_form_file
from papier.identity import PageIdentity, new_kit_id
from papier.layout import MM_PER_PT, layout_form, page_json
from papier.render import draw_register_page

LAYOUT_SCHEMA = "papier.layout/1"
RECIPE_FORMAT = "papier.kit/1"
DEFAULT_RECIPE = "commune"


# --- recipes -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterSpec:
    form: FormDef
    pages: int


@dataclass
class Recipe:
    name: str
    title: str
    commune: str
    registers: list[RegisterSpec]
    texts: dict[str, Any]
    source: str
    sections: tuple[str, ...] = ()


ALL_SECTIONS = ("couverture", "mode_emploi", "premieres_heures", "annuaire", "consignes", "registres",
                "familles", "catalogue", "lecteurs", "manifeste")

# sections added after the first kits: a commune's own texts file may not have them yet
_SECTIONS_SINCE = ("lecteurs",)

_RECIPE_KEYS = {"format", "name", "title", "commune", "texts", "registers", "sections"}


def _recipe_text(recipe: str | None) -> tuple[str, str, Path | None]:
    """(toml text, source name, base folder for relative paths or None for a packaged recipe)."""
    if recipe is None or (not recipe.endswith(".toml") and "/" not in recipe and os.sep not in recipe):
        name = recipe or DEFAULT_RECIPE
        res = resources.files("print_kits") / f"{name}.toml"
        if not res.is_file():
            raise KitRecipeError(f"recette de kit « {name} » inconnue (donner un chemin vers un fichier .toml)")
        return res.read_text(encoding="utf-8"), f"print_kits/{name}.toml", None
    p = Path(recipe)
    try:
        return p.read_bytes().decode("utf-8"), str(p), p.parent
    except OSError as exc:
        raise KitRecipeError(f"{p}: lecture impossible ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise KitRecipeError(f"{p}: le fichier n'est pas en UTF-8") from None


def _load_texts(name: str, base: Path | None, source: str) -> dict[str, Any]:
    if base is not None and (base / name).is_file():
        raw = (base / name).read_text(encoding="utf-8")
        where = str(base / name)
    else:
        res = resources.files("print_kits") / name
        if not res.is_file():
            raise KitRecipeError(f"{source}: fichier de textes « {name} » introuvable")
        raw = res.read_text(encoding="utf-8")
        where = f"print_kits/{name}"
    try:
        return tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise KitRecipeError(f"{where}: TOML invalide : {exc}") from None


def load_recipe(recipe: str | None = None) -> Recipe:
    """A kit recipe by packaged name (``commune``) or path to a TOML file; raises KitRecipeError."""
    text, source, base = _recipe_text(recipe)
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KitRecipeError(f"{source}: TOML invalide : {exc}") from None
    if d.get("format") != RECIPE_FORMAT:
        raise KitRecipeError(f"{source}: « format » doit valoir « {RECIPE_FORMAT} » (trouvé : {d.get('format')!r})")
    unknown = set(d) - _RECIPE_KEYS
    if unknown:
        raise KitRecipeError(f"{source}: clé(s) inconnue(s) : {', '.join(sorted(unknown))}")
    regs_raw = d.get("registers")
    if not isinstance(regs_raw, list) or not regs_raw:
        raise KitRecipeError(f"{source}: aucun registre ([[registers]]) défini")
    registers: list[RegisterSpec] = []
    seen: set[str] = set()
    for i, r in enumerate(regs_raw, 1):
        where = f"{source}: registre n° {i}"
        if not isinstance(r, dict):
            raise KitRecipeError(f"{where} n'est pas une table")
        extra = set(r) - {"form", "version", "path", "pages"}
        if extra:
            raise KitRecipeError(f"{where}: clé(s) inconnue(s) : {', '.join(sorted(extra))}")
        pages = r.get("pages", 10)
        if not isinstance(pages, int) or isinstance(pages, bool) or not 1 <= pages <= 500:
            raise KitRecipeError(f"{where}: « pages » doit être un entier entre 1 et 500")
        if "path" in r and "form" in r:
            raise KitRecipeError(f"{where}: donner « form » (formulaire intégré) ou « path » (fichier), pas les deux")
        try:
            if "path" in r:
                p = Path(r["path"])
                if not p.is_absolute():
                    p = (base or Path.cwd()) / p
                form = load_form_file(p)
            elif "form" in r:
                version = r.get("version")
                if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
                    raise KitRecipeError(f"{where}: « version » doit être un entier")
                form = builtin_form(str(r["form"]), version)
            else:
                raise KitRecipeError(f"{where}: « form » ou « path » obligatoire")
            layout_form(form)  # a form that does not fit a page fails here, not halfway through the PDF
        except KitRecipeError:
            raise
        except PapierError as exc:
            raise KitRecipeError(f"{where}: {exc}") from None
        if form.name in seen:
            raise KitRecipeError(f"{where}: le formulaire « {form.name} » figure deux fois")
        seen.add(form.name)
        registers.append(RegisterSpec(form, pages))
    sections = d.get("sections", list(ALL_SECTIONS))
    if not isinstance(sections, list) or any(s not in ALL_SECTIONS for s in sections):
        raise KitRecipeError(f"{source}: « sections » : liste parmi {', '.join(ALL_SECTIONS)}")
    texts = _load_texts(str(d.get("texts", "textes.toml")), base, source)
    for sec in _SECTIONS_SINCE:
        if sec in sections and sec not in texts:
            # a texts file written before this section existed: the packaged wording of that section
            texts[sec] = _load_texts("textes.toml", None, source)[sec]
    return Recipe(name=str(d.get("name", "kit")), title=str(d.get("title", "Kit de secours papier")),
                  commune=str(d.get("commune", "")), registers=registers, texts=texts, source=source,
                  sections=tuple(sections))


# --- result ----------------------------------------------------------------------------------------------------------


@dataclass
class KitResult:
    out_dir: Path
    pdf_path: Path
    layout_path: Path
    kit_id: str
    layout: dict[str, Any]
    page_count: int = 0
    registers: list[tuple[str, str, int, int]] = field(default_factory=list)  # (form, title, pages, first pdf page)
    seconds: float = 0.0

    def summary(self) -> str:
        size = self.pdf_path.stat().st_size / 1e6 if self.pdf_path.exists() else 0.0
        lines = [
            f"Kit {self.kit_id} prêt : {self.page_count} pages, {size:.1f} Mo"
            + (f", en {self.seconds:.1f} s" if self.seconds else ""),
            f"  PDF à imprimer   : {self.pdf_path}",
            f"  Géométrie (JSON) : {self.layout_path}",
            "  Registres :",
        ]
        for form, title, pages, first in self.registers:
            lines.append(f"    - {title} ({form}) : {pages} page(s), à partir de la page {first}")
        lines.append("Imprimer en noir et blanc, recto seul, à 100 % (sans « ajuster à la page »), "
                     "et ranger le kit au coffre.")
        return "\n".join(lines)


# --- building --------------------------------------------------------------------------------------------------------


def _check_kit_id(kit_id: str) -> str:
    import re

    if not re.fullmatch(r"[A-Z2-7]{8}", kit_id):
        raise KitRecipeError(f"identifiant de kit invalide : {kit_id!r} (8 caractères A–Z, 2–7)")
    return kit_id


def build_kit(out_dir: Path, *, roster: str | None = None, catalog: str | None = None, recipe: str | None = None,
              pages_per_register: int | None = None, commune: str | None = None,
              kit_id: str | None = None, readers: str | None = None) -> KitResult:
    """Build the emergency kit into `out_dir` (kit.pdf, layout.json). See the module docstring."""
    import time

    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    rec = load_recipe(recipe)
    if pages_per_register is not None:
        if not 1 <= pages_per_register <= 500:
            raise KitRecipeError("--pages-per-register : entre 1 et 500")
        rec.registers = [RegisterSpec(r.form, pages_per_register) for r in rec.registers]
    if commune is not None:
        rec.commune = commune
    kid = _check_kit_id(kit_id) if kit_id is not None else new_kit_id()
    families = load_roster(roster)
    documents = load_catalog(catalog)
    lecteurs = load_readers(readers)
    _check_card_lengths(rec, lecteurs, readers or "lecteurs (exemple intégré)")
    created = _dt.datetime.now().astimezone().replace(microsecond=0)

    parent = out_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    try:
        result = _write_kit(tmp, out_dir, rec, kid, families, documents, lecteurs, created)
        _move_into(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result.seconds = time.perf_counter() - t0
    return result


class _PageJson:
    """layout.json pages of one register, fast: the geometry is the same on every page of a register, so the
    entries are built once by papier.layout.page_json and shared; only identity and printed values change.
    The fast path checks itself against page_json on the first two pages and falls back to it otherwise."""

    def __init__(self, lay: Any, kit_id: str, register_pages: int):
        self.lay, self.kit_id, self.n = lay, kit_id, register_pages
        self.template: dict[str, Any] | None = None
        self.trusted = False

    def _full(self, ident: PageIdentity, pdf_page: int) -> dict[str, Any]:
        return page_json(self.lay, ident.page_key, pdf_page, ident.encode(), self.kit_id, ident.serial, self.n)

    def _fast(self, ident: PageIdentity, pdf_page: int) -> dict[str, Any]:
        assert self.template is not None
        out = dict(self.template)
        out.update(page_key=ident.page_key, pdf_page=pdf_page, serial=ident.serial, qr_payload=ident.encode())
        printed = self.lay.printed_values(self.kit_id, ident.serial)
        if printed:
            out["entries"] = [({**e, "printed": printed[e["row"]]} if e["row"] in printed else e)
                              for e in self.template["entries"]]
        return out

    def page(self, ident: PageIdentity, pdf_page: int) -> dict[str, Any]:
        if self.trusted:
            return self._fast(ident, pdf_page)
        full = self._full(ident, pdf_page)
        if self.template is None:
            self.template = full
        else:
            self.trusted = self._fast(ident, pdf_page) == full
        return full


def _table_of_contents(ctx: Any, rec: Recipe) -> list[tuple[str, int, int]]:
    """(title, first page, last page) of every section and register, computed before drawing anything."""
    from papier import kit_pages as kitpages

    toc: list[tuple[str, int, int]] = []
    page = 1
    for section in rec.sections:
        if section == "registres":
            toc.append((kitpages.SECTION_TITLES["registres"], page, page + sum(r.pages for r in rec.registers) - 1))
            for spec in rec.registers:
                toc.append(("  " + (spec.form.register or spec.form.title), page, page + spec.pages - 1))
                page += spec.pages
            continue
        n = kitpages.section_page_count(ctx, section)
        if section != "couverture" and n:
            title = rec.texts.get(section, {}).get("titre") or kitpages.SECTION_TITLES[section]
            toc.append((title, page, page + n - 1))
        page += n
    return toc


def _move_into(tmp: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        os.replace(tmp, out_dir)
        return
    if not out_dir.is_dir():
        raise InputDataError(f"{out_dir} existe et n'est pas un dossier")
    for p in sorted(tmp.iterdir()):
        os.replace(p, out_dir / p.name)
    tmp.rmdir()


def _write_kit(tmp: Path, out_dir: Path, rec: Recipe, kid: str, families: list[dict[str, str]],
               documents: list[dict[str, str]], readers: list[dict[str, str]], created: _dt.datetime) -> KitResult:
    from papier import kit_pages as kitpages
    from papier.manifest import manifest_bytes

    pdf_tmp = tmp / "kit.pdf"
    c = Canvas(str(pdf_tmp), pagesize=(210 / MM_PER_PT, 297 / MM_PER_PT), pageCompression=1, invariant=1)
    c.setTitle(f"{rec.title} — kit {kid}")
    c.setAuthor("papier")
    c.setSubject("Diffusion restreinte — contient des données personnelles")
    known_values = {"familles": [f["numero_famille"] for f in families],
                    "documents": [d["code_barres"] for d in documents],
                    "lecteurs": sorted(r["numero_carte"] for r in readers)}
    manifest = manifest_bytes(kid, created.isoformat(), [r.form for r in rec.registers], known_values)
    ctx = kitpages.KitContext(canvas=c, recipe=rec, kit_id=kid, created=created, families=families,
                              documents=documents, manifest=manifest, readers=readers)
    ctx.toc = _table_of_contents(ctx, rec)
    pages: list[dict[str, Any]] = []
    registers: list[tuple[str, str, int, int]] = []
    for section in rec.sections:
        if section == "registres":
            for spec in rec.registers:
                form = spec.form
                lay = layout_form(form)
                size = lay.size_mm
                first = c.getPageNumber()
                pj = _PageJson(lay, kid, spec.pages)
                for serial in range(1, spec.pages + 1):
                    c.setPageSize((size[0] / MM_PER_PT, size[1] / MM_PER_PT))
                    ident = PageIdentity(form.name, form.version, kid, serial)
                    draw_register_page(c, form, lay, ident, spec.pages, commune=rec.commune)
                    pages.append(pj.page(ident, c.getPageNumber()))
                    c.showPage()
                c.setPageSize((210 / MM_PER_PT, 297 / MM_PER_PT))
                registers.append((form.name, form.register or form.title, spec.pages, first))
        else:
            kitpages.draw_section(ctx, section)
    page_count = c.getPageNumber() - 1
    from reportlab import rl_config

    a85 = rl_config.useA85
    rl_config.useA85 = 0  # binary compressed streams: smaller and faster than ASCII85
    try:
        c.save()
    finally:
        rl_config.useA85 = a85

    layout: dict[str, Any] = {
        "schema": LAYOUT_SCHEMA,
        "kit_id": kid,
        "created": created.isoformat(),
        "commune": rec.commune,
        "recipe": rec.name,
        "forms": [{"name": r.form.name, "version": r.form.version, "builtin": r.form.builtin, "pages": r.pages}
                  for r in rec.registers],
        "pages": pages,
        "known_values": known_values,
        "manifest_pages": ctx.manifest_pages,
    }
    layout_tmp = tmp / "layout.json"
    layout_tmp.write_text(json.dumps(layout, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return KitResult(out_dir=out_dir, pdf_path=out_dir / "kit.pdf", layout_path=out_dir / "layout.json",
                     kit_id=kid, layout=layout, page_count=page_count, registers=registers)


# --- reference data (roster, catalogue) ------------------------------------------------------------------------------
# Accepted CSV: separator `;` (French Excel), `,` or tab, detected from the header line; encoding UTF-8 (with or
# without BOM) or Windows-1252 (what French Excel writes for "CSV (séparateur : point-virgule)"). Column names
# are matched without case, accents, spaces or punctuation; other columns are ignored.

ROSTER_COLUMNS = ("nom", "prenom", "numero_famille")
CATALOG_COLUMNS = ("code_barres", "cote", "titre", "support")
READER_COLUMNS = ("nom", "prenom", "numero_carte")
_ALIASES = {"carte": "numero_carte", "n_carte": "numero_carte", "no_carte": "numero_carte",
            "num_carte": "numero_carte", "numero_de_carte": "numero_carte", "n_de_carte": "numero_carte",
            "cardnumber": "numero_carte", "carte_lecteur": "numero_carte",
            "prenoms": "prenom", "n_famille": "numero_famille", "no_famille": "numero_famille",
            "num_famille": "numero_famille", "famille": "numero_famille", "numero_de_famille": "numero_famille",
            "n_de_famille": "numero_famille", "no_de_famille": "numero_famille",
            "codebarres": "code_barres", "code_barre": "code_barres", "ean": "code_barres", "ean13": "code_barres"}


def _norm_col(name: str) -> str:
    import re
    import unicodedata

    s = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower().strip()
    s = re.sub(r"[^a-z0-9]+", "_", s).strip("_")
    return _ALIASES.get(s, s)


def _decode_csv(raw: bytes, src: str) -> str:
    if not raw.strip():
        raise InputDataError(f"{src}: fichier vide")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw:
        raise InputDataError(f"{src}: encodage non pris en charge (UTF-16 ?) : enregistrer le fichier en "
                             "« CSV UTF-8 » ou « CSV (séparateur : point-virgule) »")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_err = exc
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        line = raw[: utf8_err.start].count(b"\n") + 1
        raise InputDataError(f"{src}: ligne {line}: encodage non reconnu (ni UTF-8 ni Windows-1252) : "
                             "enregistrer le fichier en « CSV UTF-8 »") from None


def read_csv_table(path: str | Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV file as (line number, {column: stripped value}); raises InputDataError naming file and line."""
    import csv

    p = Path(path)
    src = str(p)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputDataError(f"{src}: lecture impossible ({exc.strerror})") from None
    text = _decode_csv(raw, src)
    lines = text.splitlines()
    header_line = next((ln for ln in lines if ln.strip()), "")
    counts = {sep: header_line.count(sep) for sep in (";", ",", "\t")}
    delim = max(counts, key=lambda k: counts[k]) if max(counts.values()) else ";"
    reader = csv.reader(lines, delimiter=delim)
    header: list[str] | None = None
    out: list[tuple[int, dict[str, str]]] = []
    try:
        for row in reader:
            lineno = reader.line_num
            if not any(c.strip() for c in row):
                continue
            if header is None:
                header = [_norm_col(c) for c in row]
                missing = [c for c in columns if c not in header]
                if missing:
                    raise InputDataError(
                        f"{src}: ligne {lineno}: colonne(s) manquante(s) : {', '.join(missing)} "
                        f"(attendu : {';'.join(columns)} ; trouvé : {';'.join(c.strip() for c in row)})")
                idx = {c: header.index(c) for c in columns}
                continue
            if len(row) < len(header) and len(row) <= max(idx.values()):
                raise InputDataError(f"{src}: ligne {lineno}: {len(row)} colonne(s) au lieu de {len(header)} "
                                     f"(séparateur « {delim} »)")
            out.append((lineno, {c: row[i].strip() for c, i in idx.items()}))
    except csv.Error as exc:
        raise InputDataError(f"{src}: ligne {reader.line_num}: CSV illisible ({exc})") from None
    if header is None:
        raise InputDataError(f"{src}: fichier vide")
    if not out:
        raise InputDataError(f"{src}: aucune ligne de données sous l'en-tête")
    return out


def load_roster(path: str | Path | None) -> list[dict[str, str]]:
    """The family roster (sample when `path` is None), sorted alphabetically; validated (5 digits, Luhn, unique)."""
    from papier.checks import luhn_check_digit, luhn_valid
    from papier.sample_data import sample_roster

    if path is None:
        return sample_roster()

    def check(where: str, written: str, num: str) -> None:
        if not (num.isdigit() and len(num) == 5):
            hint = " ; si le tableur a supprimé un zéro de tête, mettre la colonne au format Texte" \
                if num.isdigit() and len(num) < 5 else ""
            raise InputDataError(f"{where}: n° de famille « {written} » : 5 chiffres "
                                 f"attendus (4 chiffres + clé de contrôle Luhn){hint}")
        if not luhn_valid(num):
            raise InputDataError(f"{where}: n° de famille {num} : clé de contrôle fausse "
                                 f"(avec la bonne clé : {num[:4]}{luhn_check_digit(num[:4])})")

    return _load_people(path, ROSTER_COLUMNS, "numero_famille", "n° de famille", check)


def _load_people(path: str | Path, columns: tuple[str, ...], col: str, label: str,
                 check: Any) -> list[dict[str, str]]:
    """Rows of a list of people (roster, readers) with a number each: name required, `check(where, written,
    number)` raises on an invalid number, numbers unique; sorted by name."""
    src = str(path)
    seen: dict[str, int] = {}
    out = []
    for lineno, r in read_csv_table(path, columns):
        num = r[col].replace(" ", "")
        where = f"{src}: ligne {lineno}"
        if not r["nom"]:
            raise InputDataError(f"{where}: nom vide")
        check(where, r[col], num)
        if num in seen:
            raise InputDataError(f"{where}: {label} {num} en double (déjà ligne {seen[num]})")
        seen[num] = lineno
        out.append({"nom": r["nom"], "prenom": r["prenom"], col: num})
    return sort_roster(out, col)


def sort_roster(fams: list[dict[str, str]], number: str = "numero_famille") -> list[dict[str, str]]:
    """People sorted by name (accents and case ignored), then first name, then their `number` column."""
    import unicodedata

    def key(f: dict[str, str]) -> tuple[str, str, str]:
        def fold(s: str) -> str:
            return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii").casefold()
        return fold(f["nom"]), fold(f["prenom"]), f[number]

    return sorted(fams, key=key)


def load_readers(path: str | Path | None) -> list[dict[str, str]]:
    """The library's readers (sample when `path` is None), sorted alphabetically; validated (card numbers made of
    digits, unique). Their length is checked against the registers' boxes by build_kit (_check_card_lengths)."""
    from papier.sample_data import sample_readers

    if path is None:
        return sample_readers()

    def check(where: str, written: str, num: str) -> None:
        if not num.isdigit():
            raise InputDataError(f"{where}: n° de carte « {written} » : des chiffres "
                                 "seulement (le registre des prêts n'a que des cases de chiffres)")

    return _load_people(path, READER_COLUMNS, "numero_carte", "n° de carte", check)


def _check_card_lengths(rec: Recipe, readers: list[dict[str, str]], src: str) -> None:
    """Every reader's card number fits exactly the boxes of the registers that read it against the readers' list
    (`known = "lecteurs"`): a shorter one (a spreadsheet dropped its leading zeros) could never be matched."""
    for spec in rec.registers:
        for fd in spec.form.fields + spec.form.page_fields:
            if fd.known != "lecteurs" or fd.type != "digits":
                continue
            n = sum(fd.groups)
            for r in readers:
                card = r["numero_carte"]
                if len(card) != n:
                    hint = " ; si le tableur a supprimé des zéros de tête, mettre la colonne au format Texte" \
                        if len(card) < n else ""
                    raise InputDataError(f"{src}: {r['nom']} {r['prenom']} : n° de carte {card} : {n} chiffres "
                                         f"attendus (les cases du registre « {spec.form.title} »){hint}")


def load_catalog(path: str | Path | None) -> list[dict[str, str]]:
    """The library catalogue (sample when `path` is None), in file order; validated (EAN-13, unique)."""
    from papier.checks import ean13_valid
    from papier.sample_data import sample_catalog

    if path is None:
        return sample_catalog()
    src = str(path)
    seen: dict[str, int] = {}
    docs = []
    for lineno, r in read_csv_table(path, CATALOG_COLUMNS):
        code = r["code_barres"].replace(" ", "")
        if not ean13_valid(code):
            raise InputDataError(f"{src}: ligne {lineno}: code-barres « {r['code_barres']} » : "
                                 "EAN-13 invalide (13 chiffres, le dernier est une clé)")
        if code in seen:
            raise InputDataError(f"{src}: ligne {lineno}: code-barres {code} en double (déjà ligne {seen[code]})")
        seen[code] = lineno
        docs.append({"code_barres": code, "cote": r["cote"], "titre": r["titre"], "support": r["support"]})
    return docs
