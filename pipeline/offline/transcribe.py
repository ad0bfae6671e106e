"""Batched Whisper over the windows of a whole file, with word timestamps.

faster-whisper's `BatchedInferencePipeline` encodes and decodes up to `batch_size`
windows at once (beam search, no temperature fallback) over the same loaded
`WhisperModel` the streaming engine uses: a process that runs both paths holds
one copy of the weights. Decoding is lazy, so this runs in a worker thread.

A glossary's source terms go into every window's prompt, chosen by the streaming
path's rule (pipeline/asr/terms_prompt.py; no committed context here, so: all that
fit, names first), and words read out of that prompt are dropped by its echo guard.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..asr.language import LanguageID
from ..asr.terms_prompt import choose_terms, echo_mask, render, source_terms, term_costs
from ..asr.whisper_backend import cut_loop, detect_languages
from ..events import Word
from ..glossary import Glossary
from ..languages import LANGUAGES
from .config import OfflineConfig
from .segment import RATE, Window

__all__ = ["BatchTranscriber", "Transcript", "clean_words"]

# Whisper's own silence rule: a window it is unsure about and thinks silent is dropped.
_NO_SPEECH = 0.6
_LOW_LOGPROB = -1.0
_DETECT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Transcript:
    language: str | None  # None: nothing was said, so nothing to detect a language from
    words: tuple[Word, ...]
    language_probability: float | None = None  # when the language was detected


class BatchTranscriber:
    def __init__(
        self,
        whisper_model,
        config: OfflineConfig,
        candidates: Sequence[str] = (),
        glossary: Glossary | None = None,
        glossary_tokens: int = 0,
    ) -> None:
        self._model = whisper_model  # faster_whisper.WhisperModel
        self._config = config
        self._candidates = tuple(candidates) or tuple(LANGUAGES)
        self._glossary = glossary
        self._glossary_tokens = glossary_tokens  # 0: no terms in the prompt

    def terms(self, language: str | None) -> tuple[str, ...]:
        """The glossary terms every window's prompt carries."""
        terms = source_terms(self._glossary, language)
        if not terms or not self._glossary_tokens:
            return ()
        costs = term_costs(terms, self._count)
        return choose_terms(terms, costs, budget=self._glossary_tokens)

    def _count(self, text: str) -> int:
        return len(self._model.hf_tokenizer.encode(text, add_special_tokens=False).ids)

    @property
    def multilingual(self) -> bool:
        return bool(self._model.model.is_multilingual)

    def transcribe(
        self,
        audio: np.ndarray,
        windows: Sequence[Window],
        language: str | None,
        on_progress: Callable[[float], None] | None = None,
    ) -> Transcript:
        """Words of every window in time order; `on_progress(t)` after each window up to `t` s."""
        from faster_whisper import BatchedInferencePipeline

        if not windows:
            return Transcript(language if self.multilingual else "en", ())
        duration = len(audio) / RATE
        # window ends are rounded to ms and may lie past the last sample: faster-whisper then
        # finds more speech than audio and fails ("non-negative timestamp expected")
        clips = [
            {"start": w.start, "end": min(w.end, duration)} for w in windows if w.start < duration
        ]
        probability = None
        if not self.multilingual:
            language = "en"
        elif language is None:
            language, probability = self.detect(audio, windows)
        terms = self.terms(language)
        segments, _ = BatchedInferencePipeline(self._model).transcribe(
            audio,
            language=language,
            clip_timestamps=clips,
            batch_size=self._config.batch_size,
            beam_size=self._config.beam_size,
            word_timestamps=True,
            without_timestamps=True,
            log_progress=False,
            initial_prompt=" " + render(terms) if terms else None,  # as the stream encodes it
        )
        words: list[Word] = []
        for segment in segments:  # each item decodes lazily: keep this off the event loop
            if not (segment.no_speech_prob > _NO_SPEECH and segment.avg_logprob < _LOW_LOGPROB):
                heard = cut_loop(_segment_words(segment.words or ()))
                keep = echo_mask([w.word for w in heard], terms, segment.no_speech_prob)
                words.extend(w for w, k in zip(heard, keep) if k)
            if on_progress is not None:
                on_progress(segment.end)
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
        lid.observe(detect_languages(self._model, [speech])[0], total / RATE, final=True)
        return lid.language or self._candidates[0], lid.probability


def _segment_words(raw) -> list[Word]:
    """Whisper's words, with fragments glued back on: a word without a leading space
    continues the previous one ("10" + ":15" is "10:15", not "10 :15")."""
    out: list[Word] = []
    for w in raw:
        text = w.word.strip()
        if not text:
            continue
        if out and not w.word[:1].isspace():
            last = out[-1]
            out[-1] = Word(last.word + text, last.start, max(last.end, float(w.end)))
        else:
            out.append(Word(text, float(w.start), float(w.end)))
    return out


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
