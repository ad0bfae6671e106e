"""Batched Whisper over the windows of a whole file, with word timestamps.

The windows are decoded `batch_size` at a time by the ASR backend's
`transcribe_clips` (faster-whisper's `BatchedInferencePipeline` over the same
loaded `WhisperModel` the streaming engine uses: a process that runs both paths
holds one copy of the weights). The transcriber takes the backend itself, or the
shared engine at a priority (`ASREngine.at_priority`): then each batch is one
request on the engine's worker, and a server's live rooms, served first, wait for
at most the one batch in flight. Decoding is lazy and blocking: run this in a
worker thread.

A glossary's source terms go into every window's prompt, chosen by the streaming
path's rule (pipeline/asr/terms_prompt.py; no committed context here, so: all that
fit, names first), words read out of that prompt are dropped by its echo guard
(in the backend), and near misses of its terms are written as the terms
(pipeline/asr/respell.py), as in the stream.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..asr.backend import ClipsRequest, LanguageProbs, LanguageRequest
from ..asr.language import LanguageID
from ..asr.respell import respell
from ..asr.terms_prompt import choose_terms, source_terms, term_costs
from ..events import Word
from ..glossary import Glossary
from ..languages import LANGUAGES
from .config import OfflineConfig
from .segment import RATE, Window

__all__ = ["BatchTranscriber", "OfflineASR", "Transcript", "clean_words"]

_DETECT_SECONDS = 30.0


class OfflineASR(Protocol):
    """What the whole-file path needs of Whisper (an `ASRBackend` has it; blocking calls)."""

    multilingual: bool

    def detect_batch(self, requests: Sequence[LanguageRequest]) -> list[LanguageProbs]: ...

    def transcribe_clips(self, request: ClipsRequest) -> list[Word]: ...

    def count_tokens(self, text: str) -> int: ...


@dataclass(frozen=True, slots=True)
class Transcript:
    language: str | None  # None: nothing was said, so nothing to detect a language from
    words: tuple[Word, ...]
    language_probability: float | None = None  # when the language was detected


class BatchTranscriber:
    def __init__(
        self,
        asr: OfflineASR,
        config: OfflineConfig,
        candidates: Sequence[str] = (),
        glossary: Glossary | None = None,
        glossary_tokens: int = 0,
        respell_terms: bool = True,
    ) -> None:
        self._asr = asr
        self._config = config
        self._candidates = tuple(candidates) or tuple(LANGUAGES)
        self._glossary = glossary
        self._glossary_tokens = glossary_tokens  # 0: no terms in the prompt
        self._respell = respell_terms  # near misses of the prompt's terms written as the terms

    def terms(self, language: str | None) -> tuple[str, ...]:
        """The glossary terms every window's prompt carries."""
        terms = source_terms(self._glossary, language)
        if not terms or not self._glossary_tokens:
            return ()
        costs = term_costs(terms, self._count)
        return choose_terms(terms, costs, budget=self._glossary_tokens)

    def _count(self, text: str) -> int:
        return self._asr.count_tokens(text)

    @property
    def multilingual(self) -> bool:
        return bool(self._asr.multilingual)

    def transcribe(
        self,
        audio: np.ndarray,
        windows: Sequence[Window],
        language: str | None,
        on_progress: Callable[[float], None] | None = None,
    ) -> Transcript:
        """Words of every window in time order; `on_progress(t)` after each batch up to `t` s."""
        if not windows:
            return Transcript(language if self.multilingual else "en", ())
        duration = len(audio) / RATE
        # window ends are rounded to ms and may lie past the last sample: faster-whisper then
        # finds more speech than audio and fails ("non-negative timestamp expected")
        clips = [(w.start, min(w.end, duration)) for w in windows if w.start < duration]
        probability = None
        if not self.multilingual:
            language = "en"
        elif language is None:
            language, probability = self.detect(audio, windows)
        terms = self.terms(language)
        words: list[Word] = []
        size = self._config.batch_size
        for i in range(0, len(clips), size):
            batch = tuple(clips[i : i + size])
            request = ClipsRequest(audio, batch, language, self._config.beam_size, terms)
            heard = self._asr.transcribe_clips(request)
            words.extend(respell(heard, terms) if terms and self._respell else heard)
            if on_progress is not None:
                on_progress(batch[-1][1])
        return Transcript(language, clean_words(words, duration), probability)

    def detect(self, audio: np.ndarray, windows: Sequence[Window]) -> tuple[str, float | None]:
        """The file's language, by the streaming path's core (pipeline/asr/language.py): one
        detection over Whisper's 30 s window of the file's speech (pauses left out)."""
        limit = int(_DETECT_SECONDS * RATE)
        pieces, total = [], 0
        for segment in (s for w in windows for s in w.segments):
            piece = audio[int(segment.start * RATE) : int(segment.end * RATE)][: limit - total]
            pieces.append(piece)
            total += len(piece)
            if total >= limit:
                break
        speech = np.concatenate(pieces) if pieces else audio[:limit]
        lid = LanguageID(self._candidates)
        probs = self._asr.detect_batch([LanguageRequest(speech)])[0]
        lid.observe(probs, total / RATE, final=True)
        return lid.language or self._candidates[0], lid.probability


def clean_words(words: Sequence[Word], duration: float) -> tuple[Word, ...]:
    """Times rounded, inside the audio and monotonic: each word starts where the last ended or later."""
    out: list[Word] = []
    last_end = 0.0
    for w in sorted(words, key=lambda w: w.start):
        start = min(duration, max(w.start, last_end))
        end = min(duration, max(w.end, start))
        out.append(Word(w.word, round(start, 3), round(end, 3)))
        last_end = out[-1].end
    return tuple(out)
