"""Review page: queue logic, decisions, concurrency, double entry, page problems, and the server's security —
on a real simulated batch ingested for real (see test_review_fixtures)."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

import pytest

from papier.db import jload, open_db
from papier.review import queue as rq
from test_review_fixtures import Running, fresh_db, truth_values


@pytest.fixture()
def dbp(tmp_path: Path) -> Path:
    return fresh_db(tmp_path)


def _first(db: Any, group: str | None = None, name: str | None = None) -> dict[str, Any]:
    for fid, g in rq.queue_order(db, "Alice"):
        if group and g != group:
            continue
        it = rq.item(db, fid, "Alice")
        if name and it["name"] != name:
            continue
        return it
    raise AssertionError(f"no queued field for group={group} name={name}")


# --- queue ---------------------------------------------------------------------------------------------------------


def test_queue_is_grouped_by_kind_then_lowest_confidence_first(dbp: Path) -> None:
    db = open_db(dbp)
    order = rq.queue_order(db)
    assert order, "the simulated batch must leave something to review"
    ranks = [rq.GROUP_RANK[g] for _, g in order]
    assert ranks == sorted(ranks)
    items = rq.items_by_id(db, [fid for fid, _ in order])
    by_group: dict[str, list[dict[str, Any]]] = {}
    for fid, g in order:
        by_group.setdefault(g, []).append(items[fid])
    for g, its in by_group.items():
        if g in ("amount", "famille"):
            confs = [i["confidence"] or 0.0 for i in its]
            assert confs == sorted(confs)
        for it in its:
            assert it["status"] == "review"
            assert it["context"]["sheet_status"] == "primary"
    # every item carries what the page shows: printed context, line crop geometry, the field's meaning
    pay = [i for i in items.values() if i["context"]["form"] == "paiement" and i["context"]["kind"] == "line"]
    assert pay and all("quittance" in i["context"]["printed"] for i in pay)
    assert all(i["line"] and i["line"]["crop"]["w"] > 100 for i in pay)
    q = rq.queue(db, "Alice", limit=5)
    assert q["left"] == len(order) and len(q["items"]) == 5
    assert [g["key"] for g in q["groups"]] == ["amount", "famille", "digits", "mark", "text"]


# --- decisions -----------------------------------------------------------------------------------------------------


def test_decision_verifies_logs_and_bumps_rev(dbp: Path) -> None:
    db = open_db(dbp)
    truth = truth_values(dbp)
    it = _first(db, "amount")
    res = rq.decide(db, it["id"], it["rev"], "set", "Alice", truth.get(it["id"], "1250"))
    assert res["ok"] and res["status"] == "verified"
    value, status, rev = db.execute("SELECT value, status, rev FROM fields WHERE id = ?", (it["id"],)).fetchone()
    assert status == "verified" and rev == it["rev"] + 1 and jload(value) == truth.get(it["id"], "1250")
    log = db.execute("SELECT reviewer, action, old_value, new_value, old_status, new_status, at FROM reviews "
                     "WHERE field_id = ?", (it["id"],)).fetchall()
    assert len(log) == 1
    who, action, old, new, old_s, new_s, at = log[0]
    assert (who, action, old_s, new_s) == ("Alice", "set", "review", "verified") and at
    assert jload(new) == jload(value)
    assert it["id"] not in [f for f, _ in rq.queue_order(db)]


def test_stale_rev_never_overwrites(dbp: Path) -> None:
    db = open_db(dbp)
    it = _first(db, "amount")
    rq.decide(db, it["id"], it["rev"], "set", "Alice", "1250")
    with pytest.raises(rq.Conflict) as exc:
        rq.decide(db, it["id"], it["rev"], "set", "Bob", "9990")
    assert "Alice" in str(exc.value) and exc.value.item["value"] == "1250"
    assert jload(db.execute("SELECT value FROM fields WHERE id = ?", (it["id"],)).fetchone()[0]) == "1250"
    assert db.execute("SELECT COUNT(*) FROM reviews WHERE field_id = ?", (it["id"],)).fetchone()[0] == 1


def test_invalid_values_warn_then_need_confirmation(dbp: Path) -> None:
    db = open_db(dbp)
    date = next(rq.item(db, f) for f, g in rq.queue_order(db) if rq.item(db, f)["meta"]["semantic"] == "date_ddmmyy")
    res = rq.decide(db, date["id"], date["rev"], "set", "Alice", "310226")  # 31 February
    assert res == {"ok": False, "warnings": ["date impossible"]}
    assert db.execute("SELECT status FROM fields WHERE id = ?", (date["id"],)).fetchone()[0] == "review"
    res = rq.decide(db, date["id"], date["rev"], "set", "Alice", "310226", force=True)
    assert res["ok"]
    note = db.execute("SELECT note FROM reviews WHERE field_id = ?", (date["id"],)).fetchone()[0]
    assert "date impossible" in note
    fam = _first(db, "famille")
    assert rq.decide(db, fam["id"], fam["rev"], "set", "Alice", "12345")["warnings"] == [
        "chiffre de contrôle (Luhn) faux"]
    with pytest.raises(rq.ReviewError, match="chiffres uniquement"):
        rq.decide(db, fam["id"], fam["rev"], "set", "Alice", "12a45")
    with pytest.raises(rq.ReviewError, match="trop de chiffres"):
        rq.decide(db, fam["id"], fam["rev"], "set", "Alice", "123456")
    amount = _first(db, "amount")
    # an amount typed with its comma is the digits of its boxes
    assert rq.decide(db, amount["id"], amount["rev"], "set", "Alice", "12,5")["value"] == "1250"
    with pytest.raises(rq.ReviewError, match="votre nom"):
        rq.decide(db, fam["id"], fam["rev"], "accept", "  ")


def test_illegible_and_blank_and_undo(dbp: Path) -> None:
    db = open_db(dbp)
    t = _first(db, "text")
    assert rq.decide(db, t["id"], t["rev"], "illegible", "Alice")["ok"]
    v, s = db.execute("SELECT value, status FROM fields WHERE id = ?", (t["id"],)).fetchone()
    assert jload(v) is None and s == "verified"
    assert db.execute("SELECT action, note FROM reviews WHERE field_id = ?", (t["id"],)).fetchone() == (
        "illegible", "illisible")
    # kept on the field row, and said in the export (value null, status verified, the entry's `illegible` list)
    assert db.execute("SELECT decision FROM fields WHERE id = ?", (t["id"],)).fetchone()[0] == "illegible"
    from papier.export import entry_rows

    e = next(e for e in entry_rows(db, None) if e["page_key"] == t["context"]["page_key"]
             and e["row"] == t["context"]["row"])
    assert e["illegible"] == [t["name"]] and e["fields"][t["name"]]["value"] is None
    assert e["fields"][t["name"]]["status"] == "verified"
    d = _first(db, "digits")
    assert rq.decide(db, d["id"], d["rev"], "blank", "Alice")["value"] == ""
    assert db.execute("SELECT decision FROM fields WHERE id = ?", (d["id"],)).fetchone()[0] == "blank"
    rq.undo(db, d["id"], d["rev"] + 1, "Alice")
    assert db.execute("SELECT status, decision FROM fields WHERE id = ?", (d["id"],)).fetchone() == ("review", None)
    with pytest.raises(rq.ReviewError, match="rien à accepter"):
        rq.decide(db, _first(db, "text")["id"], _first(db, "text")["rev"], "accept", "Alice")


def test_double_entry_needs_two_people_who_agree(dbp: Path) -> None:
    db = open_db(dbp)
    rq.set_setting(db, "double_entry", True, "Alice")
    it = _first(db, "amount")
    assert rq.item(db, it["id"], "Alice")["double"]["on"]
    r = rq.decide(db, it["id"], it["rev"], "set", "Alice", "1250")
    assert r["ok"] and r["status"] == "review" and "deuxième personne" in r["message"]
    assert it["id"] not in [f for f, _ in rq.queue_order(db, "Alice")]  # Alice does not see it again
    assert it["id"] in [f for f, _ in rq.queue_order(db, "Bob")]
    assert rq.item(db, it["id"], "Bob")["double"]["others"] == {}  # blind: Bob does not see Alice's value
    r = rq.decide(db, it["id"], it["rev"] + 1, "set", "Bob", "1290")
    assert r["status"] == "review"
    # a dispute: both see it again, with the other's value
    assert it["id"] in [f for f, _ in rq.queue_order(db, "Alice")]
    assert rq.item(db, it["id"], "Alice")["double"]["others"] == {"Bob": "1290"}
    r = rq.decide(db, it["id"], it["rev"] + 2, "set", "Alice", "1290")
    assert r["status"] == "verified"
    v, s = db.execute("SELECT value, status FROM fields WHERE id = ?", (it["id"],)).fetchone()
    assert (jload(v), s) == ("1290", "verified")
    # fields outside amounts / état civil are verified by one person
    d = next(rq.item(db, f) for f, g in rq.queue_order(db, "Alice")
             if g == "text" and rq.item(db, f)["context"]["form"] not in rq.ETAT_CIVIL_FORMS)
    assert rq.decide(db, d["id"], d["rev"], "set", "Alice", "Dupont")["status"] == "verified"


# --- pages -----------------------------------------------------------------------------------------------------------


def test_page_problems_and_their_actions(dbp: Path) -> None:
    db = open_db(dbp)
    probs = rq.page_problems(db)
    kinds = {p["kind"] for p in probs}
    assert kinds == {"unidentified", "conflict"}, probs
    # the note needs a person; the blank sheet (the back of a page) is kept but asks nothing
    assert [Path(p["source"]).name for p in probs if p["kind"] == "unidentified"] == ["zz_note.pdf"]
    assert rq.blank_pages(db) == 1
    assert db.execute("SELECT COUNT(*) FROM pages WHERE status = 'unidentified'").fetchone()[0] == 2
    un = next(p for p in probs if p["kind"] == "unidentified")
    rq.resolve_page(db, un["page_id"], "rescan", "Alice")
    assert un["page_id"] not in [p.get("page_id") for p in rq.page_problems(db) if p["kind"] == "unidentified"]
    with pytest.raises(rq.Conflict):
        rq.resolve_page(db, un["page_id"], "not_papier", "Bob")
    conf = next(p for p in probs if p["kind"] == "conflict" and p["b"] and p["a"])
    queued_before = {f for f, _ in rq.queue_order(db)}
    rq.resolve_page(db, conf["page_id"], "keep_b", "Alice")
    sa, sb = (db.execute("SELECT status, resolved_by FROM sheets WHERE id = ?", (conf[k]["sheet_id"],)).fetchone()
              for k in ("a", "b"))
    assert sa == ("superseded", "Alice") and sb == ("primary", "Alice")
    queued_after = {f for f, _ in rq.queue_order(db)}
    a_fields = {r[0] for r in db.execute("SELECT f.id FROM fields f JOIN entries e ON e.id = f.entry_id "
                                         "WHERE e.sheet_id = ?", (conf["a"]["sheet_id"],))}
    b_fields = {r[0] for r in db.execute("SELECT f.id FROM fields f JOIN entries e ON e.id = f.entry_id "
                                         "WHERE e.sheet_id = ? AND f.status = 'review'", (conf["b"]["sheet_id"],))}
    assert not (queued_after & a_fields) and b_fields <= queued_after and not (queued_before & b_fields)
    with pytest.raises(rq.Conflict):
        rq.resolve_page(db, conf["page_id"], "keep_a", "Bob")
    assert db.execute("SELECT COUNT(*) FROM reviews WHERE field_id IS NULL AND action IN "
                      "('rescan', 'keep_b')").fetchone()[0] == 2
    # the decisions are kept on the page rows, and exported with the pages (`resolution`)
    got = {pid: (res, who) for pid, res, who in db.execute(
        "SELECT id, resolution, resolved_by FROM pages WHERE resolution IS NOT NULL")}
    assert got == {un["page_id"]: ("rescan", "Alice"), conf["page_id"]: ("keep_b", "Alice")}
    from papier.export import page_rows

    seq = [r[0] for r in db.execute("SELECT id FROM pages ORDER BY seq")]
    lines = dict(zip(seq, page_rows(db)))
    assert lines[un["page_id"]]["resolution"]["action"] == "rescan"
    assert lines[conf["page_id"]]["resolution"]["by"] == "Alice"
    assert sum(x["resolution"] is not None for x in lines.values()) == 2


def test_migration_3_fills_decisions_from_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database made before migration 3 (decisions only in the reviews log) gets them on its rows."""
    import sqlite3

    import papier.db as pdb

    path = tmp_path / "old.db"
    monkeypatch.setattr(pdb, "MIGRATIONS", pdb.MIGRATIONS[:2])
    old = pdb.open_db(path)
    old.conn.execute("INSERT INTO pages (id, seq, source, idx, sha256, status) VALUES (1, 1, 'a.pdf', 1, 'x', "
                     "'unidentified'), (2, 2, 'a.pdf', 2, 'y', 'conflict')")
    old.conn.execute("INSERT INTO fields (id, entry_id, name, type, value, status, rev) VALUES "
                     "(1, NULL, 'nom', 'text', 'null', 'verified', 1), (2, NULL, 'montant', 'digits', '\"1250\"', "
                     "'verified', 2), (3, NULL, 'date', 'digits', '\"\"', 'review', 1)")
    rows = [(None, 1, "Alice", "2024-10-14T09:00:00+00:00", "not_papier", None),
            (None, 1, "Bob", "2024-10-14T10:00:00+00:00", "rescan", None),
            (None, 2, "Alice", "2024-10-14T11:00:00+00:00", "keep_a", None),
            (1, 5, "Alice", "2024-10-14T09:00:00+00:00", "illegible", "illisible"),
            (2, 5, "Alice", "2024-10-14T09:00:00+00:00", "entry", "set"),
            (2, 5, "Bob", "2024-10-14T09:01:00+00:00", "entry", "set; double saisie concordante avec Alice"),
            (3, 5, "Alice", "2024-10-14T09:00:00+00:00", "blank", "vide")]
    old.conn.executemany("INSERT INTO reviews (field_id, page_id, reviewer, at, action, note) "
                         "VALUES (?, ?, ?, ?, ?, ?)", rows)
    old.conn.close()
    monkeypatch.undo()
    db = pdb.open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(pdb.MIGRATIONS)
    assert db.execute("SELECT id, resolution, resolved_by FROM pages ORDER BY id").fetchall() == [
        (1, "rescan", "Bob"), (2, "keep_a", "Alice")]
    # a field back in review (reopened) has no decision
    assert db.execute("SELECT id, decision FROM fields ORDER BY id").fetchall() == [
        (1, "illegible"), (2, "set"), (3, None)]
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == len(rows)


