"""The « copie n° » box: a digit the writing-zone test does not see (pencil dithered into dots by a fax) must make
the copy number unsure (review), never 0 — taking a copy for the original would merge two different sheets.
Real rendered pages, the simulator's pencil and fax, a real ingest; no mocks."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from papier.forms import builtin_form
from papier.layout import layout_form
from papier.simulate.degrade import degrade
from papier.simulate.ink import fill_page, make_writer
from scan_ingest import marks as mk
from scan_ingest import testing as T
from scan_ingest.model import EntryResult, FieldResult
from scan_ingest.pipeline import ingest
from scan_ingest.read import _copy_box_trace, _copy_number
from scan_ingest.thresholds import ALIGN_PX_PER_MM, COPY_TRACE_MM2

K = ALIGN_PX_PER_MM


@pytest.fixture(scope="module")
def aligned_page(small_kit):
    return T.aligned_render(small_kit, "paiement")


def _blank_copie(row: int) -> list[EntryResult]:
    f = FieldResult("copie", "digits", "", "auto", 0.99, [], None, False)
    return [EntryResult(row, "page", {}, False, [f])]


def test_dotted_digit_is_invisible_to_the_zone_test_but_makes_the_copy_unsure(aligned_page):
    layout, page = aligned_page
    f = layout.page_entry.field("copie")
    b = f.boxes[-1]
    img = page.copy()
    # a "2" as a fax leaves a pencil stroke: isolated dots (one pixel, every other pixel) along the stroke
    t = np.linspace(0, 1, 60)
    xs = np.r_[b.x + 1.2 + 2.6 * t[:30] / 0.5 * 0.5, b.x + 1.2 + 2.6 * t[30:]]
    ys = np.r_[b.y + 1.5 + 2.0 * t[:30] * 2, np.full(30, b.y + 5.5)]
    for x, y in zip(xs, ys):
        px, py = int(x * K) // 2 * 2, int(y * K) // 2 * 2
        img[py, px] = 0
    dark = mk.darkness(img)
    assert mk.ink_verdict(mk.ink_area_mm2(dark, mk.field_zones(f))) == "blank"  # why it went silent
    trace = _copy_box_trace(dark, layout)
    assert trace >= COPY_TRACE_MM2
    entries = _blank_copie(layout.page_entry.row)
    assert _copy_number(entries, trace) is None
    fr = entries[-1].fields[0]
    assert fr.status == "review" and fr.has_ink and entries[-1].has_ink
    assert "copie" in fr.reason and "original" in fr.reason
    # the blank page: no trace at all, the original
    assert _copy_box_trace(mk.darkness(page), layout) == 0.0
    assert _copy_number(_blank_copie(layout.page_entry.row), 0.0) == 0


def _pale_copy_number(aligned_page, text: str, box: int, at: tuple[float, float], scale: float, width: float,
                      paleness: float):
    """The aligned page with `text` written in the copy box `box` (at (dx, dy from its foot) mm), blurred and made
    `paleness` darker than paper at most: (layout, its darkness, the pale pixels the copy rule counts). Checks it is
    invisible to the zone test, the trace and the edge test (why such a digit went silent)."""
    import cv2

    from scan_ingest import read as R

    layout, page = aligned_page
    f = layout.page_entry.field("copie")
    b = f.boxes[box]
    img = page.copy()
    ink = np.zeros_like(img)
    cv2.putText(ink, text, (int((b.x + at[0]) * K), int((b.y + b.h - at[1]) * K)), cv2.FONT_HERSHEY_SIMPLEX,
                scale * K, 255, max(1, int(width * K)))
    ink = cv2.GaussianBlur(ink, (0, 0), 0.6 * K).astype(np.float32) / 255.0
    img = (img.astype(np.float32) * (1.0 - paleness * ink / max(float(ink.max()), 1e-6))).astype(np.uint8)
    dark = mk.darkness(img)
    assert mk.ink_verdict(mk.ink_area_mm2(dark, mk.field_zones(f))) == "blank"
    assert _copy_box_trace(dark, layout) < COPY_TRACE_MM2 and not R._copy_edge_ink(dark, layout)
    return layout, dark, R._copy_box_faint(dark, layout)


def test_a_digit_a_blur_made_pale_makes_the_copy_unsure(aligned_page, monkeypatch):
    """A "6" on a blurred photo (bench seed 11, written low across the box's foot): darker than paper but paler than
    the ink threshold everywhere, so neither the zone test nor the trace sees it; its pale pixels do."""
    from scan_ingest import read as R

    layout, _, faint = _pale_copy_number(aligned_page, "6", 0, (1.2, 1.2), 0.2, 0.5, 0.18)
    entries = _blank_copie(layout.page_entry.row)
    assert _copy_number(entries, 0.0, False, False, faint) is None
    assert "pâle" in entries[-1].fields[0].reason
    assert R._copy_box_faint(mk.darkness(aligned_page[1]), layout) == 0  # the blank box: the original
    monkeypatch.setattr(R, "COPY_FAINT_PX", 10 ** 9)  # the rule off: taken for the original
    assert _copy_number(_blank_copie(layout.page_entry.row), 0.0, False, False, faint) == 0


def test_a_paler_pencil_digit_still_makes_the_copy_unsure(aligned_page):
    """A pencil "3" on a blurred photo (bench seed 14, 240 pages): 51 pale pixels, under session 21's 60, and the
    sheet was taken for the original (flagged only as a conflict with it). Blank copy boxes of 17 profiles of that
    seed: at most 22. A thin, pale "3" drawn here leaves a count between the two thresholds."""
    layout, _, faint = _pale_copy_number(aligned_page, "3", -1, (1.0, 1.8), 0.16, 0.3, 0.105)
    assert faint < 60  # what session 21's threshold let through
    entries = _blank_copie(layout.page_entry.row)
    assert _copy_number(entries, 0.0, False, False, faint) is None
    assert "pâle" in entries[-1].fields[0].reason


def test_pencil_copy_number_through_a_fax_is_never_read_as_the_original(small_kit, tmp_path):
    p = T.find_page(small_kit.out_dir, "paiement", 1)
    blank = T.render(small_kit.pdf_path, p["pdf_page"], 200)
    row = max(e["row"] for e in p["entries"])
    images, written = [], []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        w = make_writer(rng, "pencil")
        w = type(w)(**{**w.__dict__, "ink": 125.0})  # the lightest pencil the simulator draws
        img, _ = fill_page(blank, p, {row: {"copie": "2"}}, 200, rng, styles={"writer": w})
        images.append(degrade(img, "fax", rng))
    # plus one page with no copy number (the original)
    images.append(degrade(blank, "fax", np.random.default_rng(99)))
    tif = T.save_tiff(images, tmp_path / "fax.tif")
    ingest([str(tif)], db_path=tmp_path / "p.db", workers=1)
    c = sqlite3.connect(tmp_path / "p.db")
    rows = c.execute("SELECT idx, copy, status FROM pages ORDER BY idx").fetchall()
    assert len(rows) == 7
    for idx, copy, status in rows[:-1]:
        assert copy != 0, (idx, copy, status)
    # the original's empty box proves nothing on a fax either (a pale digit can vanish without a pixel left):
    # a person confirms it (test_an_empty_copy_box_on_a_binarised_capture_proves_nothing)
    assert rows[-1][1] is None


def test_the_benchmark_fax_page_with_a_pencil_2_goes_to_review(tmp_path):
    """tests/resources/fax_copie_crayon_2.png: page 63 of bench_scan's fax run (83 pages, seed 1; kit BENCHKIT,
    deces-001, copy 2 written in pencil), kept as the fax gave it (bilevel). It was stored as copy 0 — the
    original — silently: the fax had dithered the pencil "2" into dots that the writing-zone test removes."""
    from pathlib import Path

    page = Path(__file__).parent / "resources" / "fax_copie_crayon_2.png"
    ingest([str(page)], db_path=tmp_path / "p.db", workers=1)
    c = sqlite3.connect(tmp_path / "p.db")
    (copy, status), = c.execute("SELECT copy, status FROM pages").fetchall()
    assert status == "identified" and copy is None
    st, ink, reason, snippet = c.execute(
        "SELECT f.status, f.has_ink, f.reason, f.snippet FROM fields f WHERE f.name = 'copie'").fetchone()
    # the reader now sees the dotted digit too (scan_ingest.read._digit_trace_mm2) and says why it hesitates
    assert st == "review" and ink == 1 and reason and snippet


def test_an_empty_copy_box_on_a_binarised_capture_proves_nothing(small_kit, aligned_page):
    """Bench (session 6, seed 1): on a fax, a pencil « 1 » in the copy box left no pixel at all and the copy was
    stored as the original. On a binarised capture an empty copy box goes to review; on a grey one it is the
    original."""
    from scan_ingest.read import _copy_box_binarised

    layout, page = aligned_page
    assert not _copy_box_binarised(page, layout)
    faxed = degrade(np.ascontiguousarray(page), "fax", np.random.default_rng(3))
    if faxed.shape != page.shape:  # the fax profile resamples: back to the aligned frame
        import cv2
        faxed = cv2.resize(faxed, (page.shape[1], page.shape[0]), interpolation=cv2.INTER_NEAREST)
    assert _copy_box_binarised(faxed, layout)
    entries = _blank_copie(layout.page_entry.row)
    assert _copy_number(entries, 0.0, binarised=True) is None
    fr = entries[-1].fields[0]
    assert fr.status == "review" and fr.has_ink and "fax" in fr.reason and "original" in fr.reason
    assert _copy_number(_blank_copie(layout.page_entry.row), 0.0, binarised=False) == 0


def test_binarised_is_the_readers_own_capture_flag():
    from papier.digits import binarised, heldout_indices, load_handwriting
    from papier.digits.preprocess import prepare
    from papier.digits.render import labelled_crop

    rng = np.random.default_rng(11)
    images, labels = load_handwriting()
    i = heldout_indices()[:10]
    profiles = ("fax", "scanner200", "photo")
    written = np.stack([labelled_crop(rng, p, images[j], int(labels[j]))[0] for p in profiles for j in i])
    assert binarised(written).tolist() == prepare(written).flat.tolist()
    # empty boxes, what the copy box rule looks at: every fax one binarised, no grey one
    empty = np.stack([labelled_crop(rng, p, None, None, mark="blank")[0] for p in profiles for _ in range(10)])
    flags = binarised(empty)
    assert flags.tolist() == prepare(empty).flat.tolist()
    assert flags[:10].all() and not flags[10:].any()


def test_dotted_digit_in_a_line_field_is_read_not_stored_blank(aligned_page):
    """The same fax-dithered pencil in a line's digit field (a payment's amount): the zone test alone would call
    it blank; the pixel trace sends the field to the digit reader, so it is never silently empty."""
    from scan_ingest.read import _digit_trace_mm2

    layout, page = aligned_page
    f = next(g for g in layout.line_entries[0].fields if g.name == "montant")
    b = f.boxes[2]
    img = page.copy()
    for k in range(40):  # a vertical "1" as dots, every other pixel
        px, py = int((b.x + b.w / 2) * K) // 2 * 2, int((b.y + 1.0) * K + 2 * k * 0.5) // 2 * 2
        img[py, px] = 0
    dark = mk.darkness(img)
    assert mk.ink_verdict(mk.ink_area_mm2(dark, mk.field_zones(f))) == "blank"
    assert _digit_trace_mm2(dark, f) >= COPY_TRACE_MM2
    assert _digit_trace_mm2(mk.darkness(page), f) == 0.0


def _written_copie(row: int, value: str, confidence: float) -> list[EntryResult]:
    f = FieldResult("copie", "digits", value, "auto", confidence, [], None, True)
    return [EntryResult(row, "page", {}, True, [f])]


def test_a_copy_number_is_a_sheet_identity_accepted_only_when_nearly_certain():
    from scan_ingest.thresholds import COPY_CONFIDENCE

    sure = _written_copie(9, "3", COPY_CONFIDENCE)
    assert _copy_number(sure) == 3 and sure[-1].fields[0].status == "auto"
    # the digit reader's own threshold for plain numbers (0.998) is not enough for an identity
    merely = _written_copie(9, "3", 0.9985)
    assert _copy_number(merely) is None
    fr = merely[-1].fields[0]
    assert fr.status == "review" and fr.value == "3" and "copie" in fr.reason


def _one_on_the_left_line(img: np.ndarray, b, dpi: float, ink: int = 40) -> None:
    """A "1" drawn over the first copy box's left line (0.4 mm left of it, 5 mm tall, a 0.5 mm stroke)."""
    import cv2

    px = dpi / 25.4
    x = int(round((b.x - 0.4) * px))
    cv2.line(img, (x + int(0.5 * px), int(round((b.y + 1.0) * px))), (x, int(round((b.y + 6.0) * px))), ink,
             max(1, int(round(0.5 * px))))


