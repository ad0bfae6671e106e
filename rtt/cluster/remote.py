"""The client side of the engine deployments: remote engines and the registry that hands them out.

`RayMTEngine` and `RayASREngine` have the methods the stages call on `MTEngine` and
`ASREngine` (`translate`, `transcribe`, `detect`, `name`, the `batches`/`requests`
counters, `close`), so `pipeline.factory.build_pipeline` runs unchanged on
`ray_registry(...)`: the registry's `mt()` and its ASR slot make remote engines instead of
loading models. A registry deploys an engine's application the first time it is asked for
(`deploy=True`, the launcher) or only looks it up (`deploy=False`, a room actor).

Affinity: MT requests carry a stream key (the registry's `affinity`, or the one set with
`stream_affinity()` around a pipeline's run when one registry serves many streams), which
the router maps to one replica. Retries: a replica that dies mid-request (its actor gone or
unreachable) fails the call; the request is sent again and lands on a live replica.
Requests are idempotent (the same input gives the same output), so a commit is neither
lost nor doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from ray import serve
from ray.exceptions import ActorUnavailableError, RayActorError

from pipeline.asr.backend import (
    ASRRequest,
    ASRResult,
    ClipsRequest,
    LanguageProbs,
    LanguageRequest,
    Word,
)
from pipeline.asr.whisper_backend import WhisperBackend
from pipeline.compute import resolve_device
from pipeline.config import ComputeConfig
from pipeline.engine import LIVE, ASRBackendFactory, BackendFactory, EngineRegistry
from pipeline.errors import ConfigError
from pipeline.mt.runtime import open_translator
from pipeline.mt.translator import Translation, TranslationRequest

from .engines import ClusterConfig, EngineDeployment, Served, engine_app

__all__ = ["RayASREngine", "RayEngineRegistry", "RayMTEngine", "ray_registry", "stream_affinity"]

_affinity: ContextVar[str | None] = ContextVar("rtt_stream_affinity", default=None)
# what a dead or unreachable replica raises to its callers
RETRYABLE: tuple[type[BaseException], ...] = (RayActorError, ActorUnavailableError)


@contextlib.contextmanager
def stream_affinity(key: str) -> Iterator[None]:
    """MT requests made in this context (and tasks started in it) keep to one replica."""
    token = _affinity.set(key)
    try:
        yield
    finally:
        _affinity.reset(token)


class _RemoteEngine:
    """Calls one deployment; counts requests, remote batches, retries and compute."""

    backend = None  # no local model: the factory's speculation check passes over it

    def __init__(self, handle: Any, name: str, *, retries: int = 4, backoff_s: float = 0.25):
        self.name = name
        self._handle = handle
        self._retries = retries
        self._backoff_s = backoff_s
        self.requests = 0
        self.retried = 0  # calls sent again after their replica died
        self.compute_s = 0.0  # backend seconds spent on this client's requests (its share)
        self.replicas: Counter[str] = Counter()  # requests served per replica
        self._batches = 0
        self._recent: deque[tuple[str, int]] = deque(maxlen=1024)
        self._seen: set[tuple[str, int]] = set()

    @property
    def batches(self) -> int:
        """Remote batches this client's requests were in (recent ones told apart)."""
        return self._batches

    async def _call(self, method: str, request: Any, **kwargs: Any) -> Any:
        handle = self._handle.options(method_name=method)
        for attempt in range(self._retries + 1):
            try:
                result, served = await handle.remote(request, **kwargs)
                break
            except RETRYABLE:
                if attempt == self._retries:
                    raise
                self.retried += 1
                await asyncio.sleep(self._backoff_s * (attempt + 1))
        self._count(served)
        return result

    def _call_blocking(self, method: str, request: Any) -> Any:
        """`_call` from a worker thread (the offline path's blocking calls)."""
        handle = self._handle.options(method_name=method)
        for attempt in range(self._retries + 1):
            try:
                result, served = handle.remote(request).result()
                break
            except RETRYABLE:
                if attempt == self._retries:
                    raise
                self.retried += 1
                time.sleep(self._backoff_s * (attempt + 1))
        self._count(served)
        return result

    def _count(self, served: Served) -> None:
        self.requests += 1
        self.replicas[served.replica] += 1
        self.compute_s += served.seconds / max(served.group, 1)
        pair = (served.replica, served.batch)
        if pair not in self._seen:
            self._batches += 1
            if len(self._recent) == self._recent.maxlen:
                self._seen.discard(self._recent[0])
            self._recent.append(pair)
            self._seen.add(pair)

    async def ping(self) -> str:
        """A no-op round trip to a replica (Ray's own overhead)."""
        return await self._handle.options(method_name="ping").remote()

    def close(self) -> None:
        """Nothing to free here: the deployment outlives its clients."""


class RayMTEngine(_RemoteEngine):
    def __init__(self, handle: Any, name: str, *, affinity: str, **options: Any) -> None:
        super().__init__(handle, name, **options)
        self.affinity = affinity

    async def translate(self, request: TranslationRequest, priority: int = LIVE) -> Translation:
        """`priority` is not carried: a deployment serves its requests in arrival order."""
        return await self._call("translate", request, affinity=_affinity.get() or self.affinity)


class RayASREngine(_RemoteEngine):
    def __init__(self, handle: Any, name: str, *, multilingual: bool, **options: Any) -> None:
        super().__init__(handle, name, **options)
        self.multilingual = multilingual

    async def transcribe(self, request: ASRRequest) -> ASRResult:
        return await self._call("transcribe", request)

    async def detect(self, request: LanguageRequest) -> LanguageProbs:
        return await self._call("detect", request)

    def at_priority(self, priority: int) -> _RemoteOffline:
        """This engine as a blocking `OfflineASR` (a file through `/v1` or `rtt batch`);
        `priority` is not carried, as for `translate`."""
        return _RemoteOffline(self)


