"""A reflection on a phone photo (a lamp, a window) washes the ink out where it is: a tick or a line of writing there
reads as blank. The page's own print shows where: those fields go to review, written or not, and the summary names
the page. Real kit pages rendered by pdfium, the real pipeline, a real SQLite file."""

from __future__ import annotations

import sqlite3

import numpy as np

from scan_ingest import fade
from scan_ingest import marks as mk
from scan_ingest import testing as T
from scan_ingest.read import FADED_FIELD
from scan_ingest.thresholds import ALIGN_PX_PER_MM, FADE_REVIEW

K = ALIGN_PX_PER_MM


def _glare(img: np.ndarray, cx: float, cy: float, sigma: float, peak: float = 250.0) -> np.ndarray:
    """Light added to paper and ink alike around (cx, cy) px, the sensor saturating at white."""
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]].astype(np.float32)
    spot = peak * np.exp(-0.5 * ((xx - cx) ** 2 + (yy - cy) ** 2) / sigma ** 2)
    return np.minimum(img.astype(np.float32) + spot, 255).astype(np.uint8)


def _key(layout, row: int, name: str) -> tuple[tuple[int, int], object]:
    e = next(e for e in layout.entries if e.row == row)
    fi, f = next((i, f) for i, f in enumerate(e.fields) if f.name == name)
    return (row, fi), f


def test_print_is_even_on_a_page_and_fades_under_a_reflection(small_kit):
    layout, page = T.aligned_render(small_kit, "paiement")
    clean = fade.measure(mk.darkness(page), layout)
    assert clean.faded == {} and clean.print_darkness > 0.15
    key, f = _key(layout, 2, "annulee")
    far, g = _key(layout, 5, "annulee")
    z = f.ink_zone()
    lit = _glare(page, (z.x + z.w / 2) * K, (z.y + z.h / 2) * K, sigma=6 * K)
    hit = fade.measure(mk.darkness(lit), layout)
    assert key in hit.faded and hit.faded[key] < FADE_REVIEW
    assert far not in hit.faded  # about 60 mm away
    # every field it names lies within the reflection's reach
    rows = {e.row: e for e in layout.entries}
    for r, fi in hit.faded:
        zz = rows[r].fields[fi].ink_zone()
        gap = np.hypot(max(zz.x - z.x - z.w, z.x - zz.x - zz.w, 0), max(zz.y - z.y - z.h, z.y - zz.y - zz.h, 0))
        assert gap < 20


def test_a_tick_and_a_line_under_a_reflection_go_to_review(small_kit, tmp_path):
    """Rows 1 and 2 ticked « quittance annulée », a payer written on row 3; the same sheet photographed clean and
    with a reflection over row 2's box and row 3's payer. Clean: both ticks accepted. Reflection: row 1 still
    accepted; row 2's box and row 3's payer (read blank: the ink is gone) in review with the reason, row 3 an
    entry; the summary names the page."""
    from scan_ingest.pipeline import ingest

    page = T.find_page(small_kit.out_dir, "paiement")
    img = T.render(small_kit.pdf_path, page["pdf_page"], 200)
    for row in (1, 2):
        T.tick_box(img, page, row, "annulee")
    T.scribble(img, page, 3, "payeur")
    mm = 200 / 25.4
    box = T.field_of(page, 2, "annulee")["box"]
    payer = T.field_of(page, 3, "payeur")["box"]
    lit = _glare(img, (box["x"] + box["w"] / 2) * mm, (box["y"] + box["h"] / 2) * mm, sigma=5 * mm)
    lit = _glare(lit, (payer["x"] + payer["w"] / 2) * mm, (payer["y"] + payer["h"] / 2) * mm, sigma=9 * mm)

    def read(image: np.ndarray, name: str):
        (tmp_path / name).mkdir()
        path = T.save_image(image, tmp_path / name / "page.jpg")
        db = tmp_path / f"{name}.db"
        report = ingest([str(path)], db, workers=1)
        con = sqlite3.connect(db)
        rows = con.execute("select e.row, f.name, f.value, f.status, f.reason, f.has_ink, e.has_ink from fields f "
                           "join entries e on f.entry_id = e.id").fetchall()
        con.close()
        return report, {(r, n): (v, s, why or "", ink, e_ink) for r, n, v, s, why, ink, e_ink in rows}

    clean_report, clean = read(img, "clean")
    assert clean[(1, "annulee")][:2] == ("true", "auto") and clean[(2, "annulee")][:2] == ("true", "auto")
    assert not any(FADED_FIELD in v[2] for v in clean.values())
    assert "Reflets" not in clean_report.summary()

    lit_report, got = read(lit, "lit")
    assert got[(1, "annulee")][:2] == ("true", "auto")
    v, status, why, ink, _ = got[(2, "annulee")]
    assert status == "review" and FADED_FIELD in why and ink == 1
    v, status, why, ink, entry_ink = got[(3, "payeur")]
    assert status == "review" and FADED_FIELD in why and ink == 1 and entry_ink == 1
    summary = lit_report.summary()
    assert "Reflets" in summary and "page.jpg page 1" in summary.split("Reflets")[1]
