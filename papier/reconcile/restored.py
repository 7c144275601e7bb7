"""The restored business data (what the systems know after recovery), read through a mapping file.

SOURCE is either a SQLite database or a folder of CSV exports of the business software. A mapping file (TOML,
schema ``papier.mapping/1``) says, for each kind of record, which table (SQLite) or file (CSV) holds it and which
column is what. Every section is optional: a commune may only restore its family accounts. Annotated examples:
``papier/data/restored/*.toml``.

::

    format = "papier.mapping/1"

    [options]                         # all optional
    csv_delimiter = ";"               # CSV: "," ";" or "\\t" (default: guessed from the header line)
    encoding = "utf-8"                # CSV: "utf-8" (a BOM is accepted), "cp1252", "latin-1"
    date_format = "%d/%m/%Y"          # how dates are written (default: ISO "%Y-%m-%d"; both are always tried)
    amount_unit = "euros"             # "euros" (12,50 or 12.50) or "cents" (1250)

    [familles]
    table = "familles"                # SQLite table  — or —  file = "familles.csv"
    numero_famille = "num_famille"    # required
    nom = "nom"                       # optional

    [factures]                        # invoices: what each family owes
    table = "factures"
    famille = "num_famille"
    service = "service"
    periode = "periode"               # optional (free text: "2026-03", "mars 2026"…)
    montant = "montant_du"

    [paiements]
    table = "encaissements"
    quittance = "num_quittance"       # optional but strongly advised (the receipt number)
    famille = "num_famille"
    service = "service"               # optional
    montant = "montant"
    date = "date_encaissement"
    mode = "mode"                     # optional

    [prets]                           # library loans (Koha: issues + old_issues)
    table = "prets"
    carte = "cardnumber"
    code_barres = "barcode"
    date_pret = "issuedate"
    date_retour_prevue = "date_due"   # optional
    date_retour = "returndate"        # optional: empty while the item is out

    [actes]                           # civil-status acts already drawn up
    table = "actes"
    type = "type_acte"
    date = "date_evenement"           # the birth or death date
    nom = "nom"
    prenoms = "prenoms"               # optional
    numero = "numero_acte"

    [values.service]                  # optional: the software's codes -> papier's values
    CANT = "restauration"
    [values.type]
    N = "naissance"
    D = "deces"

papier's values: service = restauration | creche | centre_loisirs | periscolaire | autre; mode = especes | cheque |
cb | cesu | virement; type = naissance | deces.
"""

from __future__ import annotations

import csv
import datetime as _dt
import re
import sqlite3
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from papier.errors import InputDataError

MAPPING_SCHEMA = "papier.mapping/1"
SERVICES = ("restauration", "creche", "centre_loisirs", "periscolaire", "autre")
MODES = ("especes", "cheque", "cb", "cesu", "virement")
ACT_TYPES = ("naissance", "deces")

SERVICE_LABELS = {"restauration": "Restauration scolaire", "creche": "Crèche", "centre_loisirs": "Centre de loisirs",
                  "periscolaire": "Périscolaire", "autre": "Autre"}
MODE_LABELS = {"especes": "Espèces", "cheque": "Chèque", "cb": "CB", "cesu": "CESU", "virement": "Virement"}

# section -> (required columns, optional columns)
SECTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "familles": (("numero_famille",), ("nom", "prenom")),
    "factures": (("famille", "service", "montant"), ("periode",)),
    "paiements": (("famille", "montant", "date"), ("quittance", "service", "mode")),
    "prets": (("carte", "code_barres", "date_pret"), ("date_retour_prevue", "date_retour")),
    "actes": (("type", "date", "numero"), ("nom", "prenoms")),
}
SECTION_LABELS = {"familles": "familles", "factures": "factures", "paiements": "paiements", "prets": "prêts",
                  "actes": "actes d'état civil"}
OPTION_KEYS = ("csv_delimiter", "encoding", "date_format", "amount_unit")
VALUE_MAPS = ("service", "mode", "type")


# --- the data --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    numero: str
    nom: str = ""
    prenom: str = ""


@dataclass(frozen=True)
class Invoice:
    famille: str
    service: str
    montant: int          # cents
    periode: str = ""
    where: str = ""       # "file:line" for messages


