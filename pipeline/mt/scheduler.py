"""Latest-wins scheduling of translation jobs (pure core).

Commits are never dropped and run first, in order. Partials are tentative: at
most one waits per language, and a newer one replaces it, so when the
translator is behind stale re-translations are skipped, never queued. A
partial for a sentence that has since been committed is dropped. Waiting
partials are served round-robin over languages, so one language cannot starve
the others.

`pending()` and `next()` may take an `admit` policy (the core budget,
pipeline/mt/budget.py): it sees each waiting partial in round-robin order and
returns the job to run (possibly on the fast model) or None to defer it. A
deferred partial stays waiting (a newer one still replaces it); commits are never
subject to it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .sentences import Sentence

__all__ = ["Admit", "Job", "LatestWinsScheduler"]


@dataclass(frozen=True, slots=True)
class Job:
    lang: str
    sentence: Sentence
    final: bool
    fast: bool = False  # a partial the budget sent to the fast model


Admit = Callable[[Job], "Job | None"]  # the job to run, or None: defer this partial


class LatestWinsScheduler:
    def __init__(self) -> None:
        self._commits: deque[Job] = deque()
        self._partials: dict[str, Job] = {}
        self._committed: set[tuple[str, int]] = set()
        self._served: dict[str, int] = {}  # language -> turn it was last served a partial
        self._turn = 0
        self.skipped = 0  # partials replaced before they ran

    def commit(self, lang: str, sentence: Sentence) -> None:
        self._commits.append(Job(lang, sentence, final=True))
        self._committed.add((lang, sentence.index))
        stale = self._partials.get(lang)
        if stale is not None and stale.sentence.index <= sentence.index:
            del self._partials[lang]

    def partial(self, lang: str, sentence: Sentence) -> None:
        if (lang, sentence.index) in self._committed:
            return
        if lang in self._partials:
            self.skipped += 1
        self._partials[lang] = Job(lang, sentence, final=False)

    def pending(self, admit: Admit | None = None) -> bool:
        """Runnable work waits: a commit, or a partial `admit` lets run now."""
        if self._commits or (self._partials and admit is None):
            return True
        return any(admit(job) is not None for job in self._partials.values()) if admit else False

    def has_commits(self) -> bool:
        return bool(self._commits)

    def waiting_commits(self) -> tuple[Job, ...]:
        """The commits waiting, in the order they run."""
        return tuple(self._commits)

    def next(self, admit: Admit | None = None) -> Job | None:
        """The next job: the oldest commit, else a partial (round-robin) that `admit` lets run."""
        if self._commits:
            return self._commits.popleft()
        for lang in sorted(self._partials, key=lambda lang: self._served.get(lang, -1)):
            job = self._partials[lang] if admit is None else admit(self._partials[lang])
            if job is not None:
                self._turn += 1
                self._served[lang] = self._turn
                del self._partials[lang]
                return job
        return None

    def drop_partials(self, langs: tuple[str, ...] | None = None) -> None:
        """Drop the waiting partials (of these languages only, if given)."""
        for lang in list(self._partials):
            if langs is None or lang in langs:
                del self._partials[lang]
                self.skipped += 1
