"""Incremental translation stage: re-translate the open sentence as words commit.

Committed source words are assembled into sentences. Each change of the open
sentence schedules a tentative re-translation (target_partial) per language,
latest-wins; each completed sentence schedules its final translation
(target_commit), which is never dropped and always uses the main model. When
a job starts more than `fallback_lag` seconds behind the audio (stream clock),
partials switch to the fast model until the lag is back under `recover_lag`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from ..config import MTConfig
from ..events import End, Event, Flush, SourceCommit, SpeechEnd, TargetCommit, TargetPartial
from ..stage import Clock
from .scheduler import Job, LatestWinsScheduler
from .sentences import Sentence, SentenceBuffer
from .translator import Translation, TranslationRequest

__all__ = ["TranslateStage", "masked_partial"]


def masked_partial(text: str, mask: int) -> str:
    """A partial translation without its last `mask` words: the tail that the next
    re-translation is most likely to change (stable speculative mode) stays hidden."""
    if mask <= 0:
        return text
    words = text.split()
    return " ".join(words[:-mask]) if len(words) > mask else ""


class Engine(Protocol):
    name: str

    async def translate(self, request: TranslationRequest) -> Translation: ...


class TranslateStage:
    # process() only updates state, so the runner may forward source events while a
    # translation is in flight (on a real clock): captions of the source never wait for MT.
    concurrent_work = True

    def __init__(
        self, engine: Engine, config: MTConfig, *, clock: Clock, fast_engine: Engine | None = None
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.fast_engine = fast_engine
        self.config = config
        self.targets = config.targets
        self._sentences: SentenceBuffer | None = None
        self._scheduler = LatestWinsScheduler()
        self._drafts: dict[tuple[str, int], str] = {}  # last translation per (lang, sentence)
        self._source_lang = "en"
        self._stream = ""
        self.degraded = False  # partials on the fast model
        self.steps = 0  # sequential decoder steps, for metrics

    @property
    def skipped(self) -> int:
        """Stale partial re-translations skipped because a newer one replaced them."""
        return self._scheduler.skipped

    def set_targets(self, targets: tuple[str, ...]) -> None:
        """Translate sentences scheduled from now on into these languages."""
        self.targets = tuple(targets)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    # -- stage contract ---------------------------------------------------------
    async def process(self, event: Event) -> AsyncIterator[Event]:
        if isinstance(event, SourceCommit):
            self._on_commit(event)
        elif isinstance(event, (SpeechEnd, Flush, End)):
            self._close_sentence()
        if isinstance(event, End):
            self._scheduler.drop_partials()
            while self._scheduler.has_commits():  # nothing committed is lost
                async for out in self.work():
                    yield out
        yield event

    def pending(self) -> bool:
        return self._scheduler.pending()

    async def work(self) -> AsyncIterator[Event]:
        job = self._scheduler.next()
        if job is None:
            return
        engine = self._engine_for(job)
        draft = self._drafts.get((job.lang, job.sentence.index))
        request = TranslationRequest(
            job.sentence.text, self._source_lang, job.lang, draft=draft, final=job.final
        )
        result = await engine.translate(request)
        self.steps += result.steps
        yield self._result_event(job, result.text)

    # -- internals --------------------------------------------------------------
    def _on_commit(self, event: SourceCommit) -> None:
        self._stream = event.stream
        if self._sentences is None:
            self._source_lang = event.lang
            self._sentences = SentenceBuffer(event.lang)
        for sentence in self._sentences.add(event.words, event.utterance):
            self._schedule_commit(sentence)
        open_sentence = self._sentences.open
        if open_sentence is not None and self.config.partials:
            for lang in self.targets:
                self._scheduler.partial(lang, open_sentence)

    def _close_sentence(self) -> None:
        if self._sentences is not None and (sentence := self._sentences.finish()) is not None:
            self._schedule_commit(sentence)

    def _schedule_commit(self, sentence: Sentence) -> None:
        for lang in self.targets:
            self._scheduler.commit(lang, sentence)

    def _engine_for(self, job: Job) -> Engine:
        lag = self.clock.now() - job.sentence.end  # how far behind the audio this job starts
        if self.degraded and lag < self.config.recover_lag:
            self.degraded = False
        elif not self.degraded and lag > self.config.fallback_lag and self.fast_engine is not None:
            self.degraded = True
        if job.final or not self.degraded or self.fast_engine is None:
            return self.engine
        return self.fast_engine

    def _result_event(self, job: Job, text: str) -> Event:
        sentence = job.sentence
        key = (job.lang, sentence.index)
        common = dict(
            stream=self._stream,
            utterance=sentence.utterance,
            lang=job.lang,
            sentence=sentence.index,
            text=text,
        )
        if job.final:
            self._drafts.pop(key, None)
            return TargetCommit(**common, start=sentence.start, end=sentence.end)
        self._drafts[key] = text  # the draft is the whole translation; only the display is masked
        if self.config.speculative == "stable":
            common["text"] = masked_partial(text, self.config.display_mask)
        return TargetPartial(**common)
