"""The core budget of the translator: partials only in spare time (pure core, clock passed in).

On a CPU the translator is one worker: while a partial re-translation runs, a final
that becomes due waits behind it, whichever model the partial runs on. So the budget
gives every final a deadline (`deadline` seconds after its sentence ends, on the
stream clock) and lets a partial start only if, after it, every final still meets
its deadline, given the measured costs:

- the finals waiting now, in the order they run;
- and the finals of the sentence the partial is for (one per target language that
  needs the model), as if that sentence ended with the words it has now (the worst
  case: its final can become due while the partial runs, and waits behind it).

The time left before those deadlines, once the finals have their measured share,
is the spare capacity. A partial takes the main model when its measured cost fits
in it, else the fast model when that fits (the fast model never runs when it would
delay a final), else it waits: it is deferred, not dropped, and is considered again
on the next input (newer words push the sentence's end, and so its deadline, later)
or after a job completes (the costs change). Time alone never frees capacity.
What it cannot see coming is not covered: a further sentence spoken and committed
whole while the partial runs waits behind it and behind the finals before it.

Costs are learnt from the durations the stage reports after each job: an
exponentially weighted mean of seconds per job, per engine role ("main", "fast") and
kind (final or partial). An unmeasured kind borrows the other kind's mean on the same
engine, else counts as free, so the first job of each kind runs and is measured.
On a simulated clock compute is free: every cost is 0 and the budget never defers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from ..stats import BudgetStats

__all__ = ["CoreBudget", "Role"]

Role = Literal["main", "fast"]


class CoreBudget:
    """Admission of partial re-translations against the finals' deadlines."""

    def __init__(self, deadline: float, *, alpha: float = 0.3) -> None:
        if deadline <= 0:
            raise ValueError(f"the final deadline must be positive, got {deadline}")
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be within (0, 1], got {alpha}")
        self.deadline = deadline
        self.alpha = alpha
        self._mean: dict[tuple[Role, bool], float] = {}
        self._deferred: dict[str, object] = {}  # lane -> the last partial deferred in it
        self.deferred = 0
        self.fast_partials = 0
        self.late_finals = 0

    # -- evidence -----------------------------------------------------------------
    def measured(self, role: Role, final: bool, seconds: float) -> None:
        """A job of this kind on this engine took `seconds` (on the stream clock)."""
        key = (role, final)
        seconds = max(0.0, seconds)
        if role == "fast" and not final:
            self.fast_partials += 1
        old = self._mean.get(key)
        self._mean[key] = seconds if old is None else old + self.alpha * (seconds - old)

    def final_done(self, now: float, sentence_end: float) -> None:
        """A final finished at `now`: count it if it missed its deadline."""
        if now > sentence_end + self.deadline:
            self.late_finals += 1

    def cost(self, role: Role, final: bool) -> float:
        """Estimated seconds of one job: measured, else the other kind's on that engine, else 0."""
        mean = self._mean.get((role, final))
        if mean is None:
            mean = self._mean.get((role, not final))
        return 0.0 if mean is None else mean

    # -- the decision ---------------------------------------------------------------
    def fits(
        self, now: float, cost: float, waiting: Sequence[float], sentence_end: float, finals: int
    ) -> bool:
        """After a job of `cost` started now, do the waiting finals (their deadlines, in run
        order) and the `finals` of a sentence ending at `sentence_end` all meet their deadlines?
        A job that costs nothing delays nothing, so it always fits."""
        if cost <= 0:
            return True
        final = self.cost("main", True)
        t = now + cost
        for due in waiting:
            t += final
            if t > due:
                return False
        return t + finals * final <= sentence_end + self.deadline

    def choose(
        self,
        now: float,
        *,
        waiting: Sequence[float],
        sentence_end: float,
        finals: int,
        fast: bool,
    ) -> Role | None:
        """The engine a partial runs on now (the main model first), or None: defer it."""
        roles: tuple[Role, ...] = ("main", "fast") if fast else ("main",)
        for role in roles:
            if self.fits(now, self.cost(role, False), waiting, sentence_end, finals):
                return role
        return None

    def admit(
        self,
        lane: str,
        job: object,
        now: float,
        *,
        waiting: Sequence[float],
        sentence_end: float,
        finals: int,
        fast: bool,
    ) -> Role | None:
        """`choose`, counting a deferral once per partial (`job`: any value naming it) and lane."""
        role = self.choose(
            now, waiting=waiting, sentence_end=sentence_end, finals=finals, fast=fast
        )
        if role is None and self._deferred.get(lane) != job:
            self._deferred[lane] = job
            self.deferred += 1
        return role

    def stats(self) -> BudgetStats:
        def mean(role: Role, final: bool) -> float | None:
            value = self._mean.get((role, final))
            return None if value is None else round(value, 3)

        return BudgetStats(
            deadline=self.deadline,
            deferred=self.deferred,
            fast_partials=self.fast_partials,
            late_finals=self.late_finals,
            final_cost=mean("main", True),
            partial_cost=mean("main", False),
            fast_cost=mean("fast", False),
        )