def test_a_copy_number_on_the_box_line_is_never_the_original(aligned_page):
    """Bench (session 6, seed 1, phone photo): a « 1 » drawn over the first box's left line left nothing inside
    the boxes and the sheet was stored as the original. The ink on the boxes' edges (not the print) now makes the
    copy number unsure."""
    from scan_ingest.read import _copy_edge_ink, _off_print_ink_mm2
    from scan_ingest.thresholds import COPY_EDGE_MM2

    layout, page = aligned_page
    f = layout.page_entry.field("copie")
    img = page.copy()
    _one_on_the_left_line(img, f.boxes[0], K * 25.4)
    dark = mk.darkness(img)
    assert mk.ink_verdict(mk.ink_area_mm2(dark, mk.field_zones(f))) == "blank"  # why it went silent
    assert _copy_box_trace(dark, layout) < COPY_TRACE_MM2
    assert _off_print_ink_mm2(dark, f) >= COPY_EDGE_MM2
    assert _copy_edge_ink(dark, layout)
    entries = _blank_copie(layout.page_entry.row)
    assert _copy_number(entries, 0.0, edge_ink=True) is None
    fr = entries[-1].fields[0]
    assert fr.status == "review" and "bord" in fr.reason and "original" in fr.reason
    # the printed boxes and their label alone are not ink on the edges
    assert _off_print_ink_mm2(mk.darkness(page), f) == 0.0 and not _copy_edge_ink(mk.darkness(page), layout)


