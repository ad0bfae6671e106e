"""The core budget: which partial may run now, on which model, against the finals' deadlines."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.mt.budget import CoreBudget


def budget(deadline=4.0, *, final=None, main=None, fast=None):
    b = CoreBudget(deadline)
    for role, is_final, cost in (
        ("main", True, final),
        ("main", False, main),
        ("fast", False, fast),
    ):
        if cost is not None:
            b.measured(role, is_final, cost)
    return b


# (what is measured, now, waiting finals' deadlines, partial's sentence end, finals, fast) -> role
CASES = [
    ("nothing measured: free, runs", {}, 10.0, (), 0.0, 2, True, "main"),
    ("main fits", dict(final=1.0, main=0.5, fast=0.2), 10.0, (), 8.0, 1, True, "main"),
    ("main fits just", dict(final=1.0, main=1.0, fast=0.2), 10.0, (), 8.0, 1, True, "main"),
    ("only fast fits", dict(final=1.0, main=1.5, fast=0.5), 10.0, (), 8.0, 1, True, "fast"),
    ("only fast fits, none loaded", dict(final=1.0, main=1.5, fast=0.5), 10.0, (), 8.0, 1, False, None),
    ("two targets: no room", dict(final=1.0, main=0.5, fast=0.2), 10.0, (), 8.0, 2, True, None),
    ("two targets: fast fits", dict(final=0.8, main=0.5, fast=0.2), 10.0, (), 8.0, 2, True, "fast"),
    ("already late without it", dict(final=1.0, main=0.1, fast=0.1), 10.0, (), 5.0, 1, True, None),
    ("a waiting final takes the slack", dict(final=1.0, main=0.5, fast=0.2), 10.0, (11.4,), 9.0, 1, True, "fast"),
    ("a waiting final would be late", dict(final=1.0, main=0.5, fast=0.2), 10.0, (11.1,), 20.0, 1, True, None),
    ("unmeasured final borrows the partial's cost", dict(main=2.0), 10.0, (), 8.0, 1, False, None),
    ("a free partial always fits", dict(final=5.0, main=0.0), 10.0, (3.0,), 0.0, 3, False, "main"),
]  # fmt: skip


@pytest.mark.parametrize(
    "measured, now, waiting, end, finals, fast, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)  # fmt: skip
def test_choose(measured, now, waiting, end, finals, fast, expected):
    b = budget(**measured)
    assert b.choose(now, waiting=waiting, sentence_end=end, finals=finals, fast=fast) == expected


def test_costs_are_a_moving_mean_per_engine_and_kind():
    b = CoreBudget(4.0, alpha=0.5)
    assert b.cost("main", True) == 0.0
    b.measured("main", False, 2.0)
    assert b.cost("main", True) == 2.0  # borrowed from the partials of the same model
    b.measured("main", True, 4.0)
    b.measured("main", True, 2.0)
    assert b.cost("main", True) == 3.0 and b.cost("main", False) == 2.0
    assert b.cost("fast", False) == 0.0
    b.measured("fast", False, 1.0)
    stats = b.stats()
    assert (stats.final_cost, stats.partial_cost, stats.fast_cost) == (3.0, 2.0, 1.0)
    assert stats.fast_partials == 1 and stats.deadline == 4.0


def test_a_deferral_counts_once_per_partial_and_lane():
    b = budget(final=2.0, main=1.0)
    kw = dict(waiting=(), sentence_end=8.0, finals=1, fast=False)
    for _ in range(3):  # the runner asks again and again while nothing changes
        assert b.admit("de", "a b", 10.0, **kw) is None
    assert b.admit("es", "a b", 10.0, **kw) is None
    assert b.admit("de", "a b c", 10.0, **kw) is None
    assert b.stats().deferred == 3
    assert b.admit("de", "a b c d", 10.0, **{**kw, "sentence_end": 12.0}) == "main"


def test_late_finals_are_counted():
    b = CoreBudget(2.0)
    b.final_done(3.0, sentence_end=1.0)
    b.final_done(3.5, sentence_end=1.0)
    assert b.stats().late_finals == 1


@pytest.mark.parametrize("deadline, alpha", [(0.0, 0.3), (-1.0, 0.3), (2.0, 0.0), (2.0, 1.5)])
def test_bad_settings_are_refused(deadline, alpha):
    with pytest.raises(ValueError):
        CoreBudget(deadline, alpha=alpha)


# -- the guarantee, on a simulated translator whose costs match the estimate -------------
sentences = st.lists(
    st.tuples(
        st.lists(st.floats(0.05, 1.5), min_size=1, max_size=6),  # gaps between word ends
        st.lists(st.floats(0.0, 2.0), min_size=6, max_size=6),  # commit delays of those words
        st.floats(0.0, 2.0),  # delay before the sentence is known to be complete
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(
    sentences=sentences,
    targets=st.integers(1, 3),
    final=st.floats(0.05, 3.0),
    main=st.floats(0.05, 3.0),
    fast=st.one_of(st.none(), st.floats(0.05, 1.0)),
    deadline=st.floats(0.5, 8.0),
)
def test_no_final_is_late_because_of_a_partial_the_budget_started(
    sentences, targets, final, main, fast, deadline
):
    """One translator, finals first. Each commit of a sentence's words asks for a partial; its
    final becomes due once the sentence is complete. Costs are what the budget measured. Then
    a final that waited behind a partial the budget started still meets its deadline, when its
    sentence was known as the partial started (a sentence spoken and committed whole while the
    partial ran is not: the budget cannot see it coming)."""
    b = budget(deadline, final=final, main=main, fast=fast)
    arrivals = timeline(sentences)
    t, i = 0.0, 0
    finals: list[tuple[float, float, int]] = []  # (deadline, arrival, sentence) waiting
    partial: tuple[float, int] | None = None  # (end of the words known, sentence) waiting
    ran: list[tuple[float, float, int]] = []  # partials run: (start, end, sentence)
    while i < len(arrivals) or finals or partial is not None:
        while i < len(arrivals) and arrivals[i][0] <= t:
            known, kind, end, k = arrivals[i]
            if kind == "final":
                finals += [(end + deadline, known, k)] * targets
                partial = None
            else:
                partial = (end, k)
            i += 1
        if finals:
            due, arrived, k = finals.pop(0)
            t += final
            waited_behind = [s for s, e, of in ran if arrived < e and s < t and of >= k]
            assert not waited_behind or t <= due + 1e-9
            continue
        role = None
        if partial is not None:
            end, k = partial
            role = b.choose(t, waiting=(), sentence_end=end, finals=targets, fast=bool(fast))
        if role is not None:
            cost = main if role == "main" else fast
            ran.append((t, t + cost, k))
            t, partial = t + cost, None
        elif i < len(arrivals):
            t = max(t, arrivals[i][0])  # deferred: considered again on the next input
        else:
            break


def timeline(sentences):
    """(time known, "partial" | "final", end of the sentence's words known then, sentence),
    in time order."""
    out, end, clock = [], 0.0, 0.0
    for k, (gaps, delays, complete) in enumerate(sentences):
        for gap, delay in zip(gaps, delays):
            end += gap
            clock = max(clock, end + delay)
            out.append((clock, "partial", end, k))
        clock = max(clock, end) + complete
        out.append((clock, "final", end, k))
    return out
