#!/usr/bin/env python3
"""How many real-time streams the engine deployments hold, on whatever Ray cluster.

N streams replay an audio file at real-time pace (the wall clock: computation-aware),
each through the whole pipeline (`build_pipeline` on `ray_registry`, one registry and
affinity key per stream). Reported: the streams held in real time (every commit's lag,
`emitted - end` of its audio, stays under `--lag-bound`), per-stream compute measured by
the engines (ASR and MT backend seconds per audio second: each request's share of its
backend call), and Ray's own overhead (a no-op round trip to a replica vs an in-process
await). Fake engines (`--fake`) measure the plumbing; the default is the small models.

  .venv/bin/python scripts/capacity_ray.py --streams 2 --mt-replicas 1 --json out/capacity_1.json
  .venv/bin/python scripts/capacity_ray.py --address auto --streams 16 --mt-replicas 4 --num-gpus 0.25
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import ray  # noqa: E402
from ray import serve  # noqa: E402

from pipeline.audio import open_source  # noqa: E402
from pipeline.compute import resolve_compute  # noqa: E402
from pipeline.config import (  # noqa: E402
    ASRConfig,
    ComputeConfig,
    MTConfig,
    PipelineConfig,
    SourceConfig,  # noqa: E402
)
from pipeline.events import Error, SourceCommit, TargetCommit  # noqa: E402
from pipeline.factory import asr_engine, build_pipeline, mt_engines  # noqa: E402
from pipeline.fakes import FakeASRBackend, FakeTranslator, fake_config  # noqa: E402
from rtt.cluster.engines import ClusterConfig, EngineDeployment  # noqa: E402
from rtt.cluster.loopback import start_local  # noqa: E402
from rtt.cluster.remote import ray_registry  # noqa: E402


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--address", help="a running cluster ('auto'); default: start one here")
    parser.add_argument("--streams", type=int, default=2)
    parser.add_argument("--mt-replicas", type=int, default=1)
    parser.add_argument("--asr-replicas", type=int, default=1)
    parser.add_argument("--num-cpus", type=float, default=1.0, help="per replica")
    parser.add_argument("--num-gpus", type=float, default=0.0, help="per replica (fractional)")
    parser.add_argument("--audio", type=Path, default=ROOT / "audio_samples/clip-en-counting.flac")
    parser.add_argument("--lag-bound", type=float, default=10.0, help="seconds behind the audio")
    parser.add_argument("--fake", action="store_true", help="fake engines (no models)")
    parser.add_argument("--asr-model", default="whisper-tiny.en")
    parser.add_argument("--mt-model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--json", type=Path, help="write the results here")
    return parser.parse_args()


def pipeline_config(args: argparse.Namespace) -> PipelineConfig:
    config = PipelineConfig(
        source=SourceConfig(realtime=True),
        asr=ASRConfig(model=args.asr_model, language="en"),
        mt=MTConfig(
            model=args.mt_model, fast_model=None, draft_model=None, targets=("de",), fit="off"
        ),
        compute=ComputeConfig(device="auto"),
    )
    if args.fake:
        config = fake_config(Path("/tmp/rtt-capacity-models"), config)
    return dataclasses.replace(config, mt=dataclasses.replace(config.mt, speculative="off"))


async def one_stream(index: int, config: PipelineConfig, registry, audio: Path) -> dict:
    config = dataclasses.replace(config, stream=f"cap-{index}")
    source = open_source(str(audio), stream=config.stream, config=config.source)
    lags, errors, seconds = [], [], 0.0
    async for event in build_pipeline(config, source, registry).run():
        if isinstance(event, SourceCommit | TargetCommit) and event.emitted is not None:
            lags.append(event.emitted - event.end)
            seconds = max(seconds, event.end)
        elif isinstance(event, Error):
            errors.append(str(event))
    asr, (mt, _) = asr_engine(registry, config), mt_engines(registry, config)
    audio_s = max(seconds, 1e-6)
    return {
        "stream": config.stream,
        "commits": len(lags),
        "max_lag_s": max(lags, default=None),
        "errors": errors,
        "asr_s_per_audio_s": asr.compute_s / audio_s,
        "mt_s_per_audio_s": mt.compute_s / audio_s,
        "mt_replicas": dict(mt.replicas),
        "retried": asr.retried + mt.retried,
    }


async def overhead(engine, rounds: int = 30) -> dict:
    """Mean round trip of a no-op call to a replica vs an in-process await, in ms."""
    await engine.ping()
    start = time.perf_counter()
    for _ in range(rounds):
        await engine.ping()
    remote = (time.perf_counter() - start) / rounds
    start = time.perf_counter()
    for _ in range(rounds):
        await asyncio.sleep(0)
    local = (time.perf_counter() - start) / rounds
    return {"ray_round_trip_ms": remote * 1000, "in_process_ms": local * 1000}


async def measure(args: argparse.Namespace, cluster: ClusterConfig) -> dict:
    config = pipeline_config(args)
    backends = {"mt_backend": FakeTranslator, "asr_backend": FakeASRBackend} if args.fake else {}
    registries = [
        ray_registry(cluster, affinity=f"cap-{i}", **backends) for i in range(args.streams)
    ]
    for registry in registries:  # deploy (once) and connect before the clock starts
        asr_engine(registry, config)
        mt_engines(registry, config)
    ping = await overhead(mt_engines(registries[0], config)[0])
    start = time.perf_counter()
    streams = await asyncio.gather(
        *(one_stream(i, config, r, args.audio) for i, r in enumerate(registries))
    )
    wall = time.perf_counter() - start
    held = [s for s in streams if s["max_lag_s"] is not None and s["max_lag_s"] <= args.lag_bound]
    mean = statistics.fmean
    return {
        "streams": args.streams,
        "held": len(held),
        "held_fraction": len(held) / args.streams,
        "lag_bound_s": args.lag_bound,
        "asr_s_per_audio_s": mean(s["asr_s_per_audio_s"] for s in streams),
        "mt_s_per_audio_s": mean(s["mt_s_per_audio_s"] for s in streams),
        "overhead": ping,
        "wall_s": wall,
        "per_stream": streams,
        "registries": registries,
    }


def main() -> None:
    args = parse()
    if args.address:
        ray.init(address=args.address)
    else:
        # logical CPUs for every replica: on a small machine they contend for the real ones
        wanted = (args.mt_replicas + args.asr_replicas) * args.num_cpus
        cpus = max(os.cpu_count() or 1, int(wanted + 0.999))
        start_local(num_cpus=cpus)  # on loopback
        serve.start(proxy_location="Disabled")
    compute = resolve_compute(ComputeConfig(device="auto"))
    replica = {"num_cpus": args.num_cpus, "num_gpus": args.num_gpus}
    cluster = ClusterConfig(
        asr=EngineDeployment(
            min_replicas=args.asr_replicas,
            max_replicas=args.asr_replicas,
            threads=compute.asr_threads,
            **replica,
        ),
        mt=EngineDeployment(
            min_replicas=args.mt_replicas,
            max_replicas=args.mt_replicas,
            threads=compute.mt_threads,
            **replica,
        ),
    )
    result = asyncio.run(measure(args, cluster))
    registries = result.pop("registries")
    result.update(
        mt_replicas=args.mt_replicas,
        asr_replicas=args.asr_replicas,
        engines="fake" if args.fake else f"{args.asr_model} + {args.mt_model}",
        audio=str(args.audio.relative_to(ROOT) if args.audio.is_relative_to(ROOT) else args.audio),
        machine={"cpus": os.cpu_count(), "platform": platform.platform()},
        cluster=ray.cluster_resources(),
    )
    registries[0].shutdown()  # the apps are shared: one shutdown deletes them
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    ray.shutdown()


if __name__ == "__main__":
    main()
