"""The server: websockets' `serve()` with HTTP routes in `process_request`.

Routes: `/ws` (the websocket protocol, docs/protocol.md), `/healthz`, `/metrics`
(Prometheus text), and the captions page (`/`, static files). A token, when set,
is required on `/ws` and `/metrics` (`Authorization: Bearer T`, or `?token=T`
for browsers, which cannot set headers on a websocket); browser origins other
than the page's own must be listed in `allow_origins`.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from pipeline.config import PipelineConfig
from pipeline.engine import EngineRegistry
from pipeline.errors import ConfigError

from .journal import Journal, Retention
from .metrics import CONTENT_TYPE_LATEST, ServerMetrics
from .rooms import Limits, Rooms
from .session import ServerContext, Session

__all__ = ["RttServer", "ServerConfig", "is_loopback"]

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
    allow_origins: tuple[str, ...] = ()  # "*" allows any
    retention: Retention = field(default_factory=Retention)
    limits: Limits = field(default_factory=Limits)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)


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
        if not is_loopback(config.host) and not config.token:
            raise ConfigError(
                f"binding {config.host} (not loopback) needs a token: pass --token or set RTT_TOKEN"
            )
        self.config = config
        self.metrics = ServerMetrics()
        self.journal = Journal(config.journal, config.retention)
        self.rooms = Rooms(journal=self.journal, limits=config.limits, metrics=self.metrics)
        self.ctx = ServerContext(self.rooms, registry, config.pipeline, config.limits, self.metrics)
        self._server: Server | None = None
        self._pruner: asyncio.Task | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        await asyncio.to_thread(self.journal.prune)
        self._server = await serve(
            self._handle,
            self.config.host,
            self.config.port,
            process_request=self._process_request,
            max_size=self.config.limits.max_message,
            ping_interval=20,
            ping_timeout=20,
        )
        self._pruner = asyncio.create_task(self._prune_forever())

    async def close(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
        if self._server is not None:
            self._server.close()  # closes every connection with 1001 going away
            await self._server.wait_closed()
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
        await Session(ws, self.ctx).run()

    # -- HTTP ---------------------------------------------------------------------
    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path == "/healthz":
            return connection.respond(200, "ok\n")
        if url.path == "/metrics":
            return self._authorize(connection, request) or _response(
                200, self.metrics.render(), CONTENT_TYPE_LATEST
            )
        if url.path == "/ws":
            return self._authorize(connection, request) or self._check_origin(connection, request)
        static = _STATIC_FILES.get(url.path)
        if static is not None and request.headers.get("Upgrade") is None:
            name, content_type = static
            return _response(200, (STATIC / name).read_bytes(), content_type)
        return connection.respond(404, "not found\n")

    def _authorize(self, connection: ServerConnection, request: Request) -> Response | None:
        token = self.config.token
        if not token:
            return None
        given = parse_qs(urlsplit(request.path).query).get("token", [""])[0]
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            given = header[len("Bearer ") :].strip()
        if given and hmac.compare_digest(given.encode(), token.encode()):
            return None
        response = connection.respond(
            401, "a valid token is required (Authorization: Bearer T, or ?token=T)\n"
        )
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    def _check_origin(self, connection: ServerConnection, request: Request) -> Response | None:
        origin = request.headers.get("Origin")
        if origin is None:  # not a browser
            return None
        allowed = self.config.allow_origins
        host = request.headers.get("Host", "")
        if "*" in allowed or origin in allowed or origin in (f"http://{host}", f"https://{host}"):
            return None
        return connection.respond(403, f"origin {origin} is not allowed (see --allow-origin)\n")


def _response(status: int, body: bytes, content_type: str) -> Response:
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-cache"),
        ]
    )
    return Response(status, "OK" if status == 200 else "", headers, body)
