"""papier export: JSON lines per entry and per page, and the CSV for a French spreadsheet (CONTRACTS.md)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from papier.cli import main
from scan_ingest import testing as T
from scan_ingest.pipeline import ingest

DPI = 200


@pytest.fixture(scope="module")
def db(small_kit, tmp_path_factory):
    d = tmp_path_factory.mktemp("export")
    p = T.find_page(small_kit.out_dir, "paiement", 1)
    img = T.render(small_kit.pdf_path, p["pdf_page"], DPI)
    T.fill_bubble(img, p, 1, "mode", "cheque")
    T.scribble(img, p, 1, "payeur")
    T.scribble(img, p, 1, "montant")
    T.fill_bubble(img, p, 2, "mode", "especes")
    T.save_pdf([img], d / "lot.pdf")
    T.save_image(img, d / "blank.png")  # a second file with the same page: a conflict (different bytes)
    (d / "vide.pdf").write_bytes(b"")
    path = d / "p.db"
    ingest([str(d / "lot.pdf"), str(d / "vide.pdf")], db_path=path, workers=1)
    return path, p


def _run(args: list[str]) -> str:
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    return r.output


def test_jsonl_entries(db):
    path, p = db
    lines = [json.loads(x) for x in _run(["export", "--db", str(path), "--format", "jsonl"]).splitlines()]
    assert [e["row"] for e in lines] == [1, 2]  # blank lines are not exported
    e = lines[0]
    assert e["page_key"] == p["page_key"] and e["form"] == "paiement" and e["copy"] == 0
    assert e["fields"]["mode"] == {"value": "cheque", "status": "auto", "confidence": e["fields"]["mode"]["confidence"]}
    assert e["fields"]["payeur"]["value"] is None and e["fields"]["payeur"]["status"] == "review"
    assert e["fields"]["montant"]["status"] in ("review", "auto")
    assert e["snippet"]["payeur"].endswith(".jpg") and e["printed"]["quittance"]
    assert e["sheet_status"] == "primary"
    assert _run(["export", "--db", str(path), "--format", "jsonl", "--form", "pret"]) == ""


def test_jsonl_pages(db):
    path, p = db
    lines = [json.loads(x) for x in _run(["export", "--db", str(path), "--format", "jsonl", "--pages"]).splitlines()]
    assert [set(x) for x in lines] == [{"source", "index", "sha256", "page_key", "status", "reason",
                                        "sheet_status", "resolution"}] * 2
    assert [x["resolution"] for x in lines] == [None, None]
    assert [x["sheet_status"] for x in lines] == ["primary", None]
    assert lines[0]["status"] == "identified" and lines[0]["page_key"] == p["page_key"] and lines[0]["index"] == 1
    assert lines[1]["status"] == "unidentified" and lines[1]["page_key"] is None and "vide" in lines[1]["reason"]


def test_csv_for_a_french_spreadsheet(db, tmp_path):
    path, _ = db
    out = tmp_path / "export.csv"
    _run(["export", "--db", str(path), "--format", "csv", "-o", str(out)])
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    head = rows[0]
    assert head[:6] == ["formulaire", "page", "copie", "ligne", "pré-imprimé", "à vérifier"]
    assert len(rows) == 3 and all(len(r) == len(head) for r in rows)
    r1 = dict(zip(head, rows[1]))
    assert r1["Mode de paiement"] == "cheque" and r1["Mode de paiement (état)"] == "lu"
    assert r1["Nom du payeur (état)"] == "à vérifier" and r1["à vérifier"] == "OUI"
    assert "payeur" in r1["champs à vérifier"]


def test_conflict_and_superseded_sheets_are_never_merged_silently(small_kit, tmp_path):
    """A second, different image of a sheet (conflict) is left out of the entry export until someone decides,
    and said so on stderr; once the review page keeps the new image, only its reading is exported."""
    import sqlite3

    from papier.export import export

    p = T.find_page(small_kit.out_dir, "paiement", 1)
    img = T.render(small_kit.pdf_path, p["pdf_page"], DPI)
    T.fill_bubble(img, p, 1, "mode", "cheque")
    T.save_pdf([img], tmp_path / "a.pdf")
    img2 = T.render(small_kit.pdf_path, p["pdf_page"], DPI)
    T.fill_bubble(img2, p, 1, "mode", "especes")
    T.fill_bubble(img2, p, 3, "mode", "especes")
    T.save_pdf([img2], tmp_path / "b.pdf")
    db = tmp_path / "p.db"
    ingest([str(tmp_path / "a.pdf"), str(tmp_path / "b.pdf")], db_path=db, workers=1)

    r = CliRunner().invoke(main, ["export", "--db", str(db), "--format", "jsonl"])
    assert r.exit_code == 0
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [(e["row"], e["fields"]["mode"]["value"], e["sheet_status"]) for e in lines] == [(1, "cheque", "primary")]
    assert "1 feuille(s) en conflit" in r.stderr
    pages = [json.loads(x) for x in _run(["export", "--db", str(db), "--format", "jsonl", "--pages"]).splitlines()]
    assert [(x["status"], x["sheet_status"]) for x in pages] == [("identified", "primary"), ("conflict", "conflict")]

    out = tmp_path / "all.jsonl"
    assert export(db, "jsonl", output=out, all_sheets=True) == 3
    every = [json.loads(x) for x in out.read_text().splitlines()]
    assert [e["sheet_status"] for e in every] == ["primary", "conflict", "conflict"]

    # the same from the command line: --all-sheets gives every sheet, each line saying which, nothing on stderr
    r = CliRunner().invoke(main, ["export", "--db", str(db), "--format", "jsonl", "--all-sheets"])
    assert r.exit_code == 0, r.output
    cli_every = [json.loads(x) for x in r.stdout.splitlines()]
    assert cli_every == every and r.stderr == ""
    r = CliRunner().invoke(main, ["export", "--db", str(db), "--format", "csv", "--all-sheets"])
    rows = list(csv.reader(io.StringIO(r.stdout.lstrip("\ufeff")), delimiter=";"))
    assert [(row[rows[0].index("feuille")], row[rows[0].index("à vérifier")]) for row in rows[1:]] == \
        [("", ""), ("conflit", "OUI"), ("conflit", "OUI")]

    # the review page keeps the second image: the first sheet becomes superseded, the second primary
    c = sqlite3.connect(db)
    c.execute("UPDATE sheets SET status = CASE status WHEN 'primary' THEN 'superseded' ELSE 'primary' END")
    c.commit()
    c.close()
    r = CliRunner().invoke(main, ["export", "--db", str(db), "--format", "jsonl"])
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [(e["row"], e["fields"]["mode"]["value"]) for e in lines] == [(1, "especes"), (3, "especes")]
    assert "remplacée" in r.stderr
    csv_out = tmp_path / "e.csv"
    export(db, "csv", output=csv_out, all_sheets=True)
    rows = list(csv.reader(io.StringIO(csv_out.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert sorted(r[rows[0].index("feuille")] for r in rows[1:]) == ["", "", "remplacée"]


def test_csv_columns_do_not_depend_on_which_version_came_first(small_kit, first_versions_kit, tmp_path):
    """A régie journal of version 1 (the cancel box after the initials) and one of version 2 (before them) in the
    same batch: the CSV has the same columns in the same order, the latest definition's, whichever page was read
    first."""
    from papier.export import export

    files = []
    for kit in (first_versions_kit, small_kit):
        p = T.find_page(kit.out_dir, "paiement", 1)
        img = T.render(kit.pdf_path, p["pdf_page"], DPI)
        T.fill_bubble(img, p, 1, "mode", "cheque")
        T.tick_box(img, p, 1, "annulee", dpi=DPI)
        files.append(T.save_image(img, tmp_path / f"{kit.kit_id}.png", DPI))
    headers = []
    for k, order in enumerate((files, files[::-1])):
        db = tmp_path / f"p{k}.db"
        ingest([str(f) for f in order], db, workers=1)
        out = tmp_path / f"e{k}.csv"
        export(db, "csv", output=out)
        rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig")), delimiter=";"))
        assert len(rows) == 3 and all(r[rows[0].index("Quittance annulée")] == "oui" for r in rows[1:])
        headers.append(rows[0])
    assert headers[0] == headers[1]
    assert headers[0].index("Quittance annulée") < headers[0].index("Initiales agent")