@dataclass(frozen=True)
class Payment:
    famille: str
    montant: int          # cents
    date: _dt.date
    quittance: str = ""
    service: str = ""
    mode: str = ""
    where: str = ""


@dataclass(frozen=True)
class Loan:
    carte: str
    code_barres: str
    date_pret: _dt.date
    date_retour_prevue: _dt.date | None = None
    date_retour: _dt.date | None = None
    where: str = ""


@dataclass(frozen=True)
class Act:
    type: str             # naissance | deces
    date: _dt.date        # date of the birth or death
    numero: str
    nom: str = ""
    prenoms: str = ""
    where: str = ""


@dataclass
class RestoredData:
    """Everything the restored systems know, in papier's vocabulary."""

    label: str                                   # human description of the source
    families: dict[str, Family] = field(default_factory=dict)
    invoices: list[Invoice] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    loans: list[Loan] = field(default_factory=list)
    acts: list[Act] = field(default_factory=list)
    sections: tuple[str, ...] = ()               # which sections the source provided
    backup_date: _dt.date | None = None          # when known (built-in sample)

    def has(self, section: str) -> bool:
        return section in self.sections


# --- the mapping -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SectionMap:
    name: str
    table: str | None
    file: str | None
    columns: dict[str, str]  # papier name -> source column


@dataclass(frozen=True)
class Mapping:
    path: str
    sections: dict[str, SectionMap]
    csv_delimiter: str | None = None
    encoding: str = "utf-8-sig"
    date_format: str | None = None
    amount_unit: str = "euros"
    values: dict[str, dict[str, str]] = field(default_factory=dict)


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping TOML; errors name the file and the key."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputDataError(f"{p} : fichier de correspondance introuvable") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputDataError(f"{p} : fichier de correspondance illisible ({exc})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputDataError(f"{p} : TOML invalide ({exc})") from None
    return parse_mapping(doc, str(p))


def parse_mapping(doc: dict[str, Any], source: str = "<mapping>") -> Mapping:
    def err(msg: str) -> InputDataError:
        return InputDataError(f"{source} : {msg}")

    fmt = doc.get("format")
    if fmt is not None and fmt != MAPPING_SCHEMA:
        raise err(f"format « {fmt} » inconnu (attendu : « {MAPPING_SCHEMA} »)")
    known_top = {"format", "options", "values", *SECTIONS}
    for k in doc:
        if k not in known_top:
            raise err(f"section « [{k}] » inconnue (sections possibles : {', '.join(SECTIONS)}, options, values)")
    opts = doc.get("options", {})
    if not isinstance(opts, dict):
        raise err("« options » doit être une table [options]")
    for k in opts:
        if k not in OPTION_KEYS:
            raise err(f"[options] : clé « {k} » inconnue (clés possibles : {', '.join(OPTION_KEYS)})")
    delim = opts.get("csv_delimiter")
    if delim is not None and delim not in (",", ";", "\t", "|"):
        raise err(f"[options] csv_delimiter = {delim!r} : utilisez « ; », « , », « | » ou « \\t »")
    encoding = str(opts.get("encoding", "utf-8-sig"))
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        encoding = "utf-8-sig"
    try:
        "é".encode(encoding)
    except LookupError:
        raise err(f"[options] encoding = « {encoding} » : encodage inconnu (utf-8, cp1252, latin-1…)") from None
    unit = opts.get("amount_unit", "euros")
    if unit not in ("euros", "cents"):
        raise err(f"[options] amount_unit = « {unit} » : « euros » ou « cents »")
    date_format = opts.get("date_format")
    if date_format is not None and (not isinstance(date_format, str) or "%" not in date_format):
        raise err(f"[options] date_format = {date_format!r} : un format strftime, par ex. « %d/%m/%Y »")

    values: dict[str, dict[str, str]] = {}
    vdoc = doc.get("values", {})
    if not isinstance(vdoc, dict):
        raise err("« values » doit être une table [values.service] …")
    allowed = {"service": SERVICES, "mode": MODES, "type": ACT_TYPES}
    for k, table in vdoc.items():
        if k not in VALUE_MAPS:
            raise err(f"[values.{k}] inconnu (possibles : {', '.join('values.' + v for v in VALUE_MAPS)})")
        if not isinstance(table, dict):
            raise err(f"[values.{k}] doit être une table « code = valeur »")
        for code, v in table.items():
            if v not in allowed[k]:
                raise err(f"[values.{k}] {code} = « {v} » : valeur inconnue (possibles : {', '.join(allowed[k])})")
        values[k] = {str(code).strip().casefold(): str(v) for code, v in table.items()}

    sections: dict[str, SectionMap] = {}
    for name, (required, optional) in SECTIONS.items():
        sdoc = doc.get(name)
        if sdoc is None:
            continue
        if not isinstance(sdoc, dict):
            raise err(f"« {name} » doit être une table [{name}]")
        table, file = sdoc.get("table"), sdoc.get("file")
        if (table is None) == (file is None):
            raise err(f"[{name}] : indiquez soit « table = … » (SQLite) soit « file = … » (CSV), pas les deux")
        cols: dict[str, str] = {}
        for k, v in sdoc.items():
            if k in ("table", "file"):
                if not isinstance(v, str) or not v.strip():
                    raise err(f"[{name}] {k} : nom vide")
                continue
            if k not in required and k not in optional:
                raise err(f"[{name}] : clé « {k} » inconnue (clés possibles : "
                          f"{', '.join(('table', 'file') + required + optional)})")
            if not isinstance(v, str) or not v.strip():
                raise err(f"[{name}] {k} : le nom de colonne doit être un texte non vide")
            cols[k] = v
        for k in required:
            if k not in cols:
                raise err(f"[{name}] : colonne obligatoire « {k} » non indiquée (ajoutez « {k} = \"nom_de_colonne\" »)")
        sections[name] = SectionMap(name, table, file, cols)
    if not sections:
        raise err(f"aucune section de données ([{'], ['.join(SECTIONS)}]) : rien à comparer")
    return Mapping(source, sections, delim, encoding, date_format, unit, values)


