"""The wire protocol, sans I/O: parsing and checking client messages, decoding audio.

Nothing here touches a socket or the event loop, so every rule of the protocol
(docs/protocol.md) is testable on its own. A broken rule raises `ProtocolError`,
which carries the stable error code sent to the client in an `error` event and
the websocket close code that follows it (None: the connection stays open).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.audio.convert import RATE, Resampler
from pipeline.errors import ConfigError
from pipeline.events import PUBLIC_EVENTS, End, Error, SourceCommit, TargetAppend, TargetCommit
from pipeline.glossary import Glossary, GlossaryError, glossary_from_entries
from pipeline.languages import LANGUAGES, parse_source

__all__ = [
    "PROTOCOL_VERSION",
    "AudioDecoder",
    "Close",
    "DURABLE_EVENTS",
    "DURABLE_TYPES",
    "JoinMessage",
    "ProtocolError",
    "SOURCE_CHANNEL",
    "STREAM_CHANNEL",
    "StartMessage",
    "StopMessage",
    "Throttle",
    "parse_message",
]

PROTOCOL_VERSION = 1
SOURCE_CHANNEL = "source"  # a room's transcript (speech, source partials and commits)
STREAM_CHANNEL = "stream"  # the one channel of a plain stream session
# The frames that are journaled (and so count for `since` and carry `journal_epoch`).
DURABLE_EVENTS = (SourceCommit, TargetAppend, TargetCommit, Error, End)
DURABLE_TYPES = frozenset(name for name, cls in PUBLIC_EVENTS.items() if cls in DURABLE_EVENTS)
_ROOM_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
_RATES = (8000, 192000)
_VADS = ("webrtc", "silero")


class Close:
    """Websocket close codes (1xxx from RFC 6455, 4xxx this protocol's own)."""

    NORMAL = 1000  # the stream ended after `stop`, or the client left
    GOING_AWAY = 1001  # the server is shutting down
    INVALID_DATA = 1007  # malformed JSON, odd-length PCM
    TOO_BIG = 1009  # a message over max_size (sent by the websockets library)
    INTERNAL = 1011  # a bug in this session; other sessions are unaffected
    TRY_AGAIN = 1013  # a server limit is reached: sessions, rooms, listeners, languages
    PROTOCOL = 4000  # a message that is not allowed: unknown type, audio before start, ...
    IDLE = 4001  # nothing received for the idle timeout
    RATE = 4002  # audio sent faster than the rate limit for too long
    UNSUPPORTED = 4003  # `start` asked for an encoding, rate or language the server does not take
    BUSY = 4009  # the room already has a speaker
    QUOTA = 4029  # the speaker's key has used its audio per hour (as HTTP 429)


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, close: int | None = Close.PROTOCOL) -> None:
        super().__init__(message)
        self.code = code
        self.close = close


@dataclass(frozen=True, slots=True)
class StartMessage:
    """Begin a stream; with `room`, become that room's speaker."""

    targets: tuple[str, ...]
    source_lang: str | None = None  # None: the server's default; "auto": detect
    rate: int = RATE
    encoding: str = "pcm16le"
    channels: int = 1
    room: str | None = None
    vad: str | None = None
    partials: bool = True
    receive: bool = True  # send the events back to this client
    glossary: Glossary | None = None  # the room's terms; None: the server's default


@dataclass(frozen=True, slots=True)
class StopMessage:
    """No more audio: flush, send what is left and `end`, then close."""


@dataclass(frozen=True, slots=True)
class JoinMessage:
    """Listen to a room in some languages; `since` asks for the commits after a seq, per channel."""

    room: str
    languages: tuple[str, ...]
    source: bool = True
    since: tuple[tuple[str, int], ...] = ()
    epochs: tuple[tuple[str, str], ...] = ()  # the journal_epoch each `since` belongs to

    @property
    def channels(self) -> tuple[str, ...]:
        return ((SOURCE_CHANNEL,) if self.source else ()) + self.languages


Message = StartMessage | StopMessage | JoinMessage


