"""ASR and MT engines as Ray Serve deployments (issue 21).

A replica holds one backend, built on the replica by the same factories the in-process
`EngineRegistry` uses (`open_translator`, `WhisperBackend`, or the fakes of
`pipeline/fakes.py`), and batches the requests of every stream with `@serve.batch`. Inside
a batch, requests are grouped by `BatchingEngine`'s keys: MT by language pair, ASR
detections together and transcriptions by language (one that still needs detection goes
alone). The backend runs on one worker thread per replica: backends are not thread-safe,
and the replica's event loop must keep taking requests while a batch decodes.

Every reply carries a `Served` note (replica, batch number, batch size): the client counts
batches from it and the tests see where a stream's requests landed. MT requests carry the
stream's affinity key, which `StreamAffinityRouter` (`routing.py`) maps to one live
replica, so a stream's prompt cache and drafts stay with the replica that built them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Any

from ray import serve
from ray.serve.config import RequestRouterConfig

from pipeline.asr.backend import ASRRequest, ClipsRequest, LanguageRequest
from pipeline.asr.engine import _batch_key as asr_batch_key
from pipeline.errors import ConfigError

from .routing import StreamAffinityRouter

__all__ = [
    "ASRDeployment",
    "ClusterConfig",
    "EngineDeployment",
    "MTDeployment",
    "Served",
    "engine_app",
]


@dataclass(frozen=True, slots=True)
class EngineDeployment:
    """How one engine is deployed: replicas, autoscaling, resources, batching."""

    min_replicas: int = 1
    max_replicas: int = 1  # above min_replicas: autoscaled on queue length
    target_ongoing_requests: float = 4.0  # per replica, queued + running, that autoscaling keeps
    num_cpus: float = 1.0
    num_gpus: float = 0.0  # fractional: 0.25 puts four replicas on one GPU
    max_batch: int = 8
    batch_wait_s: float = 0.01  # how long a batch waits to fill
    max_ongoing_requests: int = 64  # affinity sends a stream to one replica: leave room
    threads: int | None = None  # backend threads per replica; None: the pipeline's split

    def __post_init__(self) -> None:
        if not 0 < self.max_replicas or not 0 <= self.min_replicas <= self.max_replicas:
            raise ConfigError("cluster: need 0 <= min_replicas <= max_replicas, max >= 1")
        if self.max_batch < 1 or self.batch_wait_s < 0 or self.target_ongoing_requests <= 0:
            raise ConfigError("cluster: max_batch >= 1, batch_wait_s >= 0, target > 0")
        if self.max_ongoing_requests < self.max_batch:
            raise ConfigError("cluster: max_ongoing_requests must be >= max_batch")

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> EngineDeployment:
        known = {f.name for f in fields(cls)}
        unknown = set(table) - known
        if unknown:
            raise ConfigError(f"cluster: unknown engine settings {sorted(unknown)}")
        return cls(**table)

    def serve_options(self) -> dict[str, Any]:
        """Keyword arguments of `Deployment.options`."""
        options: dict[str, Any] = {
            "max_ongoing_requests": self.max_ongoing_requests,
            "ray_actor_options": {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus},
        }
        if self.min_replicas == self.max_replicas:
            options["num_replicas"] = self.max_replicas
        else:
            options["autoscaling_config"] = {
                "min_replicas": self.min_replicas,
                "initial_replicas": max(self.min_replicas, 1),
                "max_replicas": self.max_replicas,
                "target_ongoing_requests": self.target_ongoing_requests,
            }
        return options


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """The engines' deployments (`[cluster.asr]`, `[cluster.mt]` tables)."""

    asr: EngineDeployment = field(default_factory=EngineDeployment)
    mt: EngineDeployment = field(default_factory=EngineDeployment)

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> ClusterConfig:
        unknown = set(table) - {"asr", "mt"}
        if unknown:
            raise ConfigError(f"cluster: unknown sections {sorted(unknown)}")
        return cls(
            asr=EngineDeployment.from_mapping(table.get("asr", {})),
            mt=EngineDeployment.from_mapping(table.get("mt", {})),
        )


@dataclass(frozen=True, slots=True)
class Served:
    """Where a request ran: for counters, tests and the load script."""

    replica: str
    batch: int  # the replica's batch number
    size: int  # requests in that batch
    group: int  # requests in the backend call this one was in (same batching key)
    seconds: float  # that backend call's time


