"""`papier forms list|show|check`: built-in forms are valid; a wrong definition gets a one-line French error naming
the file, the field and the problem — never a traceback."""

from __future__ import annotations

from importlib import resources

import pytest
from click.testing import CliRunner

from papier.cli import main
from papier.errors import PapierError
from papier.forms import builtin_versions, parse_form
from papier.layout import layout_form

FORMS = [(n, v) for n, vs in builtin_versions().items() for v in vs]

GOOD = """format = "papier.form/1"
name = "essai"
version = 1
title = "Essai"

[[fields]]
name = "date"
type = "digits"
label = "Date"
semantic = "date_ddmmyy"

[[fields]]
name = "mode"
type = "choice"
label = "Mode"
options = [{ value = "a", label = "A" }, { value = "b", label = "B" }]

[[page_fields]]
name = "total"
type = "digits"
label = "Total"
length = 6
sum_of = "date"
"""


def _check(tmp_path, text: str, name: str = "def.toml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p, CliRunner().invoke(main, ["forms", "check", str(p)])


def test_builtin_forms_list_show_check(tmp_path):
    r = CliRunner().invoke(main, ["forms", "list"])
    assert r.exit_code == 0
    for name, _ in FORMS:
        assert name in r.output
        r2 = CliRunner().invoke(main, ["forms", "show", name])
        assert r2.exit_code == 0 and name in r2.output
    for name, v in FORMS:
        text = (resources.files("forms") / name / f"v{v}.toml").read_text(encoding="utf-8")
        p, r = _check(tmp_path, text, f"{name}.toml")
        assert r.exit_code == 0 and "OK" in r.output, r.output


def test_good_custom_definition(tmp_path):
    p, r = _check(tmp_path, GOOD)
    assert r.exit_code == 0, r.output
    assert "essai v1" in r.output


BAD = [
    # (replace this, with that, expected field or None, words in the message)
    ('type = "choice"', 'type = "radio"', "mode", "type « radio » inconnu"),
    ('semantic = "date_ddmmyy"', 'semantic = "date_jjmm"', "date", "semantic"),
    ('options = [{ value = "a", label = "A" }, { value = "b", label = "B" }]', 'options = [{ value = "a", label = "A" }]',
     "mode", "au moins 2 options"),
    ('{ value = "b", label = "B" }', '{ value = "a", label = "B" }', "mode", "même valeur"),
    ('name = "mode"', 'name = "date"', "date", "deux fois"),
    ('sum_of = "date"', 'sum_of = "montant"', "total", "sum_of"),
    ('name = "mode"', 'name = "Mode!"', "Mode!", "nom invalide"),
    ('label = "Date"', 'label = "Date"\nwidth = 260', "date", "n'a de sens"),
    ('semantic = "date_ddmmyy"', 'length = 40', "date", "entre 1 et 16"),
    ('label = "Mode"', 'label = "Mode"\ncouleur = "rouge"', "mode", "inconnue"),
    ('semantic = "date_ddmmyy"', 'semantic = "date_ddmmyy"\ndue = true', "date", "« due » s'applique"),
    ('format = "papier.form/1"', 'format = "papier.form/2"', None, "format"),
    ('version = 1', 'version = "un"', None, "version"),
    ('title = "Essai"', 'title = "Essai"\nentries_per_page = 40', None, "ne tiennent pas"),
    ('title = "Essai"', 'title = "Essai\n', None, "TOML invalide"),
]


@pytest.mark.parametrize("old,new,field,words", BAD)
def test_bad_definitions_name_file_field_problem(tmp_path, old, new, field, words):
    assert old in GOOD
    p, r = _check(tmp_path, GOOD.replace(old, new, 1))
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output and not isinstance(r.exception, (KeyError, TypeError, ValueError))
    assert str(p) in r.output
    if field:
        assert f"champ « {field} »" in r.output
    assert words in r.output


def test_unreadable_definition_files(tmp_path):
    p = tmp_path / "latin1.toml"
    p.write_bytes(GOOD.replace("Essai", "Ess\xe9i").encode("latin-1"))
    r = CliRunner().invoke(main, ["forms", "check", str(p)])
    assert r.exit_code == 1 and "UTF-8" in r.output and str(p) in r.output
    r = CliRunner().invoke(main, ["forms", "check", str(tmp_path / "absent.toml")])
    assert r.exit_code == 1 and "absent.toml" in r.output


def test_mutated_builtin_definitions_never_crash():
    """Delete any line or give any key a wrong value: always a FormDefinitionError (PapierError), never a crash."""
    junk = ['= 0', '= -3', '= ""', '= []', '= [1, "a"]', '= {}', '= true', '= 1.5', '= "zz"', '= [{}]']
    for name in ("paiement", "naissance"):
        lines = (resources.files("forms") / name / "v1.toml").read_text(encoding="utf-8").splitlines()
        cases = []
        for i, line in enumerate(lines):
            cases.append(lines[:i] + lines[i + 1:])
            if "=" in line and not line.startswith("["):
                key = line.split("=")[0]
                cases += [lines[:i] + [key + j] + lines[i + 1:] for j in junk]
        for c in cases:
            try:
                layout_form(parse_form("\n".join(c), "x.toml"))
            except PapierError as exc:
                assert str(exc).startswith("x.toml: ")
