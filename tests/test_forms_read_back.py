"""Every version of every built-in form reads back: kits printed years ago stay readable by today's install.

Each register page of a kit of first versions, of today's default kit and of one holding the versions in between
is filled by the simulator, scanned at 200 dpi and ingested (with the kit's manifest, as staff do); the bench's
comparison with the truth finds every entry and no silent error."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import bench_scan  # noqa: E402
from papier.forms import builtin_versions  # noqa: E402


@pytest.fixture(scope="module")
def middle_versions_kit(tmp_path_factory):
    """The versions neither first nor latest (pret v2), one page each; None when there are none."""
    from papier.kit import build_kit

    regs = [(n, v) for n, vs in builtin_versions().items() for v in vs[1:-1]]
    if not regs:
        return None
    base = tmp_path_factory.mktemp("mid_kit")
    recipe = base / "mid.toml"
    recipe.write_text('format = "papier.kit/1"\nname = "mid"\ntitle = "Kit"\n' + "".join(
        f'\n[[registers]]\nform = "{n}"\nversion = {v}\npages = 1\n' for n, v in regs), encoding="utf-8")
    return build_kit(base / "kit", recipe=str(recipe), kit_id="TESTKITM")


@pytest.mark.parametrize("which", ["first_versions_kit", "small_kit", "middle_versions_kit"])
def test_every_version_of_every_form_reads_back(which, request, tmp_path):
    from papier.simulate import simulate_batch
    from scan_ingest.pipeline import ingest

    kit = request.getfixturevalue(which)
    if kit is None:
        pytest.skip("no version between the first and the latest")
    db = tmp_path / "p.db"
    bench_scan.scan_manifest(kit.out_dir, db)
    truth = simulate_batch(kit.out_dir, tmp_path / "scans", profile="scanner_200", seed=3, fmt="png")
    files = sorted(str(p) for p in (tmp_path / "scans").glob("*.png"))
    ingest(files, db_path=db, workers=1)
    got = bench_scan.compare(db, truth)
    s = got["stats"]
    assert s["silent"] == 0, got["errors"]
    assert s["entries"] > 0 and s["fields"] > 0
    con = sqlite3.connect(db)  # every register's pages were identified under their own version
    versions = set(con.execute("SELECT form, form_version FROM sheets"))
    con.close()
    printed = {(p["form"], p["form_version"]) for p in kit.layout["pages"] if p.get("entries")}
    assert len({n for n, _ in printed}) == (1 if which == "middle_versions_kit" else len(builtin_versions()))
    assert versions == printed
