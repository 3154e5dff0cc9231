"""The playground's web server: the standard library's ``http.server``, a JSON API, and Server-Sent Events.

    GET  /                                   the page (its JS and CSS under /static/, shipped in the package)
    GET  /api/options                        choices, caps and defaults the page builds its controls from
    POST /api/sessions                       a new session (one per tab); body: settings to start from (optional)
    GET  /api/sessions/ID/stream             the live frames, as Server-Sent Events ("points" and "frame" events)
    GET  /api/sessions/ID/state              the latest frame, once (JSON)
    POST /api/sessions/ID/settings           change settings: {"lr": 0.1, "hidden": [8, 8, 8], ...}
    POST /api/sessions/ID/play | pause | reset | new-weights
    POST /api/sessions/ID/step               {"steps": 1}: mini-batch steps now
    POST /api/sessions/ID/upload?name=F.csv  the CSV file as the request body
    POST /api/sessions/ID/explain            {"weight": {"layer": 0, "index": [i, j]}} or {"neuron": {"layer", "unit"}}
    POST /api/sessions/ID/gradient-check     engine gradients against float64 finite differences
    GET  /api/sessions/ID/checkpoint | code  downloads: the .npz checkpoint, the Python script
    POST /api/sessions/ID/close, DELETE /api/sessions/ID     the tab is going away

Every error is an answer, never a crash: a malformed request gets a 4xx with ``{"error": message}`` (400 bad JSON or
setting, 404 unknown path or session, 405 wrong method, 411 no length, 413 too large, 503 no free session); anything
unexpected a 500 with its message, and the server goes on.
"""
from __future__ import annotations

import json
import re
import sys
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from nnblocks.errors import NNBlocksError
from nnblocks.playground import export, maths
from nnblocks.playground.session import FRAME_RATE, Session
from nnblocks.playground.settings import Limits, Options
from nnblocks.playground.store import IDLE_TIMEOUT, SessionStore, TooManySessions, UnknownSession

MAX_JSON_BYTES = 64 * 1024
DRAIN_MAX = 16 * 1024 * 1024  # a refused body larger than this is not read: the connection is closed on it
HEARTBEAT = 10.0  # seconds between keep-alive comments on a quiet stream (how a closed tab is noticed)
REAP_EVERY = 5.0
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}


class HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def load_assets() -> dict[str, tuple[bytes, str]]:
    """Every file of the package's ``static`` folder, read once: name -> (bytes, content type)."""
    folder = resources.files("nnblocks.playground") / "static"
    assets = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.is_file() and suffix in STATIC_TYPES:
            assets[entry.name] = (entry.read_bytes(), STATIC_TYPES[suffix])
    return assets


class PlaygroundServer(ThreadingHTTPServer):
    """The HTTP server and what its handlers share: the sessions, the assets, the caps."""

    daemon_threads = True  # a stream's thread never keeps the process alive

    def __init__(self, address: tuple[str, int], limits: Limits = Limits(), frame_rate: float = FRAME_RATE,
                 idle_timeout: float = IDLE_TIMEOUT, quiet: bool = True) -> None:
        super().__init__(address, Handler)
        self.limits, self.quiet = limits, quiet
        self.store = SessionStore(limits, frame_rate, idle_timeout)
        self.assets = load_assets()
        self.options = json.dumps(Options(limits).to_dict()).encode()
        self.stopping = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name="playground-reaper", daemon=True)
        self._reaper.start()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def _reap(self) -> None:
        while not self.stopping.wait(REAP_EVERY):
            self.store.reap()

    def stop(self) -> None:
        """Close every session (their streams end), then stop serving."""
        self.stopping.set()
        self.store.close_all()
        self.shutdown()
        self.server_close()


Route = tuple[str, "re.Pattern[str]", str]
SESSION = r"/api/sessions/(?P<sid>[A-Za-z0-9_-]{1,64})"
ROUTES: list[Route] = [(method, re.compile(pattern + "$"), name) for method, pattern, name in [
    ("GET", r"/", "page"),
    ("GET", r"/static/(?P<name>[A-Za-z0-9_.-]+)", "static"),
    ("GET", r"/api/options", "options"),
    ("POST", r"/api/sessions", "create"),
    ("GET", SESSION + r"/stream", "stream"),
    ("GET", SESSION + r"/state", "state"),
    ("POST", SESSION + r"/settings", "settings"),
    ("POST", SESSION + r"/(?P<command>play|pause|reset|new-weights)", "command"),
    ("POST", SESSION + r"/step", "step"),
    ("POST", SESSION + r"/upload", "upload"),
    ("POST", SESSION + r"/explain", "explain"),
    ("POST", SESSION + r"/gradient-check", "gradient_check"),
    ("GET", SESSION + r"/checkpoint", "checkpoint"),
    ("GET", SESSION + r"/code", "code"),
    ("POST", SESSION + r"/close", "close"),
    ("DELETE", SESSION, "close"),
]]


