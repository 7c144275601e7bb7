"""The simulator's truth must be exact: valid values, right image sizes, readable QR codes, consistent outage."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from papier.checks import ean13_valid, luhn_valid, parse_date, time_valid
from papier.simulate import PROFILES, degrade, fill_page, make_values, read_truth, render_pages, simulate_batch
from papier.simulate.ink import make_writer

A4_MM = (210.0, 297.0)


def _px(mm: float, dpi: float) -> int:
    return int(round(mm / 25.4 * dpi))


OUTSIDE: list[str] = []


def _check_digits(f: dict, v: str, known: dict) -> None:
    assert v.isdigit() and 1 <= len(v) <= len(f["boxes"]), (f["name"], v)
    sem = f.get("semantic")
    if sem and sem.startswith("date_"):
        assert parse_date(v, sem) is not None, (f["name"], v)
    if sem == "time_hhmm":
        assert time_valid(v), (f["name"], v)
    if sem == "amount_cents":
        assert 0 < int(v) <= 9_999_999, (f["name"], v)
    if f.get("check") == "luhn":
        assert luhn_valid(v), (f["name"], v)
    if f.get("check") == "ean13":
        assert ean13_valid(v), (f["name"], v)
    if f.get("known") and v not in known[f["known"]]:
        # a family / an item absent from the printed list (OUTSIDE_KNOWN_SHARE): one digit of the body away from a
        # printed value, its check digit right
        near = [k for k in known[f["known"]] if len(k) == len(v) and sum(a != b for a, b in zip(k[:-1], v[:-1])) == 1]
        assert near, (f["name"], v)
        OUTSIDE.append(v)


def _check_entry_values(entry: dict, vals: dict, known: dict) -> None:
    fields = {f["name"]: f for f in entry["fields"]}
    assert set(vals) == set(fields)
    for name, v in vals.items():
        f = fields[name]
        t = f["type"]
        if t == "choice":
            assert v is None or v in [o["value"] for o in f["options"]]
        elif t == "multi":
            assert isinstance(v, list) and set(v) <= {o["value"] for o in f["options"]}
        elif t == "checkbox":
            assert isinstance(v, bool)
        elif t == "text":
            assert v is None or (isinstance(v, str) and v.strip())
        elif t == "digits" and v is not None:
            _check_digits(f, v, known)


def _check_total(page: dict, values: dict) -> None:
    page_entry = next(e for e in page["entries"] if e["kind"] == "page")
    for f in page_entry["fields"]:
        src = f.get("sum_of")
        if not src:
            continue
        lines = [v for r, v in values.items() if r != page_entry["row"] and v.get(src)]
        expected = sum(int(v[src]) for v in lines if not any(v.get(k) is True for k in v if k.startswith("annul")))
        got = values.get(page_entry["row"], {}).get(f["name"])
        if lines:
            assert got is not None and int(got) == expected
        else:
            assert got is None


def test_make_values_valid(small_kit):
    layout = small_kit.layout
    known = layout["known_values"]
    rng = np.random.default_rng(0)
    OUTSIDE.clear()
    n_lines = 0
    for page in layout["pages"]:
        for _ in range(8):
            values = make_values(page, known, rng, fill_rate=0.8, scenario={"copy": int(rng.integers(0, 3))})
            entries = {e["row"]: e for e in page["entries"]}
            for row, vals in values.items():
                _check_entry_values(entries[row], vals, known)
                n_lines += 1
            _check_total(page, values)
            # payments: CESU never for school meals; a cheque number only with a cheque
            for vals in values.values():
                if page["form"] == "paiement" and vals.get("service"):
                    assert not (vals["service"] == "restauration" and vals["mode"] == "cesu")
                    assert (vals["cheque"] is not None) == (vals["mode"] == "cheque")
    assert n_lines > 50
    assert 0 < len(OUTSIDE) < 0.1 * n_lines  # a few values outside the known sets, never many


def test_fill_page_truth_and_heldout_digits(small_kit):
    from papier.digits.data import heldout_indices

    layout = small_kit.layout
    page = next(p for p in layout["pages"] if p["form"] == "paiement")
    rng = np.random.default_rng(3)
    dpi = 150
    img = next(render_pages(small_kit.pdf_path, [page["pdf_page"]], dpi))
    assert img.shape == (_px(A4_MM[1], dpi), _px(A4_MM[0], dpi))
    values = make_values(page, layout["known_values"], rng, fill_rate=1.0)
    out, info = fill_page(img, page, values, dpi, rng, styles={"ambiguous_rate": 0.3})
    assert out.shape == img.shape and out.dtype == np.uint8
    assert (out < img.astype(int) - 30).sum() > 2000  # ink was laid down
    held = set(int(i) for i in heldout_indices())
    used = [i for row in info["digits"].values() for idx in row.values() for i in idx]
    assert used and set(used) <= held
    entries = {e["row"]: e for e in page["entries"]}
    for row, vals in info["values"].items():
        _check_entry_values(entries[row], vals, layout["known_values"])
        for name in info["ambiguous"].get(row, []):
            assert next(f for f in entries[row]["fields"] if f["name"] == name)["type"] in ("choice", "multi",
                                                                                          "checkbox")
    _check_total(page, info["values"])


@pytest.mark.parametrize("profile", ["scanner_300", "scanner_200", "scanner_150_jpeg", "photocopy", "upside_down",
                                     "fax", "phone_photo", "phone_photo_sent", "phone_photo_oblique",
                                     "phone_photo_dim"])
def test_degrade_size_and_qr(small_kit, profile):
    import zxingcpp

    p = PROFILES[profile]
    if p.photo:  # same processing, a smaller photo (keeps the test fast)
        p = dataclasses.replace(p, dpi=200, photo_width=2000)
    page = next(pg for pg in small_kit.layout["pages"] if pg["form"] == "pret")
    rng = np.random.default_rng(11)
    img = next(render_pages(small_kit.pdf_path, [page["pdf_page"]], p.dpi))
    values = make_values(page, small_kit.layout["known_values"], rng)
    filled, _ = fill_page(img, page, values, p.dpi, rng, styles={"writer": make_writer(rng, "blue")})
    out = degrade(filled, p, rng)
    if p.send_long_px:  # resized by the messaging app
        assert out.ndim == 3 and max(out.shape[:2]) == p.send_long_px
        gray = out.mean(axis=2).astype(np.uint8)
    elif p.photo:
        assert out.ndim == 3 and out.shape[1] == p.photo_width
        gray = out.mean(axis=2).astype(np.uint8)
    else:
        assert out.shape == (_px(A4_MM[1], p.dpi), _px(A4_MM[0], p.dpi))
        gray = out
    if p.fax:
        assert set(np.unique(out)) <= {0, 255}
    texts = {r.text for r in zxingcpp.read_barcodes(gray)}
    if profile != "fax":  # a fax may lose a code; the reader has two per page
        assert page["qr_payload"] in texts


def test_simulate_batch_pdf_with_extras(small_kit, tmp_path):
    import pypdfium2 as pdfium

    truth_path = simulate_batch(small_kit.out_dir, tmp_path / "batch", profile="scanner_200", n_pages=5, seed=2,
                                extras=True)
    truth = read_truth(truth_path)
    pages = [t for t in truth if t["type"] == "page"]
    assert len(pages) == 8
    pdf = pdfium.PdfDocument(str(tmp_path / "batch" / pages[0]["source"]))
    assert len(pdf) == 8
    assert [p["index"] for p in pages] == list(range(1, 9))
    assert sum(p["expect"] == "unidentified" for p in pages) == 1
    assert sum(bool(p.get("foreign_kit")) for p in pages) == 1
    assert sum(p["upside_down"] for p in pages if "upside_down" in p) == 1
    keys = [(p["page_key"], p["copy"]) for p in pages if p["page_key"]]
    assert len(keys) == len(set(keys))  # every sheet is a different sheet (page key, copy)
    by_key = {p["page_key"]: p for p in small_kit.layout["pages"]}
    entries = [t for t in truth if t["type"] == "entry"]
    assert entries
    for e in entries:
        page = by_key.get(e["page_key"])
        if page is None:
            continue  # the other kit's page
        entry = next(x for x in page["entries"] if x["row"] == e["row"])
        _check_entry_values(entry, e["fields"], small_kit.layout["known_values"])
        assert set(e["ambiguous"]) <= set(e["fields"])
        assert e["kind"] == entry["kind"]
    # the rendered scan has the page's size at the profile's dpi (±1 px of PDF rounding)
    img = pdf[0].render(scale=200 / 72).to_numpy()
    assert abs(img.shape[0] - _px(297, 200)) <= 1 and abs(img.shape[1] - _px(210, 200)) <= 1


def test_simulate_batch_fax_tiff(small_kit, tmp_path):
    from PIL import Image

    truth_path = simulate_batch(small_kit.out_dir, tmp_path / "fax", profile="fax", n_pages=2, seed=1, fmt="tiff")
    pages = [t for t in read_truth(truth_path) if t["type"] == "page"]
    im = Image.open(tmp_path / "fax" / pages[0]["source"])
    assert im.n_frames == 2 and im.mode == "1"
    assert im.info.get("compression") == "group4"


def test_outage_consistent(small_kit, tmp_path):
    from papier.simulate.outage import simulate_outage

    truth_path = simulate_outage(small_kit.out_dir, tmp_path / "outage", weeks=2, seed=4,
                                 profile="scanner_150_jpeg")
    truth = read_truth(truth_path)
    scenario = json.loads((tmp_path / "outage" / "scenario.json").read_text(encoding="utf-8"))
    entries = {(t["page_key"], t["copy"], t["row"]): t for t in truth if t["type"] == "entry" and not t.get("rescan")}
    assert scenario["payments"] and scenario["loans"] and scenario["log"]
    receipts = set()
    for pay in scenario["payments"]:
        key = (pay["page_key"], pay["copy"], pay["row"])
        receipts.add((pay["receipt"], pay["copy"]))
        if not pay["scanned"]:
            assert key not in entries
            continue
        f = entries[key]["fields"]
        assert f["famille"] == pay["famille"] and int(f["montant"]) == pay["amount_cents"]
        assert parse_date(f["date"], "date_ddmmyy").isoformat() == pay["date"]
        assert f["annulee"] is pay["cancelled"] and f["mode"] == pay["mode"] and f["cheque"] == pay["cheque"]
        assert entries[key]["printed"]["quittance"] == pay["receipt"]
    assert len(receipts) == len(scenario["payments"])  # (receipt, copy) identifies a payment line
    assert sum(1 for p in scenario["payments"] if p["cancelled"]) >= 0
    assert scenario["rescanned"] and len(scenario["rescanned"]) == 1
    for loan in scenario["loans"]:
        if loan["scanned"]:
            f = entries[(loan["page_key"], loan["copy"], loan["row"])]["fields"]
            assert f["code_barres"] == loan["code_barres"] and f["rendu"] is (loan["returned"] is not None)
    pages = [t for t in truth if t["type"] == "page" and not t.get("manifest")]
    assert sum(1 for p in pages if p.get("rescan_of")) == 1
    assert len(pages) == sum(1 for p in scenario["pages"] if p["scanned"]) + 1
    # the kit's manifest pages are scanned too, in a lot of their own
    manifest = [t for t in truth if t["type"] == "page" and t.get("manifest")]
    assert len(manifest) == len(small_kit.layout["manifest_pages"]) > 0
    assert all(t["source"].startswith("lot0_manifeste.") for t in manifest)
    # every payment page of the truth has its control total = sum of lines not cancelled
    layout = {p["page_key"]: p for p in small_kit.layout["pages"]}
    by_sheet: dict = {}
    for t in truth:
        if t["type"] == "entry" and t["form"] == "paiement" and not t.get("rescan"):
            by_sheet.setdefault((t["page_key"], t["copy"]), {})[t["row"]] = t["fields"]
    assert by_sheet
    for (key, _copy), values in by_sheet.items():
        _check_total(layout[key], values)


def test_blurred_photo_is_softer_than_a_photo(small_kit):
    """phone_photo_blurred (a moving hand, the focus not settled) keeps the photo's size and blurs the print: the
    page's strongest edges are much weaker than on the same page photographed with the plain photo profile."""
    page = next(pg for pg in small_kit.layout["pages"] if pg["form"] == "paiement")
    img = next(render_pages(small_kit.pdf_path, [page["pdf_page"]], 200))
    edges = {}
    for name in ("phone_photo", "phone_photo_blurred"):
        p = dataclasses.replace(PROFILES[name], dpi=200, photo_width=2000)
        out = degrade(img, p, np.random.default_rng(3))
        assert out.ndim == 3 and out.shape[1] == 2000
        gray = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY).astype(np.float32)
        grad = np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
        edges[name] = float(np.quantile(grad, 0.999))
    assert edges["phone_photo_blurred"] < 0.6 * edges["phone_photo"], edges