# --- reading rows -----------------------------------------------------------------------------------------------------


Row = tuple[str, dict[str, str]]  # (where, {papier name: raw text})


def _sqlite_rows(db_path: Path, smap: SectionMap) -> Iterator[Row]:
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise InputDataError(f"{db_path} : base SQLite illisible ({exc})") from None
    try:
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table','view')")}
        except sqlite3.DatabaseError as exc:
            raise InputDataError(f"{db_path} : ce n'est pas une base SQLite lisible ({exc})") from None
        assert smap.table is not None
        if smap.table not in tables:
            raise InputDataError(f"{db_path} : table « {smap.table} » introuvable (section [{smap.name}] de la "
                                 f"correspondance ; tables présentes : {', '.join(sorted(tables)) or 'aucune'})")
        cur = conn.execute(f'SELECT * FROM "{smap.table.replace(chr(34), "")}" ORDER BY rowid')
        names = [d[0] for d in cur.description]
        for key, col in smap.columns.items():
            if col not in names:
                raise InputDataError(f"{db_path} : table « {smap.table} » : colonne « {col} » introuvable "
                                     f"([{smap.name}] {key} ; colonnes présentes : {', '.join(names)})")
        idx = {key: names.index(col) for key, col in smap.columns.items()}
        for n, row in enumerate(cur, 1):
            yield (f"{db_path.name}, table {smap.table}, ligne {n}",
                   {k: ("" if row[i] is None else str(row[i])) for k, i in idx.items()})
    finally:
        conn.close()