class Handler(BaseHTTPRequestHandler):
    server: PlaygroundServer
    protocol_version = "HTTP/1.1"
    server_version = "nnblocks-playground"

    # ---- dispatch --------------------------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        """Route the request (``self.command`` on ``self.path``) to its ``_action``, and turn every error into an
        answer: the request's fault a 4xx, anything else a 500, the server going on either way."""
        method, url = self.command, urlsplit(self.path)
        self.query = parse_qs(url.query)
        try:
            action, params = self._route(method, url.path)
            if method != "GET":
                self._check_origin()
            getattr(self, "_" + action)(**params)
        except HTTPError as exc:
            self._error(exc.status, str(exc))
        except UnknownSession as exc:
            self._error(HTTPStatus.NOT_FOUND, exc.args[0])
        except TooManySessions as exc:
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, str(exc))
        except NNBlocksError as exc:  # a refused setting, a bad CSV file, an index out of range
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - the server must survive anything one request does
            traceback.print_exc(file=sys.stderr)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {type(exc).__name__}: {exc}")

    # every method goes through the routes; those no route takes (PUT, HEAD...) get a 405 naming the ones that do
    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = _dispatch  # noqa: N815

    def _route(self, method: str, path: str) -> tuple[str, dict[str, str]]:
        allowed = []
        for route_method, pattern, action in ROUTES:
            match = pattern.match(path)
            if match:
                if route_method == method:
                    return action, match.groupdict()
                allowed.append(route_method)
        if allowed:
            raise HTTPError(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} is not allowed on {path}; use "
                                                           f"{' or '.join(sorted(set(allowed)))}")
        raise HTTPError(HTTPStatus.NOT_FOUND, f"no such page or API endpoint: {path}")

    def _check_origin(self) -> None:
        """Refuse commands sent by another web site's page (a browser names it in Origin)."""
        origin, host = self.headers.get("Origin"), self.headers.get("Host")
        if origin and origin != "null" and urlsplit(origin).netloc != host:
            raise HTTPError(HTTPStatus.FORBIDDEN, f"requests from {origin} are not accepted")

    # ---- reading and answering ---------------------------------------------------------------------------------------
    def _body(self, limit: int) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
                raise HTTPError(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
            return b""
        try:
            n = int(length)
        except ValueError:
            self.close_connection = True
            raise HTTPError(HTTPStatus.BAD_REQUEST, f"bad Content-Length {length!r}") from None
        if n < 0 or n > limit:
            self.close_connection = True  # the unread body must not be taken for the next request
            self._drain(n)
            raise HTTPError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the request body has {n:,} bytes; at most "
                                                                 f"{limit:,} are accepted")
        return self.rfile.read(n)

    def _drain(self, n: int) -> None:
        """Read and drop a refused body (up to ``DRAIN_MAX``), so the client, still sending, gets to read the 413
        instead of a reset connection."""
        left = min(max(n, 0), DRAIN_MAX)
        while left > 0:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                break
            left -= len(chunk)

    def _json(self) -> Any:
        raw = self._body(MAX_JSON_BYTES)
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPError(HTTPStatus.BAD_REQUEST, f"the request body is not valid JSON: {exc}") from None

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _reply(self, value: Any, status: int = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        try:
            self._reply({"error": message, "status": int(status)}, status)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        if not self.server.quiet:
            super().log_message(format, *args)

    def _session(self, sid: str) -> Session:
        return self.server.store.get(sid)

    # ---- the page ----------------------------------------------------------------------------------------------------
    def _page(self) -> None:
        body, kind = self.server.assets["index.html"]
        self._send(HTTPStatus.OK, body, kind)

    def _static(self, name: str) -> None:
        if name not in self.server.assets:
            raise HTTPError(HTTPStatus.NOT_FOUND, f"no such file: /static/{name}")
        body, kind = self.server.assets[name]
        self._send(HTTPStatus.OK, body, kind)

    def _options(self) -> None:
        self._send(HTTPStatus.OK, self.server.options, "application/json")

    # ---- sessions ----------------------------------------------------------------------------------------------------
    def _create(self) -> None:
        session = self.server.store.create(self._json())
        self._reply({"id": session.id, "settings": session.settings.to_dict()}, HTTPStatus.CREATED)

    def _state(self, sid: str) -> None:
        session = self._session(sid)
        got = session.next_frame(0, 0)
        self._send(HTTPStatus.OK, got[1] if got else b"{}", "application/json")

    def _settings(self, sid: str) -> None:
        changes = self._json()
        self._reply({"settings": self._session(sid).update(changes).to_dict()})

    def _command(self, sid: str, command: str) -> None:
        session = self._session(sid)
        self._body(MAX_JSON_BYTES)  # an empty (or ignored) body
        actions: dict[str, Callable[[], Any]] = {"play": session.play, "pause": session.pause,
                                                 "reset": session.reset, "new-weights": session.new_weights}
        actions[command]()
        self._reply({"ok": True, "command": command, "settings": session.settings.to_dict()})

    def _step(self, sid: str) -> None:
        body = self._json()
        steps = body.get("steps", 1) if isinstance(body, dict) else body
        session = self._session(sid)
        session.step(steps)
        self._reply({"ok": True, "step": session.run.step, "epoch": session.run.epoch})

    def _upload(self, sid: str) -> None:
        session = self._session(sid)
        body = self._body(self.server.limits.max_upload_bytes)
        name = (self.query.get("name") or ["upload.csv"])[0]
        self._reply(session.upload_csv(body, name))

    def _explain(self, sid: str) -> None:
        body = self._json()
        session = self._session(sid)
        if isinstance(body, dict) and isinstance(body.get("weight"), dict):
            what = body["weight"]
            with session.exclusive():
                result = maths.explain_weight(session.run, what.get("layer"), what.get("index"))
        elif isinstance(body, dict) and isinstance(body.get("neuron"), dict):
            what = body["neuron"]
            with session.exclusive():
                result = maths.explain_neuron(session.run, what.get("layer"), what.get("unit"))
        else:
            raise HTTPError(HTTPStatus.BAD_REQUEST, 'explain: send {"weight": {"layer": L, "index": [i, j]}} or '
                                                    '{"neuron": {"layer": L, "unit": i}}')
        self._reply(result)

    def _gradient_check(self, sid: str) -> None:
        session = self._session(sid)
        self._body(MAX_JSON_BYTES)
        with session.exclusive():
            result = maths.gradient_check(session.run)
        self._reply(result)

    def _checkpoint(self, sid: str) -> None:
        session = self._session(sid)
        with session.exclusive():
            body, name = export.checkpoint_bytes(session.run), export.filename(session.run, ".npz")
        self._send(HTTPStatus.OK, body, "application/octet-stream",
                   {"Content-Disposition": f'attachment; filename="{name}"'})

    def _code(self, sid: str) -> None:
        session = self._session(sid)
        with session.exclusive():
            body, name = export.python_code(session.run).encode(), export.filename(session.run, ".py")
        self._send(HTTPStatus.OK, body, "text/x-python; charset=utf-8",
                   {"Content-Disposition": f'attachment; filename="{name}"'})

    def _close(self, sid: str) -> None:
        self._body(MAX_JSON_BYTES)
        if not self.server.store.close(sid):
            raise UnknownSession(f"no session {sid!r} (closed or expired)")
        self._reply({"ok": True, "closed": sid})

    # ---- the stream --------------------------------------------------------------------------------------------------
    def _stream(self, sid: str) -> None:
        """Server-Sent Events: a "points" event whenever the data changed, then each new frame as a "frame"
        event; a comment line every ``HEARTBEAT`` seconds of quiet (a closed tab then fails to receive it)."""
        session = self._session(sid)
        self.send_response(HTTPStatus.OK)
        for key, value in (("Content-Type", "text/event-stream"), ("Cache-Control", "no-store"),
                           ("Connection", "close"), ("X-Accel-Buffering", "no")):
            self.send_header(key, value)
        self.end_headers()
        self.close_connection = True
        session.listening(+1)
        seq, points = 0, None
        try:
            self.wfile.write(b"retry: 2000\n\n")
            while not self.server.stopping.is_set():
                got = session.next_frame(seq, HEARTBEAT)
                if got is None:
                    if session.closed:
                        self.wfile.write(b'event: closed\ndata: {}\n\n')
                        break
                    self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
                    continue
                seq, frame, new_points = got
                if new_points is not points:
                    self.wfile.write(b"event: points\ndata: " + new_points + b"\n\n")
                    points = new_points
                self.wfile.write(b"event: frame\ndata: " + frame + b"\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        finally:
            session.listening(-1)
