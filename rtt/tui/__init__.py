"""The live TUI (`rtt live`): Textual app, panes, status bar, session and transcript store."""

from .app import LiveApp
from .session import LiveSession, LiveStats, Session
from .store import Piece, TranscriptStore

__all__ = ["LiveApp", "LiveSession", "LiveStats", "Piece", "Session", "TranscriptStore"]
