"""Credentials in one place: the keys that may use a server, and how a request carries one.

Keys come from `--token`, `$RTT_TOKEN` and `--token-file` (one key a line; blank
lines and `#` comments skipped). A request carries its key as
`Authorization: Bearer KEY` (the scheme in any case), from a browser as the
websocket subprotocol `rtt.bearer.<KEY in base64url>` next to `rtt` (browsers
cannot set headers on a websocket, and a subprotocol is not logged as a URL
is), or, still accepted, as `?token=KEY`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from pipeline.errors import ConfigError

__all__ = ["SUBPROTOCOL", "TokenStore", "bearer_subprotocol", "read_token_file"]

log = logging.getLogger("rtt.server")
SUBPROTOCOL = "rtt"
_BEARER_PROTOCOL = "rtt.bearer."


def read_token_file(path: Path) -> list[str]:
    """The keys in a token file; ConfigError if it cannot be read or holds none."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise ConfigError(f"cannot read the token file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("the token file %s is readable by other users (chmod 600 it)", path)
    keys = [line.strip() for line in text.splitlines()]
    keys = [key for key in keys if key and not key.startswith("#")]
    if not keys:
        raise ConfigError(f"the token file {path} holds no token")
    return keys


def bearer_subprotocol(token: str) -> str:
    """The subprotocol that carries `token` (what the page sends)."""
    return _BEARER_PROTOCOL + base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


class TokenStore:
    """The keys that may use the server; empty: no key needed (loopback only)."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._keys = tuple(dict.fromkeys(k.encode() for k in keys if k))

    @classmethod
    def load(cls, token: str | None = None, files: Iterable[Path] = ()) -> TokenStore:
        keys = [token] if token else []
        for path in files:
            keys += read_token_file(path)
        return cls(keys)

    def __bool__(self) -> bool:
        return bool(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def check(self, given: str | None) -> bool:
        """Whether `given` is one of the keys (constant time per key, every key compared)."""
        if not given or not self._keys:
            return False
        data = given.encode()
        found = False
        for key in self._keys:
            found |= hmac.compare_digest(data, key)
        return found

    @staticmethod
    def given(path: str, headers: Mapping[str, str], subprotocols: Iterable[str] = ()) -> str:
        """The key a request carries ("" when none)."""
        scheme, _, value = headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        for offered in subprotocols:
            if offered.startswith(_BEARER_PROTOCOL):
                encoded = offered[len(_BEARER_PROTOCOL) :]
                try:
                    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
                except (binascii.Error, UnicodeDecodeError, ValueError):
                    return ""
        return parse_qs(urlsplit(path).query).get("token", [""])[0]
