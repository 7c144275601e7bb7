"""Benchmark of the review page: is it still instant with 10,000 values waiting?

Builds a database with realistic rows (the built-in forms' real fields, one sheet per page, about half the
written values flagged for review with spread confidences, real PNG snippets), starts the real server on a free
port and measures over HTTP, the way the browser calls it:

- GET /                     the page itself
- GET /api/queue            counts per group + the first 30 items in full (the call made at start and on refill)
- GET /api/item/ID          one item
- GET /img/snippet/ID       one snippet
- POST /api/decide          one decision (verified + audit row, optimistic concurrency)
- GET /api/queue            with double entry on (per-reviewer filtering)
- GET /api/pages, /api/problems

Usage: python bench/bench_review.py [--pending 10000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from papier.db import files_dir, jdump, now, open_db
from papier.forms import builtin_form
from papier.layout import layout_form
from papier.review.server import build_server

FORMS = ("paiement", "paiement", "paiement", "pret", "retour", "naissance", "deces", "main_courante")


def _value(ftype: str, f, rng: random.Random):
    if ftype == "digits":
        n = f.defn.length or 6
        return "".join(rng.choice("0123456789") for _ in range(n))
    if ftype == "choice":
        return rng.choice([o.value for o in f.options])
    if ftype == "multi":
        return [o.value for o in f.options if rng.random() < 0.3]
    if ftype == "checkbox":
        return rng.random() < 0.2
    return None


def build_db(path: Path, pending: int, seed: int = 1) -> dict[str, int]:
    rng = random.Random(seed)
    db = open_db(path)
    fdir = files_dir(path)
    snip_dir = fdir / "snippets"
    snip_dir.mkdir(parents=True, exist_ok=True)
    # a few real PNG snippets (rendered digits), shared by many fields
    snippets = []
    for i in range(20):
        img = np.full((80, 320), 255, np.uint8)
        cv2.putText(img, f"{rng.randint(0, 999999):06d}", (8, 60), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 2.0, 30, 3)
        p = snip_dir / f"s{i:02d}.png"
        cv2.imwrite(str(p), img)
        snippets.append(f"{path.name}.files/snippets/{p.name}")
    c = db.conn
    n_review = n_fields = n_pages = 0
    c.execute("BEGIN IMMEDIATE")
    serial: dict[str, int] = {}
    while n_review < pending:
        form = FORMS[n_pages % len(FORMS)]
        fd = builtin_form(form)
        lay = layout_form(fd)
        serial[form] = serial.get(form, 0) + 1
        key = f"BENCHKIT-{form}-{serial[form]:03d}"
        n_pages += 1
        pid = c.execute("INSERT INTO pages (seq, source, idx, sha256, image_path, status, page_key, copy, seen_at) "
                        "VALUES (?, ?, ?, ?, NULL, 'identified', ?, 0, ?)",
                        (n_pages, "lot.pdf", n_pages, f"{n_pages:064x}", key, now())).lastrowid
        sid = c.execute("INSERT INTO sheets (page_key, copy, kit_id, form, form_version, serial, page_id, status, "
                        "created) VALUES (?, 0, 'BENCHKIT', ?, 1, ?, ?, 'primary', ?)",
                        (key, form, serial[form], pid, now())).lastrowid
        c.execute("UPDATE pages SET sheet_id = ? WHERE id = ?", (sid, pid))
        printed = lay.printed_values("BENCHKIT", serial[form])
        for e in lay.entries:
            ink = e.kind == "page" or rng.random() < 0.85
            eid = c.execute("INSERT INTO entries (sheet_id, row, kind, has_ink, printed) VALUES (?, ?, ?, ?, ?)",
                            (sid, e.row, e.kind, int(ink), jdump(printed.get(e.row, {})))).lastrowid
            rows = []
            for f in e.fields:
                has = ink and rng.random() < 0.8
                if f.type == "text":
                    status = "review" if has else "auto"
                    value = None
                    conf = 0.0
                elif f.type == "digits":
                    status = "review" if has and rng.random() < 0.5 else "auto"
                    value = _value("digits", f, rng) if has else ""
                    conf = rng.uniform(0.2, 0.9) if status == "review" else 0.99
                else:
                    status = "review" if has and rng.random() < 0.05 else "auto"
                    value = _value(f.type, f, rng) if has else (False if f.type == "checkbox" else None)
                    conf = rng.uniform(0.3, 0.7) if status == "review" else 0.99
                z = f.ink_zone()
                rows.append((eid, f.name, f.type, jdump(value), status, conf, jdump([]), None if status == "auto"
                             else "lecture incertaine", int(has), rng.choice(snippets) if has else None,
                             jdump([z.x, z.y, z.w, z.h]), jdump(value), 0, now()))
                n_review += status == "review"
                n_fields += 1
            c.executemany("INSERT INTO fields (entry_id, name, type, value, status, confidence, alternatives, reason, "
                          "has_ink, snippet, bbox_mm, machine_value, rev, updated_at) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    # a few page problems
    for i in range(5):
        c.execute("INSERT INTO pages (seq, source, idx, sha256, status, reason, seen_at) VALUES (?, 'lot.pdf', ?, ?, "
                  "'unidentified', 'aucun QR code lisible', ?)", (n_pages + i + 1, n_pages + i + 1, f"u{i}", now()))
    c.execute("COMMIT")
    db.conn.close()
    return {"pages": n_pages, "fields": n_fields, "review": n_review}


class Client:
    def __init__(self, host: str, port: int, token: str):
        self.c = http.client.HTTPConnection(host, port, timeout=30)
        self.token = token

    def get(self, path: str) -> tuple[int, bytes]:
        sep = "&" if "?" in path else "?"
        self.c.request("GET", f"{path}{sep}t={self.token}")
        r = self.c.getresponse()
        return r.status, r.read()

    def post(self, path: str, obj: dict) -> tuple[int, bytes]:
        self.c.request("POST", path, body=json.dumps(obj).encode(),
                       headers={"Content-Type": "application/json", "X-Papier-Token": self.token})
        r = self.c.getresponse()
        return r.status, r.read()


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        st, _ = fn()
        out.append((time.perf_counter() - t) * 1000)
        assert st == 200, st
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pending", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--decisions", type=int, default=300)
    args, _ = ap.parse_known_args()  # run_all.py passes its own arguments through
    root = Path(tempfile.mkdtemp(prefix="bench-review-"))
    try:
        t = time.perf_counter()
        stats = build_db(root / "papier.db", args.pending)
        build_s = time.perf_counter() - t
        srv, url = build_server(root / "papier.db")
        th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        th.start()
        host, port = srv.server_address[:2]
        cl = Client(host, port, srv.token)
        q = json.loads(cl.get("/api/queue?reviewer=Bench&limit=30")[1])
        fid = q["items"][0]["id"]
        rows: list[tuple[str, list[float]]] = []
        rows.append(("GET / (the page)", timed(lambda: cl.get("/"), args.repeat)))
        rows.append(("GET /api/queue (counts + 30 items)",
                     timed(lambda: cl.get("/api/queue?reviewer=Bench&limit=30"), args.repeat)))
        from papier.review.queue import QueueCache

        def cold() -> tuple[int, bytes]:
            srv.qcache = QueueCache()  # as on the first call after start or after an ingest: full sort
            return cl.get("/api/queue?reviewer=Bench&limit=30")
        rows.append(("GET /api/queue, cold (full sort)", timed(cold, max(5, args.repeat // 3))))
        rows.append(("GET /api/item/ID", timed(lambda: cl.get(f"/api/item/{fid}?reviewer=Bench"), args.repeat)))
        rows.append(("GET /img/snippet/ID", timed(lambda: cl.get(f"/img/snippet/{fid}"), args.repeat)))
        rows.append(("GET /api/pages", timed(lambda: cl.get("/api/pages"), max(5, args.repeat // 3))))
        rows.append(("GET /api/problems", timed(lambda: cl.get("/api/problems"), args.repeat)))
        # decisions: walk the queue as a reviewer would
        items = []
        while len(items) < args.decisions:
            excl = ",".join(str(i["id"]) for i in items)
            got = json.loads(cl.get(f"/api/queue?reviewer=Bench&limit=200&exclude={excl}")[1])["items"]
            if not got:
                break
            items += got
        it_iter = iter(items[: args.decisions])

        def one() -> tuple[int, bytes]:
            it = next(it_iter)
            return cl.post("/api/decide", {"field_id": it["id"], "rev": it["rev"], "action": "illegible",
                                           "reviewer": "Bench"})
        n_dec = min(args.decisions, len(items)) // 2
        rows.append(("POST /api/decide (one decision)", timed(one, n_dec)))

        def one_then_queue() -> tuple[int, bytes]:
            one()
            return cl.get("/api/queue?reviewer=Bench&limit=30")
        rows.append(("POST decide + GET /api/queue (refill)", timed(one_then_queue, n_dec)))
        cl.post("/api/settings", {"key": "double_entry", "value": True, "reviewer": "Bench"})
        rows.append(("GET /api/queue, double entry on",
                     timed(lambda: cl.get("/api/queue?reviewer=Other&limit=30"), args.repeat)))
        srv.shutdown()
        srv.server_close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"review page benchmark — {stats['review']} values pending on {stats['pages']} pages "
          f"({stats['fields']} fields; database built in {build_s:.1f} s)")
    print(f"{'request':<40} {'median ms':>10} {'p95 ms':>10} {'max ms':>10} {'n':>5}")
    worst = 0.0
    for name, ms in rows:
        ms_sorted = sorted(ms)
        p95 = ms_sorted[min(len(ms_sorted) - 1, int(round(0.95 * (len(ms_sorted) - 1))))]
        worst = max(worst, statistics.median(ms))
        print(f"{name:<40} {statistics.median(ms):>10.1f} {p95:>10.1f} {max(ms):>10.1f} {len(ms):>5}")
    print(f"target: every median well under 200 ms — {'OK' if worst < 200 else 'TOO SLOW'}")
    return 0 if worst < 200 else 1


if __name__ == "__main__":
    sys.exit(main())
