#!/usr/bin/env python3
"""WER of a corpus talk read over each network transport, against the same file read locally.

Each transport runs on loopback: the file behind a web server (http), a VOD HLS
playlist (AAC segments), an MPEG-TS stream over UDP (MP2), an RTMP stream (AAC, FFmpeg
listening), a live HTTP stream (MP3, web-radio style), and that live stream dropped once
mid-utterance and resumed. The audio each transport delivers is captured first (live
senders run at --speed x real time), then transcribed by the same streaming pipeline
(VAD + streaming Whisper) on the simulated clock: computation-unaware, so the figures
say what the transport does to the audio, not how busy the machine was.

  nice .venv/bin/python scripts/wer_transports.py --json out/wer_transports.json
  nice .venv/bin/python scripts/wer_transports.py --item talk-opening-en --asr-model whisper-base

Needs the ffmpeg command line (scripts/setup installs it).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jiwer  # noqa: E402
import numpy as np  # noqa: E402
from whisper_normalizer.english import EnglishTextNormalizer  # noqa: E402

from pipeline.asr.stage import ASRStage  # noqa: E402
from pipeline.audio import PcmSource, StreamSource, open_source  # noqa: E402
from pipeline.audio.loopback import (  # noqa: E402
    LiveServer,
    ffmpeg,
    ffmpeg_sender,
    free_port,
    serve_dir,
)
from pipeline.clock import SimulatedClock  # noqa: E402
from pipeline.config import ASRConfig, ComputeConfig, PipelineConfig, SourceConfig  # noqa: E402
from pipeline.events import SourceCommit  # noqa: E402
from pipeline.factory import asr_engine  # noqa: E402
from pipeline.mt.engine import EngineRegistry  # noqa: E402
from pipeline.runner import Pipeline  # noqa: E402
from pipeline.vad.stage import VADStage  # noqa: E402
from rtt.corpus import corpus_item  # noqa: E402

NET = SourceConfig(realtime=False, timeout=5.0, reconnect=0.0)


class _Now:
    def now(self) -> float:
        return 0.0

    async def sleep_until(self, t: float) -> None:
        return None


async def capture(source) -> np.ndarray:
    """Everything a source delivers, as fast as it delivers it."""
    return np.concatenate([c.samples async for c in source.chunks(_Now())])


def http_file(audio: Path, work: Path, speed: float) -> tuple[np.ndarray, dict]:
    with serve_dir(audio.parent) as base:
        source = open_source(f"{base}/{audio.name}", stream="t", config=NET)
        return asyncio.run(capture(source)), {"kind": type(source).__name__}


def hls(audio: Path, work: Path, speed: float) -> tuple[np.ndarray, dict]:
    ffmpeg("-i", str(audio), "-ac", "1", "-c:a", "aac", "-b:a", "64k", "-f", "hls",
           "-hls_time", "2", "-hls_playlist_type", "vod", str(work / "talk.m3u8"))  # fmt: skip
    with serve_dir(work) as base:
        source = open_source(f"{base}/talk.m3u8", stream="t", config=NET)
        return asyncio.run(capture(source)), {"kind": type(source).__name__, "codec": "aac 64k"}


def udp(audio: Path, work: Path, speed: float) -> tuple[np.ndarray, dict]:
    url = f"udp://127.0.0.1:{free_port()}"

    async def run():
        opening = asyncio.create_task(asyncio.to_thread(open_source, url, stream="t", config=NET))
        await asyncio.sleep(0.5)  # the reader binds the port before the sender sends
        sender = ffmpeg_sender("-readrate", str(speed), "-i", str(audio),
                               "-af", "adelay=1000:all=1", "-c:a", "mp2", "-b:a", "128k",
                               "-f", "mpegts", f"{url}?pkt_size=1316")  # fmt: skip
        try:
            return await capture(await opening)
        finally:
            sender.kill()
            sender.wait()

    samples = asyncio.run(run())
    return samples, {"kind": "StreamSource", "codec": "mp2 128k"}


def rtmp(audio: Path, work: Path, speed: float) -> tuple[np.ndarray, dict]:
    url = f"rtmp://127.0.0.1:{free_port()}/live/talk"
    sender = ffmpeg_sender("-readrate", str(speed), "-i", str(audio), "-c:a", "aac", "-b:a", "64k",
                           "-f", "flv", "-listen", "1", url)  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                source = open_source(url, stream="t", config=NET)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        return asyncio.run(capture(source)), {"kind": "StreamSource", "codec": "aac 64k"}
    finally:
        sender.kill()
        sender.wait()


def _live_http(audio: Path, work: Path, speed: float, drop: float | None):
    mp3 = work / "live.mp3"
    ffmpeg("-i", str(audio), "-ac", "1", "-ar", "16000", "-b:a", "32k", str(mp3))
    drop_at = None if drop is None else round(drop * 4000)
    server = LiveServer(mp3.read_bytes(), rate=4000, speed=speed, drop_at=drop_at)
    config = dataclasses.replace(NET, reconnect=5.0)
    with server.serving() as url:
        source = open_source(url, stream="t", config=config)
        assert isinstance(source, StreamSource)
        samples = asyncio.run(capture(source))
    info = {"kind": "StreamSource", "codec": "mp3 32k", "drops": source.drops}
    info |= {"reconnects": source.reconnects, "gap_seconds": round(source.gap_seconds, 2)}
    return samples, info


def live_http(audio: Path, work: Path, speed: float):
    return _live_http(audio, work, speed, None)


def live_http_drop(audio: Path, work: Path, speed: float):
    return _live_http(audio, work, speed, 30.0)


TRANSPORTS = {
    "http-file": http_file,
    "hls-vod": hls,
    "udp-mpegts": udp,
    "rtmp": rtmp,
    "http-live": live_http,
    "http-live-drop-at-30s": live_http_drop,
}


async def transcribe(samples: np.ndarray, config: PipelineConfig, registry) -> str:
    pcm = io.BytesIO((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    source = PcmSource(pcm, stream="t", config=config.source)
    stages = [
        VADStage(config.vad, stream="t"),
        ASRStage(asr_engine(registry, config), config.asr),
    ]
    pipeline = Pipeline(source, stages, clock=SimulatedClock(), stream="t")
    return " ".join([e.text async for e in pipeline.run() if isinstance(e, SourceCommit)])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--item", default="talk-opening-en")
    parser.add_argument("--asr-model", default="whisper-tiny.en")
    parser.add_argument(
        "--speed", type=float, default=4.0, help="live senders' speed (x real time)"
    )
    parser.add_argument("--only", help="comma-separated transports (default: all)")
    parser.add_argument("--json", type=Path, default=Path("out/wer_transports.json"))
    args = parser.parse_args()
    item = corpus_item(args.item)
    config = PipelineConfig(
        source=SourceConfig(realtime=False),
        asr=ASRConfig(model=args.asr_model, language=item.lang),
        compute=ComputeConfig(device="cpu"),
    )
    norm = EnglishTextNormalizer()
    registry = EngineRegistry()
    local = asyncio.run(capture(open_source(str(item.audio), stream="t", config=config.source)))
    local_text = asyncio.run(transcribe(local, config, registry))
    results = {"local-file": {"seconds": len(local) / 16000,
                              "wer_vs_reference": jiwer.wer(norm(item.transcript), norm(local_text))}}  # fmt: skip
    names = args.only.split(",") if args.only else list(TRANSPORTS)
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.monotonic()
            samples, info = TRANSPORTS[name](item.audio, Path(tmp), args.speed)
            text = asyncio.run(transcribe(samples, config, registry))
        results[name] = info | {
            "seconds": round(len(samples) / 16000, 2),
            "wer_vs_local": round(jiwer.wer(norm(local_text), norm(text)), 4),
            "wer_vs_reference": round(jiwer.wer(norm(item.transcript), norm(text)), 4),
            "wall_seconds": round(time.monotonic() - started, 1),
        }
        print(name, json.dumps(results[name]), flush=True)
    registry.close()
    report = {
        "item": item.id,
        "asr_model": args.asr_model,
        "clock": "simulated (computation-unaware); live senders at --speed x real time",
        "speed": args.speed,
        "machine": platform.platform(),
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
