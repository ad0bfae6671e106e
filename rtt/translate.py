"""`rtt translate`: run the live pipeline on a file, stdin or a microphone."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from rich.console import Console
from rich.markup import escape

from pipeline.audio import open_source
from pipeline.clock import RealClock, SimulatedClock
from pipeline.config import PipelineConfig
from pipeline.events import Error
from pipeline.factory import build_pipeline, load_engines, split_threads
from pipeline.mt.engine import EngineRegistry
from pipeline.mt.runtime import describe_runtime
from pipeline.stage import Source

from .render import make_view
from .settings import add_pipeline_options, config_from_args

__all__ = ["add_translate_parser", "run_translate"]

EPILOG = """\
examples:
  rtt translate talk.mp3 --to de            live view, paced at real time
  rtt translate talk.mp3 --to de,es --no-realtime --jsonl > events.jsonl
  rtt translate mic --to es                 from the default microphone (Ctrl-C ends)
  arecord -f S16_LE -r 16000 -c 1 | rtt translate - --to fr

exit status: 0 on success, 1 if the stream reported an error, 2 on a usage or setup error."""


def add_translate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "translate",
        help="translate speech from a file, stdin or a microphone, live",
        description="Run the streaming pipeline (VAD, streaming Whisper, incremental LLM translation) and print "
        "source and translation as they are committed; partials update in place on a terminal.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "input",
        metavar="INPUT",
        help="an audio or video file (anything FFmpeg decodes), '-' for raw PCM16LE on stdin, or 'mic'",
    )
    p.add_argument(
        "--no-realtime",
        action="store_true",
        help="feed a file as fast as the pipeline consumes it (on a simulated clock) instead of at real-time pace",
    )
    p.add_argument(
        "--jsonl",
        action="store_true",
        help="print one JSON event per line instead of the readable view",
    )
    add_pipeline_options(p)
    p.set_defaults(func=run_translate)


def run_translate(args: argparse.Namespace) -> int:
    file_input = args.input not in ("-", "mic")
    config = config_from_args(args, realtime=not (args.no_realtime and file_input))
    source = open_source(args.input, stream=config.stream, config=config.source)
    return asyncio.run(_translate(config, source, args.jsonl))


async def _translate(config: PipelineConfig, source: Source, jsonl: bool) -> int:
    view = make_view(jsonl)
    registry = EngineRegistry()
    try:
        if not jsonl and sys.stderr.isatty():
            Console(file=sys.stderr).print("[dim]loading models…[/]")
        await asyncio.to_thread(load_engines, registry, config)
        Console(file=sys.stderr).print(
            f"[dim]{escape(describe_runtime(config.mt, split_threads(config.compute)))}[/]",
            highlight=False,
            soft_wrap=True,
        )
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
