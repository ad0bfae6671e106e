"""The server: websockets' `serve()` with HTTP routes in `process_request`.

Routes: `/ws` (the websocket protocol, docs/protocol.md), `/healthz`, `/metrics`
(Prometheus text), and the captions page (`/`, static files). A token, when set,
is required on `/ws` and `/metrics` (credentials.py). A browser's `Origin` must
be the server's own address (the one it is bound to, never the request's `Host`,
which a DNS-rebinding page controls) or listed in `allow_origins`.

Client addresses (for the per-address limits) are the peer's, or behind a
trusted proxy the last `X-Forwarded-For` hop that is not itself trusted.
`close()` shuts down gracefully: rooms flush and send `end`, then 1001.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from pipeline.config import PipelineConfig
from pipeline.engine import EngineRegistry
from pipeline.errors import ConfigError

from .credentials import SUBPROTOCOL, TokenStore
from .journal import Journal, Retention
from .metrics import CONTENT_TYPE_LATEST, ServerMetrics
from .rooms import Limits, Rooms
from .session import ServerContext, Session

__all__ = ["RttServer", "ServerConfig", "client_address", "is_loopback", "raise_fd_limit"]

log = logging.getLogger("rtt.server")
STATIC = Path(__file__).parent / "static"
_STATIC_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/worklet.js": ("worklet.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
_PRUNE_EVERY = 3600.0


@dataclass(frozen=True, slots=True)
class ServerConfig:
    journal: Path
    host: str = "127.0.0.1"
    port: int = 8765  # 0: any free port
    token: str | None = None
    tokens: tuple[str, ...] = ()  # more keys (from --token-file)
    allow_origins: tuple[str, ...] = ()  # "*" allows any
    trusted_proxies: tuple[str, ...] = ()  # addresses or networks whose X-Forwarded-For counts
    shutdown_timeout: float = 10.0  # seconds close() gives rooms to flush before 1001
    retention: Retention = field(default_factory=Retention)
    limits: Limits = field(default_factory=Limits)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)


def raise_fd_limit() -> int:
    """Raise the soft limit on open files to the hard one (each session holds a socket,
    each room channel a journal file); the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
    return soft


