"""Form definitions: load and validate the declarative TOML files in forms/.

Format ``papier.form/1`` (documented in forms/README.md). A definition is data: the layout engine
(papier.layout) turns it into page geometry; nothing else interprets it.

Built-in forms live in the installed ``forms`` package as ``forms/<name>/v<version>.toml``; every version ever
printed stays there, so a page printed years ago reads back with today's install.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from papier.errors import FormDefinitionError, UnknownForm

FORMAT = "papier.form/1"
FIELD_TYPES = ("choice", "multi", "checkbox", "digits", "text", "printed")
SEMANTICS = ("date_ddmmyy", "date_ddmmyyyy", "date_ddmm", "time_hhmm", "amount_cents", "number")
CHECKS = ("luhn", "ean13")
KINDS = ("table", "fiche")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
_VALUE_RE = re.compile(r"^[a-z0-9_]{1,24}$")

# Digit counts and groups implied by a semantic (groups are printed with a separator between them).
SEMANTIC_SHAPE: dict[str, tuple[tuple[int, ...], str]] = {
    "date_ddmmyy": ((2, 2, 2), "/"),
    "date_ddmmyyyy": ((2, 2, 4), "/"),
    "date_ddmm": ((2, 2), "/"),
    "time_hhmm": ((2, 2), "h"),
}


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    label: str
    options: tuple[Option, ...] = ()
    length: int = 0
    groups: tuple[int, ...] = ()
    separator: str = ""
    semantic: str | None = None
    check: str | None = None
    known: str | None = None
    sum_of: str | None = None
    width: float | None = None  # mm; text fields without width fill the rest of their line
    height: float | None = None  # mm; text fields only (default: one handwritten line)
    newline: bool = False
    section: str | None = None
    hint: str | None = None
    value: str | None = None  # printed fields: a template with {serial}, {row}, {n}, {kit}
    review_always: bool = False  # e.g. amounts and civil-status values that want double entry
    recent: bool = False  # a date written during the crisis (read with the crisis period as a prior, see scan_ingest)
    # a recent date set during the crisis for later (a loan's due date): its known set runs
    # policy.PERIOD_AFTER_DAYS past the crisis period's end
    due: bool = False
    # a date or time written in journal order down a table's lines (papier.digits.journal; see forms/README.md)
    ordered: bool = False


@dataclass(frozen=True)
class FormDef:
    name: str
    version: int
    title: str
    kind: str
    orientation: str
    fields: tuple[FieldDef, ...]
    page_fields: tuple[FieldDef, ...]
    subtitle: str = ""
    warning: str | None = None
    entries_per_page: int | None = None
    instructions: tuple[str, ...] = ()
    register: str = ""  # the register's name on the cover and in the table of contents
    source: str = "<mémoire>"
    text: str = ""  # the TOML source, carried in the kit manifest for custom forms
    builtin: bool = False

    def field(self, name: str) -> FieldDef:
        for f in self.fields + self.page_fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def fillable_fields(self) -> tuple[FieldDef, ...]:
        return tuple(f for f in self.fields if f.type != "printed")


# --- validation -----------------------------------------------------------------------------------------------


def _req(d: dict[str, Any], key: str, typ: type | tuple[type, ...], src: str, fname: str | None) -> Any:
    if key not in d:
        raise FormDefinitionError(src, f"clé obligatoire « {key} » absente", fname)
    val = d[key]
    if not isinstance(val, typ) or (typ is int and isinstance(val, bool)):
        raise FormDefinitionError(src, f"« {key} » a un type inattendu ({type(val).__name__})", fname)
    return val


def _opt(d: dict[str, Any], key: str, typ: type | tuple[type, ...], src: str, fname: str | None,
         default: Any = None) -> Any:
    if key not in d:
        return default
    return _req(d, key, typ, src, fname)


_FIELD_KEYS = {"name", "type", "label", "options", "length", "groups", "separator", "semantic", "check", "known",
               "sum_of", "width", "height", "newline", "section", "hint", "value", "review_always", "recent",
               "ordered", "due"}


def _parse_field(d: Any, src: str, index: int, where: str) -> FieldDef:
    if not isinstance(d, dict):
        raise FormDefinitionError(src, f"{where} n° {index} n'est pas une table")
    name = d.get("name")
    fname = name if isinstance(name, str) else f"{where}[{index}]"
    name = _req(d, "name", str, src, fname)
    if not _NAME_RE.match(name):
        raise FormDefinitionError(src, "nom invalide (minuscules, chiffres, _ ; commence par une lettre)", name)
    unknown = set(d) - _FIELD_KEYS
    if unknown:
        raise FormDefinitionError(src, f"clé(s) inconnue(s) : {', '.join(sorted(unknown))}", name)
    ftype = _req(d, "type", str, src, name)
    if ftype not in FIELD_TYPES:
        raise FormDefinitionError(src, f"type « {ftype} » inconnu (attendu : {', '.join(FIELD_TYPES)})", name)
    label = _req(d, "label", str, src, name)
    kw: dict[str, Any] = dict(name=name, type=ftype, label=label)
    kw["newline"] = _opt(d, "newline", bool, src, name, False)
    kw["section"] = _opt(d, "section", str, src, name)
    kw["hint"] = _opt(d, "hint", str, src, name)
    kw["review_always"] = _opt(d, "review_always", bool, src, name, False)
    width = _opt(d, "width", (int, float), src, name)
    if width is not None and ftype != "text":
        raise FormDefinitionError(src, "« width » n'a de sens que pour un champ text", name)
    if width is not None and not (8 <= width <= 280):
        raise FormDefinitionError(src, f"largeur {width} mm hors limites (8–280)", name)
    kw["width"] = float(width) if width is not None else None
    height = _opt(d, "height", (int, float), src, name)
    if height is not None and (ftype != "text" or not 8 <= height <= 60):
        raise FormDefinitionError(src, "« height » : champ text seulement, entre 8 et 60 mm", name)
    kw["height"] = float(height) if height is not None else None
    if ftype in ("choice", "multi"):
        raw = _req(d, "options", list, src, name)
        if len(raw) < 2 and ftype == "choice":
            raise FormDefinitionError(src, "un choix demande au moins 2 options", name)
        opts = []
        for o in raw:
            if not isinstance(o, dict) or not isinstance(o.get("value"), str) or not isinstance(o.get("label"), str):
                raise FormDefinitionError(src, "chaque option demande « value » et « label » (texte)", name)
            if not _VALUE_RE.match(o["value"]):
                raise FormDefinitionError(src, f"valeur d'option invalide : {o['value']!r}", name)
            opts.append(Option(o["value"], o["label"]))
        if len({o.value for o in opts}) != len(opts):
            raise FormDefinitionError(src, "deux options ont la même valeur", name)
        kw["options"] = tuple(opts)
    elif "options" in d:
        raise FormDefinitionError(src, f"« options » n'a pas de sens pour le type {ftype}", name)
    if ftype == "digits":
        semantic = _opt(d, "semantic", str, src, name)
        if semantic is not None and semantic not in SEMANTICS:
            raise FormDefinitionError(src, f"semantic « {semantic} » inconnu (attendu : {', '.join(SEMANTICS)})",
                                      name)
        check = _opt(d, "check", str, src, name)
        if check is not None and check not in CHECKS:
            raise FormDefinitionError(src, f"check « {check} » inconnu (attendu : {', '.join(CHECKS)})", name)
        groups_raw = _opt(d, "groups", list, src, name)
        length = _opt(d, "length", int, src, name)
        sep = _opt(d, "separator", str, src, name, "")
        if semantic in SEMANTIC_SHAPE and groups_raw is None:
            groups, sep = SEMANTIC_SHAPE[semantic]
        elif groups_raw is not None:
            if not all(isinstance(g, int) and not isinstance(g, bool) and g > 0 for g in groups_raw):
                raise FormDefinitionError(src, "« groups » doit être une liste d'entiers positifs", name)
            groups = tuple(groups_raw)
        elif length is not None:
            groups = (length,)
        else:
            raise FormDefinitionError(src, "un champ digits demande « length », « groups » ou un semantic de date",
                                      name)
        total = sum(groups)
        if length is not None and length != total:
            raise FormDefinitionError(src, f"length {length} ne correspond pas aux groupes ({total})", name)
        if not 1 <= total <= 16:
            raise FormDefinitionError(src, f"{total} cases : entre 1 et 16 attendu", name)
        if check == "ean13" and total != 13:
            raise FormDefinitionError(src, "check ean13 demande 13 cases", name)
        if semantic in SEMANTIC_SHAPE and total != sum(SEMANTIC_SHAPE[semantic][0]):
            raise FormDefinitionError(src, f"{semantic} demande {sum(SEMANTIC_SHAPE[semantic][0])} cases", name)
        if len(sep) > 2:
            raise FormDefinitionError(src, "séparateur trop long (2 caractères au plus)", name)
        recent = _opt(d, "recent", bool, src, name, False)
        if recent and not (semantic or "").startswith("date_"):
            raise FormDefinitionError(src, "« recent » ne s'applique qu'à une date (semantic date_…)", name)
        due = _opt(d, "due", bool, src, name, False)
        if due and not recent:
            raise FormDefinitionError(src, "« due » s'applique à une date « recent » (une échéance fixée pendant la "
                                           "crise)", name)
        ordered = _opt(d, "ordered", bool, src, name, False)
        if ordered and not ((semantic or "").startswith("date_") or semantic == "time_hhmm"):
            raise FormDefinitionError(src, "« ordered » ne s'applique qu'à une date ou une heure", name)
        kw.update(length=total, groups=groups, separator=sep, semantic=semantic, check=check,
                  known=_opt(d, "known", str, src, name), sum_of=_opt(d, "sum_of", str, src, name), recent=recent,
                  ordered=ordered, due=due)
    else:
        for k in ("length", "groups", "semantic", "check", "known", "sum_of", "separator", "recent", "ordered", "due"):
            if k in d:
                raise FormDefinitionError(src, f"« {k} » n'a de sens que pour un champ digits", name)
    if ftype == "printed":
        kw["value"] = _req(d, "value", str, src, name)
        try:
            kw["value"].format(serial=1, row=1, n=1, kit="KIT")
        except (KeyError, IndexError, ValueError) as exc:
            raise FormDefinitionError(src, f"modèle de valeur invalide ({exc})", name) from None
    elif "value" in d:
        raise FormDefinitionError(src, "« value » n'a de sens que pour un champ printed", name)
    return FieldDef(**kw)


_TOP_KEYS = {"format", "name", "version", "title", "subtitle", "kind", "orientation", "warning", "entries_per_page",
             "instructions", "register", "fields", "page_fields"}


def parse_form(text: str, source: str = "<texte>", builtin: bool = False) -> FormDef:
    """Parse and validate a form definition; raises FormDefinitionError naming the file, field and problem."""
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FormDefinitionError(source, f"TOML invalide : {exc}") from None
    fmt = d.get("format")
    if fmt != FORMAT:
        raise FormDefinitionError(source, f"« format » doit valoir « {FORMAT} » (trouvé : {fmt!r})")
    unknown = set(d) - _TOP_KEYS
    if unknown:
        raise FormDefinitionError(source, f"clé(s) inconnue(s) : {', '.join(sorted(unknown))}")
    name = _req(d, "name", str, source, None)
    if not _NAME_RE.match(name):
        raise FormDefinitionError(source, f"nom de formulaire invalide : {name!r}")
    version = _req(d, "version", int, source, None)
    if not 1 <= version <= 9999:
        raise FormDefinitionError(source, "« version » doit être entre 1 et 9999")
    kind = _opt(d, "kind", str, source, None, "table")
    if kind not in KINDS:
        raise FormDefinitionError(source, f"« kind » doit valoir {' ou '.join(KINDS)}")
    orientation = _opt(d, "orientation", str, source, None, "portrait")
    if orientation not in ("portrait", "landscape"):
        raise FormDefinitionError(source, "« orientation » doit valoir portrait ou landscape")
    epp = _opt(d, "entries_per_page", int, source, None)
    if epp is not None and not 1 <= epp <= 40:
        raise FormDefinitionError(source, "« entries_per_page » doit être entre 1 et 40")
    instructions = _opt(d, "instructions", list, source, None, [])
    if not all(isinstance(i, str) for i in instructions):
        raise FormDefinitionError(source, "« instructions » doit être une liste de textes")
    raw_fields = _req(d, "fields", list, source, None)
    if not raw_fields:
        raise FormDefinitionError(source, "aucun champ (« fields ») défini")
    fields = tuple(_parse_field(f, source, i + 1, "fields") for i, f in enumerate(raw_fields))
    page_fields = tuple(
        _parse_field(f, source, i + 1, "page_fields") for i, f in enumerate(_opt(d, "page_fields", list, source, None, []))
    )
    names = [f.name for f in fields + page_fields]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise FormDefinitionError(source, "nom utilisé deux fois", dupes[0])
    if "copie" in names:
        raise FormDefinitionError(source, "« copie » est réservé (case « copie n° » ajoutée sur chaque page)", "copie")
    digit_names = {f.name for f in fields if f.type == "digits"}
    for f in page_fields:
        if f.type == "printed":
            raise FormDefinitionError(source, "un champ de pied de page ne peut pas être imprimé d'avance", f.name)
        if f.sum_of is not None and f.sum_of not in digit_names:
            raise FormDefinitionError(source, f"sum_of « {f.sum_of} » ne désigne aucun champ digits des lignes", f.name)
    for f in fields:
        if f.sum_of is not None:
            raise FormDefinitionError(source, "sum_of n'a de sens que dans page_fields", f.name)
        if f.ordered and kind != "table":
            raise FormDefinitionError(source, "« ordered » n'a de sens que dans un registre (kind = table)", f.name)
    for f in page_fields:
        if f.ordered:
            raise FormDefinitionError(source, "« ordered » n'a de sens que dans les lignes", f.name)
    if all(f.type == "printed" for f in fields):
        raise FormDefinitionError(source, "aucun champ à remplir")
    return FormDef(
        name=name, version=version, title=_req(d, "title", str, source, None), kind=kind, orientation=orientation,
        fields=fields, page_fields=page_fields, subtitle=_opt(d, "subtitle", str, source, None, ""),
        warning=_opt(d, "warning", str, source, None), entries_per_page=epp, instructions=tuple(instructions),
        register=_opt(d, "register", str, source, None, "") or _req(d, "title", str, source, None),
        source=source, text=text, builtin=builtin,
    )


def load_form_file(path: str | Path) -> FormDef:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise FormDefinitionError(str(p), f"lecture impossible ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FormDefinitionError(str(p), "le fichier n'est pas en UTF-8") from None
    return parse_form(text, str(p))


# --- the built-in catalogue ------------------------------------------------------------------------------------

_VERSION_FILE_RE = re.compile(r"^v(\d+)\.toml$")


def _builtin_root() -> Any:
    return resources.files("forms")


def builtin_versions() -> dict[str, list[int]]:
    """Every built-in form name with all the versions the package keeps."""
    out: dict[str, list[int]] = {}
    for entry in _builtin_root().iterdir():
        if entry.is_dir() and _NAME_RE.match(entry.name):
            versions = sorted(int(m.group(1)) for e in entry.iterdir() if (m := _VERSION_FILE_RE.match(e.name)))
            if versions:
                out[entry.name] = versions
    return dict(sorted(out.items()))


_cache: dict[tuple[str, int], FormDef] = {}


def builtin_form(name: str, version: int | None = None) -> FormDef:
    """A built-in form by name and version (latest when version is None)."""
    versions = builtin_versions().get(name)
    if not versions:
        raise UnknownForm(f"formulaire « {name} » inconnu (formulaires connus : {', '.join(builtin_versions())})")
    v = versions[-1] if version is None else version
    if v not in versions:
        raise UnknownForm(f"formulaire « {name} » version {v} inconnu de cette installation "
                          f"(versions connues : {', '.join(map(str, versions))})")
    key = (name, v)
    if key not in _cache:
        res = _builtin_root() / name / f"v{v}.toml"
        form = parse_form(res.read_text(encoding="utf-8"), f"forms/{name}/v{v}.toml", builtin=True)
        if form.name != name or form.version != v:
            raise UnknownForm(f"forms/{name}/v{v}.toml déclare {form.name} v{form.version}")
        _cache[key] = form
    return _cache[key]


def resolve_form(name: str, version: int, extra: dict[tuple[str, int], FormDef] | None = None) -> FormDef:
    """A form by name and version: the kit's custom forms (from its manifest) first, then built-ins."""
    if extra and (name, version) in extra:
        return extra[(name, version)]
    return builtin_form(name, version)
