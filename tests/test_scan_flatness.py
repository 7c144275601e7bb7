"""A sheet that does not lie flat (folded to be carried, curling up) keeps its corner markers where a flat page
would put them while its middle moves: the page-level alignment cannot see it. Its values go to review instead
of being read off their boxes. Real rendered kit pages, the real simulator and pipeline, a real SQLite file."""

from __future__ import annotations

import sqlite3

import cv2
import numpy as np
import pytest

from scan_ingest import flatness
from scan_ingest import testing as T
from scan_ingest.thresholds import ALIGN_PX_PER_MM, BEND_REVIEW_MM

K = ALIGN_PX_PER_MM


@pytest.fixture(scope="module")
def paiement(small_kit):
    return T.aligned_render(small_kit, "paiement")


def _fold(page: np.ndarray, ridge_mm: float, shift_mm: float) -> np.ndarray:
    """The printed content pulled sideways along a ridge across the page at `ridge_mm` from the top, by up to
    `shift_mm`, nothing at the page's edges (where the corner markers are)."""
    h, w = page.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ridge = ridge_mm * K
    prof = np.where(yy < ridge, np.sin(0.5 * np.pi * yy / ridge), np.sin(0.5 * np.pi * (h - yy) / (h - ridge)))
    prof *= np.sin(np.pi * xx / w) ** 0.5
    return cv2.remap(page, (xx - shift_mm * K * prof).astype(np.float32), yy, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


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


def test_bent_phone_photos_send_their_values_to_review(small_kit, tmp_path):
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