def _csv_rows(folder: Path, smap: SectionMap, mapping: Mapping) -> Iterator[Row]:
    assert smap.file is not None
    path = (folder / smap.file) if not Path(smap.file).is_absolute() else Path(smap.file)
    if not path.is_file():
        raise InputDataError(f"{path} : fichier CSV introuvable (section [{smap.name}] de la correspondance)")
    try:
        text = path.read_text(encoding=mapping.encoding)
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{path} : encodage incorrect ({exc.reason} à l'octet {exc.start}) — précisez "
                             f"[options] encoding = \"cp1252\" dans la correspondance") from None
    lines = text.splitlines()
    if not lines:
        raise InputDataError(f"{path} : fichier vide (il faut au moins la ligne d'en-tête)")
    delim = mapping.csv_delimiter
    if delim is None:
        head = lines[0]
        delim = max((";", ",", "\t", "|"), key=head.count)
    reader = csv.reader(lines, delimiter=delim)
    header = [h.strip() for h in next(reader)]
    for key, col in smap.columns.items():
        if col not in header:
            raise InputDataError(f"{path}, ligne 1 : colonne « {col} » introuvable ([{smap.name}] {key} ; "
                                 f"colonnes présentes : {', '.join(header)} ; séparateur « {delim} »)")
    idx = {key: header.index(col) for key, col in smap.columns.items()}
    for n, row in enumerate(reader, 2):
        if not any(c.strip() for c in row):
            continue
        if len(row) < len(header):
            raise InputDataError(f"{path}, ligne {n} : {len(row)} colonnes au lieu de {len(header)} "
                                 f"(séparateur « {delim} » ; guillemets mal fermés ?)")
        yield f"{path.name}, ligne {n}", {k: row[i].strip() for k, i in idx.items()}


# --- parsing values ---------------------------------------------------------------------------------------------------


_AMOUNT_RE = re.compile(r"^-?\d{1,9}([.,]\d{1,2})?$")


def parse_amount(text: str, unit: str, where: str, col: str) -> int:
    s = text.replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace("€", "").strip()
    if unit == "cents":
        if not re.fullmatch(r"-?\d{1,11}", s):
            raise InputDataError(f"{where}, colonne « {col} » : montant « {text} » illisible (attendu : des "
                                 f"centimes, ex. 1250)")
        return int(s)
    if not _AMOUNT_RE.match(s):
        raise InputDataError(f"{where}, colonne « {col} » : montant « {text} » illisible (attendu : ex. 12,50)")
    s = s.replace(",", ".")
    neg = s.startswith("-")
    s = s.lstrip("-")
    units, _, dec = s.partition(".")
    cents = int(units) * 100 + int((dec + "00")[:2])
    return -cents if neg else cents


def parse_day(text: str, fmt: str | None, where: str, col: str, required: bool = True) -> _dt.date | None:
    s = text.strip()
    if not s:
        if required:
            raise InputDataError(f"{where}, colonne « {col} » : date manquante")
        return None
    for f in ([fmt] if fmt else []) + ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y"]:
        try:
            return _dt.datetime.strptime(s, f).date()
        except ValueError:
            continue
    # ISO timestamps with fractions or time zones
    try:
        return _dt.datetime.fromisoformat(s).date()
    except ValueError:
        pass
    raise InputDataError(f"{where}, colonne « {col} » : date « {text} » illisible"
                         + (f" (format attendu : {fmt})" if fmt else " (formats reconnus : 2026-03-14, 14/03/2026)"))


def _value(kind: str, text: str, mapping: Mapping, allowed: tuple[str, ...], where: str, col: str,
           required: bool = True) -> str:
    raw = text.strip()
    if not raw:
        if required:
            raise InputDataError(f"{where}, colonne « {col} » : valeur manquante")
        return ""
    v = mapping.values.get(kind, {}).get(raw.casefold(), raw)
    v = v.strip().lower()
    if v not in allowed:
        raise InputDataError(f"{where}, colonne « {col} » : valeur « {raw} » inconnue (valeurs attendues : "
                             f"{', '.join(allowed)} ; ajoutez une table [values.{kind}] à la correspondance "
                             f"pour traduire les codes du logiciel)")
    return v


def _family_number(text: str, where: str, col: str) -> str:
    s = text.strip()
    if not s.isdigit():
        raise InputDataError(f"{where}, colonne « {col} » : n° de famille « {text} » invalide (chiffres attendus)")
    return s.zfill(5)


def _digits(text: str, where: str, col: str, what: str) -> str:
    s = text.strip()
    if not s:
        raise InputDataError(f"{where}, colonne « {col} » : {what} manquant")
    return s


# --- loading ------------------------------------------------------------------------------------------------------


