"""uvicorn's HTTP/1.1 protocol (h11) with the two guards a public server needs.

- A request head must arrive within `handshake_timeout` seconds of the connection
  (and of the previous response on a kept-alive one): a slowloris client that
  trickles its headers, or never sends any, is cut, as the websockets server cut
  an unfinished handshake. (uvicorn alone waits for a first request forever.)
- A request h11 refuses gets a 400 that says why ("Found multiple Host: headers"),
  instead of a generic "Invalid HTTP request".
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["GuardedH11Protocol"]


class _Connection(h11.Connection):
    """h11's connection, remembering why it refused the peer's last request."""

    refused: str = ""

    def next_event(self):  # type: ignore[override]
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.refused = str(exc)
            raise


class GuardedH11Protocol(H11Protocol):
    handshake_timeout: float = 10.0  # set per server on a subclass (RttServer)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.conn = _Connection(h11.SERVER, self.conn._max_incomplete_event_size)
        self._head_timer: asyncio.TimerHandle | None = None
        self._waiting_for = None  # the scope in place when the timer was armed

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._head_timer is not None and self.scope is not self._waiting_for:
            self._disarm()  # a request head arrived (or the socket is a websocket now)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def send_400_response(self, msg: str) -> None:
        why = getattr(self.conn, "refused", "") or msg
        super().send_400_response(
            f"invalid HTTP request: {why}".encode("ascii", "replace").decode()
        )

    def _arm(self) -> None:
        self._disarm()
        self._waiting_for = self.scope
        self._head_timer = self.loop.call_later(self.handshake_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if self.scope is self._waiting_for and not self.transport.is_closing():
            self.transport.close()
