"""Incremental translation stage: re-translate the open sentence as words commit.

The one multi-language translator. Committed source words are assembled into
sentences. Each change of the open sentence schedules a tentative
re-translation (target_partial) per target language, latest-wins; each
completed sentence schedules its final translation (target_commit), which is
never dropped and always uses the main model. When a job starts more than
`fallback_lag` seconds behind the audio (stream clock), partials switch to the
fast model until the lag is back under `recover_lag`. With the core budget
(`budget = "auto"`, pipeline/mt/budget.py) a partial runs only in spare capacity:
when every final still meets its deadline after it; the budget picks its model.

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
- Each request carries a guide (`guide.py`): the glossary terms of its sentence,
  the last final translations, the register; target events say which terms they
  used or missed. `SetGlossary` swaps the glossary in band.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Protocol

from ..config import MTConfig
from ..events import (
    AddTarget,
    End,
    Event,
    Flush,
    SetGlossary,
    SetTargets,
    SourceCommit,
    SpeechEnd,
    TargetAppend,
    TargetCommit,
    TargetPartial,
)
from ..glossary import Glossary
from ..stage import Capabilities, Clock, Stage
from ..stats import StageReport, TranslatorStats
from .budget import CoreBudget
from .guide import Guidance, PromptGuide
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
        self,
        engine: Engine,
        config: MTConfig,
        *,
        clock: Clock,
        fast_engine: Engine | None = None,
        glossary: Glossary | None = None,
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
        self.repairs = 0  # finals asked again for breaking the register
        self._budget = CoreBudget(config.final_deadline) if config.budget == "auto" else None
        self.guidance = Guidance(glossary, register=config.register, context=config.context)

    # -- stage contract ---------------------------------------------------------
    async def process(self, event: Event) -> AsyncIterator[Event]:
        if isinstance(event, (SetTargets, AddTarget)):
            new = event.targets if isinstance(event, SetTargets) else (*self.targets, event.lang)
            self._set_targets(new)
            return  # handled: control does not travel further
        if isinstance(event, SetGlossary):
            self.guidance.glossary = event.glossary
            return
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
        return self._scheduler.pending(self._admit if self._budget else None)

    async def work(self) -> AsyncIterator[Event]:
        job = self._scheduler.next(self._admit if self._budget else None)
        if job is None:
            return
        sentence = job.sentence
        if sentence.lang == job.lang:  # the target is the language spoken: nothing to translate
            for out in self._result_events(job, sentence.text):
                yield out
            return
        engine = self._engine_for(job)
        draft = self._drafts.get((job.lang, sentence.index))
        guide = self.guidance.guide(sentence.text, sentence.lang, job.lang)
        prefix = self._commits.prefix(job.lang, sentence.index)
        request = TranslationRequest(
            sentence.text,
            sentence.lang,
            job.lang,
            draft=draft,
            final=job.final,
            guide=guide,
            prefix=prefix,
        )
        started = self.clock.now()
        result = await engine.translate(request)
        self.steps += result.steps
        insist = None
        if job.final:
            insist = self.guidance.repair(guide, result.text, sentence.lang, job.lang)
        if insist is not None:  # a final that broke the register: asked once more, insisting
            guide = insist
            result = await engine.translate(dataclasses.replace(request, guide=guide, draft=None))
            self.steps += result.steps
            self.repairs += 1
        self._measured(job, self.clock.now() - started)
        if job.final:
            self.guidance.record(job.lang, sentence.text, result.text)
        for out in self._result_events(job, result.text, guide):
            yield out

    def report(self) -> StageReport:
        return StageReport(
            translator=TranslatorStats(
                targets=self.targets,
                source_lang=self._sentences.language if self._sentences else None,
                degraded=self.degraded,
                skipped=self._scheduler.skipped,
                steps=self.steps,
                budget=self._budget.stats() if self._budget else None,
                repairs=self.repairs,
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

    # -- the core budget (budget = "auto") ----------------------------------------
    def _admit(self, job: Job) -> Job | None:
        """The budget's word on a waiting partial: run it now (on which model) or defer it."""
        if self._budget is None or job.sentence.lang == job.lang:  # no model call: free
            return job
        role = self._budget.admit(
            job.lang,
            job.sentence,
            self.clock.now(),
            waiting=[c.sentence.end + self._budget.deadline for c in self._model_commits()],
            sentence_end=job.sentence.end,
            finals=sum(lang != job.sentence.lang for lang in self.targets),
            fast=self.fast_engine is not None,
        )
        return None if role is None else Job(job.lang, job.sentence, False, fast=role == "fast")

    def _model_commits(self) -> list[Job]:
        return [c for c in self._scheduler.waiting_commits() if c.sentence.lang != c.lang]

    def _measured(self, job: Job, seconds: float) -> None:
        if self._budget is not None:
            self._budget.measured("fast" if self._on_fast(job) else "main", job.final, seconds)
            if job.final:
                self._budget.final_done(self.clock.now(), job.sentence.end)

    def _on_fast(self, job: Job) -> bool:
        """The job runs on the fast model: a budgeted partial, or any job of a target the
        machine fit gave to the fast model (`MTConfig.fast_targets`)."""
        fast_target = job.lang in self.config.fast_targets
        return self.fast_engine is not None and (job.fast or fast_target)

    def _engine_for(self, job: Job) -> Engine:
        if job.lang in self.config.fast_targets and self.fast_engine is not None:
            return self.fast_engine  # the machine fit gave this target to the fast model
        if self._budget is not None:
            if not job.final:
                self.degraded = job.fast
            return self.fast_engine if job.fast and self.fast_engine else self.engine
        lag = self.clock.now() - job.sentence.end  # how far behind the audio this job starts
        if self.degraded and lag < self.config.recover_lag:
            self.degraded = False
        elif not self.degraded and lag > self.config.fallback_lag and self.fast_engine is not None:
            self.degraded = True
        if job.final or not self.degraded or self.fast_engine is None:
            return self.engine
        return self.fast_engine

    def _result_events(self, job: Job, text: str, guide: PromptGuide | None = None) -> list[Event]:
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
            terms = self.guidance.check(guide, text)
            common["text"] = text
            return [TargetCommit(**common, start=sentence.start, end=sentence.end, terms=terms)]
        text, append = self._commits.partial(job.lang, sentence.index, text)
        out: list[Event] = []
        if append is not None:  # words now final: before the partial that shows them
            out.append(TargetAppend(**{**common, "text": append.text}, offset=append.offset))
        self._drafts[key] = text  # the draft is the whole translation; only the display is masked
        if self.config.speculative == "stable" and sentence.lang != job.lang:
            keep = self._commits.committed(job.lang, sentence.index)
            text = masked_partial(text, self.config.display_mask, keep)
        common["text"] = text
        out.append(TargetPartial(**common, terms=self.guidance.check(guide, text)))
        return out