def test_page_view_has_geometry_for_every_field(dbp: Path) -> None:
    db = open_db(dbp)
    page_id = db.execute("SELECT page_id FROM sheets WHERE form = 'paiement' AND status = 'primary'").fetchone()[0]
    pv = rq.page_view(db, page_id)
    assert pv["size_mm"] == [210.0, 297.0]
    fields = [f for e in pv["entries"] for f in e["fields"]]
    assert fields and all(f["geom"] for f in fields)


def test_export_shows_verified_values(dbp: Path, tmp_path: Path) -> None:
    from papier.export import export

    db = open_db(dbp)
    truth = truth_values(dbp)
    it = _first(db, "amount")
    rq.decide(db, it["id"], it["rev"], "set", "Alice", truth[it["id"]])
    out = tmp_path / "e.jsonl"
    export(dbp, fmt="jsonl", output=out)
    row = it["context"]["row"]
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    hit = [x for x in lines if x["page_key"] == it["context"]["page_key"] and x["row"] == row
           and x.get("sheet_status", "primary") == "primary"]
    assert hit and hit[0]["fields"][it["name"]] == {**hit[0]["fields"][it["name"]], "value": truth[it["id"]],
                                                    "status": "verified"}


def test_suggestions_from_roster_by_certain_family(dbp: Path) -> None:
    from papier.review.suggest import RosterSource, SuggestContext, default_sources, suggest
    from papier.sample_data import sample_roster

    roster = sample_roster()
    fam = roster[10]
    src = RosterSource(roster)
    ctx = SuggestContext("paiement", "payeur", {"famille": {"value": fam["numero_famille"], "status": "verified"}})
    out = suggest([src], ctx, "")
    assert out[0]["value"] == f"{fam['nom']} {fam['prenom']}" and out[0]["sure"]
    ctx = SuggestContext("paiement", "payeur", {"famille": {"value": fam["numero_famille"], "status": "review"}})
    assert suggest([src], ctx, "") == []  # an unsure family number suggests nothing by itself
    typed = fam["nom"][:3].lower()
    assert all(v["value"].lower().split()[0].startswith(typed) or typed in v["value"].lower()
               for v in suggest([src], ctx, typed))
    # the sample roster is offered only when the batch's own family numbers come from it
    db = open_db(dbp)
    db.execute("UPDATE fields SET value = ?, status = 'verified' WHERE name = 'famille'",
               (json.dumps(fam["numero_famille"]),))
    assert any(isinstance(s, RosterSource) for s in default_sources(db))
    db.execute("UPDATE fields SET value = '\"00000\"' WHERE name = 'famille'")  # another commune's numbers
    assert not any(isinstance(s, RosterSource) for s in default_sources(db))


