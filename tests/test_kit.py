"""The printed kit, read back as a scanner would: every fillable page rendered, QR codes decoded, ArUco markers
found where layout.json says, manifest QR codes decoded and parsed; determinism; recipes; atomic output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from papier.identity import decode_payload, new_kit_id
from papier.layout import mm_to_px
from papier.manifest import parse_manifest_payloads

DPIS = (150, 300)


def _render(pdf_path: Path, pdf_page: int, dpi: int) -> np.ndarray:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(pdf_path))
    try:
        img = doc[pdf_page - 1].render(scale=dpi / 72, grayscale=True).to_numpy()
    finally:
        doc.close()
    return img if img.ndim == 2 else img[..., 0]


@pytest.fixture(scope="module")
def renders(small_kit):
    """{(pdf_page, dpi): grey image} for every fillable page and every manifest page."""
    import pypdfium2 as pdfium

    pages = [p["pdf_page"] for p in small_kit.layout["pages"]]
    pages += [m["pdf_page"] for m in small_kit.layout["manifest_pages"]]
    out = {}
    doc = pdfium.PdfDocument(str(small_kit.pdf_path))
    try:
        for n in pages:
            for dpi in DPIS:
                img = doc[n - 1].render(scale=dpi / 72, grayscale=True).to_numpy()
                out[(n, dpi)] = img if img.ndim == 2 else img[..., 0]
    finally:
        doc.close()
    return out


def test_files_and_top_level(small_kit):
    assert small_kit.pdf_path == small_kit.out_dir / "kit.pdf" and small_kit.pdf_path.is_file()
    on_disk = json.loads(small_kit.layout_path.read_text(encoding="utf-8"))
    assert on_disk == small_kit.layout
    lay = small_kit.layout
    assert lay["schema"] == "papier.layout/1"
    assert lay["kit_id"] == small_kit.kit_id == "TESTKIT2"
    assert set(lay["known_values"]) >= {"familles", "documents"}
    assert len(lay["known_values"]["familles"]) == 700
    forms = {p["form"] for p in lay["pages"]}
    assert forms == {"naissance", "deces", "paiement", "pret", "retour", "main_courante"}
    for p in lay["pages"]:
        assert 1 <= p["serial"] <= 2 and p["register_pages"] == 2
        assert p["page_key"] == f"TESTKIT2-{p['form']}-{p['serial']:03d}"
    keys = [p["page_key"] for p in lay["pages"]]
    assert len(keys) == len(set(keys)) == 12
    # the summary says where things are, in French
    s = small_kit.summary()
    assert "kit.pdf" in s and "layout.json" in s and "page(s)" in s


def test_known_values_and_sum_of_referenced(small_kit):
    lay = small_kit.layout
    pay = next(p for p in lay["pages"] if p["form"] == "paiement")
    fields = {f["name"]: f for e in pay["entries"] for f in e["fields"]}
    assert fields["famille"]["known"] == "familles" and fields["famille"]["check"] == "luhn"
    assert fields["total"]["sum_of"] == "montant"
    pret = next(p for p in lay["pages"] if p["form"] == "pret")
    fields = {f["name"]: f for e in pret["entries"] for f in e["fields"]}
    assert fields["code_barres"]["known"] == "documents"
    from papier.checks import ean13_valid, luhn_valid

    assert all(luhn_valid(v) and len(v) == 5 for v in lay["known_values"]["familles"])
    assert all(ean13_valid(v) for v in lay["known_values"]["documents"])


@pytest.mark.parametrize("dpi", DPIS)
def test_every_fillable_page_reads_back(small_kit, renders, dpi):
    import cv2
    import zxingcpp

    detector = cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50))
    for p in small_kit.layout["pages"]:
        img = renders[(p["pdf_page"], dpi)]
        w_mm, h_mm = p["size_mm"]
        assert abs(img.shape[1] - mm_to_px(w_mm, dpi)) <= 2 and abs(img.shape[0] - mm_to_px(h_mm, dpi)) <= 2
        # both QR codes decode, carry the payload of layout.json, and sit where layout.json says
        found = [r for r in zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)]
        assert len(found) == 2, (p["page_key"], dpi)
        for r in found:
            assert r.text == p["qr_payload"]
            ident = decode_payload(r.text)
            assert (ident.form, ident.form_version, ident.kit_id, ident.serial) == \
                (p["form"], p["form_version"], small_kit.kit_id, p["serial"])
            assert ident.page_key == p["page_key"]
            assert r.ec_level in ("Q", "H")
        centres = sorted((r.position.top_left.x + r.position.bottom_right.x) / 2 for r in found)
        expected = sorted(mm_to_px(q["x"] + q["w"] / 2, dpi) for q in p["qr"])
        assert np.allclose(centres, expected, atol=mm_to_px(2.0, dpi))
        # the four ArUco markers, ids 0-3, at their printed places
        corners, ids, _ = detector.detectMarkers(img)
        assert ids is not None and sorted(ids.ravel().tolist()) == [0, 1, 2, 3], (p["page_key"], dpi)
        for c, i in zip(corners, ids.ravel()):
            fid = next(f for f in p["fiducials"] if f["id"] == i)
            got = c.reshape(4, 2).mean(axis=0)
            want = (mm_to_px(fid["x"] + fid["size"] / 2, dpi), mm_to_px(fid["y"] + fid["size"] / 2, dpi))
            assert np.hypot(*(got - want)) < mm_to_px(1.0, dpi), (p["page_key"], i)


@pytest.mark.parametrize("dpi", DPIS)
def test_manifest_qr_codes_decode_and_round_trip(small_kit, renders, dpi):
    import zxingcpp

    texts = []
    for m in small_kit.layout["manifest_pages"]:
        got = [r.text for r in zxingcpp.read_barcodes(renders[(m["pdf_page"], dpi)], formats=zxingcpp.BarcodeFormat.QRCode)]
        assert sorted(got) == sorted(q["payload"] for q in m["qr"]), (m["pdf_page"], dpi)
        texts += got
    man = parse_manifest_payloads(texts)
    assert man.kit_id == small_kit.kit_id
    assert man.known_values == small_kit.layout["known_values"]
    assert len(man.known_values["lecteurs"]) == 1200  # the readers' cards: the loan register's `known` set
    assert {(f["name"], f["version"]) for f in man.forms} == \
        {(f["name"], f["version"]) for f in small_kit.layout["forms"]}
    assert man.custom_forms == {}


def _strip_ids(layout: dict) -> dict:
    lay = json.loads(json.dumps(layout))
    for k in ("kit_id", "created", "manifest_pages"):
        lay.pop(k, None)
    for p in lay["pages"]:
        for k in ("page_key", "qr_payload"):
            p.pop(k)
    return lay


def _registers_only_recipe(tmp_path: Path) -> str:
    """The default registers without the long reference sections (faster tests)."""
    from importlib import resources

    text = (resources.files("print_kits") / "commune.toml").read_text(encoding="utf-8")
    text = text.replace('texts = "textes.toml"', 'texts = "textes.toml"\nsections = ["couverture", "registres"]')
    p = tmp_path / "registres.toml"
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_layout_identical_across_builds_and_keys_unique(tmp_path):
    from papier.kit import build_kit

    recipe = _registers_only_recipe(tmp_path)
    a = build_kit(tmp_path / "a", pages_per_register=1, recipe=recipe)
    b = build_kit(tmp_path / "b", pages_per_register=1, recipe=recipe)
    assert a.kit_id != b.kit_id
    assert _strip_ids(a.layout) == _strip_ids(b.layout)
    ka = {p["page_key"] for p in a.layout["pages"]}
    kb = {p["page_key"] for p in b.layout["pages"]}
    assert ka.isdisjoint(kb)
    # printed receipt numbers depend on the page only, never on the kit
    assert [p["entries"] for p in a.layout["pages"]] == [p["entries"] for p in b.layout["pages"]]


CUSTOM_FORM = """
format = "papier.form/1"
name = "cantine_bis"
version = 3
title = "Inscriptions cantine (formulaire communal)"
kind = "table"

