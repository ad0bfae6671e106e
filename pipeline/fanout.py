"""LanguageFanoutStage: one source stream, one translation stage per language, the set growing at run time.

A room's listeners pick their languages while the speaker talks, so the set of
target languages cannot be fixed when the pipeline is built. This stage holds
one single-language stage per language (made by a factory, e.g. a
`TranslateStage` with `targets=(lang,)`) and feeds each of them every event.
What the inner stages forward is the same input event several times: it is
passed on once; their own outputs (translations) all pass on.

A language added mid-utterance is first fed the source commits of the current
utterance, so its first sentence is whole. Deferred work is taken round-robin,
so one busy language cannot starve the others.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from .events import End, Event, Flush, SourceCommit, SpeechEnd
from .stage import DeferredWork, Stage

__all__ = ["LanguageFanoutStage"]


class LanguageFanoutStage:
    def __init__(self, make_stage: Callable[[str], Stage], languages: tuple[str, ...] = ()) -> None:
        self._make_stage = make_stage
        self._stages: dict[str, Stage] = {}
        self._started = False
        self._utterance: list[SourceCommit] = []  # commits since the last utterance end
        self._turn = 0
        for lang in languages:
            self._stages[lang] = make_stage(lang)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._stages)

    async def add_language(self, lang: str) -> None:
        """Translate into `lang` too, from the current utterance on (no-op if present)."""
        if lang in self._stages:
            return
        stage = self._make_stage(lang)
        if self._started:
            await stage.start()
        for commit in self._utterance:
            async for _ in stage.process(
                commit
            ):  # only schedules work; the commit itself is not re-emitted
                pass
        self._stages[lang] = stage

    async def start(self) -> None:
        self._started = True
        for stage in list(self._stages.values()):
            await stage.start()

    async def stop(self) -> None:
        for stage in list(self._stages.values()):
            await stage.stop()

    async def process(self, event: Event) -> AsyncIterator[Event]:
        if isinstance(event, SourceCommit):
            self._utterance.append(event)
        elif isinstance(event, (SpeechEnd, Flush, End)):
            self._utterance = []
        for stage in list(self._stages.values()):
            async for out in stage.process(event):
                if out is not event:
                    yield out
        yield event

    def pending(self) -> bool:
        return any(isinstance(s, DeferredWork) and s.pending() for s in self._stages.values())

    async def work(self) -> AsyncIterator[Event]:
        stages = [s for s in self._stages.values() if isinstance(s, DeferredWork)]
        for i in range(len(stages)):
            stage = stages[(self._turn + i) % len(stages)]
            if stage.pending():
                self._turn = (self._turn + i + 1) % len(stages)
                async for out in stage.work():
                    yield out
                return
