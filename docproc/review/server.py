"""The review station's web server: Starlette, served by uvicorn.

Starlette because the station is a handful of JSON endpoints and three static files: it
needs routing, requests and responses and nothing more (no templates, forms or ORM), it
ships a test client, and uvicorn serves it in a production-grade server that docproc can
start on a socket it has bound itself (so a taken port is a clear error) and stop cleanly.

Safe by default: it binds to 127.0.0.1 and answers only requests addressed to a loopback
name (a web page cannot rebind its own name to this machine and read the queue). On any
other address every request needs the token printed at start: the printed URL carries it,
and the page's first load trades it for a cookie. Every write also needs the page's own
CSRF token in a header and a JSON body, and an ``Origin``, where the browser sends one,
that is the station's own, so another site's page cannot key fields in an operator's
name. The page loads nothing from elsewhere (its Content-Security-Policy says so), and
crops are addressed by their place in the queue, never by a path.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import socket
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html import escape
from http.cookies import SimpleCookie
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from docproc.errors import ReviewError, StationError
from docproc.recognize.classes import MARKS
from docproc.review.crops import CropCutter
from docproc.review.queue import QueueItem
from docproc.review.rules import Rules, check, describe
from docproc.review.store import KINDS, Refused, ReviewStore, Shown

COOKIE = "docproc_station"
CSRF_HEADER = "x-station-csrf"
# Crops cut ahead of the operator (and loaded ahead by the page), so the next field's image
# is ready when they accept this one.
PREFETCH = 3
MAX_OPERATOR = 64
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
_SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                 b"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
_STATIC = {"station.js": "text/javascript; charset=utf-8", "station.css": "text/css; charset=utf-8"}


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address to bind) is this machine's loopback."""
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Station:
    """What the server serves: the store with its queue, the crops, the template rules,
    and its tokens (``token`` None where none is needed: a loopback address)."""

    store: ReviewStore
    cutter: CropCutter
    rules: Rules
    token: str | None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    # A queue with a quality-control sample is keyed blind: no reason, confidences or other
    # readings for any field, since those would tell a sampled ok row from a review row.
    blind: bool = False
    _prefetch: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, "crops"))

    def view(self, shown: Shown | None, operator: str) -> dict[str, Any]:
        """The JSON the page gets for the field to key (``item`` null when none is left)
        and the queue's progress. The item says nothing of whether it is a review row or
        a quality-control sample (``blind``: nothing that could tell them apart)."""
        progress = self.store.progress(operator)
        counts = {"total": progress.total, "done": progress.done, "left": progress.left,
                  "per_minute": None if progress.per_minute is None else round(progress.per_minute, 1)}
        if shown is None:
            return {"item": None, "progress": counts}
        item = shown.item
        spec = self.rules.spec(item.template, item.field)
        ahead = self.store.upcoming(shown.seq, PREFETCH)
        self._prefetch.submit(self._cut, [item for _, item in ahead])
        return {"item": {"id": shown.seq, "file": item.file, "page": item.page, "part": item.part,
                         "template": item.template, "field": item.field, "text": item.text,
                         "marks": item.marks or item.text, "blind": self.blind,
                         "digit_confidences": [] if self.blind else list(item.digit_confidences),
                         "reason": "" if self.blind else item.reason, "rules": describe(spec),
                         "crop": f"/crop/{shown.seq}.png",
                         "alternatives": [] if self.blind else
                         [{"text": t, "probability": p} for t, p in item.alternatives],
                         # Crops of the fields likely next, for the page to load ahead of Enter.
                         "ahead": [f"/crop/{seq}.png" for seq, _ in ahead],
                         "undone": None if shown.undone is None else
                         {"kind": shown.undone.kind, "marks": shown.undone.marks}},
                "progress": counts}

    def _cut(self, items: list[QueueItem]) -> None:
        for item in items:
            self.cutter.png(item)

    def close(self) -> None:
        """Stop cutting crops ahead and close the store."""
        self._prefetch.shutdown(wait=True, cancel_futures=True)
        self.store.close()


