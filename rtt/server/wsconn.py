"""One accepted websocket as a session sees it: `recv()`, `send()`, `close()`, over ASGI.

uvicorn's websocket protocol (the websockets library's sans-I/O core) does the
framing, the size limit (a message or an inflated message over `max_size` is
closed with 1009 before it reaches here), pings and the closing handshake. It
stops reading the socket after each message until the session takes it, so a
session that does not read holds its client back through TCP.

Everything that means "the other side is gone" raises `Disconnected`, whatever
the transport said, so a session has one exception to catch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.types import Receive, Send

__all__ = ["AsgiSocket", "Disconnected"]


class Disconnected(Exception):
    """The connection is closed (by the client, the network, or a close already sent)."""

    def __init__(self, code: int = 1006) -> None:
        super().__init__(f"connection closed ({code})")
        self.code = code


class AsgiSocket:
    def __init__(self, receive: Receive, send: Send, remote_address: tuple | None) -> None:
        self._receive = receive
        self._send = send
        self.remote_address = remote_address
        self.close_code: int | None = None  # set once a close was sent or the client left
        self._gone = False

    @property
    def open(self) -> bool:
        return self.close_code is None

    async def accept(self, subprotocol: str | None) -> None:
        message = await self._receive()  # websocket.connect
        if message["type"] != "websocket.connect":
            raise Disconnected()
        await self._send({"type": "websocket.accept", "subprotocol": subprotocol})

    async def recv(self) -> str | bytes:
        if self._gone:
            raise Disconnected(self.close_code or 1006)
        message = await self._receive()
        if message["type"] == "websocket.disconnect":
            self._gone = True
            if self.close_code is None:
                self.close_code = message.get("code", 1005)
            raise Disconnected(self.close_code)
        text = message.get("text")
        return text if text is not None else message.get("bytes") or b""

    async def send(self, text: str) -> None:
        if self.close_code is not None:
            raise Disconnected(self.close_code)
        try:
            await self._send({"type": "websocket.send", "text": text})
        except (OSError, RuntimeError):  # uvicorn: ClientDisconnected, or a close crossing ours
            self.close_code = self.close_code or 1006
            raise Disconnected(self.close_code) from None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame (once); uvicorn completes the handshake and drops what follows."""
        if self.close_code is not None:
            return
        self.close_code = code
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except (OSError, RuntimeError):
            pass

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[str | bytes]:
        while True:
            try:
                yield await self.recv()
            except Disconnected:
                return
