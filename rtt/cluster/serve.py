"""`rtt serve --ray auto|ADDRESS`: the same server, its rooms as actors on a Ray cluster.

`auto` starts a local cluster bound to 127.0.0.1 (usage stats off); an ADDRESS
joins a running one (`ray start --head` prints it). Serve's HTTP proxy listens on
`--host`/`--port` and hands each connection to an ingress replica; the journal
folder must be reachable from every node that may run a room (a shared volume).
Ctrl-C or SIGTERM deletes the application and the room actors (their journals stay).
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
from collections.abc import Callable

from rich.console import Console

from pipeline.engine import EngineRegistry
from pipeline.errors import ConfigError
from pipeline.factory import load_engines

from ..server.app import ServerConfig
from .engines import ClusterConfig
from .ingress import ingress_app
from .loopback import start_local
from .remote import ray_registry
from .room_actor import NAMESPACE

__all__ = ["serve_on_ray"]

APP = "rtt"


def serve_on_ray(
    config: ServerConfig,
    address: str,
    *,
    replicas: int = 1,
    cluster: ClusterConfig | None = None,
    registry_factory: Callable[[], EngineRegistry] | None = None,
) -> int:
    """`registry_factory` None: the models run as Ray Serve deployments (`cluster`), deployed
    here before the ingress; room actors and ingress replicas only look them up."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    from ray import serve

    if config.port == 0:
        raise ConfigError("--ray needs a fixed --port: Serve's proxy listens on it")
    if replicas < 1:
        raise ConfigError("--replicas must be at least 1")
    console = Console(file=sys.stderr)
    local = address == "auto"
    console.print(f"[dim]{'starting a local Ray cluster' if local else f'joining {address}'}…[/]")
    if local:
        start_local(namespace=NAMESPACE, log_to_driver=False)
    else:
        ray.init(address=address, namespace=NAMESPACE, log_to_driver=False)
    try:
        serve.start(http_options={"host": config.host, "port": config.port})
        if registry_factory is None:
            console.print("[dim]deploying the models (ASR and MT deployments)…[/]")
            load_engines(ray_registry(cluster), config.pipeline)
            registry_factory = functools.partial(ray_registry, cluster, deploy=False)
        serve.run(
            ingress_app(config, registry_factory, replicas=replicas), name=APP, route_prefix="/"
        )
        where = f"{config.host}:{config.port}"
        console.print(
            f"rtt serving on Ray at [bold]http://{where}/[/] (websocket: ws://{where}/ws; "
            f"{replicas} ingress replica(s); journal: {config.journal})"
        )
        _wait_for_signal()
        console.print("[dim]shutting down: the application and its room actors go…[/]")
    finally:
        _tear_down(local)
    return 0


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def _tear_down(local: bool) -> None:
    import ray
    from ray import serve

    try:
        serve.delete(APP)
        for actor in ray.util.list_named_actors(all_namespaces=True):
            if actor["namespace"] == NAMESPACE and actor["name"].startswith(
                ("rtt-room-", "rtt-stream-")
            ):
                ray.kill(ray.get_actor(actor["name"], namespace=NAMESPACE), no_restart=True)
        if local:
            serve.shutdown()
    finally:
        ray.shutdown()
