"""The engines as Ray Serve deployments, on a local Ray cluster bound to loopback.

One cluster for the module. The fake engines (`pipeline/fakes.py`, `ray_fakes.py`) run in
the replicas: requests of many streams share batches, a stream keeps to one MT replica,
and a pipeline whose MT replica is killed mid-request ends with the same commits as an
in-process run. One run on the real small models goes end to end through the deployments.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")
serve = pytest.importorskip("ray.serve")

from pipeline.asr.backend import ASRRequest, LanguageRequest  # noqa: E402
from pipeline.config import MTConfig  # noqa: E402
from pipeline.engine import BACKGROUND, EngineRegistry  # noqa: E402
from pipeline.events import SourceCommit, TargetCommit  # noqa: E402
from pipeline.factory import asr_engine, build_pipeline, mt_engines  # noqa: E402
from pipeline.fakes import fake_config, fake_registry  # noqa: E402
from pipeline.mt.translator import TranslationRequest  # noqa: E402
from pipeline.offline.process import build_processor  # noqa: E402
from rtt.cluster.engines import ClusterConfig, EngineDeployment  # noqa: E402
from rtt.cluster.loopback import start_local  # noqa: E402
from rtt.cluster.remote import ray_registry, stream_affinity  # noqa: E402
from tests.conftest import model_path  # noqa: E402
from tests.rtt.cluster.ray_fakes import KillableTranslator, LangFakeASR  # noqa: E402
from tests.support import ArraySource, speech_samples  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
FAKES = ClusterConfig(
    asr=EngineDeployment(num_cpus=0.1, batch_wait_s=0.1),
    mt=EngineDeployment(min_replicas=2, max_replicas=2, num_cpus=0.1, batch_wait_s=0.1),
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    # replicas import rtt, pipeline and tests from this checkout
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    start_local(num_cpus=8, log_to_driver=False)  # logical CPUs: the replicas ask for 0.1 each
    # the engines need no HTTP: no proxy (the ingress side starts its own)
    serve.start(proxy_location="Disabled", http_options={"host": "127.0.0.1", "port": _free_port()})
    yield
    serve.shutdown()
    ray.shutdown()


@pytest.fixture(scope="module")
def control(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("control")


@pytest.fixture(scope="module")
def fakes(cluster, control, tmp_path_factory):
    """A registry on the fake deployments, and the pipeline config that reaches them."""
    config = fake_config(tmp_path_factory.mktemp("models"))
    config = dataclasses.replace(
        config, source=dataclasses.replace(config.source, realtime=False), stream="kill"
    )
    registry = ray_registry(
        FAKES,
        mt_backend=functools.partial(KillableTranslator, control=str(control)),
        asr_backend=LangFakeASR,
        affinity="kill",
    )
    yield registry, config
    registry.shutdown()


def _commits(events) -> list[tuple]:
    kinds = (SourceCommit, TargetCommit)
    return [
        (type(e).__name__, e.utterance, getattr(e, "lang", ""), e.text)
        for e in events
        if isinstance(e, kinds)
    ]


async def _run(config, registry, samples):
    source = ArraySource(samples, stream=config.stream)
    return [e async for e in build_pipeline(config, source, registry).run()]


def test_requests_of_many_streams_share_batches_by_language_pair(fakes):
    registry, config = fakes
    engine, _ = mt_engines(registry, config)
    requests, batches = engine.requests, engine.batches

    async def stream(i: int) -> list[str]:
        with stream_affinity(f"batch-{i}"):
            pair = ("en", "de") if i % 2 else ("en", "fr")
            out = []
            for k in range(4):
                request = TranslationRequest(f"s{i} k{k}", *pair)
                out.append((await engine.translate(request)).text)
            return out

    results = asyncio.run(_gather(stream(i) for i in range(12)))
    for i, texts in enumerate(results):
        lang = "de" if i % 2 else "fr"
        assert texts == [f"[{lang}] s{i} k{k}" for k in range(4)]
    assert engine.requests - requests == 48
    assert engine.batches - batches < 48, "requests of different streams should share batches"
    calls = _calls(engine)
    assert {key for key, _ in calls} <= {"('en', 'de')", "('en', 'fr')"}
    assert max(size for _, size in calls) > 1


def test_asr_batches_detections_together_and_transcriptions_by_language(fakes):
    registry, config = fakes
    engine = asr_engine(registry, config)
    assert engine.multilingual
    second = np.zeros(16000, np.float32)

    async def one(i: int):
        if i % 4 == 3:
            return await engine.detect(LanguageRequest(second))
        language = (None, "en", "de")[i % 4]
        return await engine.transcribe(ASRRequest(np.tile(second, 2), language))

    results = asyncio.run(_gather(one(i) for i in range(16)))
    for i, result in enumerate(results):
        if i % 4 == 3:
            assert result[0][0] == "en"
        else:
            assert result.language == ((None, "en", "de")[i % 4] or "en")
            assert [w.word for w in result.words] == ["w1", "w2", "w3", "w4."]
    calls = _calls(engine)
    sizes = {}
    for key, size in calls:
        sizes.setdefault(key.split("-")[0], []).append(size)
    assert set(sizes) == {"alone", "en", "de", "detect"}
    assert set(sizes["alone"]) == {1}, "a request that needs detection goes alone"
    assert max(max(sizes["en"]), max(sizes["de"]), max(sizes["detect"])) > 1


def test_every_ray_socket_listens_on_loopback_only(fakes):
    """Ray 2.60 binds its node on the routable address and Serve replicas' gRPC on [::]
    unless rtt/cluster/loopback.py keeps them on 127.0.0.1."""
    import psutil

    listening = []
    for proc in psutil.Process().children(recursive=True):
        try:
            sockets = proc.net_connections(kind="inet")
        except psutil.Error:
            continue
        listening += [(proc.name(), c.laddr) for c in sockets if c.status == psutil.CONN_LISTEN]
    assert any("Serve" in name or "ray::" in name for name, _ in listening), listening
    off = [(n, a) for n, a in listening if a.ip not in ("127.0.0.1", "::ffff:127.0.0.1")]
    assert not off, f"Ray sockets off loopback: {off}"


def test_a_stream_keeps_to_one_mt_replica(fakes):
    registry, config = fakes
    engine, _ = mt_engines(registry, config)
    seen: dict[str, set[str]] = {}

    async def stream(i: int) -> None:
        with stream_affinity(f"affinity-{i}"):
            for k in range(3):
                before = dict(engine.replicas)
                await engine.translate(TranslationRequest(f"s{i} k{k}", "en", "de"))
                landed = [r for r, n in engine.replicas.items() if n > before.get(r, 0)]
                seen.setdefault(f"affinity-{i}", set()).update(landed)

    async def sequentially() -> None:  # one stream at a time: each reply is that stream's
        for i in range(12):
            await stream(i)

    asyncio.run(sequentially())
    assert all(len(replicas) == 1 for replicas in seen.values()), seen
    used = set().union(*seen.values())
    assert len(used) == 2, "12 streams hash onto both replicas"


def test_killed_mt_replica_mid_stream_loses_and_doubles_no_commit(fakes, control):
    registry, config = fakes
    samples = speech_samples(4)
    reference_registry = fake_registry()
    try:
        expected = _commits(asyncio.run(_run(config, reference_registry, samples)))
    finally:
        reference_registry.close()
    assert len([c for c in expected if c[0] == "TargetCommit"]) >= 4

    engine, _ = mt_engines(registry, config)
    killed: list[str] = []
    stop = threading.Event()

    def killer() -> None:  # waits for the hung request, then kills its replica
        victim = control / "victim"
        while not stop.is_set():
            if victim.exists() and victim.read_text():
                name = victim.read_text()
                ray.kill(ray.get_actor(name, namespace="serve"), no_restart=True)
                killed.append(name)
                return
            time.sleep(0.05)

    (control / "armed").write_text("1")
    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        events = asyncio.run(_run(config, registry, samples))
    finally:
        stop.set()
        (control / "armed").unlink()
        thread.join(timeout=5)
    assert killed, "the armed request never reached a replica"
    assert engine.retried >= 1
    assert _commits(events) == expected


def test_real_models_end_to_end_through_the_deployments(cluster, small_config, shared_registry):
    model_path("whisper-tiny.en")
    model_path("qwen2.5-coder-0.5b")
    config = dataclasses.replace(small_config, mt=_plain(small_config.mt), stream="real")
    audio = ROOT / "audio_samples" / "clip-en-quick-brown-fox.flac"
    from pipeline.audio import open_source
    from pipeline.compute import resolve_compute

    compute = resolve_compute(config.compute)
    cluster_config = ClusterConfig(
        asr=EngineDeployment(num_cpus=0.1, threads=compute.asr_threads),
        mt=EngineDeployment(num_cpus=0.1, threads=compute.mt_threads),
    )

    async def run(registry: EngineRegistry):
        source = open_source(str(audio), stream=config.stream, config=config.source)
        return [e async for e in build_pipeline(config, source, registry).run()]

    async def whole_file(registry: EngineRegistry):
        # the path of /v1 and `rtt batch`: blocking Whisper batches from a worker thread
        processor = build_processor(config, registry, priority=BACKGROUND)
        return await processor.process(audio, stream="file", language="en", targets=("de",))

    expected = _commits(asyncio.run(run(shared_registry)))
    expected_file = asyncio.run(whole_file(shared_registry))
    registry = ray_registry(cluster_config, affinity="real")
    try:
        got = _commits(asyncio.run(run(registry)))
        got_file = asyncio.run(whole_file(registry))
    finally:
        registry.shutdown()
    assert [c for c in expected if c[0] == "SourceCommit"], "the sample should give commits"
    assert got == expected
    assert expected_file.sentences and expected_file.translations["de"], "the file translates"
    assert got_file == expected_file


def _plain(mt: MTConfig) -> MTConfig:
    return dataclasses.replace(mt, speculative="off")  # speculation runs in-process only


def _calls(engine) -> list[tuple[str, int]]:
    """Every replica's (batching key, size) per backend call."""
    handle = engine._handle.options(method_name="stats")
    calls = []
    for _ in range(8):  # ask often enough to reach both replicas
        calls.extend(tuple(c) for c in handle.remote().result()["calls"])
    return calls  # a replica asked twice repeats its calls: harmless to sets and maxima


async def _gather(coroutines):
    return await asyncio.gather(*coroutines)