class _RemoteOffline:
    """`at_priority`'s view: blocking calls to the ASR deployment from a worker thread
    (never the loop), and the async ones of a streaming stage."""

    def __init__(self, engine: RayASREngine) -> None:
        self._engine = engine
        self.multilingual = engine.multilingual

    def detect_batch(self, requests: Sequence[LanguageRequest]) -> list[LanguageProbs]:
        return [self._engine._call_blocking("detect", r) for r in requests]

    def transcribe_clips(self, request: ClipsRequest) -> list[Word]:
        return self._engine._call_blocking("transcribe_clips", request)

    async def transcribe(self, request: ASRRequest) -> ASRResult:
        return await self._engine.transcribe(request)

    async def detect(self, request: LanguageRequest) -> LanguageProbs:
        return await self._engine.detect(request)

    def count_tokens(self, text: str) -> int:
        handle = self._engine._handle.options(method_name="count_tokens")
        return handle.remote(text).result()


class RayEngineRegistry(EngineRegistry):
    """An `EngineRegistry` whose engines are Ray Serve deployments (one application each)."""

    def __init__(
        self,
        cluster: ClusterConfig | None = None,
        *,
        mt_backend: BackendFactory = open_translator,
        asr_backend: ASRBackendFactory = WhisperBackend,
        affinity: str | None = None,
        deploy: bool = True,
        retries: int = 4,
    ) -> None:
        super().__init__(mt_backend=mt_backend, asr_backend=asr_backend)
        self.cluster = cluster or ClusterConfig()
        self.affinity = affinity or uuid.uuid4().hex  # this registry's streams, by default
        self._deploy = deploy
        self._retries = retries
        self.apps: list[str] = []  # applications this registry made or found

    def mt(
        self,
        path: Path,
        compute: ComputeConfig,
        *,
        max_new_tokens: int = 160,
        family: str = "chatml",
    ) -> RayMTEngine:
        device, compute_type = resolve_device(compute)
        path = Path(path).expanduser().resolve()
        options = self.cluster.mt
        kwargs = {
            "device": device,
            "compute_type": compute_type,
            "threads": options.threads or compute.mt_threads,
            "max_new_tokens": max_new_tokens,
            "family": family,
        }

        def load() -> RayMTEngine:
            handle = self._app("mt", self._mt_backend, (path,), kwargs, options)
            return RayMTEngine(
                handle, f"ray-mt-{path.name}", affinity=self.affinity, retries=self._retries
            )

        return self.get("mt", (path, device, compute_type), load)

    def get(self, kind: str, key: Hashable, factory: Callable[[], Any]) -> Any:
        if kind == "asr":  # pipeline.factory.asr_engine's slot: its key holds every setting
            factory = self._asr_loader(key)
        elif kind != "mt":
            raise ConfigError(f"no remote engine for {kind!r} (speculation runs in-process)")
        return super().get(kind, key, factory)

    def _asr_loader(self, key: Any) -> Callable[[], RayASREngine]:
        path, device, compute_type, padding, beam_size, no_speech = key
        options = self.cluster.asr
        kwargs = {
            "device": device,
            "compute_type": compute_type,
            "threads": options.threads or max(1, int(options.num_cpus)),
            "padding": padding,
            "beam_size": beam_size,
            "no_speech_threshold": no_speech,
        }

        def load() -> RayASREngine:
            handle = self._app("asr", self.asr_backend, (Path(path),), kwargs, options)
            described = _blocking(lambda: handle.options(method_name="describe").remote().result())
            return RayASREngine(
                handle,
                f"ray-asr-{described['name']}",
                multilingual=described["multilingual"],
                retries=self._retries,
            )

        return load

    def _app(
        self,
        kind: str,
        backend: Callable[..., Any],
        args: tuple,
        kwargs: dict,
        options: EngineDeployment,
    ) -> Any:
        """The handle of the engine's application, deployed first if this registry may."""
        name = app_name(kind, backend, args, kwargs, options)
        # a second serve.run of a running app would restart its replicas: deploy only once
        if self._deploy and name not in _blocking(lambda: serve.status().applications):
            app = engine_app(kind, backend, args, kwargs, options)
            _blocking(lambda: serve.run(app, name=name, route_prefix=None))
        handle = serve.get_app_handle(name)
        self.apps.append(name)
        return handle

    def shutdown(self) -> None:
        """Delete the applications this registry deployed (the launcher, at the end)."""
        for name in dict.fromkeys(self.apps):
            _blocking(lambda name=name: serve.delete(name))
        self.apps.clear()
        self.close()


def app_name(
    kind: str, backend: Callable[..., Any], args: tuple, kwargs: dict, options: EngineDeployment
) -> str:
    """A stable application name per engine: the same model and settings, the same app."""
    origin = f"{getattr(backend, '__module__', '')}.{getattr(backend, '__qualname__', backend)}"
    digest = hashlib.sha1(repr((kind, origin, args, sorted(kwargs.items()), options)).encode())
    return f"rtt-{kind}-{digest.hexdigest()[:12]}"


def _blocking(call: Callable[[], Any]) -> Any:
    """Run a blocking Serve call; on a thread of its own when an event loop runs here
    (Serve refuses blocking calls on a running loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return call()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=run, name="serve-call")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def ray_registry(cluster: ClusterConfig | None = None, **options: Any) -> RayEngineRegistry:
    """The engine registry for a Ray cluster (`ray.init` already called)."""
    return RayEngineRegistry(cluster, **options)