def _operator(body: dict[str, Any]) -> str:
    name = str(body.get("operator", "")).strip()
    if not name or len(name) > MAX_OPERATOR or not name.isprintable():
        raise ReviewError(f"an operator name is needed (1 to {MAX_OPERATOR} printable characters)")
    return name


def _seq(body: dict[str, Any]) -> int:
    """The queue place a write is about (the ``id`` the page was given)."""
    seq = body.get("id")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise ReviewError("the request names no field (its id must be the number the station gave); reload the page")
    return seq


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise ReviewError(f"the request is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ReviewError("the request is not a JSON object")
    return body


def _page(station: Station) -> str:
    html = resources.files("docproc.review").joinpath("static/station.html").read_text(encoding="utf-8")
    return html.replace("{{csrf}}", station.csrf).replace("{{marks}}", escape(MARKS))


def make_app(station: Station) -> Starlette:
    """The station as an ASGI application (tests drive it with Starlette's test client)."""

    def _refused(message: str, status: int) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def page(request: Request) -> Response:
        if station.token is not None and request.query_params.get("token"):
            # Trade the printed URL's token for a cookie, and drop it from the address bar and history.
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(COOKIE, station.token, httponly=True, samesite="strict")
            return response
        return Response(_page(station), media_type="text/html; charset=utf-8",
                        headers={"cache-control": "no-store"})

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _STATIC:
            return _refused("not found", 404)
        content = resources.files("docproc.review").joinpath(f"static/{name}").read_bytes()
        return Response(content, media_type=_STATIC[name], headers={"cache-control": "no-cache"})

    async def next_field(request: Request) -> Response:
        operator = _operator(await _body(request))
        return await run_in_threadpool(lambda: JSONResponse(station.view(station.store.next_for(operator), operator)))

    async def check_entry(request: Request) -> Response:
        body = await _body(request)

        def checked() -> Response:
            item = station.store.item(_seq(body))
            if item is None:
                return _refused("no such field in this queue", 404)
            found = check(str(body.get("entry", "")), station.rules.spec(item.template, item.field))
            return JSONResponse({"text": found.text, "value": found.value, "problems": list(found.problems)})

        return await run_in_threadpool(checked)

    async def key(request: Request) -> Response:
        body = await _body(request)
        operator = _operator(body)
        return await run_in_threadpool(_key, body, operator)

    def _key(body: dict[str, Any], operator: str) -> Response:
        item = station.store.item(_seq(body))
        if item is None:
            return _refused("no such field in this queue", 404)
        kind = str(body.get("kind", "value"))
        if kind not in KINDS:
            return _refused(f"kind must be one of {', '.join(KINDS)}", 400)
        text = marks = ""
        if kind == "value":
            checked = check(str(body.get("entry", "")), station.rules.spec(item.template, item.field))
            if not checked.text:
                return JSONResponse({"accepted": False, "problems": list(checked.problems), "final": True})
            if checked.problems and not body.get("confirm"):
                # The operator sees why and presses Enter again to key what is written all the same.
                return JSONResponse({"accepted": False, "problems": list(checked.problems), "final": False})
            text, marks = checked.text, checked.marks
        try:
            station.store.key_field(operator, item.key, kind, text, marks)
        except Refused as exc:
            return JSONResponse({"accepted": False, "refused": str(exc),
                                 **station.view(station.store.next_for(operator), operator)})
        return JSONResponse({"accepted": True, **station.view(station.store.next_for(operator), operator)})

    async def skip(request: Request) -> Response:
        body = await _body(request)
        operator = _operator(body)

        def skipped() -> Response:
            item = station.store.item(_seq(body))
            if item is not None:
                station.store.skip(operator, item.key)
            return JSONResponse(station.view(station.store.next_for(operator), operator))

        return await run_in_threadpool(skipped)

    async def undo(request: Request) -> Response:
        operator = _operator(await _body(request))

        def undone() -> Response:
            shown = station.store.undo(operator)
            if shown is None:
                return JSONResponse({"undone": False, **station.view(station.store.next_for(operator), operator)})
            return JSONResponse({"undone": True, **station.view(shown, operator)})

        return await run_in_threadpool(undone)

    async def crop(request: Request) -> Response:
        seq = request.path_params["seq"]

        def cropped() -> Response:
            item = station.store.item(seq)
            if item is None:
                return _refused("no such field in this queue", 404)
            return Response(station.cutter.png(item), media_type="image/png",
                            headers={"cache-control": "private, max-age=3600"})

        return await run_in_threadpool(cropped)

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/static/{name}", static, methods=["GET"]),
        Route("/crop/{seq:int}.png", crop, methods=["GET"]),
        Route("/api/next", next_field, methods=["POST"]),
        Route("/api/check", check_entry, methods=["POST"]),
        Route("/api/key", key, methods=["POST"]),
        Route("/api/skip", skip, methods=["POST"]),
        Route("/api/undo", undo, methods=["POST"]),
    ]

    def on_error(request: Request, exc: Exception) -> Response:
        return _refused(str(exc), 400)

    app = Starlette(routes=routes, exception_handlers={ReviewError: on_error})
    return Guard(app, station)  # type: ignore[return-value]


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Guard:
    """The station's doorkeeper (an ASGI middleware): the host, token and CSRF checks the
    module's docstring describes, and the security headers on every response."""

    def __init__(self, app: Starlette, station: Station) -> None:
        self.app = app
        self.station = station

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope, headers)

        async def secured(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS]
            await send(message)

        if refusal is not None:
            await JSONResponse({"error": refusal[1]}, status_code=refusal[0])(scope, receive, secured)
            return
        await self.app(scope, receive, secured)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        host = headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if self.station.token is None and name not in _LOOPBACK_NAMES:
            return 421, "this station answers only at its loopback address (127.0.0.1 or localhost)"
        if self.station.token is not None:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            cookie = SimpleCookie(headers.get("cookie", ""))
            given = query.get("token", [""])[0] or (cookie[COOKIE].value if COOKIE in cookie else "")
            if not secrets.compare_digest(given.encode(), self.station.token.encode()):
                return 403, "open the station at the address docproc review printed: it carries the station's token"
        if scope["method"] not in ("GET", "HEAD"):
            origin = headers.get("origin")
            scheme = scope.get("scheme", "http")
            if origin is not None and origin != f"{scheme}://{host}":
                return 403, f"writes from {origin} are refused: only the station's own page may key fields"
            if not secrets.compare_digest(headers.get(CSRF_HEADER, "").encode(), self.station.csrf.encode()):
                return 403, "this write lacks the station page's token; reload the page"
            if not headers.get("content-type", "").startswith("application/json"):
                return 415, "writes must be JSON (application/json)"
        return None


