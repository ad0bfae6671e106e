"""Network inputs by URL: which specs are URLs, which protocols rtt reads, and masking.

Pure string work, no I/O. Credentials never reach a message or a log: `mask_url`
hides `user:password@` and the values of query parameters that carry secrets
(SRT passphrases, tokens, keys), and every message about a URL uses it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ..errors import AudioInputError

__all__ = [
    "LIVE_SCHEMES",
    "SCHEMES",
    "check_url",
    "is_url",
    "mask_url",
    "url_stem",
]

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# Protocols FFmpeg opens that carry audio; http(s) may be a finished file or a live stream.
LIVE_SCHEMES = frozenset("rtsp rtsps rtmp rtmps rtmpt rtmpe rtp srt udp tcp".split())
SCHEMES = frozenset({"http", "https"} | LIVE_SCHEMES)
_SECRET_KEYS = re.compile(r"pass|token|key|secret|auth|sig|credential", re.IGNORECASE)
_MASK = "***"


def is_url(spec: object) -> bool:
    """`scheme://...`: a URL (a Windows path like C:\\x is not one)."""
    return isinstance(spec, str) and _URL.match(spec) is not None


def mask_url(url: str) -> str:
    """The URL with its credentials replaced by ***, safe to print or log."""
    match = _URL.match(url)
    if match is None:
        return url
    scheme, rest = match.group(1), url[match.end() :]
    authority, tail = _split_authority(rest)
    if "@" in authority:
        authority = f"{_MASK}@{authority.rsplit('@', 1)[1]}"
    if "?" in tail:
        path, _, query = tail.partition("?")
        fragment = ""
        if "#" in query:
            query, _, fragment = query.partition("#")
            fragment = "#" + fragment
        tail = f"{path}?{_mask_query(query)}{fragment}"
    return f"{scheme}://{authority}{tail}"


def _split_authority(rest: str) -> tuple[str, str]:
    """`[userinfo@]host[:port]` and the rest (path, query, fragment)."""
    for i, ch in enumerate(rest):
        if ch in "/?#":
            return rest[:i], rest[i:]
    return rest, ""


def _mask_query(query: str) -> str:
    parts = []
    for item in query.split("&"):
        key, eq, _value = item.partition("=")
        parts.append(f"{key}={_MASK}" if eq and _SECRET_KEYS.search(key) else item)
    return "&".join(parts)


def check_url(url: str) -> str:
    """The URL's scheme (lower case); AudioInputError for a protocol rtt does not read."""
    scheme = url.split("://", 1)[0].lower()
    if scheme not in SCHEMES:
        raise AudioInputError(
            f"cannot read audio from {mask_url(url)}: unsupported protocol {scheme!r} "
            f"(rtt reads {', '.join(sorted(SCHEMES))} URLs)"
        )
    if scheme not in ("udp", "rtp", "srt") and not urlsplit(url).hostname:
        raise AudioInputError(f"cannot read audio from {mask_url(url)}: the URL has no host")
    return scheme


def url_stem(url: str) -> str:
    """A file-name stem for outputs: the last path segment without its suffix."""
    path = urlsplit(url).path.rstrip("/")
    name = path.rsplit("/", 1)[-1] or (urlsplit(url).hostname or "stream")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return re.sub(r"[^\w.-]", "_", stem) or "stream"