def test_review_command_takes_the_communes_csv_files(dbp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                     ) -> None:
    """`papier review --roster F --catalog F`: suggestions come from the commune's own files (and only them)."""
    from click.testing import CliRunner

    from papier.cli import main
    from papier.review import server as srv_mod
    from papier.review.suggest import CatalogSource, RosterSource, SuggestContext, suggest

    (tmp_path / "familles.csv").write_text("nom;prenom;numero_famille\nZORRO;Diego;10009\n", encoding="utf-8")
    (tmp_path / "catalogue.csv").write_text("code_barres;cote;titre;support\n9780000000002;R ZOR;Le Renard;livre\n",
                                            encoding="utf-8")
    seen: dict[str, Any] = {}

    def stop(self: Any, poll_interval: float = 0.5) -> None:
        seen["sources"] = self.sources
        raise KeyboardInterrupt

    monkeypatch.setattr(srv_mod.ReviewServer, "serve_forever", stop)
    r = CliRunner().invoke(main, ["review", "--db", str(dbp), "--no-browser", "--roster",
                                  str(tmp_path / "familles.csv"), "--catalog", str(tmp_path / "catalogue.csv")])
    assert r.exit_code == 0, r.output
    assert [type(s) for s in seen["sources"]] == [RosterSource, CatalogSource]
    assert "Suggestions pour la saisie : liste des familles, catalogue." in r.output
    ctx = SuggestContext("paiement", "payeur", {"famille": {"value": "10009", "status": "auto"}})
    assert suggest(seen["sources"], ctx, "")[0]["value"] == "ZORRO Diego"
    r = CliRunner().invoke(main, ["review", "--db", str(dbp), "--no-browser", "--roster", str(tmp_path / "nope.csv")])
    assert r.exit_code == 2 and "nope.csv" in r.output


