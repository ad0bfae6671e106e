"""Loopback servers and senders for network inputs: the tests and scripts/wer_transports.py.

- `serve_dir`: a plain HTTP server for a folder (a finished file, an HLS playlist);
- `LiveServer`: a live HTTP stream (web radio style, no length) of one encoded file,
  paced by its bitrate, that can drop once at a byte offset (closing, or going silent
  first) and continue from there when the client comes back (or never come back);
- `silent_listener`: a TCP port that accepts connections and never answers;
- `ffmpeg`: the FFmpeg command line (tests that need it skip without it).
"""

from __future__ import annotations

import contextlib
import http.server
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(
    FFMPEG is None, reason="the ffmpeg command line is not installed (scripts/setup installs it)"
)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def _serving(handler) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def serve_dir(root: Path) -> Iterator[str]:
    """The base URL of an HTTP server for `root`."""
    with _serving(partial(_Quiet, directory=str(root))) as base:
        yield base


class LiveServer:
    """`/live` streams `data` at `rate` bytes/s x `speed`; drops once at `drop_at` bytes.

    One broadcast: a new connection takes over from where the last one got to (a client
    that reconnects misses nothing), and the connection it replaces stops sending.
    """

    def __init__(
        self,
        data: bytes,
        *,
        rate: float,
        speed: float = 1.0,
        drop_at: int | None = None,
        comes_back: bool = True,
        stall: float = 0.0,
    ):
        self.data, self.rate, self.speed, self.drop_at = data, rate, speed, drop_at
        self.comes_back = comes_back  # False: after the drop every request gets a 503
        self.stall = stall  # the drop: go silent this long before closing (0: close at once)
        self.position = 0  # the next byte any client gets: a live stream goes on
        self.connections = 0
        self.dropped = False
        self._lock = threading.Lock()

    def handler(self):
        live = self

        class Handler(_Quiet):
            protocol_version = "HTTP/1.1"  # chunked: a clean end differs from a drop

            def do_GET(self) -> None:
                with live._lock:
                    live.connections += 1
                    generation = live.connections
                if live.dropped and not live.comes_back:
                    self.send_error(503, "the encoder is down")
                    return
                if live.position >= len(live.data):
                    self.send_error(404, "the broadcast is over")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "audio/mpeg")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                if live._stream(self.wfile, generation):
                    self.wfile.write(b"0\r\n\r\n")
                self.close_connection = True

        return Handler

    def _stream(self, out, generation: int) -> bool:
        """Send from the current position; False when the connection drops first."""
        started, sent, block = time.monotonic(), 0, 500
        while self.position < len(self.data):
            if generation != self.connections:
                return False  # a newer connection took over
            if self.drop_at is not None and self.position >= self.drop_at:
                self.drop_at, self.dropped = None, True
                time.sleep(self.stall)
                return False  # the connection closes mid-stream, without the last chunk
            end = min(len(self.data), self.position + block)
            if self.drop_at is not None:
                end = min(end, self.drop_at)
            try:
                out.write(b"%x\r\n%s\r\n" % (end - self.position, self.data[self.position : end]))
                out.flush()
            except OSError:
                return False
            sent += end - self.position
            self.position = end
            wait = started + sent / (self.rate * self.speed) - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        return True

    @contextlib.contextmanager
    def serving(self) -> Iterator[str]:
        with _serving(self.handler()) as base:
            yield f"{base}/live"


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A port that accepts TCP connections (in the backlog) and never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ffmpeg(*args: str) -> None:
    """Run the FFmpeg command line to completion (quiet; raises on failure)."""
    subprocess.run([FFMPEG, "-v", "error", "-nostdin", "-y", *args], check=True, timeout=60)


def ffmpeg_sender(*args: str) -> subprocess.Popen:
    """Start FFmpeg in the background (a sender of a live stream)."""
    return subprocess.Popen(
        [FFMPEG, "-v", "error", "-nostdin", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
