"""Streaming ASR stage: re-decode the utterance buffer as audio arrives.

Audio is buffered per utterance (the VAD only lets speech through). A streaming
pass is deferred work: it runs when at least `step` seconds of new audio have
arrived and the stage's input is empty, so when decoding falls behind the step
grows by itself instead of passes queueing up. LocalAgreement commits what
consecutive passes agree on; the rest is the partial. The end of speech runs a
final pass that commits everything.

Language (`language` None, i.e. `--from auto`): a `LanguageID` core decides it
from detections over a 30 s-padded window of the speech so far, run before the
passes until it is decided. Until then partials carry `lang: "und"` and nothing
is committed. Decided, a pass that makes the language unlikely asks for
re-detections over the utterance so far; commits wait for their answer, and a
switch restarts the utterance's hypotheses in the new language. A switch still
suspected when an utterance ends (one clear re-detection, not yet a second)
holds it, and the next utterance's commits, until a re-detection settles it;
held utterances are then committed in the language found. The decoder prompt
(committed text) is only used in its own language.

A glossary (`PipelineConfig.glossary`, swapped in band by `SetGlossary`) puts its
source-language terms before the committed text in the prompt, within
`glossary_tokens` (`terms_prompt.choose_terms`: all if they fit, else the likeliest now),
and a pass's near misses of those terms are written as the terms (`respell`).

Whisper's window is 30 s: a buffer that reaches it without a committed sentence
end is cut (see `_fit_window`), so a long stretch without a pause (noise,
applause, a fast talker) never stops the stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np

from ..audio_format import RATE, SENTENCE_END
from ..config import ASRConfig
from ..events import (
    AudioChunk,
    End,
    Event,
    Flush,
    SetGlossary,
    SourceCommit,
    SourcePartial,
    SpeechEnd,
    SpeechStart,
    Word,
)
from ..glossary import Glossary
from ..languages import LANGUAGES
from ..stage import Capabilities, Stage
from ..words import join_words
from .agreement import AgreementBuffer
from .backend import ASRRequest, ASRResult, LanguageRequest
from .engine import ASREngine
from .language import UNDETERMINED, LanguageID, LanguagePolicy
from .respell import respell
from .terms_prompt import choose_terms, source_terms, term_costs

__all__ = ["ASRStage"]

_CONTEXT_CHARS = 600
_DETECT_SECONDS = 30.0  # Whisper's window: what a detection looks at


class ASRStage(Stage):
    capabilities = Capabilities(deferred=True)

    def __init__(
        self, engine: ASREngine, config: ASRConfig, glossary: Glossary | None = None
    ) -> None:
        self.engine = engine
        self.config = config
        self.glossary = glossary
        # (glossary, language) -> its source terms and their token costs
        self._term_cache: tuple[object, str, tuple[str, ...], dict[str, int]] | None = None
        self.language: str | None = config.language
        self.lid: LanguageID | None = None
        if config.language is None and engine.multilingual:
            policy = LanguagePolicy(
                threshold=config.lid_threshold,
                max_speech=config.lid_max_speech,
                switch=config.switch_threshold,
            )
            self.lid = LanguageID(config.candidates or tuple(LANGUAGES), policy)
        elif config.language is None:
            self.language = "en"  # an English-only model
        self._utterance = 0
        self._open = False
        self._stream = ""
        self._chunks: list[np.ndarray] = []
        self._heard: list[np.ndarray] = []  # speech so far, up to 30 s, while undecided
        # utterances that ended before their language was decided: (utterance, start, audio)
        self._held: list[tuple[int, float, np.ndarray]] = []
        self._speech = 0.0  # seconds of speech in the stream so far
        self._buffer_start = 0.0  # stream time of the buffer's first sample
        self._new = 0  # samples since the last pass
        self._agreement = AgreementBuffer(config.agreement)
        self._pass_lang: str | None = None  # the language of the hypotheses in `_agreement`
        self._context = ""  # committed text before the buffer: the decoder prompt
        self._context_lang: str | None = None  # its language
        self._partial = ""
        self.passes = 0
        self.detections = 0

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    # -- stage contract ---------------------------------------------------------
    async def process(self, event: Event) -> AsyncIterator[Event]:
        if isinstance(event, SetGlossary):
            self.glossary = event.glossary  # and on to the translator
        elif isinstance(event, SpeechStart):
            self._begin(event)
        elif isinstance(event, AudioChunk):
            if self._open and event.utterance == self._utterance:
                self._add(event.samples)
            return
        elif isinstance(event, (SpeechEnd, Flush, End)):
            async for out in self._finish():
                yield out
            if isinstance(event, End):
                for out in await self._settle():
                    yield out
        yield event

    def pending(self) -> bool:
        return self._open and self._new >= self.config.step * RATE

    async def work(self) -> AsyncIterator[Event]:
        out = self._fit_window()
        await self._maybe_detect(final=False)
        out = await self._replay() + out
        result, words = await self._decode(final=False)
        doubt = self.lid is not None and self.lid.evidence(
            result.language_probs, words=len(words), audio=self._duration(), speech=self._speech
        )
        if doubt:
            self._agreement.restart()  # this pass may be in the wrong language
        else:
            self._agreement.insert(words)
        held = self.lid is not None and self.lid.hold
        committed = [] if held else self._agreement.commit()
        tail = words if doubt else self._agreement.tail()
        for event in out + self._emit(committed, tail):
            yield event
        self._trim()

    # -- language -----------------------------------------------------------------
    @property
    def lang(self) -> str:
        """The language events carry now: "und" until it is decided."""
        if self.lid is not None:
            return self.lid.label
        return self.language or UNDETERMINED

    @property
    def language_probability(self) -> float | None:
        return self.lid.probability if self.lid is not None else None

    def request_language_check(self) -> None:
        """Re-detect the language at the next pass (e.g. the user says it changed)."""
        if self.lid is not None:
            self.lid.request(self._speech)

    async def _maybe_detect(self, *, final: bool) -> None:
        lid = self.lid
        if lid is None or not self._chunks:
            return
        if not lid.needs_detection(self._speech) and not (final and lid.hold and lid.decided):
            return
        window = int(_DETECT_SECONDS * RATE)
        audio = self._joined(self._heard if not lid.decided else self._chunks)[-window:]
        if lid.decided and len(audio) < lid.policy.recheck_audio * RATE:
            if final:  # the utterance ended too short to judge a switch on: keep the language
                lid.dismiss(self._speech)
            return  # a switch is judged on enough of the utterance (short windows mislead)
        probs = await self.engine.detect(LanguageRequest(audio))
        self.detections += 1
        if lid.observe(probs, self._speech, final=final):
            self.language = lid.language
        if not lid.hold:
            self._heard = []

    # -- internals --------------------------------------------------------------
    def _begin(self, event: SpeechStart) -> None:
        self._stream = event.stream
        self._utterance = event.utterance
        self._open = True
        self._chunks, self._new = [], 0
        self._buffer_start = event.start
        self._agreement = AgreementBuffer(self.config.agreement)
        self._pass_lang = None
        self._partial = ""
        if self.lid is not None:
            self.lid.turn(self._speech)

    def _add(self, samples: np.ndarray) -> None:
        self._chunks.append(samples)
        self._new += len(samples)
        self._speech += len(samples) / RATE
        if self.lid is not None and not self.lid.decided:
            if sum(len(c) for c in self._heard) < _DETECT_SECONDS * RATE:
                self._heard.append(samples)

    async def _finish(self) -> AsyncIterator[Event]:
        if not self._open:
            return
        words: list[Word] = []
        if self._chunks:
            out = self._fit_window()
            await self._maybe_detect(final=self.lid is not None and self.lid.decided)
            out = await self._replay() + out
            audio = self._joined(self._chunks)
            _, words = await self._decode(final=True)
            if self._unsure() and words:
                # its language is not known yet: committed once it is (`_replay`)
                self._held.append((self._utterance, self._buffer_start, audio))
                words = []
            for event in out:
                yield event
        for event in self._emit(self._agreement.finalise(words), []):
            yield event
        self._remember(self._agreement.committed)
        self._open = False
        self._chunks = []

    async def _settle(self) -> list[Event]:
        """End of stream: utterances still held for want of a language are decided on all the
        speech there was, and committed."""
        if self.lid is None or not self._held:
            return []
        if not self.lid.decided:
            window = int(_DETECT_SECONDS * RATE)
            probs = await self.engine.detect(LanguageRequest(self._joined(self._heard)[-window:]))
            self.detections += 1
            self.lid.observe(probs, self._speech, final=True)
            self.language = self.lid.language
        return await self._replay(force=True)  # a suspected switch not confirmed: as decided

    def _unsure(self) -> bool:
        """An utterance ending now waits for its language: undecided, or a switch suspected and
        nothing of the utterance committed yet."""
        lid = self.lid
        if lid is None or lid.settled:
            return False
        return not lid.decided or not self._agreement.committed

    async def _replay(self, *, force: bool = False) -> list[Event]:
        """Once the language is decided (and no switch is suspected), the utterances that ended
        before it are decoded in it and committed (late, with their own utterance number and
        times)."""
        if self.lid is None or not self._held or not (self.lid.settled or force):
            return []
        out: list[Event] = []
        held, self._held = self._held, []
        for utterance, start, audio in held:
            language = self.lid.language
            prompt, terms = self._prompt(language), self._terms(language)
            request = ASRRequest(audio, language, prompt, terms=terms, final=True)
            _, words = await self._transcribe(request, start)
            if words:
                out.append(self._commit(words, utterance))
                self._remember(words)
        return out

    def _joined(self, chunks: list[np.ndarray]) -> np.ndarray:
        if not chunks:
            return np.zeros(0, np.float32)
        return np.concatenate(chunks) if len(chunks) > 1 else chunks[0]

    def _duration(self) -> float:
        return sum(len(c) for c in self._chunks) / RATE

    async def _decode(self, *, final: bool) -> tuple[ASRResult, list[Word]]:
        audio = self._joined(self._chunks)
        self._chunks, self._new = [audio], 0
        language = self.lid.guess if self.lid is not None else self.language
        if language != self._pass_lang:
            self._agreement.restart()  # hypotheses in another language do not agree
            self._pass_lang = language
        prompt = self._prompt(language)
        request = ASRRequest(audio, language, prompt, terms=self._terms(language), final=final)
        return await self._transcribe(request, self._buffer_start)

    async def _transcribe(self, request: ASRRequest, offset: float) -> tuple[ASRResult, list[Word]]:
        """One pass: its words on the stream clock, near misses of its prompt terms respelled."""
        result = await self.engine.transcribe(request)
        self.passes += 1
        words = [
            Word(w.word, round(w.start + offset, 2), round(w.end + offset, 2), w.glued)
            for w in result.words
        ]
        if request.terms and self.config.glossary_respell:
            words = respell(words, request.terms)
        return result, words

    def _emit(self, committed: list[Word], tail: list[Word]) -> list[Event]:
        out: list[Event] = []
        lang, probability = self.lang, self.language_probability
        if committed:
            out.append(self._commit(committed, self._utterance))
        partial = join_words(tail)
        if partial != self._partial:
            self._partial = partial
            out.append(
                SourcePartial(
                    stream=self._stream,
                    utterance=self._utterance,
                    lang=lang,
                    language_probability=probability,
                    text=partial,
                )
            )
        return out

    def _commit(self, words: list[Word], utterance: int) -> SourceCommit:
        return SourceCommit(
            stream=self._stream,
            utterance=utterance,
            lang=self.lang,
            language_probability=self.language_probability,
            text=join_words(words),
            words=tuple(words),
            start=words[0].start,
            end=words[-1].end,
        )

    def _remember(self, words: list[Word]) -> None:
        """Committed words that leave the buffer become the decoder's context."""
        if words:
            if self._context_lang != self.lang:  # a prompt in another language makes Whisper
                self._context, self._context_lang = "", self.lang  # translate into it
            self._context = (self._context + " " + join_words(words)).strip()[-_CONTEXT_CHARS:]

    def _prompt(self, language: str | None) -> str:
        """The decoder's context, when it is in the language decoded."""
        return self._context if language == self._context_lang else ""

    def _terms(self, language: str | None) -> tuple[str, ...]:
        """The glossary terms for this pass's prompt (none while the language is unknown)."""
        if not self.config.glossary_prompt or self.glossary is None or language is None:
            return ()
        cache = self._term_cache
        if cache is None or cache[0] is not self.glossary or cache[1] != language:
            terms = source_terms(self.glossary, language)
            cache = (self.glossary, language, terms, term_costs(terms, self.engine.count_tokens))
            self._term_cache = cache
        recent = self._prompt(language) + " " + join_words(self._agreement.committed)
        return choose_terms(
            cache[2],
            cache[3],
            budget=self.config.glossary_tokens,
            recent=recent,
            partial=self._partial,
        )

    def _trim(self) -> None:
        """Keep the buffer short: cut it after a committed sentence end."""
        duration = self._duration()
        if duration <= self.config.max_buffer:
            return
        committed = self._agreement.committed
        ends = [w for w in committed if w.word.endswith(SENTENCE_END)]
        cut_word = (
            ends[-1]
            if ends
            else (committed[-1] if committed and duration > 1.5 * self.config.max_buffer else None)
        )
        if cut_word is not None:
            self._cut(cut_word.end)

    def _cut(self, at: float) -> None:
        """Drop the buffer's audio before stream time `at`; committed words before it become
        the decoder's context."""
        cut = int((at - self._buffer_start) * RATE)
        if cut <= 0:
            return
        self._remember([w for w in self._agreement.committed if w.end <= at])
        self._chunks = [self._joined(self._chunks)[cut:]]
        self._buffer_start = at
        self._agreement.trim(at)

    def _fit_window(self) -> list[Event]:
        """The rule for a buffer that would outgrow Whisper's window (buffer + padding > 30 s):
        the words of the latest hypothesis that end before the last `max_buffer` seconds are
        committed as they are (forced out; unless the language is still on hold), and the
        audio is cut after the last of them, or, when none were heard (noise, music), so that
        the last `max_buffer` seconds remain. The stream goes on."""
        duration = self._duration()
        if duration + self.config.padding <= self.config.window:
            return []
        keep_from = self._buffer_start + duration - self.config.max_buffer
        held = self.lid is not None and self.lid.hold
        forced = [] if held else [w for w in self._agreement.tail() if w.end <= keep_from]
        out: list[Event] = []
        if forced:
            self._agreement.force(forced)
            out = self._emit(forced, [])
        self._cut(forced[-1].end if forced else keep_from)
        return out
