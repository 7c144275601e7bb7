"""The committed sample inputs of tests/resources/ (see its README.md), read by the real pipeline into a real SQLite
file: identified pages and their entries against the simulator's truth.jsonl, the reasons given for the bad files,
and the batch going on past them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from papier.db import open_db
from papier.export import entry_rows, page_rows
from papier.simulate import read_truth
from scan_ingest.pipeline import ingest

RES = Path(__file__).resolve().parent / "resources"
TRUTH = read_truth(RES / "truth.jsonl")
BAD = json.loads((RES / "bad_inputs.json").read_text(encoding="utf-8"))
GOOD = sorted({t["source"] for t in TRUTH})
# bad files between the good ones: what comes after them must still be read
ORDER = [sorted(BAD)[0], GOOD[0], sorted(BAD)[1], GOOD[1], sorted(BAD)[2], GOOD[2]]


def _blank(v):
    return v in (None, "", [], False)


def test_resources_are_small_and_complete():
    for name in [*GOOD, *BAD]:
        assert (RES / name).is_file(), name
        assert (RES / name).stat().st_size < 300_000, name
    assert len(GOOD) == 3 and len(ORDER) == len(set(ORDER)) == 6


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    d = tmp_path_factory.mktemp("resources")
    inputs = [str(RES / name) for name in ORDER]
    report = ingest(inputs, db_path=d / "p.db", workers=2)
    again = ingest(inputs, db_path=d / "p.db", workers=2)
    return d / "p.db", report, again


def _name(source: str) -> str:
    """The truth's `source` is the file name; ingest keeps the path as given."""
    return Path(source).name


def test_every_page_has_its_status_and_reason(ingested):
    path, report, _ = ingested
    db = open_db(path, create=False)
    pages = list(page_rows(db))
    seen = [(_name(p["source"]), p["index"]) for p in pages]
    truth_pages = [t for t in TRUTH if t["type"] == "page"]
    want = [(t["source"], t["index"]) for t in truth_pages] + [(b, 1) for b in BAD]
    assert sorted(seen) == sorted(want)
    assert seen.index((GOOD[2], 1)) > seen.index((ORDER[4], 1))  # the batch went on past every bad file
    by = {(_name(p["source"]), p["index"]): p for p in pages}
    for t in truth_pages:
        p = by[(t["source"], t["index"])]
        assert p["status"] == t["expect"], (t, p)
        assert p["page_key"] == t["page_key"]
        if t["expect"] == "unidentified":
            assert p["reason"] and "QR" in p["reason"]  # the blank sheet: no code to read
        else:
            assert p["reason"] is None and p["sheet_status"] == "primary"
    for name, exp in BAD.items():
        p = by[(name, 1)]
        assert p["status"] == exp["expect"] and p["page_key"] is None
        assert exp["reason_contains"] in p["reason"], p
    assert report.statuses["identified"] == sum(t["expect"] == "identified" for t in truth_pages)
    assert {(_name(s), i) for s, i, _ in report.problems} == {k for k, v in by.items() if v["status"] == "unidentified"}
    c = sqlite3.connect(path)
    assert c.execute("SELECT status FROM runs ORDER BY id").fetchall() == [("done",), ("done",)]


def test_the_same_batch_again_adds_nothing(ingested):
    path, report, again = ingested
    c = sqlite3.connect(path)
    assert c.execute("SELECT count(*) FROM pages").fetchone()[0] == report.pages_seen
    assert again.statuses["identified"] == 0 and again.statuses["conflict"] == 0


def test_entries_against_the_truth(ingested):
    """Every line the simulator wrote on is exported; no value the machine accepted (auto) differs from the
    truth. Lines the truth says are blank may be exported (specks on a photocopy) only with blank auto values."""
    path, _, _ = ingested
    db = open_db(path, create=False)
    got = {(_name(e["source"]), e["index"], e["row"]): e for e in entry_rows(db, None, all_sheets=True)}
    truth = {(t["source"], t["index"], t["row"]): t for t in TRUTH if t["type"] == "entry"}
    assert set(truth) <= set(got)
    assert len(truth) >= 12
    for key, e in got.items():
        t = truth.get(key)
        for name, f in e["fields"].items():
            if f["status"] != "auto":
                continue
            if t is None:
                assert _blank(f["value"]), (key, name, f)
            elif name not in t.get("ambiguous", []):
                want = t["fields"][name]
                assert f["value"] == want or (_blank(f["value"]) and _blank(want)), (key, name, f, want)
