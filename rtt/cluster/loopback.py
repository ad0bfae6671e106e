"""A local Ray cluster that stays on 127.0.0.1 (`rtt serve --ray auto`, the tests, the load script).

Ray 2.60 binds off loopback in two places even when told `_node_ip_address="127.0.0.1"`:
- it resolves the node address to the machine's routable one unless
  `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` (its "no cluster" mode, which uses the loopback
  address); Ray reads the variable once, on import, so the flag is also set in the driver;
- a Serve replica binds its inter-deployment gRPC server on `[::]:0`, hard-coded
  (`serve/_private/replica.py`, through `ray._common.tls_utils.add_port_to_grpc_server`);
  a worker setup hook wraps that function (before Serve imports it, and without importing
  Serve: the hook runs in every worker, the proxy's included) to bind on 127.0.0.1.
A cluster of several machines needs the routable address: `ray.init(address=...)` joins one
as it is and none of this applies.
"""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["ENV", "bind_replica_grpc_to_loopback", "start_local"]

ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
HOOK = f"{__name__}.bind_replica_grpc_to_loopback"


def bind_replica_grpc_to_loopback() -> None:
    """Worker setup hook: Serve replicas of this worker bind their gRPC port on loopback."""
    from ray._common import tls_utils

    bind = tls_utils.add_port_to_grpc_server
    if getattr(bind, "on_loopback", False):
        return

    def on_loopback(server: Any, address: str) -> int:
        if address.startswith("[::]:"):
            address = "127.0.0.1:" + address.rsplit(":", 1)[1]
        return bind(server, address)

    on_loopback.on_loopback = True  # type: ignore[attr-defined]
    tls_utils.add_port_to_grpc_server = on_loopback  # for Serve imported from now on
    replica = sys.modules.get("ray.serve._private.replica")
    if replica is not None:  # ... and for Serve already imported in this worker
        replica.add_port_to_grpc_server = on_loopback


def start_local(*, tries: int = 3, **options: Any) -> None:
    """`ray.init` a new local cluster on loopback; retried when its raylet misses Ray's fixed
    30 s start-up window (a busy 2-core machine does), after ending the half-started node."""
    os.environ.update(ENV)  # for the processes Ray starts
    import ray
    from ray._private import ray_constants

    # read once when Ray is imported, which may have happened before this call
    ray_constants.ENABLE_RAY_CLUSTER = False

    runtime_env = dict(options.pop("runtime_env", None) or {})
    runtime_env["worker_process_setup_hook"] = HOOK
    runtime_env["env_vars"] = {**ENV, **runtime_env.get("env_vars", {})}
    for attempt in range(1, tries + 1):
        try:
            ray.init(
                address="local",
                _node_ip_address="127.0.0.1",
                include_dashboard=False,
                runtime_env=runtime_env,
                **options,
            )
            return
        except Exception as exc:
            ray.shutdown()
            _end_half_started()
            if attempt == tries or "timed out during startup" not in str(exc):
                raise


def _end_half_started() -> None:
    """A node that never registered is not stopped by `ray.shutdown()`: end the Ray
    services this process started (its own children, by pid)."""
    try:
        import psutil
    except ImportError:  # not a dependency of the ray extra: Ray's own clean-up then
        return
    for child in psutil.Process().children(recursive=True):
        try:
            if any(n in " ".join(child.cmdline()) for n in ("gcs_server", "raylet", "ray/")):
                child.kill()
        except psutil.Error:
            pass
