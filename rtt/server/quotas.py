"""Per-key limits, in memory (reset when the server restarts), sans I/O.

Each key may hold at most `streams` streams at once (websocket sessions, speakers
and listeners, and /v1 requests alike) and send at most `audio_per_hour` seconds
of audio in any sliding hour: files to /v1 and a speaker's audio on the websocket
count alike, in one allowance. Both are off by default (0) and set with
`rtt serve --key-streams N --key-audio-per-hour S`. A server without keys (on
loopback) has no per-key limits: its requests carry the empty key.
A refusal says when to retry (`retry_after`, seconds). Keys are held only as
their SHA-256, never logged.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from dataclasses import dataclass, field

__all__ = ["ApiLimits", "Quotas", "Refusal"]

HOUR = 3600.0
_BUCKET = 10.0  # seconds: a speaker's messages within this are counted as one entry


@dataclass(frozen=True, slots=True)
class ApiLimits:
    streams: int = 0  # concurrent streams per key (0: no limit)
    audio_per_hour: float = 0.0  # seconds of audio per key per sliding hour (0: no limit)
    file_jobs: int = 1  # whole files processed at once (live rooms come first)
    file_queue: int = 8  # uploads waiting for a file job slot; more get 429
    max_upload_mb: float = 100.0
    max_seconds: float = 3 * HOUR  # audio per upload
    read_timeout: float = 300.0  # seconds an upload may take to arrive


@dataclass(frozen=True, slots=True)
class Refusal:
    message: str
    code: str
    retry_after: float


@dataclass
class _Usage:
    streams: int = 0
    # [first, last time, seconds] per bucket, oldest first; a bucket leaves the hour with its last
    audio: deque = field(default_factory=deque)
    used: float = 0.0  # the sum of `audio`


class Quotas:
    def __init__(self, limits: ApiLimits) -> None:
        self.limits = limits
        self._usage: dict[str, _Usage] = {}

    def _of(self, key: str) -> _Usage:
        return self._usage.setdefault(hashlib.sha256(key.encode()).hexdigest(), _Usage())

    def open_stream(self, key: str) -> Refusal | None:
        """Take a stream slot for `key`; `close_stream` gives it back."""
        if not key:
            return None
        usage, limit = self._of(key), self.limits.streams
        if limit and usage.streams >= limit:
            return Refusal(f"this key has {limit} streams open, its limit", "too_many_streams", 5.0)
        usage.streams += 1
        return None

    def close_stream(self, key: str) -> None:
        if not key:
            return
        usage = self._of(key)
        usage.streams = max(0, usage.streams - 1)

    def exhausted(self, key: str, now: float) -> Refusal | None:
        """A refusal if `key` has no audio left this hour (a speaker's `start`)."""
        limit = self.limits.audio_per_hour
        if not key or not limit or self._expire(key, now).used < limit:
            return None
        return self.charge_audio(key, 1.0, now)

    def charge_audio(self, key: str, seconds: float, now: float) -> Refusal | None:
        """Count `seconds` of audio at `now`, unless it would pass the hourly limit."""
        if not key:
            return None
        usage, limit = self._expire(key, now), self.limits.audio_per_hour
        if not limit:
            return None
        if usage.used + seconds > limit + 1e-9:
            retry = self._retry_after(usage.audio, usage.used + seconds - limit, now)
            needs = f"; this file needs {seconds:.0f} s" if seconds >= 2 else ""
            return Refusal(
                f"this key has used {usage.used:.0f} of its {limit:g} s of audio per hour"
                f"{needs} (retry in {retry:.0f} s)",
                "audio_quota_exceeded",
                retry,
            )
        if usage.audio and usage.audio[-1][0] > now - _BUCKET:
            usage.audio[-1][1] = now  # a live stream: one entry per bucket, not per message
            usage.audio[-1][2] += seconds
        else:
            usage.audio.append([now, now, seconds])
        usage.used += seconds
        return None

    def _expire(self, key: str, now: float) -> _Usage:
        usage = self._of(key)
        while usage.audio and usage.audio[0][1] <= now - HOUR:
            usage.used -= usage.audio.popleft()[2]
        if not usage.audio:
            usage.used = 0.0  # no float drift once the hour is empty
        return usage

    @staticmethod
    def _retry_after(audio: deque, excess: float, now: float) -> float:
        """Seconds until enough past audio leaves the hour (an hour if it never will)."""
        freed = 0.0
        for _, at, seconds in audio:
            freed += seconds
            if freed >= excess:
                return max(1.0, math.ceil(at + HOUR - now))
        return HOUR
