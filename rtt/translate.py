"""`rtt translate`: run the live pipeline on a file, a network stream, stdin or a microphone."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import sys

from rich.console import Console
from rich.markup import escape

from pipeline.audio import open_source
from pipeline.clock import RealClock, SimulatedClock
from pipeline.config import PipelineConfig
from pipeline.engine import EngineRegistry
from pipeline.events import Error
from pipeline.factory import build_pipeline, load_engines, resolved
from pipeline.mt.runtime import describe_runtime
from pipeline.stage import Source

from .render import make_view
from .settings import add_pipeline_options, config_from_args, fit_machine

__all__ = ["add_translate_parser", "run_translate"]

EPILOG = """\
examples:
  rtt translate talk.mp3 --to de            live view, paced at real time
  rtt translate talk.mp3 --to de,es --no-realtime --jsonl > events.jsonl
  rtt translate mic --to es                 from the default microphone (Ctrl-C ends)
  rtt translate mic --input-device monitor  what the computer plays (a call, a browser tab)
  rtt translate https://example.org/talk.mp3 --to de          a file behind a web server
  rtt translate https://example.org/live/index.m3u8 --to de   a live HLS stream
  rtt translate rtsp://user:pass@camera.local:554/stream1     an RTSP feed (credentials are never printed)
  rtt translate rtmp://127.0.0.1/live/desk --to de            an RTMP stream
  rtt translate udp://0.0.0.0:1234 --to de                    MPEG-TS sent to this machine over UDP
  arecord -f S16_LE -r 16000 -c 1 | rtt translate - --to fr

A live stream is read as it arrives (never faster than real time); when it drops, rtt
reconnects with backoff for --reconnect seconds: the utterance the drop cut is finished,
silence stands in for the gap, and each drop and return is logged on stderr.

exit status: 0 on success, 1 if the stream reported an error, 2 on a usage or setup error."""


def add_translate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "translate",
        help="translate speech from a file, a network stream, stdin or a microphone, live",
        description="Run the streaming pipeline (VAD, streaming Whisper, incremental LLM translation) and print "
        "source and translation as they are committed; partials update in place on a terminal.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "input",
        metavar="INPUT",
        help="an audio or video file (anything FFmpeg decodes), a URL (http, https, HLS .m3u8, "
        "rtsp, rtmp, udp: a finished file behind http reads like a file, anything else is live), "
        "'-' for raw PCM16LE on stdin, or 'mic' (with --input-device monitor: the computer's sound)",
    )
    p.add_argument(
        "--no-realtime",
        action="store_true",
        help="feed a file as fast as the pipeline consumes it (on a simulated clock) instead of at "
        "real-time pace (a live stream, stdin and a microphone always run in real time)",
    )
    p.add_argument(
        "--jsonl",
        action="store_true",
        help="print one JSON event per line instead of the readable view",
    )
    add_pipeline_options(p)
    p.set_defaults(func=run_translate)


def run_translate(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    source = open_source(args.input, stream=config.stream, config=config.source)
    # A file (on disk or behind http) may run on the simulated clock; what paces itself may not.
    paced = args.input in ("-", "mic") or getattr(source, "live", False)
    realtime = not (args.no_realtime and not paced)
    config = dataclasses.replace(
        config, source=dataclasses.replace(config.source, realtime=realtime)
    )
    return asyncio.run(_translate(config, source, args.jsonl))


async def _translate(config: PipelineConfig, source: Source, jsonl: bool) -> int:
    view = make_view(jsonl)
    registry = EngineRegistry()
    try:
        console = Console(file=sys.stderr)

        def say(line: str) -> None:
            console.print(f"[dim]{escape(line)}[/]", highlight=False, soft_wrap=True)

        if not jsonl and sys.stderr.isatty():
            say("loading models…")
        config, choice = await asyncio.to_thread(fit_machine, config, say)
        await asyncio.to_thread(load_engines, registry, config)
        say(describe_runtime(config.mt, resolved(config).compute))
        say(choice.line())
        clock = RealClock() if config.source.realtime else SimulatedClock()
        pipeline = build_pipeline(config, source, registry, clock=clock)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, pipeline.end_input)  # Ctrl-C: stop input, flush
        failed = False
        async for event in pipeline.run():
            view.show(event)
            failed = failed or isinstance(event, Error)
        loop.remove_signal_handler(signal.SIGINT)
        return 1 if failed else 0
    finally:
        view.close()
        await source.close()
        await asyncio.to_thread(registry.close)
