"""The reading's fast paths give exactly what the plain formulas give: ink masks by integer comparison (one per
field), the streak test's row ends, digit crops as views, the lean atomic write, the kept PNG's pixels.
Each is compared with the straightforward version (written out here) on a real rendered page made messy
(grey uneven paper, noise, specks, strokes), pixel for pixel."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from papier.forms import builtin_form
from papier.layout import Rect, layout_form
from scan_ingest import marks as mk
from scan_ingest import read as R
from scan_ingest import testing as T
from scan_ingest.sources import write_atomic
from scan_ingest.thresholds import ALIGN_PX_PER_MM, INK_DARKNESS

K = ALIGN_PX_PER_MM


def _messy(page: np.ndarray, seed: int) -> np.ndarray:
    """Grey paper with a light gradient, scanner noise, toner specks and a few pen strokes."""
    rng = np.random.default_rng(seed)
    h, w = page.shape
    f = page.astype(np.float32) * (0.8 + 0.15 * np.linspace(0, 1, w, dtype=np.float32)[None, :])
    f += rng.normal(0, 6, page.shape).astype(np.float32)
    img = np.clip(f, 0, 255).astype(np.uint8)
    for _ in range(400):
        y, x = int(rng.integers(0, h - 2)), int(rng.integers(0, w - 2))
        img[y:y + int(rng.integers(1, 3)), x:x + int(rng.integers(1, 3))] = int(rng.integers(0, 120))
    for _ in range(60):
        p0 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        p1 = (p0[0] + int(rng.integers(-60, 60)), p0[1] + int(rng.integers(-40, 40)))
        cv2.line(img, p0, p1, int(rng.integers(20, 160)), int(rng.integers(1, 4)))
    return img


@pytest.fixture(scope="module")
def pages(small_kit):
    out = []
    for form in ("paiement", "naissance"):
        layout = layout_form(builtin_form(form))
        p = T.find_page(small_kit.out_dir, form, 1)
        img = T.render(small_kit.pdf_path, p["pdf_page"], K * 25.4)
        W, H = (int(round(v * K)) for v in layout.size_mm)
        page = np.full((H, W), 255, np.uint8)
        h, w = min(H, img.shape[0]), min(W, img.shape[1])
        page[:h, :w] = img[:h, :w]
        out += [(layout, page), (layout, _messy(page, 1)), (layout, _messy(page, 2))]
    return out


def test_ink_limit_is_the_darkness_threshold_for_every_pixel_and_paper_value():
    a = np.arange(256, dtype=np.float32)[:, None]
    p = np.arange(40, 256, dtype=np.float32)[None, :]  # Darkness keeps the paper level >= 40
    ink = np.clip(1.0 - a / p, 0.0, 1.0) > INK_DARKNESS
    assert (ink == (np.arange(256)[:, None] < mk._INK_LIMIT[40:][None, :])).all()


def test_ink_masks_equal_the_thresholded_darkness(pages):
    rng = np.random.default_rng(0)
    for layout, page in pages:
        dark = mk.darkness(page)
        h, w = page.shape
        zones = [z for e in layout.entries for f in e.fields if f.type in ("text", "digits")
                 for z in mk.field_zones(f)]
        slices = [mk.zone_slices(z) for z in zones]
        for _ in range(50):  # anywhere, including past the page's edges and empty
            y0, x0 = int(rng.integers(-20, h)), int(rng.integers(-20, w))
            slices.append((slice(max(0, y0), y0 + int(rng.integers(0, 300))),
                           slice(max(0, x0), x0 + int(rng.integers(0, 300)))))
        for ys, xs in slices:
            m = dark.ink(ys, xs)
            assert m.dtype == bool and not m.flags.writeable
            assert np.array_equal(m, dark.crop(ys, xs) > INK_DARKNESS)


def test_field_ink_masks_in_one_comparison_equal_one_per_box(pages):
    for layout, page in pages:
        fields = [f for e in layout.entries for f in e.fields if f.type in ("text", "digits")]
        assert any(len(mk.field_zones(f)) > 1 for f in fields)
        for img in (page, page[:-300, :-500].copy()):  # also boxes cut by the page's edge: one by one
            dark = mk.darkness(img)
            for f in fields:
                zones = mk.field_zones(f)
                masks = dark.inks(zones)
                assert len(masks) == len(zones)
                for z, m in zip(zones, masks):
                    ys, xs = mk.zone_slices(z)
                    assert np.array_equal(m, dark.crop(ys, xs) > INK_DARKNESS) and not m.flags.writeable
                if img is page and len(zones) > 1:
                    assert dark.inks(zones) is masks  # kept: a blank digit field's trace measures them again


def _ink_area_float(dark: mk.Darkness, zones: list[Rect]) -> float:
    total = 0
    for r in zones:
        ys, xs = mk.zone_slices(r)
        crop = dark.crop(ys, xs)
        if crop.size == 0:
            continue
        mask = (crop > INK_DARKNESS).astype(np.uint8)
        if not mask.any():
            continue
        total += int(cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)).sum())
    return total / (K * K)


def _trace_float(dark: mk.Darkness, f) -> float:
    total = 0
    for z in mk.field_zones(f):
        ys, xs = mk.zone_slices(z)
        crop = dark.crop(ys, xs)
        if crop.size == 0:
            continue
        crop = mk.drop_specks(crop, np.ones(crop.shape, bool))
        total += int((crop > INK_DARKNESS).sum())
    return total / (K * K)


def test_ink_area_and_digit_trace_equal_the_float_computation(pages):
    seen_specks = 0
    for layout, page in pages:
        dark = mk.darkness(page)
        for e in layout.entries:
            for f in e.fields:
                if f.type not in ("text", "digits"):
                    continue
                assert mk.ink_area_mm2(dark, mk.field_zones(f)) == _ink_area_float(dark, mk.field_zones(f))
                if f.type == "digits":
                    t = R._digit_trace_mm2(dark, f)
                    assert t == _trace_float(dark, f)
                    seen_specks += 0 < t
    assert seen_specks  # the messy pages do put specks and strokes in some boxes


def _is_streak_row_by_row(d: np.ndarray, inside: np.ndarray) -> bool:
    from scan_ingest.thresholds import MARK_FRAC_EMPTY, STREAK_MAX_ROWS, STREAK_ROW_SPAN

    ink = (d > INK_DARKNESS) & inside
    width = inside.sum(axis=1)
    run = ink.sum(axis=1)
    left = np.array([r[m].any() and r[m][0] for r, m in zip(ink, inside)], bool)
    right = np.array([r[m].any() and r[m][-1] for r, m in zip(ink, inside)], bool)
    band = (width > 0) & (run >= STREAK_ROW_SPAN * np.maximum(width, 1)) & (left | right)
    rows = np.flatnonzero(band)
    if not len(rows) or rows[-1] - rows[0] + 1 > STREAK_MAX_ROWS:
        return False
    near = np.zeros(len(band), bool)
    near[max(0, rows[0] - 1):rows[-1] + 2] = True
    rest = ink[~near].sum() / max(1, inside[~near].sum())
    return bool(rest <= MARK_FRAC_EMPTY)


def test_is_streak_equals_the_row_by_row_version():
    rng = np.random.default_rng(3)
    g = 31
    yy, xx = np.mgrid[:g, :g]
    disk = (yy - 15) ** 2 + (xx - 15) ** 2 <= 14 ** 2
    streaks = 0
    for k in range(600):
        inside = disk if k % 3 else np.ones((int(rng.integers(1, 40)), int(rng.integers(1, 40))), bool)
        d = (rng.random(inside.shape) < 0.02 * rng.random()).astype(np.float32)
        if k % 2 == 0:  # rows of ink running off the left or right edge, partly or right across
            r0 = int(rng.integers(0, inside.shape[0]))
            n = int(inside.shape[1] * rng.uniform(0.3, 1.0)) + 1
            rows = slice(r0, r0 + int(rng.integers(1, 6)))
            if k % 4:
                d[rows, :n] = 1.0
            else:
                d[rows, -n:] = 1.0
        got = mk.is_streak(d, inside)
        assert got == _is_streak_row_by_row(d, inside)
        streaks += got
    assert 50 < streaks < 550  # both answers are exercised
    assert mk.is_streak(np.zeros((5, 0), np.float32), np.ones((5, 0), bool)) is False


def test_digit_crops_are_read_only_views_padded_with_paper_at_the_page_edge():
    rng = np.random.default_rng(5)
    aligned = rng.integers(0, 256, (400, 300), dtype=np.uint8)
    boxes = (Rect(10, 10, 5, 7), Rect(0.2, 0.3, 5, 7), Rect(33.5, 44.0, 5, 7), Rect(36, 47, 5, 7))
    crops = R._digit_crops(aligned, boxes, 1.0)
    for b, c in zip(boxes, crops):
        ch, cw = int(round((b.h + 2) * K)), int(round((b.w + 2) * K))
        y0, x0 = int(round((b.y - 1) * K)), int(round((b.x - 1) * K))
        ref = np.full((ch, cw), 255, np.uint8)
        sy0, sx0, sy1, sx1 = max(0, y0), max(0, x0), min(400, y0 + ch), min(300, x0 + cw)
        ref[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = aligned[sy0:sy1, sx0:sx1]
        assert c.shape == (ch, cw) and np.array_equal(c, ref)
    assert np.shares_memory(crops[0], aligned) and not crops[0].flags.writeable
    assert not np.shares_memory(crops[1], aligned)  # at the edge: a padded copy
    assert aligned.flags.writeable


def test_write_atomic_makes_folders_never_overwrites_and_leaves_no_temporary_file(tmp_path):
    p = tmp_path / "a" / "b" / "x.jpg"
    write_atomic(p, b"one")
    write_atomic(p, b"two")  # idempotent: the first image stays
    write_atomic(str(tmp_path / "a" / "b" / "y.jpg"), b"three")
    assert p.read_bytes() == b"one"
    assert sorted(os.listdir(p.parent)) == ["x.jpg", "y.jpg"]


def test_kept_png_of_a_decoded_page_holds_exactly_its_pixels():
    from scan_ingest.sources import LoadedPage, evidence_bytes, pixel_sha

    rng = np.random.default_rng(7)
    grey = np.clip(rng.normal(200, 40, (300, 217)), 0, 255).astype(np.uint8)
    dithered = np.where(rng.random((300, 217)) < 0.1, 0, 255).astype(np.uint8)
    for gray in (grey, dithered, np.full((5, 3), 255, np.uint8)):
        data = evidence_bytes(LoadedPage(gray, pixel_sha(gray), b"", ".png", 200.0))
        back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and back.dtype == np.uint8 and np.array_equal(back, gray)
