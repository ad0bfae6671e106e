"""`rtt client`: stream audio to an rtt server, or listen to a room's captions.

A speaker sends a file (paced at real time), raw PCM on stdin (`-`) or the
microphone (`mic`) as PCM16LE 16 kHz frames and prints the events that come
back, like `rtt translate`. A listener (`--listen`) prints a room's captions and
reconnects with `since` when the connection drops, so it misses no commit: it
keeps trying (with backoff, saying so on stderr) for `--retry-for` seconds, by
default for as long as it runs. The listener's state is rtt/server/listener.py,
shared with the TUI's room mode.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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
from .server.credentials import read_token_file
from .server.listener import Backoff, ListenerState, event_fields

__all__ = ["add_client_parser", "listen", "run_client", "speak"]

EPILOG = """\
examples:
  rtt client talk.mp3 --to de                      stream a file, print transcript and translation
  rtt client talk.mp3 --room keynote --to de,es    be the speaker of room "keynote"
  rtt client --listen --room keynote --to es       print the room's Spanish captions
  RTT_TOKEN=T rtt client mic --url ws://host:8765/ws --room keynote
  rtt client --listen --room keynote --retry-for 600    give up after 10 minutes without the server

exit status: 0 on success, 1 if the server reported an error, 2 on a usage or connection error."""

_FRAME_SECONDS = 0.1
_BACKOFF = Backoff()


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
        help="server websocket URL, or the server's base URL (ws://host:8765 means its /ws) "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--token",
        help="access token, sent as Authorization: Bearer (default: $RTT_TOKEN; on the command "
        "line it shows in `ps`: prefer $RTT_TOKEN or --token-file)",
    )
    p.add_argument(
        "--token-file", type=Path, help="read the access token from this file (its first key)"
    )
    p.add_argument(
        "--retry-for",
        type=float,
        metavar="SECONDS",
        help="listening: after the connection is lost, keep reconnecting for this long "
        "(default: for as long as rtt client runs; Ctrl-C stops it)",
    )
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


def client_token(args: argparse.Namespace) -> str | None:
    """--token-file, else --token (with a warning: `ps` shows it), else $RTT_TOKEN."""
    if args.token_file is not None:
        return read_token_file(args.token_file)[0]
    if args.token:
        print(
            "rtt client: warning: a token on the command line is visible to other users "
            "(ps); use $RTT_TOKEN or --token-file",
            file=sys.stderr,
        )
        return args.token
    return os.environ.get("RTT_TOKEN") or None


def run_client(args: argparse.Namespace) -> int:
    targets = parse_languages(args.to) if args.to else ()
    token = client_token(args)
    headers = {"Authorization": f"Bearer {token}"} if token else None
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
        if args.retry_for is not None and args.retry_for < 0:
            raise ConfigError("--retry-for must be 0 or more seconds")
        join = {
            "type": "join",
            "room": args.room,
            "languages": list(targets),
            "source": not args.no_source,
        }
        return asyncio.run(
            listen(args.url, join, view, headers=headers, since=since, retry_for=args.retry_for)
        )
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


class Refused(RttError):
    """The server answered the handshake with an HTTP error that retrying will not fix."""


def websocket_url(url: str) -> str:
    """The websocket address for `url`: a server's base URL (`ws://host:8765`, no path)
    means its `/ws`; http(s) means ws(s)."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path if parts.path not in ("", "/") else "/ws"
    return urlunsplit((scheme, parts.netloc, path, parts.query, parts.fragment))


async def _connect(url: str, headers: dict | None) -> ClientConnection:
    url = websocket_url(url)
    try:
        return await connect(url, additional_headers=headers, max_size=None, open_timeout=10)
    except InvalidStatus as exc:
        status = exc.response.status_code
        body = exc.response.body.decode(errors="replace").strip()
        error = Refused if 400 <= status < 500 else RttError  # 5xx: a proxy, a restart
        hint = " (an rtt server takes websockets at /ws)" if status == 404 else ""
        raise error(f"the server refused the connection: HTTP {status} {body}{hint}") from None
    except (OSError, TimeoutError) as exc:
        raise RttError(f"cannot connect to {url}: {exc}") from None


def _show(view: JsonlView | TextView, text: str) -> dict:
    frame = json.loads(text)
    if frame.get("type") == "ready":
        return frame
    if isinstance(view, JsonlView):
        view.out.write(text + "\n")
        view.out.flush()
    else:
        view.show(from_json(event_fields(frame)))
    return frame


def _say(message: str) -> None:
    print(f"rtt client: {message}", file=sys.stderr, flush=True)


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
    url,
    join: dict,
    view,
    *,
    headers=None,
    since: dict | None = None,
    until_end: bool = True,
    retry_for: float | None = None,
    backoff: Backoff = _BACKOFF,
    say: Callable[[str], None] = _say,
) -> int:
    """Print a room's frames; after a drop reconnect with `since` (for `retry_for` s,
    None: for ever), saying so; return after `end` on every channel."""
    state = ListenerState(join["room"], tuple(join.get("languages", ())), join.get("source", True))
    state.since.update(since or {})
    connected = False  # a server that never answered is an error at once; a dropped one is retried
    failures, lost_at = 0, 0.0
    while True:
        try:
            ws = await _connect(url, headers)
        except Refused:
            raise
        except RttError as exc:
            if not connected:
                raise
            failures += 1
            await _wait_to_retry(exc, failures, lost_at, retry_for, backoff, say)
            continue
        connected = True
        try:
            await ws.send(json.dumps(state.join()))
            async for text in ws:
                got = state.on_frame(json.loads(text))
                if not got.ready and not got.retry:
                    failures = 0  # a server that takes us and then drops us still counts as lost
                elif got.ready:
                    for channel in got.reset:
                        say(
                            f"the server's journal of {channel} is a new one: replaying it from the start"
                        )
                    continue
                _show(view, text)
                if got.refused:
                    return 1  # refused by the server (limits, bad join)
                if got.retry or (until_end and got.over):
                    break
            if until_end and state.channels and state.ended >= state.channels:
                return 0
            if ws.close_code == 1000:
                return 0
        except ConnectionClosed:
            pass
        finally:
            await ws.close()
        if failures == 0:
            lost_at = time.monotonic()
            say(f"lost the connection to {url} ({ws.close_code or 'dropped'}); reconnecting")
        failures += 1
        await _wait_to_retry(None, failures, lost_at, retry_for, backoff, say)


async def _wait_to_retry(error, failures, lost_at, retry_for, backoff: Backoff, say) -> None:
    waited = time.monotonic() - lost_at
    if retry_for is not None and waited >= retry_for:
        raise RttError(f"gave up reconnecting after {waited:.0f} s (--retry-for {retry_for:g})")
    delay = backoff.delay(failures)
    if error is not None:
        say(f"{error}; retrying in {delay:.1f} s (attempt {failures}; Ctrl-C stops)")
    await asyncio.sleep(delay)