def load_restored(source: str | Path, mapping: Mapping | str | Path | None) -> RestoredData:
    """Read SOURCE (a SQLite file or a folder of CSV files) through its mapping into RestoredData."""
    src = Path(source)
    if not src.exists():
        raise InputDataError(f"{src} : source introuvable (une base SQLite, un dossier d'exports CSV, ou « sample »)")
    if mapping is None:
        cand = src / "mapping.toml" if src.is_dir() else src.with_suffix(".mapping.toml")
        if not cand.is_file():
            raise InputDataError(f"{src} : aucune correspondance indiquée — ajoutez --mapping FICHIER.toml "
                                 f"(exemples : papier/data/restored/) ou placez-la en {cand}")
        mapping = cand
    m = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)

    def rows(smap: SectionMap) -> Iterator[Row]:
        if src.is_dir():
            if smap.file is None:
                raise InputDataError(f"{m.path} : [{smap.name}] indique une table SQLite (« table = … ») mais "
                                     f"la source {src} est un dossier : utilisez « file = \"….csv\" »")
            return _csv_rows(src, smap, m)
        if smap.table is None:
            raise InputDataError(f"{m.path} : [{smap.name}] indique un fichier CSV (« file = … ») mais la source "
                                 f"{src} est un fichier : donnez le dossier des CSV, ou « table = … » pour SQLite")
        with open(src, "rb") as fh:
            head = fh.read(16)
        if head != b"SQLite format 3\x00":
            raise InputDataError(f"{src} : ce n'est pas une base SQLite (pour des CSV, donnez leur dossier)")
        return _sqlite_rows(src, smap)

    data = RestoredData(label=str(src), sections=tuple(m.sections))
    cols = {name: s.columns for name, s in m.sections.items()}

    if "familles" in m.sections:
        c = cols["familles"]
        for where, r in rows(m.sections["familles"]):
            num = _family_number(r["numero_famille"], where, c["numero_famille"])
            if num in data.families:
                raise InputDataError(f"{where}, colonne « {c['numero_famille']} » : famille {num} en double")
            data.families[num] = Family(num, r.get("nom", ""), r.get("prenom", ""))
    if "factures" in m.sections:
        c = cols["factures"]
        for where, r in rows(m.sections["factures"]):
            data.invoices.append(Invoice(
                famille=_family_number(r["famille"], where, c["famille"]),
                service=_value("service", r["service"], m, SERVICES, where, c["service"]),
                montant=parse_amount(r["montant"], m.amount_unit, where, c["montant"]),
                periode=r.get("periode", ""), where=where))
    if "paiements" in m.sections:
        c = cols["paiements"]
        for where, r in rows(m.sections["paiements"]):
            data.payments.append(Payment(
                famille=_family_number(r["famille"], where, c["famille"]),
                montant=parse_amount(r["montant"], m.amount_unit, where, c["montant"]),
                date=parse_day(r["date"], m.date_format, where, c["date"]),  # type: ignore[arg-type]
                quittance=r.get("quittance", "").strip(),
                service=_value("service", r.get("service", ""), m, SERVICES, where, c.get("service", ""), False),
                mode=_value("mode", r.get("mode", ""), m, MODES, where, c.get("mode", ""), False),
                where=where))
    if "prets" in m.sections:
        c = cols["prets"]
        for where, r in rows(m.sections["prets"]):
            data.loans.append(Loan(
                carte=_digits(r["carte"], where, c["carte"], "n° de carte"),
                code_barres=_digits(r["code_barres"], where, c["code_barres"], "code-barres"),
                date_pret=parse_day(r["date_pret"], m.date_format, where, c["date_pret"]),  # type: ignore[arg-type]
                date_retour_prevue=parse_day(r.get("date_retour_prevue", ""), m.date_format, where,
                                             c.get("date_retour_prevue", ""), required=False),
                date_retour=parse_day(r.get("date_retour", ""), m.date_format, where, c.get("date_retour", ""),
                                      required=False),
                where=where))
    if "actes" in m.sections:
        c = cols["actes"]
        for where, r in rows(m.sections["actes"]):
            data.acts.append(Act(
                type=_value("type", r["type"], m, ACT_TYPES, where, c["type"]),
                date=parse_day(r["date"], m.date_format, where, c["date"]),  # type: ignore[arg-type]
                numero=_digits(r["numero"], where, c["numero"], "n° d'acte"),
                nom=r.get("nom", ""), prenoms=r.get("prenoms", ""), where=where))
    return data
