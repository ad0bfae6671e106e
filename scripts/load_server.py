#!/usr/bin/env python3
"""Load test of `rtt serve`, on loopback only, bounded in streams and time.

1. Capacity: N concurrent plain streams, each a sample file sent at real time,
   for N = 1, 2, ... until the median time-to-final (end of an utterance's speech
   to its final translation, docs/metrics.md) exceeds twice the single-stream value,
   or --max-streams. Models: whisper-tiny.en + qwen2.5-coder-0.5b, then with
   --defaults the default models too.
2. Fan-out: one room, one speaker, 200 listeners (in a separate process, so the
   server's CPU time is its own), on fake engines (`pipeline/fakes.py`: the
   real composition, no model) so that the fan-out, not the models, is measured: server CPU seconds with 200 listeners against 1, and the spread of
   each commit's arrival across the listeners.

    .venv/bin/python scripts/load_server.py --json out/load_server.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import connect  # noqa: E402

from pipeline.audio import open_source  # noqa: E402
from pipeline.config import ASRConfig, ComputeConfig, MTConfig, PipelineConfig, SourceConfig  # noqa: E402
from pipeline.engine import EngineRegistry  # noqa: E402
from pipeline.events import from_json  # noqa: E402
from pipeline.factory import load_engines  # noqa: E402
from pipeline.fakes import fake_model_folders, fake_registry, voiced  # noqa: E402
from pipeline.observers import LatencyObserver, percentiles  # noqa: E402
from rtt.client import ScaledClock  # noqa: E402
from rtt.corpus import corpus_item  # noqa: E402
from rtt.server import Limits, RttServer, ServerConfig  # noqa: E402
from rtt.server.listener import event_fields  # noqa: E402

SAMPLE = "short-workshop-en"
LISTENER_PROCESS = r"""
import asyncio, json, sys, time
from websockets.asyncio.client import connect
url, room, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
async def one(i, arrivals):
    async with connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "join", "room": room, "languages": ["de"]}))
        await ws.recv()
        print("joined", flush=True) if i == n - 1 else None
        async for text in ws:
            f = json.loads(text)
            if f["type"] in ("source_commit", "target_commit"):
                arrivals.setdefault((f["channel"], f["seq"]), []).append(time.monotonic())
            if f["type"] == "end" and f["channel"] == "de":
                return
async def main():
    arrivals = {}
    await asyncio.gather(*(one(i, arrivals) for i in range(n)))
    spreads = [max(t) - min(t) for t in arrivals.values() if len(t) == n]
    print(json.dumps({"commits": len(arrivals), "complete": len(spreads), "spreads": spreads}), flush=True)
