"""The review page end to end in a real headless Chromium (Debian package, driven by Playwright), on a real
simulated batch ingested for real. Keyboard only for the review itself."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path
from typing import Any, Iterator

import pytest

from papier.db import jload, open_db
from papier.review import queue as rq
from test_review_fixtures import Running, fresh_db, truth_values

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason="headless Chromium absent: install the Debian package 'chromium' (make browser)"),
]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path(os.environ.get("PAPIER_SCREENSHOTS", "")) if os.environ.get("PAPIER_SCREENSHOTS") else None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture()
def dbp(tmp_path: Path) -> Path:
    return fresh_db(tmp_path)


def _page(browser: Any, name: str | None = "Alice") -> Any:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    if name:
        ctx.add_init_script(f"localStorage.setItem('papier.reviewer', {json.dumps(name)})")
    page = ctx.new_page()
    page.set_default_timeout(8000)
    return page


def _shot(page: Any, name: str) -> None:
    if SHOTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / name), full_page=True)


def _current_id(page: Any) -> int:
    return int(page.locator("#item-area .item").get_attribute("data-id"))


def _invalid_value(it: dict) -> str | None:
    """A value the review page must warn about for this digit field (None: any value would do)."""
    from papier.checks import value_problem

    meta = it["meta"]
    if it["type"] != "digits" or not meta["length"]:
        return None
    if meta["semantic"] == "amount_cents":
        return "0"
    n = meta["length"]
    return next((v for v in ("9" * n, "0" * n, "1" * n) if value_problem(v, meta["semantic"], meta["check"])), None)


def _wait_next(page: Any, old: int) -> int:
    page.wait_for_function(
        "old => { const el = document.querySelector('#item-area .item'); "
        "return !el || Number(el.dataset.id) !== old; }", arg=old)
    return _current_id(page) if page.locator("#item-area .item").count() else -1


def _status(db_path: Path, fid: int) -> tuple[Any, str, int]:
    con = sqlite3.connect(db_path)
    v, s, r = con.execute("SELECT value, status, rev FROM fields WHERE id = ?", (fid,)).fetchone()
    con.close()
    return jload(v), s, r


def test_review_a_batch_with_the_keyboard_only(browser: Any, dbp: Path, tmp_path: Path) -> None:
    truth = truth_values(dbp)
    db = open_db(dbp)
    left0 = len(rq.queue_order(db))
    with Running(dbp) as srv:
        page = _page(browser, name=None)
        page.goto(srv.url)
        # the name is asked first, then kept for every decision
        page.locator("#name-input").wait_for()
        page.keyboard.type("Alice Martin")
        page.keyboard.press("Enter")
        page.locator("#item-area .item").wait_for()
        assert page.locator("#who-name").inner_text() == "Alice Martin"
        assert page.locator("#n-left").inner_text() == str(left0)
        # the keys are on screen
        for key in ("Entrée", "Tab", "Ctrl+I", "Ctrl+Suppr"):
            assert page.locator("kbd", has_text=key).first.is_visible()
        assert page.locator("img.snippet").evaluate("i => i.complete && i.naturalWidth > 0")
        page.locator(".line img").wait_for()
        page.wait_for_function("() => { const i = document.querySelector('.line img'); return i && i.complete && i.naturalWidth > 0; }")
        _shot(page, "review_queue.png")

        decided: dict[int, Any] = {}
        fid = _current_id(page)
        # type the true value and Enter, for the first items (amounts, family numbers…)
        for _ in range(6):
            it = rq.item(db, fid)
            if it["type"] != "digits" or fid not in truth:
                break
            page.keyboard.press("Control+a")
            page.keyboard.type(truth[fid])
            page.keyboard.press("Enter")
            nxt = _wait_next(page, fid)
            decided[fid] = truth[fid]
            fid = nxt
        assert len(decided) >= 3
        # Tab skips (nothing written)
        skipped = fid
        page.keyboard.press("Tab")
        fid = _wait_next(page, skipped)
        assert _status(dbp, skipped)[1] == "review"
        # Ctrl+I: illegible
        illegible = fid
        page.keyboard.press("Control+i")
        fid = _wait_next(page, illegible)
        # an invalid value warns first; Enter again confirms it. Not every digit field has an invalid value (a
        # cheque number may be anything): skip (Tab) to the next one that has.
        bad = None
        for _ in range(20):
            bad = _invalid_value(rq.item(db, fid))
            if bad is not None:
                break
            skipped_too = fid
            page.keyboard.press("Tab")
            fid = _wait_next(page, skipped_too)
        assert bad is not None, "no field with a check or a meaning in the first items of the queue"
        page.keyboard.press("Control+a")
        page.keyboard.type(bad)
        page.keyboard.press("Enter")
        page.locator("#msg.warn").wait_for()
        assert "Entrée pour confirmer" in page.locator("#msg").inner_text()
        assert _status(dbp, fid)[1] == "review"
        page.keyboard.press("Enter")
        _wait_next(page, fid)
        assert _status(dbp, fid)[1] == "verified"
        page.wait_for_function(f"() => document.querySelector('#n-done').textContent === '{len(decided) + 2}'")
        page.context.close()

    for f, v in decided.items():
        assert _status(dbp, f)[:2] == (v, "verified")
    assert _status(dbp, illegible)[:2] == (None, "verified")
    log = db.execute("SELECT DISTINCT reviewer FROM reviews").fetchall()
    assert log == [("Alice Martin",)]
    assert db.execute("SELECT COUNT(*) FROM reviews WHERE action = 'illegible'").fetchone()[0] == 1
    # the export says verified, with the typed values
    from papier.export import export

    out = tmp_path / "e.jsonl"
    export(dbp, fmt="jsonl", output=out)
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    for f, v in decided.items():
        it = rq.item(db, f)
        e = next(x for x in lines if x["page_key"] == it["context"]["page_key"] and x["row"] == it["context"]["row"]
                 and x.get("sheet_status", "primary") == "primary")
        assert e["fields"][it["name"]]["status"] == "verified" and e["fields"][it["name"]]["value"] == v


def test_marks_and_text_with_suggestions(browser: Any, dbp: Path) -> None:
    from papier.review.suggest import RosterSource
    from papier.sample_data import sample_roster

    db = open_db(dbp)
    roster = sample_roster()
    fam = next(f for f in roster[40:] if f["nom"].isascii() and f["nom"].isalpha())
    # a payment line whose family number is certain, and a mark field the machine was unsure of
    pay = db.execute("SELECT f.id, f.entry_id FROM fields f JOIN entries e ON e.id = f.entry_id JOIN sheets s "
                     "ON s.id = e.sheet_id WHERE s.form = 'paiement' AND s.status = 'primary' AND f.name = 'payeur' "
                     "AND f.status = 'review' LIMIT 1").fetchone()
    assert pay, "the batch needs a payer name to transcribe"
    db.execute("UPDATE fields SET value = ?, status = 'auto' WHERE entry_id = ? AND name = 'famille'",
               (json.dumps(fam["numero_famille"]), pay[1]))
    mode = db.execute("SELECT f.id FROM fields f WHERE f.entry_id = ? AND f.name = 'mode'", (pay[1],)).fetchone()[0]
    db.execute("UPDATE fields SET status = 'review', value = '\"cheque\"', alternatives = '[\"cb\"]', "
               "reason = 'plusieurs cases cochées', confidence = 0.5 WHERE id = ?", (mode,))
    with Running(dbp, sources=[RosterSource(roster, "liste des familles")]) as srv:
        page = _page(browser)
        # a choice: its number key, then Enter
        page.goto(srv.url + f"#/item/{mode}")
        page.locator(f"#item-area .item[data-id='{mode}']").wait_for()
        assert page.locator(".opt.on").inner_text().endswith("Chèque")
        page.keyboard.press("1")   # Espèces
        assert page.locator(".opt.on").inner_text().endswith("Espèces")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"#/page/\d+$"))
        assert _status(dbp, mode)[:2] == ("especes", "verified")
        # a name: the family of the certain n° de famille is suggested first; ↓ then Enter takes it, Enter confirms
        page.goto(srv.url + f"#/item/{pay[0]}")
        page.locator(f"#item-area .item[data-id='{pay[0]}']").wait_for()
        page.locator("#sugg li.sure").wait_for()
        _shot(page, "review_text.png")
        want = f"{fam['nom']} {fam['prenom']}"
        assert page.locator("#sugg li").first.locator(".v").inner_text() == want
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        assert page.locator("#v").input_value() == want
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"#/page/\d+$"))
        assert _status(dbp, pay[0])[:2] == (want, "verified")
        # typing filters the roster
        other = db.execute("SELECT f.id FROM fields f JOIN entries e ON e.id = f.entry_id JOIN sheets s "
                           "ON s.id = e.sheet_id WHERE s.form = 'paiement' AND f.name = 'payeur' AND f.status = 'review' "
                           "AND f.entry_id != ? LIMIT 1", (pay[1],)).fetchone()
        if other:
            page.goto(srv.url + f"#/item/{other[0]}")
            page.locator(f"#item-area .item[data-id='{other[0]}']").wait_for()
            prefix = fam["nom"][:4].lower()
            page.keyboard.type(prefix)
            page.wait_for_function(
                "p => { const v = [...document.querySelectorAll('#sugg li .v')].map(e => e.textContent.toLowerCase());"
                " return v.length > 0 && v.every(t => t.includes(p)); }", arg=prefix)
        page.context.close()


def test_two_tabs_on_one_item_never_overwrite_silently(browser: Any, dbp: Path) -> None:
    db = open_db(dbp)
    fid = next(f for f, g in rq.queue_order(db) if g == "amount")
    with Running(dbp) as srv:
        a = _page(browser, "Alice")
        b = _page(browser, "Bernard")
        for p in (a, b):
            p.goto(srv.url)
            p.locator(f"#item-area .item[data-id='{fid}']").wait_for()
        a.keyboard.press("Control+a")
        a.keyboard.type("1250")
        a.keyboard.press("Enter")
        _wait_next(a, fid)
        b.keyboard.press("Control+a")
        b.keyboard.type("9900")
        b.keyboard.press("Enter")
        b.locator("#msg.conflict").wait_for()
        msg = b.locator("#msg").inner_text()
        assert "Alice" in msg and "rien n'a été écrasé" in msg
        # the item was reloaded with Alice's value
        assert b.locator(".guess .mv").inner_text().startswith("12,50")
        _shot(b, "review_conflict.png")
        a.context.close()
        b.context.close()
    v, s, _ = _status(dbp, fid)
    assert (v, s) == ("1250", "verified")
    assert [r[0] for r in db.execute("SELECT reviewer FROM reviews WHERE field_id = ?", (fid,))] == ["Alice"]


def test_page_view_and_page_problems(browser: Any, dbp: Path) -> None:
    db = open_db(dbp)
    pid = db.execute("SELECT page_id FROM sheets WHERE form = 'paiement' AND status = 'primary' ORDER BY id").fetchone()[0]
    probs = rq.page_problems(db)
    conflict = next(p for p in probs if p["kind"] == "conflict")
    unid = next(p for p in probs if p["kind"] == "unidentified")
    with Running(dbp) as srv:
        page = _page(browser)
        page.goto(srv.url + f"#/page/{pid}")
        page.locator("svg.overlay a.fld").first.wait_for()
        n = page.locator("svg.overlay a.fld").count()
        assert n >= 10
        assert page.locator("svg.overlay a.fld.review").count() >= 1
        page.wait_for_timeout(150)
        _shot(page, "review_page.png")
        # page problems: a conflict (keep A / keep B) and an unidentified page (not papier / to rescan)
        page.goto(srv.url + "#/pages")
        page.locator(".problem").first.wait_for()
        assert page.locator("#pb-count").inner_text() == str(len(probs))
        assert page.locator(".blank-pages").inner_text().startswith("1 page(s) blanche(s)")  # listed apart
        page.wait_for_function("() => [...document.querySelectorAll('.problem img')].every(i => i.complete && i.naturalWidth > 0)")
        _shot(page, "review_pages.png")
        page.locator(".problem.conflict button[data-action='keep_b']").first.click()
        page.wait_for_function(f"() => document.querySelectorAll('.problem').length === {len(probs) - 1}")
        page.locator(".problem button[data-action='not_papier']").first.click()
        page.wait_for_function(f"() => document.querySelectorAll('.problem').length === {len(probs) - 2}")
        page.context.close()
    sb = db.execute("SELECT status, resolved_by FROM sheets WHERE id = ?", (conflict["b"]["sheet_id"],)).fetchone()
    assert sb == ("primary", "Alice")
    acts = {r[0] for r in db.execute("SELECT action FROM reviews WHERE field_id IS NULL")}
    assert acts == {"keep_b", "not_papier"}
    assert unid["page_id"] in [r[0] for r in db.execute("SELECT page_id FROM reviews WHERE action = 'not_papier'")]


def test_browser_without_token_is_refused(browser: Any, dbp: Path) -> None:
    with Running(dbp) as srv:
        page = _page(browser)
        r = page.goto(srv.base + "/")
        assert r.status == 403 and "jeton" in page.content()
        r = page.goto(srv.base + "/?t=faux")
        assert r.status == 403
        page.context.close()


def test_double_entry_two_people_must_agree(browser: Any, dbp: Path) -> None:
    db = open_db(dbp)
    rq.set_setting(db, "double_entry", True, "Admin")
    fid = next(f for f, g in rq.queue_order(db, "Alice") if g == "amount")
    with Running(dbp) as srv:
        a = _page(browser, "Alice")
        a.goto(srv.url)
        a.locator(f"#item-area .item[data-id='{fid}']").wait_for()
        assert "Double saisie" in a.locator(".double").inner_text()
        a.keyboard.press("Control+a")
        a.keyboard.type("4250")
        a.keyboard.press("Enter")
        _wait_next(a, fid)
        a.locator("#toast", has_text="deuxième personne").wait_for()
        assert _status(dbp, fid)[1] == "review"
        b = _page(browser, "Bernard")
        b.goto(srv.url)
        b.locator(f"#item-area .item[data-id='{fid}']").wait_for()
        assert "Alice" not in b.locator("#item-area").inner_text()  # blind second entry
        b.keyboard.press("Control+a")
        b.keyboard.type("4250")
        b.keyboard.press("Enter")
        _wait_next(b, fid)
        a.context.close()
        b.context.close()
    assert _status(dbp, fid)[:2] == ("4250", "verified")
    acts = [r[0] for r in db.execute("SELECT action FROM reviews WHERE field_id = ? ORDER BY id", (fid,))]
    assert acts == ["entry", "entry", "double_ok"]
