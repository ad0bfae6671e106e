"""The server: one ASGI app (asgi.py) on uvicorn, bound to one address.

Routes: `/ws` (the websocket protocol, docs/protocol.md), `/healthz`, `/metrics`
(Prometheus text), the captions page (`/`, static files) and `/v1` (the
OpenAI-compatible API). A token, when set, is required on `/ws`, `/metrics` and
`/v1` (credentials.py). The HTTP layer cuts a request head that takes longer than
`handshake_timeout` (http11.py); websocket messages are limited to `max_message`
bytes, inflated ones too (1009).

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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from starlette.datastructures import Headers
from uvicorn.server import ServerState

from pipeline.config import PipelineConfig
from pipeline.engine import EngineRegistry
from pipeline.errors import ConfigError

from .asgi import build_app, is_loopback
from .credentials import TokenStore
from .http11 import GuardedH11Protocol
from .journal import Journal, Retention
from .metrics import ServerMetrics
from .quotas import ApiLimits, Quotas
from .rooms import Limits, Rooms
from .session import ServerContext
from .wsconn import AsgiSocket

__all__ = ["RttServer", "ServerConfig", "client_address", "is_loopback", "raise_fd_limit"]

log = logging.getLogger("rtt.server")
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
    handshake_timeout: float = 10.0  # seconds a connection has to send its request head
    retention: Retention = field(default_factory=Retention)
    limits: Limits = field(default_factory=Limits)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    api: ApiLimits = field(default_factory=ApiLimits)  # /v1 and per-key limits


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


class RttServer:
    """`async with RttServer(config, registry) as server:` serves on `server.port` until the block ends.

    Every room builds its pipeline with `pipeline.factory` on the engines of `registry`
    (loaded once for the whole server; `pipeline.fakes.fake_registry()` in tests).
    `rooms` makes the rooms backend, called as `Rooms` is: in this process by default,
    room actors on Ray with `rtt.cluster.RayRooms` (whose ingress serves `build_app(server)`
    itself and never calls `start()`).
    """

    def __init__(
        self, config: ServerConfig, registry: EngineRegistry, *, rooms: Callable[..., Rooms] = Rooms
    ) -> None:
        self.tokens = TokenStore([config.token or "", *config.tokens])
        if not is_loopback(config.host) and not self.tokens:
            raise ConfigError(
                f"binding {config.host} (not loopback) needs a token: "
                "pass --token-file or set RTT_TOKEN"
            )
        self.config = config
        self.metrics = ServerMetrics()
        self.journal = Journal(config.journal, config.retention)
        self.rooms = rooms(journal=self.journal, limits=config.limits, metrics=self.metrics)
        self.quotas = Quotas(config.api)
        self.ctx = ServerContext(
            self.rooms, registry, config.pipeline, config.limits, self.metrics, self.quotas
        )
        self._trusted = [ipaddress.ip_network(p, strict=False) for p in config.trusted_proxies]
        self.sockets: set[AsgiSocket] = set()  # open websockets (closed with 1001 at shutdown)
        self.registry = registry
        self._listener: asyncio.Server | None = None
        self._state = ServerState()
        self._pruner: asyncio.Task | None = None

    @property
    def port(self) -> int:
        """The bound port; the configured one when another server (Ray Serve's) listens."""
        if self._listener is None:
            return self.config.port
        return self._listener.sockets[0].getsockname()[1]

    async def start(self) -> None:
        raise_fd_limit()
        await asyncio.to_thread(self.journal.prune)
        # uvicorn's own log lines name request paths, and a path may carry `?token=`
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        protocol = type("RttH11", (GuardedH11Protocol,), {})
        protocol.handshake_timeout = self.config.handshake_timeout
        config = uvicorn.Config(
            build_app(self),
            http=protocol,
            ws="websockets-sansio",
            ws_max_size=self.config.limits.max_message,
            ws_ping_interval=20.0,
            ws_ping_timeout=20.0,
            lifespan="off",
            log_config=None,
            access_log=False,
            proxy_headers=False,  # X-Forwarded-For counts only from trusted proxies (address_of)
            server_header=False,
        )
        config.load()
        self._state = ServerState()
        state = self._state

        def connection():
            return config.http_protocol_class(config=config, server_state=state, app_state={})

        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(
            connection, self.config.host, self.config.port, backlog=2048
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
            if self._listener is not None:
                self._listener.close()  # no new connections
                await self.rooms.drain(timeout * 0.8)
                while self.ctx.working and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)  # listeners send what is queued, then 1001
                for ws in list(self.sockets):  # whoever is left: 1001 going away
                    await ws.close(1001, "server shutting down")
                await self._wait_connections(max(0.5, deadline - time.monotonic()))
        except Exception:  # a shutdown that half fails must still release everything
            log.exception("shutdown")
        finally:
            await self.rooms.close()

    async def _wait_connections(self, timeout: float) -> None:
        """Let sessions end and closing handshakes finish; then drop whatever is left."""
        end = time.monotonic() + timeout
        state = self._state
        while (self.sockets or state.tasks) and time.monotonic() < end:
            await asyncio.sleep(0.02)
        for connection in list(state.connections):
            connection.shutdown()
        for task in list(state.tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._listener.wait_closed(), 1.0)

    async def __aenter__(self) -> RttServer:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def serve_forever(self) -> None:
        assert self._listener is not None, "not started"
        await self._listener.serve_forever()

    async def _prune_forever(self) -> None:
        while True:
            await asyncio.sleep(_PRUNE_EVERY)
            keep = self.rooms.journal_paths()
            await asyncio.to_thread(self.journal.prune, keep=keep)

    def address_of(self, scope) -> str:
        """The client's address: the peer, or behind a trusted proxy what it forwards."""
        client = scope.get("client")
        peer = client[0] if client else ""
        if not self._trusted:
            return peer
        forwarded = Headers(scope=scope).getlist("x-forwarded-for")
        return client_address(peer, forwarded, self._trusted)
