"""`RoomSession`: the TUI as a listener of a room on an rtt server (docs/protocol.md).

It sends `join` with the target languages and the transcript, and yields the
events that come back (the spine's vocabulary; the transport fields are taken
off). The listener's state (rtt/server/listener.py, shared with `rtt client
--listen`) remembers the `seq` and journal epoch of the last commit per
channel, so when the connection drops it reconnects with backoff, for as long
as the app runs, and sends `since`: the server replays every commit it missed
from its journal (from the start of a new journal if the old one is gone), then
goes on live. Changing the languages re-joins the same way. Pausing holds the
display (events wait).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from pipeline.errors import ConfigError, RttError
from pipeline.events import Event, SpeechEnd, SpeechStart, from_json
from pipeline.glossary import Glossary

from ..server.listener import Backoff, ListenerState
from .session import LiveStats, RollingLatency

__all__ = ["RoomSession", "ServerError"]


class ServerError(RttError):
    """The server cannot be reached, refused us, or kept dropping the connection."""

    code = "server_unreachable"


class RoomSession:
    live = False  # no capture here: pausing holds the display
    starting = "connecting…"

    def __init__(
        self,
        url: str,
        room: str,
        targets: tuple[str, ...],
        *,
        token: str | None = None,
        retries: int | None = None,
        backoff: float = 0.5,
    ) -> None:
        self.url, self.room, self.targets = url, room, tuple(targets)
        self.headers = {"Authorization": f"Bearer {token}"} if token else None
        self.retries = retries  # failed reconnections in a row before giving up; None: never
        self.backoff = Backoff(base=backoff)
        self.state = ListenerState(room, self.targets)
        self.ready = False
        self.connection = "connecting"
        self.reconnects = 0
        self.latency = RollingLatency()
        self._speech = False
        self._running = asyncio.Event()
        self._running.set()
        self._ws: ClientConnection | None = None
        self._rejoin = False
        self._closing = False
        self._retry_later = False

    # -- the stream -----------------------------------------------------------------
    async def events(self) -> AsyncIterator[Event]:
        failures = 0
        while not self._closing:
            ws = await self._connect(failures)
            if ws is None:
                failures += 1
                continue
            try:
                await ws.send(json.dumps(self.state.join()))
                async for text in ws:
                    event = self._receive(json.loads(text))
                    failures = 0
                    if event is None and self._retry_later:
                        break
                    if event is not None:
                        await self._running.wait()
                        yield event
            except ConnectionClosed:
                pass
            finally:
                await ws.close()
                self._ws = None
            if self._rejoin or self._closing:
                self._rejoin = False
                continue
            failures += 1
            self.reconnects += 1

    async def _connect(self, failures: int) -> ClientConnection | None:
        """A connection; None after a failed retry (the caller counts it); ServerError when out of tries."""
        if failures:
            delay = self.backoff.delay(failures)
            self.connection = f"reconnecting in {delay:.1f}s (attempt {failures})"
            await asyncio.sleep(delay)
        try:
            self._ws = await connect(
                self.url, additional_headers=self.headers, max_size=None, open_timeout=10
            )
        except InvalidStatus as exc:
            raise ServerError(
                f"the server at {self.url} refused the connection: HTTP {exc.response.status_code}"
            ) from None
        except (OSError, TimeoutError) as exc:
            if not self.ready or (self.retries is not None and failures >= self.retries):
                what = "cannot connect to" if not self.ready else "lost the connection to"
                raise ServerError(f"{what} {self.url}: {exc}") from None
            return None
        self.ready, self.connection = True, "connected"
        return self._ws

    @property
    def since(self) -> dict[str, int]:
        return self.state.since

    def _receive(self, frame: dict[str, Any]) -> Event | None:
        got = self.state.on_frame(frame)
        self._retry_later = got.retry
        if got.ready:
            if got.reset:
                self.connection = f"connected (new journal for {', '.join(got.reset)})"
            return None
        if got.refused:  # the server refused the join: not worth retrying
            raise ServerError(f"the server refused to join room {self.room!r}: {got.refused}")
        if got.retry:
            self.connection = f"the server said {frame.get('code')}"
            return None
        event = from_json(got.event)
        if event is None:  # an event type this version does not know: skipped
            return None
        self.latency.on_event(event)
        if isinstance(event, (SpeechStart, SpeechEnd)):
            self._speech = isinstance(event, SpeechStart)
        return event

    # -- what the app asks of a session ----------------------------------------------------
    def stats(self) -> LiveStats:
        ttf = self.latency.ttf()
        lags = self.latency.target_lags or self.latency.source_lags
        return LiveStats(
            models=f"room {self.room} on {self.url}",
            device="server",
            input=self.connection + (f" ({self.reconnects} reconnects)" if self.reconnects else ""),
            speech=self._speech,
            paused=self.paused,
            ttf_p50=ttf["p50"],
            ttf_p90=ttf["p90"],
            lag=lags[-1] if lags else None,
            remote=True,
        )

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def set_targets(self, targets: tuple[str, ...]) -> None:
        """Join again with these languages (and `since`: nothing committed is missed)."""
        self.targets = tuple(targets)
        self.state.set_languages(self.targets)
        self._reconnect_now()

    def _reconnect_now(self) -> None:
        if self._ws is not None:
            self._rejoin = True
            asyncio.get_running_loop().create_task(self._ws.close())

    async def switch_source(self, source, label: str) -> None:  # no capture in a room
        await source.close()

    def use_device(self, spec: str, label: str) -> None:
        pass

    def reload_glossary(self) -> Glossary:
        raise ConfigError("a room's glossary is set by its speaker, not by a listener")

    def end_input(self) -> None:
        self._closing = True
        self.resume()
        if self._ws is not None:
            asyncio.get_running_loop().create_task(self._ws.close())

    async def close(self) -> None:
        self.end_input()