def test_a_pencil_copy_number_along_a_box_line_is_never_the_original(aligned_page):
    """Bench (session 7, scanner_300, seed 4): a pencil « 1 » drawn along the second box's right line, over the
    print: nothing inside the boxes, nothing beside the line; the line is wider there."""
    import cv2

    from scan_ingest.read import _copy_edge_ink, _line_widening_mm, _off_print_ink_mm2
    from scan_ingest.thresholds import COPY_EDGE_MM2, COPY_LINE_RUN_MM

    layout, page = aligned_page
    f = layout.page_entry.field("copie")
    b = f.boxes[-1]
    img = page.copy()
    x = int(round((b.x + b.w - 0.1) * K))
    cv2.line(img, (x, int(round((b.y + 1.5) * K))), (x, int(round((b.y + b.h - 1.0) * K))), 120, 4)  # pencil grey
    dark = mk.darkness(img)
    assert mk.ink_verdict(mk.ink_area_mm2(dark, mk.field_zones(f))) == "blank"
    assert _copy_box_trace(dark, layout) < COPY_TRACE_MM2 and _off_print_ink_mm2(dark, f) < COPY_EDGE_MM2
    assert _line_widening_mm(dark, f) >= COPY_LINE_RUN_MM
    assert _copy_edge_ink(dark, layout)
    assert _line_widening_mm(mk.darkness(page), f) == 0.0


