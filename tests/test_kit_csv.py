"""Roster, catalogue and readers CSVs: accepted variants, and every documented error (CLI exit 1, message naming the file
and the line, no partial kit)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from papier.cli import main
from papier.kit import load_catalog, load_readers, load_roster

ROSTER = "nom;prenom;numero_famille\nDUPONT;Jean;10025\nÉTIENNE;Zoé;10033\nMARTIN;Anne;10041\n"
CATALOG = "code_barres;cote;titre;support\n9782070360024;R CAM;L'Étranger;livre\n3259130176926;CD 1.1 BEA;Abbey Road;cd\n"


def test_roster_variants(tmp_path):
    p = tmp_path / "f.csv"
    for data in (ROSTER.encode("utf-8"), b"\xef\xbb\xbf" + ROSTER.encode("utf-8"),
                 ROSTER.replace(";", ",").encode("utf-8"), ROSTER.replace("\n", "\r\n").encode("cp1252"),
                 ROSTER.replace("numero_famille", "N° de famille").replace("prenom", "Prénom").encode("utf-8")):
        p.write_bytes(data)
        fams = load_roster(p)
        assert [f["numero_famille"] for f in fams] == ["10025", "10033", "10041"]
        assert fams[1] == {"nom": "ÉTIENNE", "prenom": "Zoé", "numero_famille": "10033"}  # É sorts with E


def test_catalog_ok(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text(CATALOG, encoding="utf-8")
    docs = load_catalog(p)
    assert [d["code_barres"] for d in docs] == ["9782070360024", "3259130176926"]


ROSTER_ERRORS = [
    ("nom;prenom\nDUPONT;Jean\n", "ligne 1", "colonne(s) manquante(s) : numero_famille"),
    (ROSTER + "DURAND;Paul;10025\n", "ligne 5", "en double (déjà ligne 2)"),
    (ROSTER + "DURAND;Paul;10024\n", "ligne 5", "clé de contrôle fausse"),
    (ROSTER + "DURAND;Paul;1002\n", "ligne 5", "5 chiffres"),
    (ROSTER + ";Paul;10058\n", "ligne 5", "nom vide"),
    ("", None, "fichier vide"),
    ("\n\n", None, "fichier vide"),
    ("nom;prenom;numero_famille\n", None, "aucune ligne"),
]


def _kit_build_fails(tmp_path, option: str, p, words: str) -> str:
    """`kit build` with a bad CSV: exit 1, a French line naming the file and the problem, no kit left behind."""
    out = tmp_path / "kit"
    r = CliRunner().invoke(main, ["kit", "build", "--out", str(out), option, str(p), "--pages-per-register", "1"])
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    assert str(p) in r.output and words in r.output
    assert not out.exists()
    return r.output


@pytest.mark.parametrize("text,line,words", ROSTER_ERRORS)
def test_bad_roster_cli(tmp_path, text, line, words):
    p = tmp_path / "familles.csv"
    p.write_text(text, encoding="utf-8")
    output = _kit_build_fails(tmp_path, "--roster", p, words)
    if line:
        assert line in output
    assert sorted(x.name for x in tmp_path.iterdir()) == ["familles.csv"]


@pytest.mark.parametrize("data,words", [
    (ROSTER.encode("utf-16"), "encodage"),
    (b"nom;prenom;numero_famille\nDUPONT;Jean;10025\nMARTIN;\x81\x8d;10033\n", "ligne 3: encodage non reconnu"),
])
def test_wrong_encoding(tmp_path, data, words):
    p = tmp_path / "familles.csv"
    p.write_bytes(data)
    r = CliRunner().invoke(main, ["kit", "build", "--out", str(tmp_path / "kit"), "--roster", str(p)])
    assert r.exit_code == 1 and words in r.output and str(p) in r.output


CATALOG_ERRORS = [
    ("code_barres;cote;titre\n9782070360024;R CAM;L'Étranger\n", "ligne 1", "support"),
    (CATALOG + "9782070360025;R CAM;L'Étranger;livre\n", "ligne 4", "EAN-13 invalide"),
    (CATALOG + "9782070360024;R CAM;L'Étranger;livre\n", "ligne 4", "en double (déjà ligne 2)"),
    ("", None, "fichier vide"),
]


@pytest.mark.parametrize("text,line,words", CATALOG_ERRORS)
def test_bad_catalog_cli(tmp_path, text, line, words):
    p = tmp_path / "catalogue.csv"
    p.write_text(text, encoding="utf-8")
    r = CliRunner().invoke(main, ["kit", "build", "--out", str(tmp_path / "kit"), "--catalog", str(p)])
    assert r.exit_code == 1, r.output
    assert str(p) in r.output and words in r.output
    if line:
        assert line in r.output
    assert not (tmp_path / "kit").exists()


def test_kit_build_cli_with_csvs(tmp_path):
    from papier.sample_data import write_sample_csvs

    roster, catalog, readers = write_sample_csvs(tmp_path / "data")
    r = CliRunner().invoke(main, ["kit", "build", "--out", str(tmp_path / "kit"), "--roster", str(roster),
                                  "--catalog", str(catalog), "--readers", str(readers), "--pages-per-register", "1",
                                  "--commune", "Essai"])
    assert r.exit_code == 0, r.output
    assert "kit.pdf" in r.output and (tmp_path / "kit" / "kit.pdf").is_file()
    import json

    lay = json.loads((tmp_path / "kit" / "layout.json").read_text(encoding="utf-8"))
    from papier.sample_data import sample_catalog, sample_readers, sample_roster

    assert sorted(lay["known_values"]["familles"]) == sorted(f["numero_famille"] for f in sample_roster())
    assert lay["known_values"]["documents"] == [d["code_barres"] for d in sample_catalog()]
    assert lay["known_values"]["lecteurs"] == sorted(r["numero_carte"] for r in sample_readers())


READERS = "Nom;Prénom;N° de carte\nDUPONT;Jean;2043100012\nÉTIENNE;Zoé;2043 100 007\nADAM;Léa;0043100001\n"


def test_readers_ok(tmp_path):
    p = tmp_path / "lecteurs.csv"
    p.write_text(READERS, encoding="utf-8")
    readers = load_readers(p)
    assert readers == [{"nom": "ADAM", "prenom": "Léa", "numero_carte": "0043100001"},
                       {"nom": "DUPONT", "prenom": "Jean", "numero_carte": "2043100012"},
                       {"nom": "ÉTIENNE", "prenom": "Zoé", "numero_carte": "2043100007"}]


@pytest.mark.parametrize("text,words", [
    (READERS + "DURAND;Paul;2043100012\n", "ligne 5: n° de carte 2043100012 en double (déjà ligne 2)"),
    (READERS + "DURAND;Paul;20431-0013\n", "ligne 5: n° de carte « 20431-0013 » : des chiffres seulement"),
    (READERS + ";Paul;2043100013\n", "ligne 5: nom vide"),
    # a spreadsheet that read the column as numbers dropped the leading zero: 9 digits for 10 boxes
    ("nom;prenom;numero_carte\nADAM;Léa;43100001\n", "10 chiffres attendus"),
    ("nom;prenom;numero_carte\nADAM;Léa;204310000123\n", "10 chiffres attendus"),
    ("nom;prenom\nADAM;Léa\n", "colonne(s) manquante(s) : numero_carte"),
])
def test_bad_readers_cli(tmp_path, text, words):
    p = tmp_path / "lecteurs.csv"
    p.write_text(text, encoding="utf-8")
    _kit_build_fails(tmp_path, "--readers", p, words)
