"""Bilevel captures (a fax, a scanner's black-and-white mode): how a page is known to be one, and the pale mark
that such a capture leaves as a couple of dots (scan_ingest.thresholds: BILEVEL_DOT_*)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest

from papier.simulate.degrade import fax_bits
from papier.simulate.io import PdfWriter
from scan_ingest import marks as mk
from scan_ingest import testing as T
from scan_ingest.pipeline import ingest
from scan_ingest.sources import list_pages, load_page
from scan_ingest.thresholds import ALIGN_PX_PER_MM

K = ALIGN_PX_PER_MM
RESOURCES = Path(__file__).parent / "resources"


def _dither(img: np.ndarray) -> np.ndarray:
    """The fax profile's bilevel conversion (papier.simulate.degrade.fax_bits) without its random streaks."""
    h, w = img.shape
    return cv2.resize(fax_bits(img), (w, h), interpolation=cv2.INTER_NEAREST)


@pytest.fixture(scope="module")
def paiement(small_kit):
    return T.aligned_render(small_kit, "paiement")


def _verdicts(page: np.ndarray, plan: mk.MarkPlan, bilevel: bool) -> list[str]:
    dark = mk.darkness(page)
    raw, frac = mk.measure_marks(dark, plan, mk.registration(dark, plan), bilevel)
    b, bf = mk.baseline(raw), mk.baseline(frac)
    return [mk.classify(float(r) - b, float(f) - bf) for r, f in zip(raw, frac)]


def test_a_pale_blot_dithered_to_dots_is_unsure_on_a_bilevel_page(paiement):
    layout, page = paiement
    plan = mk.mark_plan(layout)
    img = page.copy()
    o = layout.line_entries[2].field("mode").options[1]
    # a faint pencil blot, palest at its rim, whose darkest middle only just reaches the fax's dither band: the
    # fax leaves two dots of it (as on the benchmark page below)
    H, W = img.shape
    yy, xx = np.mgrid[0:H, 0:W]
    rr2 = (xx - o.cx * K) ** 2 + (yy - o.cy * K) ** 2
    img = np.clip(img - 66.0 * np.exp(-rr2 / (2 * (0.35 * o.r * K) ** 2)), 0, 255).astype(np.uint8)
    faxed = _dither(img)
    i = next(i for i, s in enumerate(plan.spots)
             if s.value == o.value and s.field_key[0] == layout.line_entries[2].row
             and layout.line_entries[2].fields[s.field_key[1]].name == "mode")
    inner = np.zeros_like(faxed)
    cv2.circle(inner, (int(o.cx * K), int(o.cy * K)), int(0.7 * o.r * K), 1, -1)
    dots = int(((mk.darkness(faxed).crop(slice(0, H), slice(0, W)) > mk.INK_DARKNESS) & (inner > 0)).sum())
    assert 4 <= dots <= 12, dots  # a couple of dots, no visible mark
    # without knowing the capture is bilevel, the dots are specks and the bubble reads empty (the silent error)
    assert _verdicts(faxed, plan, bilevel=False)[i] == "empty"
    v = _verdicts(faxed, plan, bilevel=True)
    assert v[i] == "unsure"
    # the page's empty bubbles, dithered the same way, stay empty
    others = [x for j, x in enumerate(v[:plan.n_bubbles]) if j != i]
    assert others.count("empty") == len(others)


def test_bilevel_is_told_by_the_capture_not_by_the_rendered_pixels(paiement, tmp_path):
    _, page = paiement
    faxed = _dither(page)
    pdf = tmp_path / "fax.pdf"
    w = PdfWriter(pdf)
    w.add(faxed, 203.2, bilevel=True)  # a 1-bit image: pdfium smooths its edges into greys when rendering
    w.add(page, 203.2, quality=90)     # a greyscale JPEG page
    w.close()
    loaded = [load_page(r) for r in list_pages(str(pdf), str(pdf))]
    assert len(np.unique(loaded[0].gray)) > 2  # rendered with greys...
    assert [p.bilevel for p in loaded] == [True, False]  # ...yet known as bilevel
    tif = T.save_tiff([faxed, page], tmp_path / "pages.tif")
    assert [load_page(r).bilevel for r in list_pages(str(tif), str(tif))] == [True, False]
    png = T.save_image(faxed, tmp_path / "fax.png")
    jpg = T.save_image(faxed, tmp_path / "fax.jpg")
    assert load_page(list_pages(str(png), str(png))[0]).bilevel
    assert not load_page(list_pages(str(jpg), str(jpg))[0]).bilevel


def test_the_benchmark_fax_page_with_a_pale_blot_goes_to_review(tmp_path):
    """tests/resources/fax_naissance_tache_pale.png: page 10 of bench_scan's fax run (83 pages, seed 4; kit
    BENCHKIT, naissance-002, in pencil), kept as the fax gave it (1 bit). The « Père » bubble of « déclarant » holds
    a deliberately faint blot (ambiguous: it must be flagged) that the fax turned into two dots; it was read as
    nothing marked, silently."""
    ingest([str(RESOURCES / "fax_naissance_tache_pale.png")], db_path=tmp_path / "p.db", workers=1)
    c = sqlite3.connect(tmp_path / "p.db")
    assert c.execute("SELECT status FROM pages").fetchall() == [("identified",)]
    st, reason = c.execute("SELECT status, reason FROM fields WHERE name = 'declarant_qualite'").fetchone()
    assert st == "review" and "peine" in reason
    # the page's other choices (sexe: « F » filled; situation...) are still read on their own
    marks = c.execute("SELECT name, status, value FROM fields WHERE type IN ('choice', 'multi', 'checkbox')"
                      " AND name != 'declarant_qualite'").fetchall()
    assert marks and all(s == "auto" for _, s, _ in marks), marks
