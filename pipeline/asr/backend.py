"""The ASR seam: one decode pass over an utterance buffer, a language detection, and the
backend protocol."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..events import Word

__all__ = [
    "ASRBackend",
    "ASRRequest",
    "ASRResult",
    "ClipsRequest",
    "LanguageProbs",
    "LanguageRequest",
]

LanguageProbs = tuple[tuple[str, float], ...]  # (language code, probability), best first


@dataclass(frozen=True, slots=True)
class ASRRequest:
    audio: np.ndarray  # float32 mono 16 kHz; word times are relative to its first sample
    language: str | None  # None: detect (on this pass's own window)
    prompt: str = ""  # previously committed text, as context
    # glossary terms for the prompt, already within the budget (pipeline/asr/terms_prompt.py);
    # they go before the context, which gives up room for them
    terms: tuple[str, ...] = ()
    final: bool = False  # last pass of an utterance: allowed to be slower


@dataclass(frozen=True, slots=True)
class ASRResult:
    words: tuple[Word, ...]
    language: str
    no_speech_prob: float = 0.0
    # the language head on this pass's own (short) window: a hint, not a decision
    language_probs: LanguageProbs = ()


@dataclass(frozen=True, slots=True)
class LanguageRequest:
    """Language probabilities of `audio` (its first 30 s), padded to Whisper's 30 s window."""

    audio: np.ndarray


@dataclass(frozen=True, slots=True)
class ClipsRequest:
    """One batch of a whole file's windows (the offline path): `clips` are (start, end)
    seconds of `audio`, decoded together; word times are in seconds of `audio`."""

    audio: np.ndarray
    clips: tuple[tuple[float, float], ...]
    language: str
    beam_size: int = 5
    terms: tuple[str, ...] = ()  # glossary terms for the prompt (pipeline/asr/terms_prompt.py)


class ASRBackend(Protocol):
    name: str
    multilingual: bool

    def transcribe_batch(self, requests: Sequence[ASRRequest]) -> list[ASRResult]: ...

    def detect_batch(self, requests: Sequence[LanguageRequest]) -> list[LanguageProbs]: ...

    def transcribe_clips(self, request: ClipsRequest) -> list[Word]: ...

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` in the decoder's prompt (the glossary's budget is in tokens)."""
        ...