[[fields]]
name = "date"
type = "digits"
label = "Date"
semantic = "date_ddmmyy"

[[fields]]
name = "famille"
type = "digits"
label = "N° de famille"
length = 5
check = "luhn"
known = "familles"

[[fields]]
name = "repas"
type = "choice"
label = "Repas"
options = [{ value = "standard", label = "Standard" }, { value = "sans_viande", label = "Sans viande" }]
"""


def test_recipe_with_custom_form_carries_it_in_the_manifest(tmp_path):
    from papier.kit import build_kit

    (tmp_path / "forms").mkdir()
    (tmp_path / "forms" / "cantine.toml").write_text(CUSTOM_FORM, encoding="utf-8")
    recipe = tmp_path / "petit.toml"
    recipe.write_text('format = "papier.kit/1"\nname = "petit"\ncommune = "Saint-Essai"\n'
                      'sections = ["couverture", "registres", "manifeste"]\n'
                      '[[registers]]\nform = "paiement"\npages = 2\n'
                      '[[registers]]\npath = "forms/cantine.toml"\npages = 3\n', encoding="utf-8")
    kid = new_kit_id()
    res = build_kit(tmp_path / "out", recipe=str(recipe), kit_id=kid)
    lay = res.layout
    assert [p["form"] for p in lay["pages"]] == ["paiement"] * 2 + ["cantine_bis"] * 3
    assert lay["commune"] == "Saint-Essai"
    assert {"name": "cantine_bis", "version": 3, "builtin": False, "pages": 3} in lay["forms"]
    payloads = [q["payload"] for m in lay["manifest_pages"] for q in m["qr"]]
    man = parse_manifest_payloads(payloads)
    form = man.custom_forms[("cantine_bis", 3)]
    assert form.title.startswith("Inscriptions cantine") and form.field("famille").check == "luhn"
    # a custom page reads back like any other
    import zxingcpp

    p = lay["pages"][-1]
    img = _render(res.pdf_path, p["pdf_page"], 150)
    assert {r.text for r in zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)} == {p["qr_payload"]}
    # and pages-per-register overrides the recipe
    res2 = build_kit(tmp_path / "out2", recipe=str(recipe), pages_per_register=1)
    assert len(res2.layout["pages"]) == 2


def test_default_recipe_is_sized_for_a_commune():
    from papier.kit import load_recipe

    rec = load_recipe(None)
    pages = {r.form.name: r.pages for r in rec.registers}
    assert set(pages) == {"naissance", "deces", "paiement", "pret", "retour", "main_courante"}
    assert pages["paiement"] >= 50 and pages["naissance"] >= 20 and pages["deces"] >= 20


def test_bad_recipes(tmp_path):
    from papier.errors import KitRecipeError
    from papier.kit import load_recipe

    cases = {
        'format = "papier.kit/9"\n': "format",
        'format = "papier.kit/1"\n': "aucun registre",
        'format = "papier.kit/1"\n[[registers]]\nform = "inconnu"\n': "inconnu",
        'format = "papier.kit/1"\n[[registers]]\nform = "paiement"\npages = 0\n': "pages",
        'format = "papier.kit/1"\n[[registers]]\nform = "paiement"\n[[registers]]\nform = "paiement"\n': "deux fois",
        'format = "papier.kit/1"\n[[registers]]\npath = "absent.toml"\n': "absent.toml",
    }
    for i, (text, needle) in enumerate(cases.items()):
        p = tmp_path / f"r{i}.toml"
        p.write_text(text, encoding="utf-8")
        with pytest.raises(KitRecipeError) as exc:
            load_recipe(str(p))
        assert needle in str(exc.value) and str(p) in str(exc.value)


def test_nothing_partial_left_behind(tmp_path):
    from papier.errors import InputDataError
    from papier.kit import build_kit

    bad = tmp_path / "familles.csv"
    bad.write_text("nom;prenom;numero_famille\nDUPONT;Jean;10026\nMARTIN;Anne;10026\n", encoding="utf-8")
    with pytest.raises(InputDataError):
        build_kit(tmp_path / "out", roster=str(bad), pages_per_register=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["familles.csv"]


def test_rebuild_into_existing_folder_replaces_files(tmp_path):
    from papier.kit import build_kit

    out = tmp_path / "kit"
    out.mkdir()
    (out / "notes.txt").write_text("à garder", encoding="utf-8")
    (out / "kit.pdf").write_bytes(b"old")
    res = build_kit(out, pages_per_register=1, recipe=_registers_only_recipe(tmp_path))
    assert (out / "notes.txt").read_text(encoding="utf-8") == "à garder"
    assert (out / "kit.pdf").read_bytes()[:5] == b"%PDF-"
    assert json.loads((out / "layout.json").read_text(encoding="utf-8"))["kit_id"] == res.kit_id
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kit", "registres.toml"]


def test_prose_pages_in_order_and_text(small_kit):
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(small_kit.pdf_path))
    try:
        texts = [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    finally:
        doc.close()
    first_register = min(p["pdf_page"] for p in small_kit.layout["pages"])
    head = "\n".join(texts[: first_register - 1])
    assert "DIFFUSION RESTREINTE" in texts[0] and "TESTKIT2" in texts[0] and "Commune de test" in texts[0]
    order = ["Comment utiliser ce kit", "Les premières heures", "Annuaire de crise", "Comment remplir les registres"]
    pos = [head.index(t, len(texts[0])) for t in order]
    assert pos == sorted(pos)
    for needle in ("copie n°", "CNIL", "72 heures", "Ne pas éteindre", "plainte", "sauvegardes hors ligne",
                   "À ÉVITER", "BIEN"):
        assert needle.lower() in head.lower(), needle
    tail = "\n".join(texts[max(p["pdf_page"] for p in small_kit.layout["pages"]):])
    assert "Liste des familles" in tail and "Catalogue de la médiathèque" in tail and "Manifeste du kit" in tail
    assert "scannez cette page avec les registres" in tail.lower()
    fam = small_kit.layout["known_values"]["familles"][0]
    assert fam in tail


def test_layout_pages_equal_page_json(small_kit):
    """kit.py shares the geometry between the pages of a register: the result must equal layout.page_json."""
    from papier.forms import builtin_form
    from papier.identity import PageIdentity
    from papier.layout import layout_form, page_json

    for p in small_kit.layout["pages"]:
        lay = layout_form(builtin_form(p["form"], p["form_version"]))
        ident = PageIdentity(p["form"], p["form_version"], small_kit.kit_id, p["serial"])
        want = page_json(lay, ident.page_key, p["pdf_page"], ident.encode(), small_kit.kit_id, p["serial"],
                         p["register_pages"])
        assert json.loads(json.dumps(want)) == p
