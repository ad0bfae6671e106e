"""The OpenAI-compatible API under /v1 (placeholder while the ASGI move lands)."""

from __future__ import annotations

__all__ = ["openai_routes"]


def openai_routes(server) -> list:
    return []
