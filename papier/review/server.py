"""The review page's local HTTP server (stdlib ``http.server``, one thread per request).

Security (the page shows personal data and changes the database):
- listens on 127.0.0.1 only; a per-run secret token (``secrets.token_urlsafe``) is required for everything —
  pages, static files, JSON and images: ``?t=TOKEN`` on GET (the address printed at start carries it) or the
  ``X-Papier-Token`` header. POSTs accept only the header (a cross-site form cannot set it) and only JSON bodies:
  CSRF-safe. No token or a wrong one → 403.
- the Host header must be 127.0.0.1/localhost (DNS rebinding); responses carry a strict Content-Security-Policy,
  ``Referrer-Policy: no-referrer`` (the token is in the URL) and ``Cache-Control: no-store``.
- images are looked up by field or page id; the path comes from the database and must resolve inside the
  database's folder (see papier.review.images.safe_path).

``build_server(db_path, port=0)`` returns ``(server, url)`` without blocking (tests run it in a thread);
``serve()`` is what ``papier review`` calls.
"""

from __future__ import annotations

import hmac
import json
import queue as _queue
import secrets
import sys
import threading
import webbrowser
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import sqlite_utils

from papier.db import open_db
from papier.errors import storage_advice, storage_problem
from papier.review import queue as rq
from papier.review.images import CONTENT_TYPES, ImageNotFound, PageImages, jpeg_bytes, safe_path
from papier.review.suggest import SuggestContext, default_sources, has_source, suggest

MAX_BODY = 64 * 1024
STATIC_FILES = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _static(name: str) -> bytes:
    return resources.files("papier.review").joinpath("static", name).read_bytes()


class _Pool:
    """SQLite connections for request threads (one connection is never used by two threads at once)."""

    def __init__(self, db_path: Path, size: int = 8):
        self.db_path = db_path
        self.free: _queue.LifoQueue[sqlite_utils.Database] = _queue.LifoQueue()
        self.all: list[sqlite_utils.Database] = []
        self.lock = threading.Lock()
        self.size = size

    @contextmanager
    def conn(self) -> Iterator[sqlite_utils.Database]:
        try:
            db = self.free.get_nowait()
        except _queue.Empty:
            db = open_db(self.db_path, create=False)
            with self.lock:
                self.all.append(db)
        try:
            yield db
        finally:
            if db.conn.in_transaction:  # never hand back a connection inside a transaction
                db.conn.execute("ROLLBACK")
            self.free.put(db)

    def close(self) -> None:
        with self.lock:
            for db in self.all:
                try:
                    db.conn.close()
                except Exception:
                    pass
            self.all.clear()


class ReviewServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, db_path: Path, port: int, token: str, sources: list[Any] | None):
        self.db_path = Path(db_path).resolve()
        self.db_dir = self.db_path.parent
        self.token = token
        self.pool = _Pool(self.db_path)
        with self.pool.conn() as db:  # migrate once, before serving; fail early on a bad file
            self.sources = default_sources(db) if sources is None else list(sources)
        self.images = PageImages(self.db_dir)
        self.qcache = rq.QueueCache()
        super().__init__(("127.0.0.1", port), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/?t={self.token}"

    def server_close(self) -> None:
        super().server_close()
        self.pool.close()


class HttpError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    protocol_version = "HTTP/1.1"
    server_version = "papier-review"
    disable_nagle_algorithm = True  # headers and body leave at once: no 40 ms delayed-ACK stall
    sys_version = ""

    # --- plumbing ---------------------------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: the terminal shows the URL only
        pass

    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Security-Policy", CSP)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj: Any, status: int = 200) -> None:
        self._send(status, json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
                   "application/json; charset=utf-8")

    def _error(self, status: int, message: str, **extra: Any) -> None:
        if self.path.startswith("/api/") or self.command == "POST":
            self._json({"error": message, **extra}, status)
        else:
            self._send(status, f"{status} — {message}\n".encode("utf-8"), "text/plain; charset=utf-8")

    def _authorized(self, query: dict[str, list[str]], post: bool) -> bool:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        if host not in ("127.0.0.1", "localhost"):
            return False
        given = self.headers.get("X-Papier-Token") or ("" if post else (query.get("t") or [""])[0])
        return bool(given) and hmac.compare_digest(given.encode(), self.server.token.encode())

    def _route(self, post: bool) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        path = parts.path
        if not self._authorized(query, post):
            # drain a posted body so the connection stays sane, then refuse
            if post:
                self._read_body(check_type=False)
            self.close_connection = True
            self._error(HTTPStatus.FORBIDDEN, "accès refusé : jeton absent ou faux (utilisez l'adresse affichée "
                                              "par « papier review »)")
            return
        try:
            if post:
                self._post(path, self._read_body())
            else:
                self._get(path, query)
        except HttpError as exc:
            self._error(exc.status, str(exc))
        except rq.Conflict as exc:
            self._error(409, str(exc), conflict=True, item=exc.item)
        except rq.ReviewError as exc:
            self._error(exc.status, str(exc))
        except ImageNotFound as exc:
            self._error(404, f"image introuvable ({exc})")
        except BrokenPipeError:
            pass
        except Exception as exc:  # noqa: BLE001 - a request must never take the server down
            why = storage_problem(exc)
            if why is not None:  # the disk refuses writes: the decision was not saved, say so plainly
                self._error(HTTPStatus.INSUFFICIENT_STORAGE, f"{why} : rien n'a été enregistré. "
                            f"{storage_advice('le disque de la base', True)}, puis recommencez.")
                return
            print(f"papier review : erreur interne sur {path} : {type(exc).__name__}: {exc}", file=sys.stderr)
            self._error(500, "erreur interne du serveur de relecture (voir le terminal)")

    def _read_body(self, check_type: bool = True) -> dict[str, Any]:
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise HttpError(400, "longueur de requête invalide") from None
        if n > MAX_BODY:
            self.close_connection = True
            raise HttpError(413, "requête trop grande")
        raw = self.rfile.read(n) if n > 0 else b""
        if not check_type:
            return {}
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            raise HttpError(415, "JSON attendu")
        try:
            body = json.loads(raw.decode("utf-8") or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise HttpError(400, "JSON invalide") from None
        if not isinstance(body, dict):
            raise HttpError(400, "objet JSON attendu")
        return body

    def do_GET(self) -> None:  # noqa: N802
        self._route(post=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._route(post=False)

    def do_POST(self) -> None:  # noqa: N802
        self._route(post=True)

    def do_PUT(self) -> None:  # noqa: N802
        self._error(405, "méthode non permise")

    do_DELETE = do_PUT
    do_PATCH = do_PUT

    # --- GET ----------------------------------------------------------------------------------------------------

    def _get(self, path: str, q: dict[str, list[str]]) -> None:
        def arg(name: str, default: str = "") -> str:
            return (q.get(name) or [default])[0]

        if path in ("/", "/index.html"):
            html = _static("index.html").decode("utf-8").replace("__TOKEN__", self.server.token)
            self._send(200, html.encode("utf-8"), "text/html; charset=utf-8")
            return
        if path.startswith("/static/"):
            name = path[len("/static/"):]
            if name not in STATIC_FILES:
                raise HttpError(404, "fichier inconnu")
            self._send(200, _static(name), STATIC_FILES[name])
            return
        seg = path.strip("/").split("/")
        if seg[0] == "api":
            self._api_get(seg[1:], arg)
            return
        if seg[0] == "img" and len(seg) == 3:
            self._image(seg[1], _int(seg[2]))
            return
        raise HttpError(404, "page inconnue")

    def _api_get(self, seg: list[str], arg: Any) -> None:
        srv = self.server
        with srv.pool.conn() as db:
            if seg == ["queue"]:
                excl = [_int(x) for x in arg("exclude").split(",") if x.strip()][:5000]
                self._json(rq.queue(db, arg("reviewer"), limit=_int(arg("limit", "30")), exclude=excl,
                                    cache=srv.qcache))
            elif len(seg) == 2 and seg[0] == "item":
                it = rq.item(db, _int(seg[1]), arg("reviewer"))
                it["suggest_source"] = has_source(srv.sources, it["context"]["form"], it["name"])
                self._json(it)
            elif seg == ["suggest"]:
                it = rq.item(db, _int(arg("field")))
                ctx = SuggestContext(it["context"]["form"], it["name"],
                                     {s["name"]: s for s in it["siblings"]})
                self._json({"suggestions": suggest(srv.sources, ctx, arg("q"), limit=min(20, _int(arg("limit", "8"))))})
            elif seg == ["problems"]:
                self._json({"problems": rq.page_problems(db, include_resolved=arg("all") == "1"),
                            "blank": rq.blank_pages(db)})
            elif seg == ["pages"]:
                self._json({"pages": rq.pages_list(db)})
            elif len(seg) == 2 and seg[0] == "page":
                self._json(rq.page_view(db, _int(seg[1])))
            elif seg == ["history"]:
                self._json({"history": rq.history(db, _int(arg("limit", "50")))})
            elif seg == ["settings"]:
                self._json(rq.get_settings(db))
            else:
                raise HttpError(404, "requête inconnue")

    def _image(self, kind: str, ident: int) -> None:
        srv = self.server
        with srv.pool.conn() as db:
            if kind == "snippet":
                r = db.execute("SELECT snippet FROM fields WHERE id = ?", (ident,)).fetchone()
                if r is None:
                    raise HttpError(404, "champ introuvable")
                p = safe_path(srv.db_dir, r[0])
                ctype = CONTENT_TYPES.get(p.suffix.lower())
                if ctype is None:
                    raise HttpError(404, "type d'image inconnu")
                self._send(200, p.read_bytes(), ctype, {"Cache-Control": "private, max-age=600"})
                return
            if kind == "line":
                it = rq.item(db, ident)
                line = it.get("line")
                page_id = it["context"]["page_id"]
                if not line or page_id is None:
                    raise HttpError(404, "pas de géométrie pour ce champ")
                image_path = _page_image_path(db, page_id)
                lay = rq.form_layout(it["context"]["form"], it["context"]["form_version"], db)
            elif kind in ("page", "original"):
                image_path = _page_image_path(db, ident)
                sheet = db.execute("SELECT form, form_version FROM sheets WHERE page_id = ? LIMIT 1",
                                   (ident,)).fetchone()
                lay = rq.form_layout(sheet[0], sheet[1], db) if sheet else None
            else:
                raise HttpError(404, "image inconnue")
        # image work happens outside the database connection
        if kind == "line":
            crop = srv.images.crop_mm(page_id, image_path, lay, line["crop"])
            if crop is None:
                raise HttpError(404, "page impossible à caler : pas de vue de la ligne")
            self._send(200, jpeg_bytes(crop, 85), "image/jpeg", {"Cache-Control": "private, max-age=600"})
        elif kind == "page":
            data, aligned = srv.images.page_jpeg(ident, image_path, lay)
            self._send(200, data, "image/jpeg", {"X-Papier-Aligned": "1" if aligned else "0",
                                                 "Cache-Control": "private, max-age=600"})
        else:
            p = safe_path(srv.db_dir, image_path)
            ctype = CONTENT_TYPES.get(p.suffix.lower(), "application/octet-stream")
            self._send(200, p.read_bytes(), ctype, {"Content-Disposition": f'inline; filename="{p.name}"'})

    # --- POST ---------------------------------------------------------------------------------------------------

    def _post(self, path: str, body: dict[str, Any]) -> None:
        with self.server.pool.conn() as db:
            if path == "/api/decide":
                res = rq.decide(db, _int(body.get("field_id")), _int(body.get("rev")), str(body.get("action", "")),
                                str(body.get("reviewer", "")), body.get("value"), bool(body.get("force")))
                self._json(res)
            elif path == "/api/undo":
                self._json(rq.undo(db, _int(body.get("field_id")), _int(body.get("rev")),
                                   str(body.get("reviewer", ""))))
            elif path == "/api/page-action":
                self._json(rq.resolve_page(db, _int(body.get("page_id")), str(body.get("action", "")),
                                           str(body.get("reviewer", "")), body.get("note")))
            elif path == "/api/settings":
                self._json(rq.set_setting(db, str(body.get("key", "")), body.get("value"),
                                          str(body.get("reviewer", ""))))
            else:
                raise HttpError(404, "requête inconnue")


def _int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        raise HttpError(400, "identifiant numérique attendu") from None


def _page_image_path(db: sqlite_utils.Database, page_id: int) -> str | None:
    r = db.execute("SELECT image_path FROM pages WHERE id = ?", (page_id,)).fetchone()
    if r is None:
        raise HttpError(404, "page introuvable")
    return r[0]


def build_server(db_path: str | Path, port: int = 0, token: str | None = None,
                 sources: list[Any] | None = None) -> tuple[ReviewServer, str]:
    """The review server, bound but not yet serving, and its address (with the token)."""
    p = Path(db_path)
    open_db(p, create=False).conn.close()  # a clear French error when the file is missing or unreadable
    srv = ReviewServer(p, port, token or secrets.token_urlsafe(18), sources)
    return srv, srv.url


def serve(db_path: str | Path, port: int = 0, open_browser: bool = True, roster: str | Path | None = None,
          catalog: str | Path | None = None) -> None:
    """Serve the review page until Ctrl+C (what ``papier review`` runs). `roster` / `catalog`: the commune's own
    CSV files (as given to ``papier kit build``) suggest payer names / titles and shelf marks; when either is given,
    only the given files are used (never the built-in sample data)."""
    from papier.review.suggest import sources_from_files

    sources = sources_from_files(str(roster) if roster else None, str(catalog) if catalog else None) \
        if (roster or catalog) else None
    srv, url = build_server(db_path, port=port, sources=sources)
    with srv.pool.conn() as db:
        c = rq.counts(db)
        n_pb = len(rq.page_problems(db))
    print(f"Relecture de {Path(db_path)} : {c['left']} valeur(s) à vérifier, {n_pb} page(s) à traiter.")
    if srv.sources:
        print("Suggestions pour la saisie : " + ", ".join(s.label for s in srv.sources) + ".")
    print(f"Ouvrez cette adresse dans un navigateur de ce poste (elle contient un jeton secret) :\n  {url}")
    print("Ctrl+C pour arrêter.", flush=True)
    if open_browser:
        try:
            webbrowser.open(url)
        except Exception:
            pass
    try:
        srv.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        print("\nRelecture arrêtée ; tout ce qui a été validé est enregistré.")
    finally:
        srv.server_close()
