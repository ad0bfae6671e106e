"""Opening a URL with PyAV: timeouts, FFmpeg's options per protocol, clear errors.

`open_url` connects, probes and checks there is audio, within `config.timeout`
seconds (PyAV's interrupt callback, so it holds for every protocol), and tells a
live stream from a finished file: rtsp/rtmp/srt/udp are always live; http(s) is a
file when its length is known (a file behind a web server, a VOD HLS playlist) and
live otherwise (web radio, a live HLS playlist). Every message masks credentials.
"""

from __future__ import annotations

import time

import av

from ..config import SourceConfig
from ..errors import AudioInputError
from .urls import LIVE_SCHEMES, check_url, mask_url

__all__ = ["open_url", "read_reason"]

_NO_PROTOCOL = (
    "this FFmpeg build (the one PyAV ships) cannot open {scheme} URLs; "
    "pipe it through an FFmpeg that can: ffmpeg -i URL -f s16le -ac 1 -ar 16000 - | rtt translate -"
)


def _options(scheme: str, config: SourceConfig) -> dict[str, str]:
    micros = str(round(config.timeout * 1e6))
    options = {"rw_timeout": micros}
    if scheme in ("http", "https"):
        # A file behind a web server resumes with a range request after a drop; a live
        # HTTP stream is not resumed by FFmpeg (reconnect_streamed off): rtt reconnects it
        # itself, so the gap is known and filled.
        options |= {"reconnect": "1", "reconnect_delay_max": str(max(1, round(config.timeout)))}
    if scheme in LIVE_SCHEMES:
        options["analyzeduration"] = "2000000"  # start within ~2 s, not FFmpeg's 5
    if scheme in ("rtsp", "rtsps"):
        options["timeout"] = micros  # socket I/O timeout (FFmpeg 5+)
    return options


def read_reason(exc: BaseException) -> str:
    """What went wrong, in words, without the URL FFmpeg puts into its messages."""
    if isinstance(exc, av.ExitError):
        return "no data before the timeout"
    if isinstance(exc, (av.FFmpegError, OSError)):  # their str() holds the URL
        return getattr(exc, "strerror", None) or type(exc).__name__
    return str(exc) or type(exc).__name__


def _open_reason(exc: BaseException, elapsed: float, timeout: float) -> str:
    if isinstance(exc, av.ExitError) or elapsed >= 0.9 * timeout:
        return f"no answer within {timeout:g} s (is the address right, and the stream running?)"
    if isinstance(exc, av.ConnectionRefusedError):
        return "connection refused (nothing listens at that address and port)"
    if isinstance(exc, av.HTTPNotFoundError):
        return "HTTP 404 not found (is the path right?)"
    if isinstance(exc, (av.HTTPUnauthorizedError, av.HTTPForbiddenError)):
        return f"access denied ({read_reason(exc)}; are the credentials right?)"
    if isinstance(exc, av.InvalidDataError):
        return "not a recognised audio or video stream"
    return read_reason(exc)


def open_url(url: str, config: SourceConfig) -> tuple[av.container.InputContainer, bool]:
    """Connect and probe: (the open container, whether the stream is live).

    Raises AudioInputError for an unsupported protocol, a URL that fails or does not
    answer within `config.timeout`, and a stream without audio.
    """
    scheme = check_url(url)
    label = mask_url(url)
    if not config.timeout > 0:
        raise AudioInputError(f"the network timeout must be positive, not {config.timeout}")
    started = time.monotonic()
    try:
        container = av.open(
            url, mode="r", options=_options(scheme, config), timeout=(config.timeout,) * 2
        )
    except av.ProtocolNotFoundError:
        raise AudioInputError(
            f"cannot read audio from {label}: " + _NO_PROTOCOL.format(scheme=scheme)
        ) from None
    except (av.FFmpegError, OSError) as exc:
        reason = _open_reason(exc, time.monotonic() - started, config.timeout)
        raise AudioInputError(f"cannot read audio from {label}: {reason}") from None
    if not container.streams.audio:
        container.close()
        raise AudioInputError(f"cannot read audio from {label}: the stream has no audio")
    live = scheme in LIVE_SCHEMES or container.duration is None
    return container, live
