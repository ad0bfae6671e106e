"""The websocket server: streams, rooms with many listeners, the captions page (docs/protocol.md)."""

from .app import RttServer, ServerConfig, is_loopback
from .journal import Journal, Retention
from .protocol import PROTOCOL_VERSION, Close
from .rooms import Limits

__all__ = [
    "PROTOCOL_VERSION",
    "Close",
    "Journal",
    "Limits",
    "Retention",
    "RttServer",
    "ServerConfig",
    "is_loopback",
]
