"""Incremental translation stage: re-translate the open sentence as words commit.

The one multi-language translator. Committed source words are assembled into
sentences. Each change of the open sentence schedules a tentative
re-translation (target_partial) per target language, latest-wins; each
completed sentence schedules its final translation (target_commit), which is
never dropped and always uses the main model. When a job starts more than
`fallback_lag` seconds behind the audio (stream clock), partials switch to the
fast model until the lag is back under `recover_lag`.

- Targets change in band (`SetTargets`, `AddTarget`): a language added
  mid-utterance first gets the sentences of the current utterance, so its first
  sentence is whole. Partials are served round-robin over languages.
- Target words commit incrementally (`commit = "agreement"`, target_agreement.py):
  the words the last re-translations agree on become final (target_append), and
  every later request carries them as a forced prefix.
- The source language follows each commit's `lang`: a commit in another
  language closes the open sentence, and later sentences are split and
  translated as that language. A target equal to a sentence's source language
  gets the source text as it is, with no model call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from ..config import MTConfig
from ..events import (
    AddTarget,
    End,
    Event,
    Flush,
    SetTargets,
    SourceCommit,
    SpeechEnd,
    TargetAppend,
    TargetCommit,
    TargetPartial,
)
from ..stage import Capabilities, Clock, Stage
from ..stats import StageReport, TranslatorStats
from .scheduler import Job, LatestWinsScheduler
from .sentences import Sentence, SentenceBuffer
from .target_agreement import TargetCommits
from .translator import Translation, TranslationRequest

__all__ = ["Engine", "TranslateStage", "masked_partial"]


def masked_partial(text: str, mask: int, keep: int = 0) -> str:
    """A partial translation without its last `mask` words: the tail that the next
    re-translation is most likely to change (stable speculative mode) stays hidden.
    The first `keep` words (committed) always show."""
    if mask <= 0:
        return text
    words = text.split()
    return " ".join(words[: max(len(words) - mask, keep, 0)])


class Engine(Protocol):
    name: str

    async def translate(self, request: TranslationRequest) -> Translation: ...


class TranslateStage(Stage):
    # process() only updates state, so the runner may forward source events while a
    # translation is in flight (on a real clock): captions of the source never wait for MT.
    capabilities = Capabilities(deferred=True, overlaps=True)

    def __init__(
        self, engine: Engine, config: MTConfig, *, clock: Clock, fast_engine: Engine | None = None
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.fast_engine = fast_engine
        self.config = config
        self.targets = tuple(dict.fromkeys(config.targets))
        self._sentences: SentenceBuffer | None = None  # of the current source language
        self._utterance: list[Sentence] = []  # sentences completed in the current utterance
        self._scheduler = LatestWinsScheduler()
        self._drafts: dict[tuple[str, int], str] = {}  # last translation per (lang, sentence)
        self._commits = TargetCommits(
            enabled=config.commit == "agreement",
            agreement=config.commit_agreement,
            lag=config.commit_lag,
        )
        self._stream = ""
        self.degraded = False  # partials on the fast model
        self.steps = 0  # sequential decoder steps, for metrics

    # -- stage contract ---------------------------------------------------------
    async def process(self, event: Event) -> AsyncIterator[Event]:
        if isinstance(event, (SetTargets, AddTarget)):
            new = event.targets if isinstance(event, SetTargets) else (*self.targets, event.lang)
            self._set_targets(new)
            return  # handled: control does not travel further
        if isinstance(event, SourceCommit):
            self._on_commit(event)
        elif isinstance(event, (SpeechEnd, Flush, End)):
            self._close_sentence()
            self._utterance = []
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
        sentence = job.sentence
        if sentence.lang == job.lang:  # the target is the language spoken: nothing to translate
            for out in self._result_events(job, sentence.text):
                yield out
            return
        engine = self._engine_for(job)
        draft = self._drafts.get((job.lang, sentence.index))
        prefix = self._commits.prefix(job.lang, sentence.index)
        request = TranslationRequest(
            sentence.text, sentence.lang, job.lang, draft=draft, final=job.final, prefix=prefix
        )
        result = await engine.translate(request)
        self.steps += result.steps
        for out in self._result_events(job, result.text):
            yield out

    def report(self) -> StageReport:
        return StageReport(
            translator=TranslatorStats(
                targets=self.targets,
                source_lang=self._sentences.language if self._sentences else None,
                degraded=self.degraded,
                skipped=self._scheduler.skipped,
                steps=self.steps,
            )
        )

    # -- internals --------------------------------------------------------------
    def _set_targets(self, targets: tuple[str, ...]) -> None:
        targets = tuple(dict.fromkeys(targets))
        added = [lang for lang in targets if lang not in self.targets]
        self._scheduler.drop_partials(tuple(t for t in self.targets if t not in targets))
        self.targets = targets
        for lang in added:  # the current utterance first, so the first sentence is whole
            for sentence in self._utterance:
                self._scheduler.commit(lang, sentence)
            self._schedule_partial((lang,))

    def _on_commit(self, event: SourceCommit) -> None:
        self._stream = event.stream
        if self._sentences is None or event.lang != self._sentences.language:
            self._close_sentence()  # another language: what was open is a sentence of its own
            start = self._sentences.next_index if self._sentences is not None else 0
            self._sentences = SentenceBuffer(event.lang, next_index=start)
        for sentence in self._sentences.add(event.words, event.utterance):
            self._schedule_commit(sentence)
        self._schedule_partial(self.targets)

    def _schedule_partial(self, langs: tuple[str, ...]) -> None:
        open_sentence = self._sentences.open if self._sentences is not None else None
        if open_sentence is not None and self.config.partials:
            for lang in langs:
                self._scheduler.partial(lang, open_sentence)

    def _close_sentence(self) -> None:
        if self._sentences is not None and (sentence := self._sentences.finish()) is not None:
            self._schedule_commit(sentence)

    def _schedule_commit(self, sentence: Sentence) -> None:
        self._utterance.append(sentence)
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

    def _result_events(self, job: Job, text: str) -> list[Event]:
        sentence = job.sentence
        key = (job.lang, sentence.index)
        common = dict(
            stream=self._stream,
            utterance=sentence.utterance,
            lang=job.lang,
            sentence=sentence.index,
        )
        if job.final:
            self._drafts.pop(key, None)
            text = self._commits.final(job.lang, sentence.index, text)
            return [TargetCommit(**common, text=text, start=sentence.start, end=sentence.end)]
        text, append = self._commits.partial(job.lang, sentence.index, text)
        out: list[Event] = []
        if append is not None:  # words now final: before the partial that shows them
            out.append(TargetAppend(**common, text=append.text, offset=append.offset))
        self._drafts[key] = text  # the draft is the whole translation; only the display is masked
        if self.config.speculative == "stable" and sentence.lang != job.lang:
            keep = self._commits.committed(job.lang, sentence.index)
            text = masked_partial(text, self.config.display_mask, keep)
        out.append(TargetPartial(**common, text=text))
        return out
