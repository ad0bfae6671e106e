"""A local Ray cluster on 127.0.0.1 with two ingress applications, `/a` and `/b`.

Started once for the module that asks for it (Ray and Serve take most of a minute
on 2 cores), on fake engines (`pipeline.fakes`), and shut down after it. Two
applications rather than two replicas of one: a test then knows which ingress each
client lands on.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.fakes import fake_config, fake_registry
from rtt.server import ServerConfig

ROOT = Path(__file__).resolve().parents[3]
STARTUP_LIMIT = 240.0  # seconds; on a quiet machine it is under a minute


@dataclass
class Cluster:
    port: int
    journal: Path

    def url(self, ingress: str) -> str:
        return f"ws://127.0.0.1:{self.port}/{ingress}/ws"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    ray = pytest.importorskip("ray", reason="the ray extra (pip install 'rtt[ray]')")
    from ray import serve

    from rtt.cluster import NAMESPACE, ingress_app
    from rtt.cluster.loopback import start_local

    # the actors and replicas import rtt, pipeline and tests from this checkout
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    t0 = time.monotonic()
    root = tmp_path_factory.mktemp("ray")
    port = _free_port()
    config = ServerConfig(
        journal=root / "journal", port=port, pipeline=fake_config(root / "models")
    )
    start_local(namespace=NAMESPACE, num_cpus=2, log_to_driver=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run_many(
            [
                serve.RunTarget(
                    ingress_app(config, fake_registry), name=name, route_prefix=f"/{name}"
                )
                for name in ("a", "b")
            ]
        )
        started = time.monotonic() - t0
        print(f"\nRay and Serve up in {started:.1f} s")
        assert started < STARTUP_LIMIT, f"Ray and Serve took {started:.0f} s to start"
        yield Cluster(port, config.journal)
    finally:
        serve.shutdown()
        ray.shutdown()
