"""The `rtt` command line."""

from __future__ import annotations

import argparse
import signal
import sys

from rich.console import Console
from rich.markup import escape

from pipeline.errors import RttError

from . import __version__
from .batch import add_batch_parser
from .client import add_client_parser
from .eval import add_eval_parser
from .live_cli import add_live_parser
from .models_cli import add_models_parser
from .server_cli import add_serve_parser
from .translate import add_translate_parser

__all__ = ["main"]

DESCRIPTION = """\
rtt: real-time speech translation. Audio from a file, a network stream (http, HLS,
rtsp, rtmp, udp), stdin, a microphone or the computer's own sound goes
through voice activity detection and streaming Whisper; committed words are
translated incrementally by an LLM into one or more languages."""


def _devices(args: argparse.Namespace) -> int:
    from pipeline.audio import list_input_devices, list_monitor_sources

    print("microphones (--input-device INDEX or NAME):")
    try:
        devices = list_input_devices()
    except RttError as exc:
        devices = []
        print(f"  ({exc})")
    for d in devices:
        mark = "*" if d.is_default else " "
        print(f"{mark} {d.index:>3}  {d.name}  ({d.channels} ch, {d.default_rate:.0f} Hz)")
    print("computer sound, what the speakers play (--input-device monitor, or monitor:NAME):")
    try:
        monitors = list_monitor_sources()
    except RttError as exc:
        monitors = []
        print(f"  ({exc})")
    for m in monitors:
        mark = "*" if m.is_default else " "
        print(f"{mark} {m.spec}  {m.description}  ({m.channels} ch, {m.rate} Hz)")
    if not devices and not monitors:
        print("no input devices found")
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rtt", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"rtt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_translate_parser(sub)
    add_live_parser(sub)
    add_serve_parser(sub)
    add_client_parser(sub)
    add_batch_parser(sub)
    add_eval_parser(sub)
    add_models_parser(sub)
    devices = sub.add_parser(
        "devices",
        help="list microphones and the computer's sound (monitor sources)",
        description="List the audio input devices (* marks the default) and, on Linux, the "
        "PulseAudio/PipeWire monitor sources: each records what an output plays (a call, a "
        "browser tab). Choose one with --input-device: a microphone's index or name, 'monitor' "
        "for the default output's sound, or 'monitor:NAME'. On macOS and Windows, install a "
        "loopback device (BlackHole; Stereo Mix or a virtual cable): it is listed as a microphone.",
    )
    devices.set_defaults(func=_devices)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except RttError as exc:
        Console(file=sys.stderr).print(f"[red]error:[/] {escape(str(exc))}")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