def bind(host: str, port: int) -> socket.socket:
    """A listening socket at ``host``:``port`` (0: any free port); StationError when the
    port is taken or the address is not this machine's."""
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise StationError(f"--host {host} is not a name or address of this machine ({exc})") from exc
    # The protocol number as well: asyncio turns Nagle's algorithm off only on sockets that
    # say they are TCP, and with it on, every answer waited 40 ms for the browser's delayed ACK.
    sock = socket.socket(info[0], info[1], info[2])
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind(info[4])
    except OSError as exc:
        sock.close()
        if exc.errno == 98:  # EADDRINUSE
            raise StationError(f"port {port} on {host} is taken (another station?); give --port another "
                               "number, or --port 0 for any free one") from exc
        raise StationError(f"cannot listen on {host}:{port}: {exc}; give another --host or --port") from exc
    sock.listen(64)
    return sock


def serve(station: Station, sock: socket.socket, stop: threading.Event | None = None) -> None:
    """Serve the station on ``sock`` until interrupted (Ctrl-C, SIGTERM) or ``stop`` is set."""
    import uvicorn

    config = uvicorn.Config(make_app(station), log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    if stop is not None:
        def watch() -> None:
            stop.wait()
            server.should_exit = True
        threading.Thread(target=watch, daemon=True).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn shuts down on Ctrl-C, then raises it again for the caller: a stopped station is no failure.
        pass
