"""The shared MT engine and the engine registry live in `pipeline/engine.py`, next to
`BatchingEngine`; this module keeps the old import path working."""

from __future__ import annotations

from ..engine import BackendFactory, EngineRegistry, MTEngine

__all__ = ["BackendFactory", "EngineRegistry", "MTEngine"]
