"""Streaming ASR stage: re-decode the utterance buffer as audio arrives.

Audio is buffered per utterance (the VAD only lets speech through). A streaming
pass is deferred work: it runs when at least `step` seconds of new audio have
arrived and the stage's input is empty, so when decoding falls behind the step
grows by itself instead of passes queueing up. LocalAgreement commits what
consecutive passes agree on; the rest is the partial. The end of speech runs a
final pass that commits everything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np

from ..config import ASRConfig
from ..events import (
    AudioChunk,
    End,
    Event,
    Flush,
    SourceCommit,
    SourcePartial,
    SpeechEnd,
    SpeechStart,
    Word,
)
from ..stage import Capabilities, Stage
from .agreement import AgreementBuffer
from .backend import ASRRequest
from .engine import ASREngine

__all__ = ["ASRStage"]

_RATE = 16000
_SENTENCE_END = (".", "?", "!", "。", "？", "！")
_CONTEXT_CHARS = 600


class ASRStage(Stage):
    capabilities = Capabilities(deferred=True)

    def __init__(self, engine: ASREngine, config: ASRConfig) -> None:
        self.engine = engine
        self.config = config
        self.language: str | None = config.language
        self._utterance = 0
        self._open = False
        self._stream = ""
        self._chunks: list[np.ndarray] = []
        self._buffer_start = 0.0  # stream time of the buffer's first sample
        self._new = 0  # samples since the last pass
        self._agreement = AgreementBuffer(config.agreement)
        self._context = ""  # committed text before the buffer: the decoder prompt
        self._partial = ""
        self.passes = 0

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    # -- stage contract ---------------------------------------------------------
    async def process(self, event: Event) -> AsyncIterator[Event]:
        if isinstance(event, SpeechStart):
            self._begin(event)
        elif isinstance(event, AudioChunk):
            if self._open and event.utterance == self._utterance:
                self._chunks.append(event.samples)
                self._new += len(event.samples)
            return
        elif isinstance(event, (SpeechEnd, Flush, End)):
            async for out in self._finish():
                yield out
        yield event

    def pending(self) -> bool:
        return self._open and self._new >= self.config.step * _RATE

    async def work(self) -> AsyncIterator[Event]:
        words = await self._decode(final=False)
        self._agreement.insert(words)
        for out in self._emit(self._agreement.commit(), self._agreement.tail()):
            yield out
        self._trim()

    # -- internals --------------------------------------------------------------
    def _begin(self, event: SpeechStart) -> None:
        self._stream = event.stream
        self._utterance = event.utterance
        self._open = True
        self._chunks, self._new = [], 0
        self._buffer_start = event.start
        self._agreement = AgreementBuffer(self.config.agreement)
        self._partial = ""

    async def _finish(self) -> AsyncIterator[Event]:
        if not self._open:
            return
        words = await self._decode(final=True) if self._chunks else []
        for out in self._emit(self._agreement.finalise(words), []):
            yield out
        self._remember(self._agreement.committed)
        self._open = False
        self._chunks = []

    async def _decode(self, *, final: bool) -> list[Word]:
        audio = np.concatenate(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
        self._chunks, self._new = [audio], 0
        request = ASRRequest(audio=audio, language=self.language, prompt=self._context, final=final)
        result = await self.engine.transcribe(request)
        self.passes += 1
        if self.language is None:
            self.language = result.language  # detected once per stream
        offset = self._buffer_start
        return [
            Word(w.word, round(w.start + offset, 2), round(w.end + offset, 2)) for w in result.words
        ]

    def _emit(self, committed: list[Word], tail: list[Word]) -> list[Event]:
        out: list[Event] = []
        lang = self.language or "en"
        if committed:
            text = " ".join(w.word for w in committed)
            out.append(
                SourceCommit(
                    stream=self._stream,
                    utterance=self._utterance,
                    lang=lang,
                    text=text,
                    words=tuple(committed),
                    start=committed[0].start,
                    end=committed[-1].end,
                )
            )
        partial = " ".join(w.word for w in tail)
        if partial != self._partial:
            self._partial = partial
            out.append(
                SourcePartial(
                    stream=self._stream, utterance=self._utterance, lang=lang, text=partial
                )
            )
        return out

    def _remember(self, words: list[Word]) -> None:
        """Committed words that leave the buffer become the decoder's context."""
        if words:
            self._context = (self._context + " " + " ".join(w.word for w in words)).strip()[
                -_CONTEXT_CHARS:
            ]

    def _trim(self) -> None:
        """Keep the buffer short: cut it after a committed sentence end."""
        duration = sum(len(c) for c in self._chunks) / _RATE
        if duration <= self.config.max_buffer:
            return
        committed = self._agreement.committed
        ends = [w for w in committed if w.word.endswith(_SENTENCE_END)]
        cut_word = (
            ends[-1]
            if ends
            else (committed[-1] if committed and duration > 1.5 * self.config.max_buffer else None)
        )
        if cut_word is None:
            return
        cut = int((cut_word.end - self._buffer_start) * _RATE)
        if cut <= 0:
            return
        self._remember([w for w in committed if w.end <= cut_word.end])
        self._chunks = [self._chunks[0][cut:]]
        self._buffer_start = cut_word.end
        self._agreement.trim(cut_word.end)