def client_address(peer: str, forwarded: list[str], trusted: list) -> str:
    """The client's address: the peer, or behind trusted proxies the last untrusted hop."""
    hops = [peer] + [h.strip() for value in reversed(forwarded) for h in reversed(value.split(","))]
    for hop in hops:
        try:
            ip = ipaddress.ip_address(hop)
        except ValueError:
            return hop  # not an address: the proxy says so, take it as the client's name
        if not any(ip in net for net in trusted):
            return hop
    return hops[-1]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RttServer:
    """`async with RttServer(config, registry) as server:` serves on `server.port` until the block ends.

    Every room builds its pipeline with `pipeline.factory` on the engines of `registry`
    (loaded once for the whole server; `pipeline.fakes.fake_registry()` in tests).
    """

    def __init__(self, config: ServerConfig, registry: EngineRegistry) -> None:
        self.tokens = TokenStore([config.token or "", *config.tokens])
        if not is_loopback(config.host) and not self.tokens:
            raise ConfigError(
                f"binding {config.host} (not loopback) needs a token: "
                "pass --token-file or set RTT_TOKEN"
            )
        self.config = config
        self.metrics = ServerMetrics()
        self.journal = Journal(config.journal, config.retention)
        self.rooms = Rooms(journal=self.journal, limits=config.limits, metrics=self.metrics)
        self.ctx = ServerContext(self.rooms, registry, config.pipeline, config.limits, self.metrics)
        self._trusted = [ipaddress.ip_network(p, strict=False) for p in config.trusted_proxies]
        self._server: Server | None = None
        self._pruner: asyncio.Task | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        raise_fd_limit()
        await asyncio.to_thread(self.journal.prune)
        self._server = await serve(
            self._handle,
            self.config.host,
            self.config.port,
            process_request=self._process_request,
            select_subprotocol=lambda _, offered: SUBPROTOCOL if SUBPROTOCOL in offered else None,
            max_size=self.config.limits.max_message,
            ping_interval=20,
            ping_timeout=20,
        )
        self._pruner = asyncio.create_task(self._prune_forever())

    async def close(self, timeout: float | None = None) -> None:
        """Stop taking connections; let every room flush its speech, commits and `end`
        (for at most `timeout`, default the config's), then close every socket with 1001.
        Never raises."""
        timeout = self.config.shutdown_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        if self._pruner is not None:
            self._pruner.cancel()
        self.ctx.closing = True
        try:
            if self._server is not None:
                self._server.server.close()  # no new connections
                await self.rooms.drain(timeout * 0.8)
                while self.ctx.working and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)  # listeners send what is queued, then 1001
                self._server.close()  # whoever is left: 1001 going away
                await self._server.wait_closed()
        except Exception:  # a shutdown that half fails must still release everything
            log.exception("shutdown")
        finally:
            await self.rooms.close()

    async def __aenter__(self) -> RttServer:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def serve_forever(self) -> None:
        assert self._server is not None, "not started"
        await self._server.serve_forever()

    async def _prune_forever(self) -> None:
        while True:
            await asyncio.sleep(_PRUNE_EVERY)
            keep = self.rooms.journal_paths()
            await asyncio.to_thread(self.journal.prune, keep=keep)

    async def _handle(self, ws: ServerConnection) -> None:
        await Session(ws, self.ctx, self._address(ws, ws.request)).run()

    def _address(self, connection: ServerConnection, request: Request | None) -> str:
        peer = connection.remote_address[0] if connection.remote_address else ""
        if not self._trusted or request is None:
            return peer
        return client_address(peer, request.headers.get_all("X-Forwarded-For"), self._trusted)

    # -- HTTP ---------------------------------------------------------------------
    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if len(request.headers.get_all("Host")) > 1:
            return connection.respond(400, "more than one Host header\n")
        url = urlsplit(request.path)
        if url.path == "/healthz":
            return self._health(connection)
        if url.path == "/metrics":
            return self._authorize(connection, request) or _response(
                200, self.metrics.render(self.journal.failure is None), CONTENT_TYPE_LATEST
            )
        if url.path == "/ws":
            return self._authorize(connection, request) or self._check_origin(connection, request)
        static = _STATIC_FILES.get(url.path)
        if static is not None and request.headers.get("Upgrade") is None:
            name, content_type = static
            return _response(200, (STATIC / name).read_bytes(), content_type)
        return connection.respond(404, "not found\n")

    def _health(self, connection: ServerConnection) -> Response:
        """200 `ok`; 503 while journal writes fail or the server shuts down. The last
        journal failure is named either way."""
        journal = self.journal
        note = ""
        if journal.last_failure is not None:
            when, error = journal.last_failure
            note = f"last journal failure ({journal.failures} in all) {time.time() - when:.0f} s ago: {error}\n"
        if journal.failure is not None:
            return connection.respond(503, f"journal failing: {journal.failure}\n{note}")
        if self.ctx.closing:
            return connection.respond(503, "shutting down\n")
        return connection.respond(200, f"ok\n{note}")

    def _authorize(self, connection: ServerConnection, request: Request) -> Response | None:
        if not self.tokens:
            return None
        offered = [
            p.strip()
            for value in request.headers.get_all("Sec-WebSocket-Protocol")
            for p in value.split(",")
        ]
        if self.tokens.check(TokenStore.given(request.path, request.headers, offered)):
            return None
        response = connection.respond(
            401, "a valid token is required (Authorization: Bearer T; see docs/protocol.md)\n"
        )
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    def _check_origin(self, connection: ServerConnection, request: Request) -> Response | None:
        origins = request.headers.get_all("Origin")
        if not origins:  # not a browser
            return None
        origin = origins[0]
        if len(origins) == 1 and self._own_origin(origin):
            return None
        allowed = {o.rstrip("/").lower() for o in self.config.allow_origins}
        if "*" in allowed or (len(origins) == 1 and origin.rstrip("/").lower() in allowed):
            return None
        return connection.respond(403, f"origin {origin} is not allowed (see --allow-origin)\n")

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
        if url.scheme not in ("http", "https") or port != self.port:
            return False
        bound = self.config.host.strip("[]").lower()
        if host == bound:
            return True
        if is_loopback(bound) and host in ("localhost", "127.0.0.1", "::1"):
            return True
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return False
        return bound in ("", "0.0.0.0", "::")  # all addresses: any IP literal is ours


def _response(status: int, body: bytes, content_type: str) -> Response:
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-cache"),
        ]
    )
    return Response(status, "OK" if status == 200 else "", headers, body)