def parse_message(text: str) -> Message:
    """One JSON text frame → a message, or ProtocolError."""
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise ProtocolError("bad_json", f"not valid JSON: {exc}", Close.INVALID_DATA) from None
    except RecursionError:
        raise ProtocolError("bad_message", "JSON nested too deeply", Close.PROTOCOL) from None
    if not isinstance(obj, dict):
        raise ProtocolError("bad_json", "a message must be a JSON object", Close.INVALID_DATA)
    version = obj.get("version", PROTOCOL_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        # a newer version is fine: what this server needs is checked, the rest ignored (_known)
        raise ProtocolError(
            "bad_version",
            f"protocol version {version!r} is not supported (this server speaks {PROTOCOL_VERSION})",
            Close.UNSUPPORTED,
        )
    kind = obj.get("type")
    if kind == "start":
        return _start(obj)
    if kind == "stop":
        return StopMessage()
    if kind == "join":
        return _join(obj)
    raise ProtocolError(
        "unknown_type", f"unknown message type {kind!r} (expected start, stop or join)"
    )


def _start(obj: dict[str, Any]) -> StartMessage:
    _known(
        obj,
        {
            "type",
            "version",
            "targets",
            "source_lang",
            "rate",
            "encoding",
            "channels",
            "room",
            "vad",
            "partials",
            "receive",
            "glossary",
        },
    )
    encoding = _field(obj, "encoding", str, "pcm16le").lower()
    if encoding != "pcm16le":
        raise ProtocolError(
            "unsupported_encoding",
            f"encoding {encoding!r} is not supported; send pcm16le",
            Close.UNSUPPORTED,
        )
    channels = _field(obj, "channels", int, 1)
    if channels != 1:
        raise ProtocolError(
            "unsupported_encoding",
            f"{channels} channels: send mono PCM (channels: 1)",
            Close.UNSUPPORTED,
        )
    rate = _field(obj, "rate", int, RATE)
    if not _RATES[0] <= rate <= _RATES[1]:
        raise ProtocolError(
            "unsupported_rate",
            f"sample rate {rate} is outside {_RATES[0]}-{_RATES[1]} Hz",
            Close.UNSUPPORTED,
        )
    source = _field(obj, "source_lang", str, None)
    if source is not None:
        try:  # a code, "auto", or "auto:en,de" (detect among these)
            parse_source(source)
        except ConfigError as exc:
            raise ProtocolError("unsupported_language", str(exc), Close.UNSUPPORTED) from None
    vad = _field(obj, "vad", str, None)
    if vad is not None and vad not in _VADS:
        raise ProtocolError("bad_message", f"vad must be one of {', '.join(_VADS)}", Close.PROTOCOL)
    room = _field(obj, "room", str, None)
    return StartMessage(
        targets=_languages(obj.get("targets", [])),
        source_lang=source,
        rate=rate,
        room=None if room is None else _room(room),
        vad=vad,
        partials=_field(obj, "partials", bool, True),
        receive=_field(obj, "receive", bool, True),
        glossary=_glossary(obj.get("glossary")),
    )


def _glossary(entries: Any) -> Glossary | None:
    """`glossary: [{"en": "...", "de": "..."}, ...]` (the message size limit bounds it too)."""
    if entries is None:
        return None
    try:
        return glossary_from_entries(entries, where="glossary")
    except GlossaryError as exc:
        raise ProtocolError("bad_glossary", str(exc), Close.PROTOCOL) from None


def _join(obj: dict[str, Any]) -> JoinMessage:
    _known(obj, {"type", "version", "room", "languages", "source", "since", "journal_epoch"})
    if "room" not in obj:
        raise ProtocolError("bad_message", "join needs a room")
    message = JoinMessage(
        room=_room(_field(obj, "room", str, "")),
        languages=_languages(obj.get("languages", [])),
        source=_field(obj, "source", bool, True),
    )
    if not message.channels:
        raise ProtocolError("bad_message", "join needs at least one language, or source: true")
    since = obj.get("since")
    if since is None:
        return message
    epochs = obj.get("journal_epoch", {})
    if not isinstance(epochs, dict) or not all(isinstance(v, str) for v in epochs.values()):
        raise ProtocolError("bad_message", "journal_epoch must be an object {channel: epoch}")
    if isinstance(since, int) and not isinstance(since, bool):
        if len(message.channels) != 1:
            raise ProtocolError(
                "bad_message",
                "an integer since needs exactly one channel; send {channel: seq} instead",
            )
        since = {message.channels[0]: since}
    if not isinstance(since, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in since.values()
    ):
        raise ProtocolError(
            "bad_message", "since must be a non-negative integer or an object {channel: seq}"
        )
    stray = set(since) - set(message.channels)
    if stray:
        raise ProtocolError(
            "bad_message", f"since names channel(s) not joined: {', '.join(sorted(stray))}"
        )
    return JoinMessage(
        message.room,
        message.languages,
        message.source,
        tuple(sorted(since.items())),
        tuple(sorted((c, e) for c, e in epochs.items() if c in since)),
    )


def _known(obj: dict[str, Any], keys: set[str]) -> None:
    """Version 1 (this server's) is checked strictly: an unknown field is a mistake. A newer
    client's fields this server does not know are ignored (events and messages only grow)."""
    if obj.get("version", PROTOCOL_VERSION) > PROTOCOL_VERSION:
        return
    unknown = set(obj) - keys
    if unknown:
        raise ProtocolError(
            "bad_message", f"unknown field(s) in {obj['type']}: {', '.join(sorted(unknown))}"
        )


def _field(obj: dict[str, Any], name: str, kind: type, default: Any) -> Any:
    value = obj.get(name, default)
    if value is default:
        return value
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProtocolError(
            "bad_message", f"{name} must be {kind.__name__}, not {type(value).__name__}"
        )
    return value


def _language(code: Any) -> str:
    if not isinstance(code, str) or code not in LANGUAGES:
        known = ", ".join(sorted(LANGUAGES))
        raise ProtocolError(
            "unsupported_language",
            f"language {code!r} is not supported; supported: {known}",
            Close.UNSUPPORTED,
        )
    return code


def _languages(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ProtocolError("bad_message", "languages must be a list of language codes")
    return tuple(dict.fromkeys(_language(code) for code in value))


def _room(name: str) -> str:
    if not _ROOM_NAME.match(name):  # match + \Z: a trailing newline is not allowed
        raise ProtocolError(
            "bad_message", "a room name is 1-64 characters of A-Z, a-z, 0-9, _ and -"
        )
    return name


class AudioDecoder:
    """Binary frames of PCM16LE mono at the stream's rate → 16 kHz float32 samples."""

    def __init__(self, rate: int) -> None:
        self._resampler = Resampler(rate)
        self.rate = rate
        self.samples_in = 0  # at the client's rate

    def decode(self, data: bytes) -> np.ndarray:
        if len(data) % 2:
            raise ProtocolError(
                "bad_audio",
                f"an audio frame of {len(data)} bytes is not whole 16-bit samples",
                Close.INVALID_DATA,
            )
        ints = np.frombuffer(data, dtype="<i2")
        self.samples_in += len(ints)
        return self._resampler.push(ints.astype(np.float32) / 32768.0)

    def flush(self) -> np.ndarray:
        return self._resampler.flush()

    @property
    def seconds(self) -> float:
        return self.samples_in / self.rate


class Throttle:
    """Audio may arrive at most `factor` × real time; beyond a burst the reader waits.

    `delay(audio, elapsed, messages)` says how long to wait before reading the
    next frame. Each message counts as at least `message_seconds` of audio, so
    a flood of tiny frames is held back like a flood of audio. `abusive` turns
    true once the client has been ahead of the limit for longer than `patience`
    seconds in a row: it is sending faster on purpose.
    """

    def __init__(
        self,
        factor: float = 4.0,
        *,
        burst: float = 2.0,
        patience: float = 30.0,
        message_seconds: float = 0.0,
    ) -> None:
        self.factor = factor
        self.burst = burst
        self.patience = patience
        self.message_seconds = message_seconds
        self._ahead_since: float | None = None
        self.abusive = False

    def delay(self, audio_seconds: float, elapsed: float, messages: int = 0) -> float:
        audio_seconds = max(audio_seconds, messages * self.message_seconds)
        allowed = self.burst + elapsed * self.factor
        if audio_seconds <= allowed:
            self._ahead_since = None
            return 0.0
        if self._ahead_since is None:
            self._ahead_since = elapsed
        self.abusive = elapsed - self._ahead_since > self.patience
        return (audio_seconds - self.burst) / self.factor - elapsed