asyncio.run(main())
"""


def model_config(asr: str, mt: str, fast: str | None = None) -> PipelineConfig:
    return PipelineConfig(
        asr=ASRConfig(model=asr, language="en"),
        mt=MTConfig(model=mt, fast_model=fast, draft_model=None, targets=()),
        compute=ComputeConfig(device="cpu"),
    )


async def one_stream(url: str, audio: Path) -> list[float]:
    """Stream the file at real time as a plain stream; time-to-final of each utterance."""
    observer = LatencyObserver()
    source = open_source(str(audio), stream="load", config=SourceConfig(chunk_seconds=0.1))
    async with connect(url) as ws:
        await ws.send(json.dumps({"type": "start", "targets": ["de"], "rate": 16000}))
        await ws.recv()

        async def send():
            async for chunk in source.chunks(ScaledClock(1.0)):
                await ws.send((chunk.samples * 32767).astype("<i2").tobytes())
            await ws.send(json.dumps({"type": "stop"}))

        sender = asyncio.create_task(send())
        async for text in ws:
            frame = json.loads(text)
            event = from_json(event_fields(frame))
            if event is not None:  # an event type this version does not know: skipped
                observer.on_event(event)
        await sender
    return observer.time_to_final()


async def capacity(config: PipelineConfig, max_streams: int) -> dict:
    registry = EngineRegistry()
    await asyncio.to_thread(load_engines, registry, config)
    audio = corpus_item(SAMPLE).audio
    rounds = []
    with tempfile.TemporaryDirectory() as journal:
        server_config = ServerConfig(
            journal=Path(journal), port=0, pipeline=config, limits=Limits(max_rooms=64)
        )
        async with RttServer(server_config, registry) as server:
            url = f"ws://127.0.0.1:{server.port}/ws"
            for n in range(1, max_streams + 1):
                load = os.getloadavg()[0]
                started = time.process_time()
                ttfs = await asyncio.gather(*(one_stream(url, audio) for _ in range(n)))
                values = [t for stream in ttfs for t in stream]
                stats = percentiles(values)
                rounds.append(
                    {
                        "streams": n,
                        "time_to_final": stats,
                        "load_before": round(load, 2),
                        "cpu_s": round(time.process_time() - started, 1),
                    }
                )
                print(
                    f"  {n} stream(s): time-to-final p50 {stats['p50']} s, p90 {stats['p90']} s (load before {load:.2f})",
                    flush=True,
                )
                if stats["p50"] is None or stats["p50"] > 2 * rounds[0]["time_to_final"]["p50"]:
                    break
    await asyncio.to_thread(registry.close)
    single = rounds[0]["time_to_final"]["p50"]
    held = [
        r["streams"]
        for r in rounds
        if r["time_to_final"]["p50"] is not None and r["time_to_final"]["p50"] <= 2 * single
    ]
    return {
        "asr": config.asr.model,
        "mt": config.mt.model,
        "fast_mt": config.mt.fast_model,
        "single_stream_ttf_p50": single,
        "streams_held": max(held),
        "rounds": rounds,
        "capped_by_max_streams": rounds[-1]["streams"] == max_streams and max(held) == max_streams,
    }


async def speak(url: str, audio: bytes, *, start: dict, speed: float, frame_seconds=0.1) -> None:
    """Send `start`, 16 kHz PCM paced at `speed` x real time, then `stop`; wait for the end."""
    async with connect(url) as ws:
        await ws.send(json.dumps({"type": "start", "rate": 16000, **start}))
        await ws.recv()
        step = int(frame_seconds * 16000) * 2
        for i in range(0, len(audio), step):
            await ws.send(audio[i : i + step])
            await asyncio.sleep(frame_seconds / speed)
        await ws.send(json.dumps({"type": "stop"}))
        async for _ in ws:
            pass


async def fanout(listeners: int) -> dict:
    results = {}
    for n in (1, listeners):
        with tempfile.TemporaryDirectory() as journal:
            asr, mt = fake_model_folders(Path(journal) / "models")
            pipeline = PipelineConfig(
                asr=ASRConfig(model=str(asr), language="en"),
                mt=MTConfig(model=str(mt), fast_model=None, draft_model=None, speculative="off"),
            )
            config = ServerConfig(
                journal=Path(journal),
                port=0,
                pipeline=pipeline,
                limits=Limits(max_listeners=listeners + 10, max_sessions=listeners + 10),
            )
            registry = fake_registry()
            async with RttServer(config, registry) as server:
                url = f"ws://127.0.0.1:{server.port}/ws"
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-c",
                    LISTENER_PROCESS,
                    url,
                    "fan",
                    str(n),
                    stdout=subprocess.PIPE,
                )
                assert (await proc.stdout.readline()).strip() == b"joined"
                cpu = time.process_time()
                await speak(
                    url,
                    voiced(20.0).tobytes(),
                    speed=2.0,
                    start={"room": "fan", "targets": ["de"], "receive": False},
                )
                out = json.loads((await proc.stdout.readline()).decode())
                await proc.wait()
                cpu = time.process_time() - cpu
            await asyncio.to_thread(registry.close)
        results[n] = {
            "listeners": n,
            "server_cpu_s": round(cpu, 3),
            "commits": out["commits"],
            "all_delivered": out["complete"] == out["commits"],
            "arrival_spread_s": percentiles(out["spreads"]),
        }
        print(
            f"  {n} listener(s): server CPU {cpu:.2f} s for 20 s of audio; arrival spread {results[n]['arrival_spread_s']}",
            flush=True,
        )
    return {
        "audio_s": 20.0,
        "speed": 2.0,
        "rounds": list(results.values()),
        "extra_cpu_per_listener_ms_per_audio_s": round(
            (results[listeners]["server_cpu_s"] - results[1]["server_cpu_s"])
            / (listeners - 1)
            / 20.0
            * 1000,
            3,
        ),
    }


async def main(args: argparse.Namespace) -> dict:
    report: dict = {
        "machine": {"cpus": os.cpu_count(), "load_at_start": os.getloadavg()},
        "sample": SAMPLE,
    }
    if args.only in (None, "fanout"):
        print("fan-out (fake stage kit):", flush=True)
        report["fanout"] = await fanout(args.listeners)
    if args.only == "fanout":
        return report
    print("capacity, whisper-tiny.en + qwen2.5-coder-0.5b:", flush=True)
    report["capacity"] = [
        await capacity(model_config("whisper-tiny.en", "qwen2.5-coder-0.5b"), args.max_streams)
    ]
    if args.defaults:
        print(
            "capacity, defaults (whisper-base + qwen2.5-coder-1.5b, 0.5b for partials when lagging):",
            flush=True,
        )
        report["capacity"].append(
            await capacity(
                model_config("whisper-base", "qwen2.5-coder-1.5b", fast="qwen2.5-coder-0.5b"),
                args.max_streams,
            )
        )
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--max-streams",
        type=int,
        default=6,
        help="stop after this many concurrent streams (default: 6)",
    )
    parser.add_argument(
        "--listeners", type=int, default=200, help="listeners in the fan-out room (default: 200)"
    )
    parser.add_argument(
        "--defaults", action="store_true", help="also measure capacity with the default models"
    )
    parser.add_argument("--only", choices=["fanout", "capacity"], help="run one part only")
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args()
    report = asyncio.run(main(args))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