# --- the server: token, CSRF, paths ---------------------------------------------------------------------------------


def _req(srv: Running, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
         ) -> tuple[int, bytes, dict[str, str]]:
    host, port = srv.server.server_address[:2]
    c = http.client.HTTPConnection(host, port, timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data, dict(r.getheaders())


def test_token_required_for_everything(dbp: Path) -> None:
    db = open_db(dbp)
    fid = rq.queue_order(db)[0][0]
    with Running(dbp) as srv:
        t = srv.token
        for path in ("/", "/static/app.js", "/api/queue", f"/api/item/{fid}", f"/img/snippet/{fid}",
                     f"/img/line/{fid}", "/api/problems", "/img/page/1"):
            assert _req(srv, "GET", path)[0] == 403, path
            assert _req(srv, "GET", path + "?t=wrong" + t[5:])[0] == 403, path
            st, body, hdr = _req(srv, "GET", path + f"?t={t}")
            assert st == 200, (path, body[:200])
        st, body, hdr = _req(srv, "GET", f"/?t={t}")
        assert "no-referrer" in hdr["Referrer-Policy"] and "script-src 'self'" in hdr["Content-Security-Policy"]
        assert b"papier" in body and t.encode() in body
        # the header works too; another Host (DNS rebinding) is refused even with the token
        assert _req(srv, "GET", "/api/queue", headers={"X-Papier-Token": t})[0] == 200
        assert _req(srv, "GET", f"/api/queue?t={t}", headers={"Host": "evil.example:80"})[0] == 403


def test_posts_need_the_token_header_and_json(dbp: Path) -> None:
    db = open_db(dbp)
    it = rq.item(db, rq.queue_order(db)[0][0])
    body = json.dumps({"field_id": it["id"], "rev": it["rev"], "action": "set", "value": "1250",
                       "reviewer": "Mallory"}).encode()
    with Running(dbp) as srv:
        t = srv.token
        js = {"Content-Type": "application/json"}
        assert _req(srv, "POST", "/api/decide", body, js)[0] == 403                       # no token
        assert _req(srv, "POST", f"/api/decide?t={t}", body, js)[0] == 403                # token in the URL only
        assert _req(srv, "POST", "/api/decide", body, {**js, "X-Papier-Token": "x" + t})[0] == 403
        # a cross-site form can only send form encodings: refused even with a token
        st, data, _ = _req(srv, "POST", "/api/decide", body,
                           {"Content-Type": "application/x-www-form-urlencoded", "X-Papier-Token": t})
        assert st == 415
        assert db.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == 0
        st, data, _ = _req(srv, "POST", "/api/decide", body, {**js, "X-Papier-Token": t})
        assert st == 200 and json.loads(data)["ok"], data
        # the same rev again: 409 with a French message and the fresh item
        st, data, _ = _req(srv, "POST", "/api/decide", body, {**js, "X-Papier-Token": t})
        j = json.loads(data)
        assert st == 409 and j["conflict"] and "Mallory" in j["error"] and j["item"]["rev"] == it["rev"] + 1


def test_images_cannot_leave_the_database_folder(dbp: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG secret outside")
    db = open_db(dbp)
    fids = [r[0] for r in db.execute("SELECT id FROM fields WHERE snippet IS NOT NULL LIMIT 4")]
    files = dbp.parent / (dbp.name + ".files")
    (files / "link.png").symlink_to(secret)
    attempts = ["../secret.png", str(secret), "papier.db.files/../../secret.png", "papier.db.files/link.png"]
    for fid, bad in zip(fids, attempts):
        db.execute("UPDATE fields SET snippet = ? WHERE id = ?", (bad, fid))
    pid = db.execute("SELECT id FROM pages WHERE image_path IS NOT NULL LIMIT 1").fetchone()[0]
    db.execute("UPDATE pages SET image_path = ? WHERE id = ?", ("../../../../../../etc/passwd", pid))
    with Running(dbp) as srv:
        t = srv.token
        for fid in fids:
            st, data, _ = _req(srv, "GET", f"/img/snippet/{fid}?t={t}")
            assert st == 404 and b"secret" not in data
        assert _req(srv, "GET", f"/img/original/{pid}?t={t}")[0] == 404
        for path in ("/img/snippet/..%2F..%2Fsecret.png", "/img/snippet/../../secret.png", "/static/../server.py",
                     "/static/%2e%2e/server.py", "/img/original/-1", "/img/snippet/1/../../x"):
            st, data, _ = _req(srv, "GET", f"{path}?t={t}")
            assert st in (400, 404) and b"secret" not in data and b"import" not in data, path


def test_queue_cache_follows_every_change(dbp: Path) -> None:
    db = open_db(dbp)
    cache = rq.QueueCache()

    def same() -> None:
        assert rq.queue_order(db, "Alice", cache) == rq.queue_order(db, "Alice")
        a, b = rq.queue(db, "Alice", 10, cache=cache), rq.queue(db, "Alice", 10)
        assert (a["left"], a["groups"], [i["id"] for i in a["items"]]) == (
            b["left"], b["groups"], [i["id"] for i in b["items"]])

    same()
    it = _first(db, "amount")
    rq.decide(db, it["id"], it["rev"], "set", "Alice", "1250")
    same()
    rq.undo(db, it["id"], it["rev"] + 1, "Alice")     # back in the queue, at its place
    same()
    rq.set_setting(db, "double_entry", True, "Alice")
    it = _first(db, "amount")
    rq.decide(db, it["id"], it["rev"], "set", "Alice", "1250")  # hidden for Alice only
    same()
    conf = next(p for p in rq.page_problems(db) if p["kind"] == "conflict" and p["a"])
    rq.resolve_page(db, conf["page_id"], "keep_b", "Alice")
    same()
    db.execute("UPDATE fields SET status = 'review' WHERE id = (SELECT MAX(id) FROM fields WHERE status = 'auto')")
    db.execute("INSERT INTO fields (entry_id, name, type, status, confidence, rev) SELECT entry_id, 'extra', 'text', "
               "'review', 0.0, 0 FROM fields WHERE id = (SELECT MIN(id) FROM fields)")  # an ingest adds fields
    same()
    assert cache.rebuilds >= 3


def test_decision_on_a_full_disk_is_refused_plainly(dbp: Path, small_disk: Any) -> None:
    """The database's disk is full: the decision is not saved, the page says why in French (507, not « erreur
    interne »), nothing is half-written; once there is room, the same decision goes through."""
    import sqlite3

    from conftest import fill_up

    size = sum(f.stat().st_size for f in dbp.parent.glob(dbp.name + "*") if f.is_file())
    disk = small_disk(f"{size // 1024 + 1024}k")
    db_path = disk / dbp.name
    with sqlite3.connect(dbp) as src, sqlite3.connect(db_path) as dst:
        src.backup(dst)
    db = open_db(db_path)
    it = rq.item(db, rq.queue_order(db)[0][0])
    body = json.dumps({"field_id": it["id"], "rev": it["rev"], "action": "set", "value": "1250",
                       "reviewer": "Alice"}).encode()
    with Running(db_path) as srv:
        hdr = {"Content-Type": "application/json", "X-Papier-Token": srv.token}
        assert _req(srv, "GET", f"/api/item/{it['id']}?t={srv.token}")[0] == 200  # the server's connection is open
        junk = fill_up(disk)
        st, data, _ = _req(srv, "POST", "/api/decide", body, hdr)
        assert st == 507, data
        assert "disque plein" in json.loads(data)["error"] and "rien n'a été enregistré" in json.loads(data)["error"]
        junk.unlink()
        assert db.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == 0
        assert db.execute("SELECT status, rev FROM fields WHERE id = ?", (it["id"],)).fetchone() == ("review",
                                                                                                    it["rev"])
        st, data, _ = _req(srv, "POST", "/api/decide", body, hdr)
        assert st == 200 and json.loads(data)["ok"], data
    assert db.execute("SELECT status FROM fields WHERE id = ?", (it["id"],)).fetchone() == ("verified",)
    db.conn.close()
