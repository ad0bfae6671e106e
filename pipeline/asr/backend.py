"""The ASR seam: one decode pass over an utterance buffer, and the backend protocol."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..events import Word

__all__ = ["ASRBackend", "ASRRequest", "ASRResult"]


@dataclass(frozen=True, slots=True)
class ASRRequest:
    audio: np.ndarray  # float32 mono 16 kHz; word times are relative to its first sample
    language: str | None  # None: detect
    prompt: str = ""  # previously committed text, as context
    final: bool = False  # last pass of an utterance: allowed to be slower


@dataclass(frozen=True, slots=True)
class ASRResult:
    words: tuple[Word, ...]
    language: str
    no_speech_prob: float = 0.0


class ASRBackend(Protocol):
    name: str

    def transcribe_batch(self, requests: Sequence[ASRRequest]) -> list[ASRResult]: ...