def test_punched_page_has_binder_holes_where_iso_838_puts_them(small_kit):
    """scanner_200_punched: 2 or 4 holes 6 mm across, 80 mm apart, 12 ± 2.5 mm from the left edge, centred on the
    sheet's height ± 3 mm; dark (a feeder's background) or light with a thin rim (a flatbed's lid)."""
    from papier.simulate.degrade import _punch

    page = next(pg for pg in small_kit.layout["pages"] if pg["form"] == "paiement")
    img = next(render_pages(small_kit.pdf_path, [page["pdf_page"]], 200))
    mm = 200 / 25.4
    counts, shades = set(), set()
    for seed in range(8):
        out = _punch(img, 200, np.random.default_rng(seed))
        changed = (out.astype(int) - img.astype(int)) != 0
        assert not changed[:, int(17.5 * mm):].any()  # nothing beyond the binder's margin
        n, lab, st, cen = cv2.connectedComponentsWithStats(changed.astype(np.uint8))
        holes = [i for i in range(1, n) if st[i, cv2.CC_STAT_AREA] > 0.5 * mm * mm]
        counts.add(len(holes))
        ys = sorted(cen[i][1] / mm for i in holes)
        assert all(abs(b - a - 80) < 0.5 for a, b in zip(ys, ys[1:])), ys
        assert abs(np.mean(ys) - img.shape[0] / mm / 2) <= 3.2
        for i in holes:
            assert 5.3 <= st[i, cv2.CC_STAT_WIDTH] / mm <= 6.8 and 9.0 <= cen[i][0] / mm <= 14.5
        shades.add(bool(out[changed].mean() < 128))
    assert counts == {2, 4} and shades == {True, False}
