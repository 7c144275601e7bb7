"""A custom-form page scanned before its kit's manifest page: read again at the end of the batch (second pass)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import cv2
import pytest

CUSTOM_FORM = """
format = "papier.form/1"
name = "cantine_ter"
version = 2
title = "Inscriptions cantine (formulaire communal)"
kind = "table"

[[fields]]
name = "date"
type = "digits"
label = "Date"
semantic = "date_ddmmyy"

[[fields]]
name = "repas"
type = "choice"
label = "Repas"
options = [{ value = "standard", label = "Standard" }, { value = "sans_viande", label = "Sans viande" }]
"""


def _render(pdf_path: Path, pdf_page: int, dpi: int):
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(pdf_path))
    try:
        img = doc[pdf_page - 1].render(scale=dpi / 72, grayscale=True).to_numpy()
    finally:
        doc.close()
    return img if img.ndim == 2 else img[..., 0]


@pytest.fixture(scope="module")
def custom_scans(tmp_path_factory):
    from papier.kit import build_kit

    tmp = tmp_path_factory.mktemp("manifest")
    (tmp / "forms").mkdir()
    (tmp / "forms" / "cantine.toml").write_text(CUSTOM_FORM, encoding="utf-8")
    recipe = tmp / "petit.toml"
    recipe.write_text('format = "papier.kit/1"\nname = "petit"\ncommune = "Saint-Essai"\n'
                      'sections = ["registres", "manifeste"]\n'
                      '[[registers]]\npath = "forms/cantine.toml"\npages = 1\n', encoding="utf-8")
    res = build_kit(tmp / "kit", recipe=str(recipe), kit_id="MANIFSTA")
    lay = res.layout
    scans = tmp / "scans"
    scans.mkdir()
    page = next(p for p in lay["pages"] if p["form"] == "cantine_ter")
    cv2.imwrite(str(scans / "a_cantine.png"), _render(res.pdf_path, page["pdf_page"], 150))
    for i, m in enumerate(lay["manifest_pages"]):
        cv2.imwrite(str(scans / f"b_manifeste_{i}.png"), _render(res.pdf_path, m["pdf_page"], 150))
    return scans, page["page_key"]


def _pages(db: Path) -> list[tuple]:
    c = sqlite3.connect(db)
    try:
        return c.execute("SELECT seq, source, status, page_key FROM pages ORDER BY seq").fetchall()
    finally:
        c.close()


def test_custom_page_before_its_manifest_is_read_at_the_end_of_the_batch(custom_scans, tmp_path):
    from scan_ingest.pipeline import ingest

    scans, key = custom_scans
    db = tmp_path / "p.db"
    rep = ingest([str(scans)], db_path=db, workers=1)
    rows = _pages(db)
    first = rows[0]
    assert first[1].endswith("a_cantine.png") and first[2] == "identified" and first[3] == key, rows
    assert rep.statuses["unidentified"] == 0 and not rep.problems, rep.summary()
    c = sqlite3.connect(db)
    assert c.execute("SELECT count(*) FROM sheets WHERE page_key = ?", [key]).fetchone()[0] == 1
    c.close()
    # idempotent: the same batch again changes nothing
    before = _pages(db)
    ingest([str(scans)], db_path=db, workers=1)
    assert _pages(db) == before


def test_custom_page_alone_stays_unidentified_then_manifest_in_a_later_batch(custom_scans, tmp_path):
    from scan_ingest.pipeline import ingest

    scans, key = custom_scans
    db = tmp_path / "p.db"
    rep = ingest([str(scans / "a_cantine.png")], db_path=db, workers=1)
    assert rep.statuses["unidentified"] == 1 and "manifeste" in rep.problems[0][2]
    assert _pages(db)[0][2] == "unidentified"
    manif = sorted(str(p) for p in scans.glob("b_manifeste_*.png"))
    ingest(manif, db_path=db, workers=1)
    rows = _pages(db)
    assert rows[0][2] == "identified" and rows[0][3] == key, rows