class _Batched:
    """One backend on one worker thread; `@serve.batch` feeds `_run` with grouped calls."""

    def __init__(
        self,
        factory: Callable[..., Any],
        args: Sequence,
        kwargs: Mapping,
        options: EngineDeployment,
    ) -> None:
        self.backend = factory(*args, **kwargs)
        self.name = str(getattr(self.backend, "name", type(self.backend).__name__))
        self.replica = serve.get_replica_context().replica_id.unique_id
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="engine")
        self.batches = 0
        self.requests = 0
        self.calls: deque[tuple[str, int]] = deque(maxlen=512)  # (group key, size) per call
        self._batched.set_max_batch_size(options.max_batch)
        self._batched.set_batch_wait_timeout_s(options.batch_wait_s)

    def _key(self, request: Any) -> Hashable:
        raise NotImplementedError

    def _call(self, requests: list) -> list:
        raise NotImplementedError

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.01)
    async def _batched(self, requests: list) -> list:
        self.batches += 1
        self.requests += len(requests)
        number, loop = self.batches, asyncio.get_running_loop()
        groups: dict[Hashable, list[int]] = {}
        for i, request in enumerate(requests):
            groups.setdefault(self._key(request), []).append(i)
        out: list[Any] = [None] * len(requests)
        for key, members in groups.items():
            group = [requests[i] for i in members]
            try:
                results, seconds = await loop.run_in_executor(self._worker, self._timed, group)
            except Exception as exc:  # this group's callers get the error, the rest go on
                for i in members:
                    out[i] = exc
                continue
            self.calls.append((str(key), len(group)))
            for i, result in zip(members, results, strict=True):
                out[i] = (result, Served(self.replica, number, len(requests), len(group), seconds))
        return out

    def _timed(self, group: list) -> tuple[list, float]:
        start = time.perf_counter()
        results = self._call(group)
        return results, time.perf_counter() - start

    async def _submit(self, request: Any) -> tuple[Any, Served]:
        outcome = await self._batched(request)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def ping(self) -> str:
        """A no-op round trip: what Ray adds to every call."""
        return self.replica

    async def stats(self) -> dict[str, Any]:
        return {
            "replica": self.replica,
            "name": self.name,
            "batches": self.batches,
            "requests": self.requests,
            "calls": list(self.calls),
        }

    def __del__(self) -> None:
        close = getattr(getattr(self, "backend", None), "close", None)
        if callable(close):
            close()


@serve.deployment(
    name="mt",
    request_router_config=RequestRouterConfig(request_router_class=StreamAffinityRouter),
)
class MTDeployment(_Batched):
    """A `Translator` replica: requests batched by (source, target) language pair."""

    def _key(self, request: Any) -> Hashable:
        return (request.source_lang, request.target_lang)

    def _call(self, requests: list) -> list:
        return self.backend.translate_batch(requests)

    async def translate(self, request: Any, affinity: str | None = None) -> tuple[Any, Served]:
        # `affinity` is read by the router (StreamAffinityRouter), not here
        return await self._submit(request)


@serve.deployment(name="asr")
class ASRDeployment(_Batched):
    """A Whisper replica: detections batched together, transcriptions by language."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.multilingual = bool(getattr(self.backend, "multilingual", False))

    def _key(self, request: Any) -> Hashable:
        key = asr_batch_key(request)
        return key if isinstance(key, str) else f"alone-{key}"  # a request needing detection

    def _call(self, requests: list) -> list:
        if isinstance(requests[0], LanguageRequest):
            return self.backend.detect_batch(requests)
        if isinstance(requests[0], ClipsRequest):  # a file's batch (goes alone)
            return [self.backend.transcribe_clips(r) for r in requests]
        return self.backend.transcribe_batch(requests)

    async def transcribe(self, request: ASRRequest) -> tuple[Any, Served]:
        return await self._submit(request)

    async def transcribe_clips(self, request: ClipsRequest) -> tuple[Any, Served]:
        return await self._submit(request)

    async def count_tokens(self, text: str) -> int:
        return self.backend.count_tokens(text)  # a tokenizer call: cheap, not batched

    async def detect(self, request: LanguageRequest) -> tuple[Any, Served]:
        return await self._submit(request)

    async def describe(self) -> dict[str, Any]:
        return {"name": self.name, "multilingual": self.multilingual}


def engine_app(
    kind: str,
    factory: Callable[..., Any],
    args: Sequence,
    kwargs: Mapping,
    options: EngineDeployment,
) -> Any:
    """The bound application of one engine (`serve.run` it under a stable name)."""
    deployment = {"mt": MTDeployment, "asr": ASRDeployment}[kind]
    return deployment.options(**options.serve_options()).bind(
        factory, tuple(args), dict(kwargs), options
    )
