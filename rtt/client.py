"""`rtt client`: stream audio to an rtt server, or listen to a room's captions.

A speaker sends a file (paced at real time), raw PCM on stdin (`-`) or the
microphone (`mic`) as PCM16LE 16 kHz frames and prints the events that come
back, like `rtt translate`. A listener (`--listen`) prints a room's captions and
reconnects with `since` when the connection drops, so it misses no commit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import threading
from collections.abc import AsyncIterator

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from pipeline.audio import open_source
from pipeline.clock import RealClock
from pipeline.config import SourceConfig
from pipeline.errors import ConfigError, RttError
from pipeline.events import from_json
from pipeline.languages import parse_languages

from .render import JsonlView, TextView, make_view

__all__ = ["add_client_parser", "listen", "run_client", "speak"]

EPILOG = """\
examples:
  rtt client talk.mp3 --to de                      stream a file, print transcript and translation
  rtt client talk.mp3 --room keynote --to de,es    be the speaker of room "keynote"
  rtt client --listen --room keynote --to es       print the room's Spanish captions
  rtt client mic --url ws://host:8765/ws --token T --room keynote

exit status: 0 on success, 1 if the server reported an error, 2 on a usage or connection error."""

_FRAME_SECONDS = 0.1
_RETRIES = 5


class ScaledClock(RealClock):
    """Paces a file at `speed` × real time (1: real time)."""

    def __init__(self, speed: float) -> None:
        super().__init__()
        self.speed = speed

    async def sleep_until(self, t: float) -> None:
        await super().sleep_until(t / self.speed)


def add_client_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "client",
        help="stream audio to an rtt server, or listen to a room",
        description="Stream a file, stdin or the microphone to `rtt serve` and print the events it sends back; "
        "with --listen, print a room's captions.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "input",
        metavar="INPUT",
        nargs="?",
        help="an audio file, a URL (http, https, HLS, rtsp, rtmp, udp), '-' for raw PCM16LE on "
        "stdin, or 'mic' (not with --listen)",
    )
    p.add_argument(
        "--url",
        default="ws://127.0.0.1:8765/ws",
        help="server websocket URL (default: %(default)s)",
    )
    p.add_argument("--token", help="access token, sent as Authorization: Bearer (default: none)")
    p.add_argument(
        "--to",
        metavar="LANGS",
        default="de",
        help="target language(s), comma-separated (default: de)",
    )
    p.add_argument(
        "--from",
        dest="source_lang",
        metavar="LANG",
        help="source language, or auto (default: the server's)",
    )
    p.add_argument("--room", help="speak in (or with --listen, listen to) this room")
    p.add_argument(
        "--listen", action="store_true", help="listen to --room instead of sending audio"
    )
    p.add_argument(
        "--no-source",
        action="store_true",
        help="listening: captions in the target languages only, without the transcript",
    )
    p.add_argument(
        "--since",
        type=int,
        help="listening with one language and --no-source: first replay the commits after this seq",
    )
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="send a file at this multiple of real time (server limit: 4; default: 1)",
    )
    p.add_argument("--rate", type=int, help="sample rate of raw PCM on stdin (default: 16000)")
    p.add_argument(
        "--input-device",
        help="microphone name or index, or 'monitor[:NAME]' for the computer's sound "
        "(`rtt devices` lists both; default: the system default microphone)",
    )
    p.add_argument(
        "--jsonl",
        action="store_true",
        help="print each frame as one JSON line (with seq and channel)",
    )
    p.set_defaults(func=run_client)


def run_client(args: argparse.Namespace) -> int:
    targets = parse_languages(args.to) if args.to else ()
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else None
    view = make_view(args.jsonl)
    if args.listen:
        if not args.room:
            raise ConfigError("--listen needs --room")
        if args.input:
            raise ConfigError("--listen takes no INPUT")
        since = (
            {targets[0]: args.since}
            if args.since is not None and len(targets) == 1 and args.no_source
            else None
        )
        if args.since is not None and since is None:
            raise ConfigError("--since needs exactly one --to language and --no-source")
        join = {
            "type": "join",
            "room": args.room,
            "languages": list(targets),
            "source": not args.no_source,
        }
        return asyncio.run(listen(args.url, join, view, headers=headers, since=since))
    if not args.input:
        raise ConfigError("give an INPUT (a file, '-' or 'mic'), or --listen")
    if not args.speed > 0:
        raise ConfigError("--speed must be positive")
    config = SourceConfig(
        rate=args.rate or 16000, input_device=args.input_device, chunk_seconds=_FRAME_SECONDS
    )
    source = open_source(args.input, stream="client", config=config)
    # A file is sent at --speed x real time; a live stream, stdin and a microphone pace themselves.
    paced = args.input in ("-", "mic") or getattr(source, "live", False)
    start = {"type": "start", "targets": list(targets), "rate": 16000, "encoding": "pcm16le"}
    if args.room:
        start["room"] = args.room
    if args.source_lang:
        start["source_lang"] = args.source_lang
    clock = RealClock() if paced else ScaledClock(args.speed)
    return asyncio.run(
        speak(args.url, start, source.chunks(clock), view, headers=headers, on_stop=source.close)
    )


async def _connect(url: str, headers: dict | None) -> ClientConnection:
    try:
        return await connect(url, additional_headers=headers, max_size=None)
    except InvalidStatus as exc:
        raise RttError(
            f"the server refused the connection: HTTP {exc.response.status_code} {exc.response.body.decode(errors='replace').strip()}"
        ) from None
    except OSError as exc:
        raise RttError(f"cannot connect to {url}: {exc}") from None


def _show(view: JsonlView | TextView, text: str) -> dict:
    frame = json.loads(text)
    if frame.get("type") == "ready":
        return frame
    if isinstance(view, JsonlView):
        view.out.write(text + "\n")
        view.out.flush()
    else:
        view.show(from_json({k: v for k, v in frame.items() if k not in ("seq", "channel")}))
    return frame


async def speak(
    url, start: dict, chunks: AsyncIterator, view, *, headers=None, on_stop=None, handle_sigint=None
) -> int:
    """Send `start`, the audio chunks, `stop`; print what comes back until the server closes."""
    if handle_sigint is None:  # signal handlers can only be set from the main thread
        handle_sigint = threading.current_thread() is threading.main_thread()
    ws = await _connect(url, headers)
    failed = False

    async def send_audio() -> None:
        async for chunk in chunks:
            await ws.send((np.clip(chunk.samples, -1.0, 1.0) * 32767).astype("<i2").tobytes())
        await ws.send(json.dumps({"type": "stop"}))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if handle_sigint:
        loop.add_signal_handler(
            signal.SIGINT, stop.set
        )  # Ctrl-C: stop sending; what was said still comes back
    sender: asyncio.Task | None = None
    try:
        await ws.send(json.dumps(start))
        sender = asyncio.create_task(send_audio())
        stopper = asyncio.create_task(_stop_on(stop, sender, ws, on_stop))
        async for text in ws:
            failed = _show(view, text).get("type") == "error" or failed
        stopper.cancel()
    except ConnectionClosed:
        pass
    finally:
        if handle_sigint:
            loop.remove_signal_handler(signal.SIGINT)
        if sender is not None:
            sender.cancel()
        view.close()
        await ws.close()
    if ws.close_code not in (1000, None) and not failed:
        print(f"connection closed: {ws.close_code} {ws.close_reason}", file=sys.stderr)
        failed = True
    return 1 if failed else 0


async def _stop_on(
    stop: asyncio.Event, sender: asyncio.Task, ws: ClientConnection, on_stop
) -> None:
    await stop.wait()
    sender.cancel()
    if on_stop is not None:
        await on_stop()
    await ws.send(json.dumps({"type": "stop"}))


async def listen(
    url, join: dict, view, *, headers=None, since: dict | None = None, until_end: bool = True
) -> int:
    """Print a room's frames; reconnect with `since` after a drop; return after `end` on every channel."""
    since = dict(since or {})
    ended: set[str] = set()
    failures = 0
    connected = False  # a server that never answered is an error at once; a dropped one is retried
    while True:
        try:
            ws = await _connect(url, headers)
            connected = True
        except RttError:
            failures += 1
            if not connected or failures > _RETRIES:
                raise
            await asyncio.sleep(min(8.0, 0.5 * 2**failures))
            continue
        try:
            await ws.send(json.dumps({**join, **({"since": since} if since else {})}))
            async for text in ws:
                frame = _show(view, text)
                failures = 0
                kind, channel = frame.get("type"), frame.get("channel")
                if kind == "ready":
                    channels = set(frame["channels"])
                elif kind == "error" and channel is None:
                    return 1  # refused by the server (limits, bad join)
                elif (
                    kind in ("source_commit", "target_commit", "error", "end")
                    and channel is not None
                ):
                    since[channel] = frame["seq"]
                    if kind == "end":
                        ended.add(channel)
                        if until_end and ended >= channels:
                            return 0
            if ws.close_code == 1000:
                return 0
        except ConnectionClosed:
            pass
        finally:
            await ws.close()
        failures += 1
        if failures > _RETRIES:
            raise RttError("lost the connection to the server")
        await asyncio.sleep(min(8.0, 0.5 * 2**failures))
