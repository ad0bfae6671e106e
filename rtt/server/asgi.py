"""The server's one ASGI app (Starlette): the page, `/ws`, `/healthz`, `/metrics`, `/v1`.

- `/ws` (and `/`, for clients given the server's base URL) is the websocket
  protocol of docs/protocol.md. Before the handshake completes the request is
  checked: a key when the server has any (credentials.py), and a browser's
  `Origin`, which must be the server's own address (the one it is bound to, never
  the request's `Host`, which a DNS-rebinding page controls) or in
  `allow_origins`. A refusal is a plain HTTP answer (401, 403), as before.
- `/metrics` needs a key when the server has any; `/healthz` never does.
- `/v1` is the OpenAI-compatible API (openai_api.py), which checks keys itself and
  refuses a browser's request from a foreign origin (403) like the websocket.
"""

from __future__ import annotations

import ipaddress
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from .credentials import SUBPROTOCOL, TokenStore
from .metrics import CONTENT_TYPE_LATEST
from .session import Session
from .wsconn import AsgiSocket

if TYPE_CHECKING:
    from .app import RttServer

__all__ = ["build_app", "is_loopback"]

STATIC = Path(__file__).parent / "static"
_STATIC_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/worklet.js": ("worklet.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
_UNAUTHORIZED = "a valid token is required (Authorization: Bearer T; see docs/protocol.md)\n"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_app(server: RttServer) -> Starlette:
    from .openai_api import openai_routes

    http = _Http(server)
    routes = [
        Route("/healthz", http.health),
        Route("/metrics", http.metrics),
        WebSocketRoute("/ws", _Asgi(http.websocket)),
        WebSocketRoute("/", _Asgi(http.websocket)),
        *(Route(path, http.static) for path in _STATIC_FILES),
        Mount("/v1", routes=openai_routes(server, http.check_origin)),
    ]
    return Starlette(routes=routes)


class _Asgi:
    """A coroutine taken as a raw ASGI app (Starlette would hand a function a WebSocket)."""

    def __init__(self, handler) -> None:
        self._handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._handler(scope, receive, send)


class _Http:
    def __init__(self, server: RttServer) -> None:
        self.server = server

    async def health(self, request: Request) -> Response:
        """200 `ok`; 503 while journal writes fail or the server shuts down. The last
        journal failure is named either way."""
        journal = self.server.journal
        note = ""
        if journal.last_failure is not None:
            when, error = journal.last_failure
            note = f"last journal failure ({journal.failures} in all) {time.time() - when:.0f} s ago: {error}\n"
        if journal.failure is not None:
            return _text(503, f"journal failing: {journal.failure}\n{note}")
        if self.server.ctx.closing:
            return _text(503, "shutting down\n")
        return _text(200, f"ok\n{note}")

    async def metrics(self, request: Request) -> Response:
        refusal = self.authorize(request.scope)
        if refusal is not None:
            return refusal
        body = self.server.metrics.render(self.server.journal.failure is None)
        return Response(body, 200, {"Cache-Control": "no-cache"}, media_type=CONTENT_TYPE_LATEST)

    async def static(self, request: Request) -> Response:
        name, content_type = _STATIC_FILES[request.url.path]
        body = (STATIC / name).read_bytes()
        return Response(body, 200, {"Cache-Control": "no-cache"}, media_type=content_type)

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self.authorize(scope) or self.check_origin(scope)
        if refusal is not None:
            await _deny(scope, receive, send, refusal)
            return
        server = self.server
        key = self.key_of(scope)
        refusal = server.quotas.open_stream(key)
        if refusal is not None:
            retry = {"Retry-After": str(round(refusal.retry_after))}
            await _deny(scope, receive, send, _text(429, refusal.message + "\n", retry))
            return
        ws = AsgiSocket(receive, send, scope.get("client"))
        try:
            await ws.accept(SUBPROTOCOL if SUBPROTOCOL in scope.get("subprotocols", ()) else None)
            server.sockets.add(ws)
            await Session(ws, server.ctx, server.address_of(scope), key).run()
        finally:
            server.quotas.close_stream(key)
            server.sockets.discard(ws)
            await ws.close(1000)  # what the session left open ends normally

    def key_of(self, scope: Scope) -> str:
        """The key a request carries ("" on a server without keys: one shared allowance)."""
        if not self.server.tokens:
            return ""
        headers = Headers(scope=scope)
        offered = [
            p.strip() for v in headers.getlist("sec-websocket-protocol") for p in v.split(",")
        ]
        path = "?" + scope.get("query_string", b"").decode("latin-1")
        return TokenStore.given(path, headers, offered)

    # -- checks before a websocket handshake (and on /metrics) -------------------------
    def authorize(self, scope: Scope) -> Response | None:
        tokens = self.server.tokens
        if not tokens:
            return None
        headers = Headers(scope=scope)
        offered = [
            p.strip() for v in headers.getlist("sec-websocket-protocol") for p in v.split(",")
        ]
        path = "?" + scope.get("query_string", b"").decode("latin-1")
        if tokens.check(TokenStore.given(path, headers, offered)):
            return None
        return _text(401, _UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})

    def check_origin(self, scope: Scope) -> Response | None:
        origins = Headers(scope=scope).getlist("origin")
        if not origins:  # not a browser
            return None
        origin = origins[0]
        if len(origins) == 1 and self._own_origin(origin):
            return None
        allowed = {o.rstrip("/").lower() for o in self.server.config.allow_origins}
        if "*" in allowed or (len(origins) == 1 and origin.rstrip("/").lower() in allowed):
            return None
        return _text(403, f"origin {origin} is not allowed (see --allow-origin)\n")

    def _own_origin(self, origin: str) -> bool:
        """An origin naming the address this server is bound to (any IP of this machine
        when bound to all of them; localhost on loopback). A hostname never counts: a
        DNS-rebinding page has one that resolves here."""
        try:
            url = urlsplit(origin)
            port = url.port or {"http": 80, "https": 443}.get(url.scheme)
        except ValueError:
            return False
        host = (url.hostname or "").lower()
        if url.scheme not in ("http", "https") or port != self.server.port:
            return False
        bound = self.server.config.host.strip("[]").lower()
        if host == bound:
            return True
        if is_loopback(bound) and host in ("localhost", "127.0.0.1", "::1"):
            return True
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return False
        return bound in ("", "0.0.0.0", "::")  # all addresses: any IP literal is ours


def _text(status: int, text: str, headers: dict | None = None) -> Response:
    return PlainTextResponse(text, status, {"Cache-Control": "no-cache", **(headers or {})})


async def _deny(scope: Scope, receive: Receive, send: Send, response: Response) -> None:
    """Answer a websocket handshake with a plain HTTP response (ASGI's denial extension).
    A server without the extension (Ray Serve's proxy) gets a close before the accept,
    which its clients see as 403."""
    if "websocket.http.response" not in (scope.get("extensions") or {}):
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008})
        return
    headers = [(k, v) for k, v in response.raw_headers]
    await send(
        {
            "type": "websocket.http.response.start",
            "status": response.status_code,
            "headers": headers,
        }
    )
    await send({"type": "websocket.http.response.body", "body": response.body})
