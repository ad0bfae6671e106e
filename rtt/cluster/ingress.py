"""The ingress: a Ray Serve deployment that serves the same ASGI app as `rtt serve`.

Each replica builds an `RttServer` whose rooms are `RayRooms` (windows on the room
actors) and hands Serve `build_app(server)`: the page, `/ws`, `/healthz`,
`/metrics`, `/v1`, unchanged. Serve's HTTP proxy takes the connections (on the
host and port of `serve.start(http_options=...)`) and passes websockets through
to a replica; a replica's death drops only its connections.

`/v1`'s whole files and the models of this replica come from `registry_factory()`
(loaded on first use); room actors call it too, in their own processes.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import partial

from ray import serve

from pipeline.engine import EngineRegistry

from ..server.app import RttServer, ServerConfig
from ..server.asgi import build_app
from .remote_room import RayRooms
from .room_actor import RoomSettings

__all__ = ["Ingress", "build", "ingress_app", "room_settings"]


def room_settings(config: ServerConfig) -> RoomSettings:
    return RoomSettings(journal=config.journal, retention=config.retention, limits=config.limits)


@serve.deployment(ray_actor_options={"num_cpus": 0})
@serve.ingress()
class Ingress:
    def __init__(
        self,
        config: ServerConfig,
        registry_factory: Callable[[], EngineRegistry] = EngineRegistry,
        settings: RoomSettings | None = None,
    ) -> None:
        context = serve.get_replica_context()
        ingress = f"{context.app_name}-{context.replica_id.unique_id}-{secrets.token_hex(3)}"
        rooms = partial(
            RayRooms,
            settings=settings or room_settings(config),
            registry_factory=registry_factory,
            ingress=ingress,
        )
        self.server = RttServer(config, registry_factory(), rooms=rooms)

    def __serve_build_asgi_app__(self):
        return build_app(self.server)


def ingress_app(
    config: ServerConfig,
    registry_factory: Callable[[], EngineRegistry] = EngineRegistry,
    *,
    replicas: int = 1,
    settings: RoomSettings | None = None,
):
    """The ingress as a Serve application, for `serve.run(app, route_prefix=...)`."""
    # Every open websocket is an ongoing request: the default (5) would queue the sixth.
    ongoing = config.limits.max_sessions + 16
    return Ingress.options(num_replicas=replicas, max_ongoing_requests=ongoing).bind(
        config, registry_factory, settings
    )


def build(args: dict):
    """Serve's application builder, for a config file or KubeRay's `RayService`
    (`import_path: rtt.cluster.ingress:build`, `args: {journal, token_file, host, port}`).
    Off loopback a token file is required, as for `rtt serve --host`."""
    from pathlib import Path

    from ..server.credentials import read_token_file

    tokens = tuple(read_token_file(Path(args["token_file"]))) if args.get("token_file") else ()
    config = ServerConfig(
        journal=Path(args["journal"]),
        host=args.get("host", "0.0.0.0"),
        port=int(args.get("port", 8000)),
        tokens=tokens,
    )
    return ingress_app(config, replicas=int(args.get("replicas", 1)))
