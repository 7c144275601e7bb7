"""A sheet that does not lie flat (folded to be carried, curling up) keeps its corner markers where a flat page
would put them while its middle moves: the page-level alignment cannot see it. Such a page is flattened, each
point read where its printed frames were found, and measured again; what is still not in place goes to review
instead of being read off its boxes. Real rendered kit pages, the real simulator and pipeline, a real SQLite
file."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from scan_ingest import flatness
from scan_ingest import read as R
from scan_ingest import testing as T
from scan_ingest.align import Alignment, warp
from scan_ingest.thresholds import ALIGN_PX_PER_MM, BEND_REVIEW_MM, FIELD_OFF_MM

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bench_scan  # noqa: E402

K = ALIGN_PX_PER_MM


@pytest.fixture(scope="module")
def paiement(small_kit):
    return T.aligned_render(small_kit, "paiement")


def _fold(page: np.ndarray, ridge_mm: float, shift_mm: float, step: bool = False) -> np.ndarray:
    """The printed content pulled sideways along a ridge across the page at `ridge_mm` from the top, by up to
    `shift_mm`, nothing at the page's edges (where the corner markers are); `step`: the part below the ridge
    pulled by `shift_mm` all at once (a sheet torn and taped back, a sharp crease), which no smooth bend explains."""
    h, w = page.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ridge = ridge_mm * K
    prof = np.where(yy < ridge, np.sin(0.5 * np.pi * yy / ridge), np.sin(0.5 * np.pi * (h - yy) / (h - ridge)))
    if step:
        prof = (yy >= ridge).astype(np.float32)
    prof *= np.sin(np.pi * xx / w) ** 0.5
    return cv2.remap(page, (xx - shift_mm * K * prof).astype(np.float32), yy, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def _flattened(page: np.ndarray, layout) -> tuple[np.ndarray, flatness.Flatness]:
    """read._aligned on a page already in its mm frame (the alignment: the identity at ALIGN_PX_PER_MM)."""
    aligned, _, flat = R._aligned(page, _identity(), layout)
    return aligned, flat


def _identity() -> Alignment:
    return Alignment(np.diag([K, K, 1.0]), "homography-4", 0.0, 0, {}, K)


def test_a_flat_page_and_a_small_offset_are_flat(paiement):
    layout, page = paiement
    flat = flatness.measure(page, layout)
    assert flat.bend_mm < 0.3 and flat.off == {}
    # 2 px (0.25 mm) off the layout everywhere: what marks.registration is there for, not a bent page
    moved = cv2.warpAffine(page, np.float32([[1, 0, 2], [0, 1, 2]]), (page.shape[1], page.shape[0]), borderValue=255)
    assert flatness.measure(moved, layout).bend_mm < BEND_REVIEW_MM


def test_a_fold_is_seen_where_it_is(paiement):
    layout, page = paiement
    ridge = layout.size_mm[1] / 2
    flat = flatness.measure(_fold(page, ridge, 2.0), layout)
    assert flat.bend_mm > BEND_REVIEW_MM
    rows = {e.row: e for e in layout.entries}
    # the fields found farthest off sit by the ridge, by about what the fold moved them
    assert len(flat.off) >= 5
    (r, fi), most = max(flat.off.items(), key=lambda kv: kv[1])
    z = rows[r].fields[fi].ink_zone()
    assert abs(z.y + z.h / 2 - ridge) < 40
    assert 1.2 < most < 2.3


def test_a_fold_is_flattened(paiement):
    """The fold above, 2 mm: measured, undone, and every frame found in place again."""
    layout, page = paiement
    folded = _fold(page, layout.size_mm[1] / 2, 2.0)
    assert flatness.measure(folded, layout).bend_mm > BEND_REVIEW_MM
    aligned, flat = _flattened(folded, layout)
    assert flat.flattened_from > BEND_REVIEW_MM
    assert flat.bend_mm < 0.25 and flat.off == {} and flat.unchecked == frozenset()
    # the flattened page is the page: its frames where the flat page has them
    for s in flatness.axis_shifts(aligned, layout):
        assert (not s.x_ok or abs(s.dx) < FIELD_OFF_MM) and (not s.y_ok or abs(s.dy) < FIELD_OFF_MM)
    # a flat page is left as it is (read exactly as before flattening existed)
    same, flat0 = _flattened(page, layout)
    assert flat0.flattened_from == 0.0 and np.array_equal(same, warp(page, _identity(), layout.size_mm))


def test_what_flattening_cannot_explain_still_goes_to_review(paiement):
    """A step (the lower half moved 2 mm at once) is no smooth bend: flattened as well as it can be, the page is
    measured again, and what is still off sends the page (or its fields) to review."""
    layout, page = paiement
    _, flat = _flattened(_fold(page, layout.size_mm[1] / 2, 2.0, step=True), layout)
    assert flat.flattened_from > BEND_REVIEW_MM
    assert flat.bend_mm > BEND_REVIEW_MM or len(flat.off) >= 3


def test_a_column_of_boxes_that_lost_a_line_is_not_a_bend(small_kit, monkeypatch):
    """A fax samples the page at 100 dpi down it: a thin grey box line that falls between two sampled rows is gone,
    in every identical box down a column. Such a box's frame fits a few rows lower, on the row's rule; the paper
    did not move (the other fields around are in place): the page is flat, and only those boxes are off."""
    layout, page = T.aligned_render(small_kit, "retour")
    lost = page.copy()
    visa = [(e.row, fi, f) for e in layout.entries for fi, f in enumerate(e.fields) if f.name == "visa"]
    assert len(visa) >= 10
    for _, _, f in visa[2:8]:  # six boxes down the column lose their lower line
        z = f.box
        y = int(round((z.y + z.h) * K))
        lost[y - 2:y + 3, int(round(z.x * K)) - 2:int(round((z.x + z.w) * K)) + 3] = 255
    flat = flatness.measure(lost, layout)
    assert flat.bend_mm < 0.3
    moved = {(r, fi) for r, fi, _ in visa[2:8]}
    assert moved & set(flat.off) and set(flat.off) <= moved
    # measured by each frame's own distance, the page would be "not flat": every value to review
    monkeypatch.setattr(flatness, "_confirmed", lambda keep, dev: dev)
    assert flatness.measure(lost, layout).bend_mm > BEND_REVIEW_MM


def test_a_mark_with_no_frame_found_near_it_on_a_flattened_page_goes_to_review(small_kit, tmp_path, monkeypatch):
    """A flattened page is read where its frames were found. A mark with no piece of frame found in place near it
    (here an « Annulée » box blacked out, so that its own frame matches nothing, and the print wiped out 25 mm
    around it) has nothing that says the flattening is right there, and a mark read a little off reads its own
    outline as a tick: it goes to review (it reads "ticked", and would be accepted without the rule), while a mark
    with its frames around it is read."""
    layout, page = T.aligned_render(small_kit, "paiement")
    lay = T.find_page(small_kit.out_dir, "paiement")
    dpi = K * 25.4
    row = 5
    box = T.field_of(lay, row, "annulee")["box"]
    x0, y0 = int((box["x"] - 25) * K), int((box["y"] - 25) * K)
    x1, y1 = int((box["x"] + box["w"] + 25) * K), int((box["y"] + box["h"] + 25) * K)
    bx0, by0 = int(box["x"] * K) - 3, int(box["y"] * K) - 3
    bx1, by1 = int((box["x"] + box["w"]) * K) + 4, int((box["y"] + box["h"]) * K) + 4
    keep = page[by0:by1, bx0:bx1].copy()
    page[y0:y1, x0:x1] = 255
    page[by0:by1, bx0:bx1] = keep
    page[by0 + 3:by1 - 4, bx0 + 3:bx1 - 4] = 30  # the box blacked out
    T.fill_bubble(page, lay, row, "mode", "especes", dpi=dpi)
    T.fill_bubble(page, lay, 2, "mode", "especes", dpi=dpi)  # a mark with its frames around it
    folded = _fold(page, layout.size_mm[1] / 2, 2.0)

    def read() -> dict[tuple[int, str], tuple[str, str | None]]:
        res = R.PageResult(source="x", idx=0, sha256="0" * 64, status="unidentified")
        ctx = R.ReadContext(files_dir=str(tmp_path / "f"), rel_prefix="f")
        R._read_gray(folded, "0" * 64, ctx, 0, res)
        assert res.status == "identified" and res.align_method.endswith("+flattened")
        return {(e.row, f.name): (f.status, f.reason) for e in res.entries for f in e.fields}

    got = read()
    assert got[row, "annulee"][0] == "review" and R.UNCHECKED_FIELD in got[row, "annulee"][1]
    assert got[2, "mode"][0] == "auto"
    monkeypatch.setattr(flatness, "_CHECK_MM", 1e6)  # any frame found anywhere would do
    assert read()[row, "annulee"][0] == "auto"


def test_a_bubble_left_a_little_off_by_the_flattening_goes_to_review(paiement, monkeypatch):
    """What the flattening leaves is measured again: a bubble found about 0.3 mm from its place (here its ring moved
    0.42 mm sideways; bench seed 12: the last bubble of a row at 0.32 mm, read marked by the ink share its own ring
    left in it, a phantom entry) sends its field to review on a flattened page, although a flat page's frames may
    sit up to FIELD_OFF_MM away."""
    layout, page = paiement
    row = next(e for e in layout.entries if e.row == 2)
    fi = next(i for i, f in enumerate(row.fields) if f.name == "mode")
    o = row.fields[fi].options[-1]
    moved = page.copy()
    x0, y0, x1, y1 = (int((o.cx - o.r - 0.6) * K), int((o.cy - o.r - 0.6) * K), int((o.cx + o.r + 0.6) * K),
                      int((o.cy + o.r + 0.6) * K))
    patch = page[y0:y1, x0:x1]
    moved[y0:y1, x0:x1] = cv2.warpAffine(patch, np.float32([[1, 0, 0.42 * K], [0, 1, 0]]), patch.shape[::-1],
                                         borderMode=cv2.BORDER_REPLICATE)
    flat = flatness.after_flattening(moved, layout, 1.0)
    assert (2, fi) in flat.off and 0.25 < flat.off[2, fi] < 0.45
    assert flatness.after_flattening(page, layout, 1.0).off == {}
    monkeypatch.setattr(flatness, "FLAT_MARK_OFF_MM", FIELD_OFF_MM)  # the flat page's allowance: not seen
    assert (2, fi) not in flatness.after_flattening(moved, layout, 1.0).off


def test_bent_phone_photos_are_flattened_and_read(small_kit, tmp_path):
    """Sheets photographed bent (papier.simulate profile phone_photo_bent, folds of 1.2–3 mm): flattened, their
    values are read as on flat photos, with no silent error; the mark fields mostly accepted."""
    from papier.simulate import simulate_batch
    from scan_ingest.pipeline import ingest

    db = tmp_path / "p.db"
    bench_scan.scan_manifest(small_kit.out_dir, db)
    truth = simulate_batch(small_kit.out_dir, tmp_path / "bent", profile="phone_photo_bent", n_pages=6, seed=21,
                           fmt="jpg")
    ingest(sorted(str(p) for p in (tmp_path / "bent").glob("*.jpg")), db_path=db, workers=1)
    got = bench_scan.compare(db, truth)
    s = got["stats"]
    assert s["silent"] == 0, got["errors"]
    con = sqlite3.connect(db)
    methods = [m for (m,) in con.execute("select align_method from pages where status = 'identified' "
                                         "and page_key is not null and align_method is not null")]
    marks = con.execute("select count(*), sum(status = 'auto') from fields where has_ink = 1 "
                        "and type in ('choice', 'multi', 'checkbox')").fetchone()
    con.close()
    assert sum(m.endswith("+flattened") for m in methods) >= 5
    assert marks[0] > 20 and marks[1] >= 0.8 * marks[0]


def test_bent_phone_photos_send_their_values_to_review(small_kit, tmp_path, monkeypatch):
    """Without flattening (a page whose frames cannot tell how it is bent is left so), a bent page is not read
    off its boxes: every bent one says why it is not read, and none of its values is accepted."""
    monkeypatch.setattr(flatness, "displacement", lambda shifts, size_mm: None)
    """The same sheets photographed flat and bent (papier.simulate profile phone_photo_bent): the flat ones are
    read as usual; every bent one says why it is not read, and none of its values is accepted."""
    from papier.simulate import simulate_batch
    from scan_ingest.pipeline import ingest

    dbs, reports = {}, {}
    for profile in ("phone_photo", "phone_photo_bent"):
        simulate_batch(small_kit.out_dir, tmp_path / profile, profile=profile, n_pages=4, seed=21, fmt="jpg")
        files = sorted(str(p) for p in (tmp_path / profile).iterdir() if p.suffix == ".jpg")
        dbs[profile] = tmp_path / f"{profile}.db"
        reports[profile] = ingest(files, dbs[profile], workers=1)

    def pages(db):
        con = sqlite3.connect(db)
        rows = con.execute("select p.page_key, p.reason, (select count(*) from fields f join entries e on "
                           "f.entry_id = e.id where e.sheet_id = p.sheet_id and f.status = 'auto' and f.has_ink = 1) "
                           "from pages p where p.status = 'identified'").fetchall()
        con.close()
        return {k: (reason or "", auto) for k, reason, auto in rows}

    flat, bent = pages(dbs["phone_photo"]), pages(dbs["phone_photo_bent"])
    assert len(flat) == len(bent) == 4
    assert not any("pas à plat" in reason for reason, _ in flat.values())
    assert sum(auto for _, auto in flat.values()) > 20
    flagged = [k for k, (reason, _) in bent.items() if "pas à plat" in reason]
    assert len(flagged) >= 3
    assert all(bent[k][1] == 0 for k in flagged)
    # the summary tells staff which pages to scan again, flat
    assert "renumériser bien à plat" not in reports["phone_photo"].summary()
    told = reports["phone_photo_bent"].summary().split("renumériser bien à plat")[1]
    assert told.count("pas à plat") == len(flagged)
