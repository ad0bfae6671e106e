"""Stream affinity for the MT deployment: a Ray Serve request router (alpha API in 2.60).

Serve's model multiplexing would also pin a key to a replica, but `@serve.batch` splits
batches by multiplexed model id, so one id per stream would end batching across streams.
The router instead reads the `affinity` keyword of each request.
"""

from __future__ import annotations

import hashlib

from ray.serve.request_router import PendingRequest, RequestRouter, RunningReplica

__all__ = ["StreamAffinityRouter"]


class StreamAffinityRouter(RequestRouter):
    """Sends every request with the same `affinity` keyword to one replica.

    Rendezvous (highest random weight) hashing over the live replicas: the same replica
    while it lives; when it dies only its streams move, each to its next-best replica.
    Requests without a key go to the least loaded replica.
    """

    async def choose_replicas(
        self,
        candidate_replicas: list[RunningReplica],
        pending_request: PendingRequest | None = None,
    ) -> list[list[RunningReplica]]:
        if pending_request is not None:
            # without this the routing loop retries a full replica without pausing
            pending_request.routing_context.should_backoff = True
        key = pending_request.kwargs.get("affinity") if pending_request is not None else None
        if not key or not candidate_replicas:
            return [candidate_replicas]
        return [[max(candidate_replicas, key=lambda r: _weight(key, r.replica_id.unique_id))]]


def _weight(key: str, replica: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{key}|{replica}".encode(), digest_size=8).digest())