@pytest.mark.parametrize("profile", ["scanner_200", "photocopy", "phone_photo"])
def test_copy_number_on_the_line_through_a_real_ingest(small_kit, tmp_path, profile):
    """Through the whole pipeline on degraded captures: the sheet with a « 1 » over the box line goes to review,
    the blank original (same capture) stays the original: the edge measure does not take the print for ink."""
    p = T.find_page(small_kit.out_dir, "paiement", 1)
    blank = T.render(small_kit.pdf_path, p["pdf_page"], 200)
    layout = layout_form(builtin_form("paiement"))
    written = blank.copy()
    _one_on_the_left_line(written, layout.page_entry.field("copie").boxes[0], 200)
    rng = np.random.default_rng(5)
    images = [degrade(written, profile, rng), degrade(blank, profile, rng)]
    files = [T.save_image(im, tmp_path / f"{k}.png") for k, im in enumerate(images)]
    ingest([str(f) for f in files], db_path=tmp_path / "p.db", workers=1)
    c = sqlite3.connect(tmp_path / "p.db")
    rows = dict(c.execute("SELECT source, copy FROM pages").fetchall())
    assert rows[str(files[0])] is None and rows[str(files[1])] == 0, rows
    reason, = c.execute("SELECT f.reason FROM fields f WHERE f.name = 'copie'").fetchone()
    assert "bord" in reason
