"""`rtt live`: the live TUI on the microphone, a network stream, or a file played at real-time pace."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from pipeline.audio import MicSource, open_source
from pipeline.audio.urls import is_url, mask_url, url_stem
from pipeline.config import PipelineConfig
from pipeline.engine import EngineRegistry
from pipeline.errors import ConfigError
from pipeline.stage import Source

from .settings import add_pipeline_options, config_from_args, fit_machine

__all__ = ["add_live_parser", "build_app", "run_live"]

EPILOG = """\
keys: space pause/resume · c clear · s save (SRT + TXT) · t layout · l languages · d microphone · ? help · q quit

examples:
  rtt live --to de,es                       the default microphone, German and Spanish panes
  rtt live --input-device 2 --to fr         another microphone (`rtt devices` lists them)
  rtt live --input talk.mp3 --to de         a file, played at real-time pace
  rtt live --input rtsp://camera.local/stream1 --to de
                                            a live stream (rtsp, rtmp, udp, live http/HLS)
  rtt live --input-device monitor --to de   what the computer plays (PulseAudio/PipeWire monitor)
  rtt live --connect ws://host:8765/ws --room keynote --to es
                                            captions of a room on a running `rtt serve`"""


def add_live_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "live",
        help="live TUI: transcript and translations side by side, for interpreters and technicians",
        description="Show the speaker's words and their translations as they are spoken, in a terminal UI: one "
        "pane per language (committed text plain, the tentative tail in grey italics), an input level meter, "
        "speech/silence, latency figures and a warning when the pipeline falls behind.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--input",
        metavar="FILE|URL",
        help="play an audio or video file at real-time pace, or follow a network stream (http, "
        "https, HLS, rtsp, rtmp, udp; it reconnects after a drop), instead of listening to the "
        "microphone (default: the microphone)",
    )
    r = p.add_argument_group("a room on a server (docs/protocol.md)")
    r.add_argument(
        "--connect",
        metavar="URL",
        help="listen to a room on a running rtt server, e.g. ws://host:8765/ws, instead of running the pipeline here (reconnects and catches up when the connection drops)",
    )
    r.add_argument("--room", help="the room to listen to (with --connect)")
    r.add_argument(
        "--token", help="the server's access token (with --connect; default: $RTT_TOKEN)"
    )
    p.add_argument(
        "--save-dir",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="where the save dialog proposes a session folder (default: the current directory)",
    )
    p.add_argument(
        "--transcript",
        type=Path,
        metavar="FILE",
        help="keep the session's transcript (JSON lines) in FILE (default: a temporary file, removed on quit)",
    )
    add_pipeline_options(p)
    p.set_defaults(func=run_live)


def _mic_opener(config: PipelineConfig):
    def open_mic(device: str) -> Source:
        return MicSource(
            stream=config.stream, config=dataclasses.replace(config.source, input_device=device)
        )

    return open_mic


def build_app(args: argparse.Namespace, registry: EngineRegistry):
    """The app for parsed `rtt live` arguments; raises RttError for bad options."""
    from .tui import LiveApp, LiveSession, TranscriptStore  # Textual loads only for `rtt live`

    if args.input == "-":
        raise ConfigError(
            "rtt live reads the keyboard from the terminal, so it cannot read audio from stdin; use rtt translate -"
        )
    config = config_from_args(args, realtime=True)
    store = TranscriptStore(args.transcript) if args.transcript else None
    if args.connect or args.room:
        room = _room_session(args, config)
        return LiveApp(
            room,
            targets=config.mt.targets,
            source_lang=config.asr.language,
            store=store,
            save_dir=args.save_dir,
        )
    spec = args.input or "mic"
    # A URL is opened now: a bad one fails before the TUI starts, and only then is it known
    # whether it is live (pausing mutes it) or a finished file (pausing holds it).
    first = [open_source(spec, stream=config.stream, config=config.source)] if is_url(spec) else []
    live = spec == "mic" or bool(first and getattr(first[0], "live", False))

    def open_input(cfg: PipelineConfig) -> Source:
        if first:
            return first.pop()
        return open_source(spec, stream=cfg.stream, config=cfg.source)

    label = _input_label(spec, config, live)
    config, choice = fit_machine(config, lambda line: print(line, file=sys.stderr, flush=True))
    session = LiveSession(
        config, open_input, registry, live=live, input_label=label, owns_registry=True
    )
    return LiveApp(
        session,
        targets=config.mt.targets,
        source_lang=config.asr.language,
        store=store,
        save_dir=args.save_dir,
        open_mic=_mic_opener(config),
        notice=choice.line(),
    )


def _input_label(spec: str, config: PipelineConfig, live: bool) -> str:
    if spec == "mic":
        return f"mic {config.source.input_device or '(default)'}"
    if is_url(spec):
        return f"stream {mask_url(spec)}" if live else f"file {url_stem(spec)} (real time)"
    return f"file {Path(spec).name} (real time)"


def _room_session(args: argparse.Namespace, config: PipelineConfig):
    from .tui.room import RoomSession

    if not (args.connect and args.room):
        raise ConfigError(
            "--connect and --room go together: rtt live --connect ws://HOST:PORT/ws --room NAME"
        )
    if args.input:
        raise ConfigError(
            "--input and --connect exclude each other: the room's speaker sends the audio"
        )
    if not args.connect.startswith(("ws://", "wss://")):
        raise ConfigError(
            f"--connect takes a websocket URL (ws://HOST:PORT/ws), not {args.connect!r}"
        )
    token = args.token or os.environ.get("RTT_TOKEN")
    return RoomSession(args.connect, args.room, config.mt.targets, token=token)


def run_live(args: argparse.Namespace) -> int:
    registry = EngineRegistry()
    try:
        app = build_app(args, registry)
        app.run()
    finally:
        registry.close()
    return app.return_code or 0
