"""The fit rule: measured rates → finals/partials models and full-quality targets."""

from __future__ import annotations

import math

import pytest

from pipeline.fit import FINALS_SHARE, Rates, decide, finals_load, needed_decode

MAIN, FAST = "qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"
FAST_RATES = Rates(decode=24.0, prefill=240.0)


@pytest.mark.parametrize(
    ("main_rates", "targets", "finals", "partials", "fast_targets", "warns"),
    [
        # a fast machine: the 1.5B everywhere, partials too
        (Rates(14.0, 150.0), ("de",), MAIN, None, (), False),
        # fast enough for two targets' finals, but not for partials on top: 0.5B partials
        (Rates(14.0, 150.0), ("de", "es"), MAIN, FAST, (), False),
        # slow: the 1.5B keeps one target; partials on the 0.5B
        (Rates(8.0, 80.0), ("de",), MAIN, FAST, (), False),
        # slow, two targets: es moves to the fast model, and the sum is still too much
        (Rates(8.0, 80.0), ("de", "es"), MAIN, FAST, ("es",), True),
        # a server (each room asks for its targets): fitted for one
        (Rates(8.0, 80.0), (), MAIN, FAST, (), False),
        # very slow: the 0.5B gives the finals, with a warning
        (Rates(4.0, 40.0), ("de",), FAST, None, (), True),
    ],
)
def test_decide_table(main_rates, targets, finals, partials, fast_targets, warns):
    choice = decide(MAIN, FAST, {MAIN: main_rates, FAST: FAST_RATES}, targets)
    assert (choice.finals, choice.partials, choice.fast_targets) == (finals, partials, fast_targets)
    assert set(choice.main_targets) | set(choice.fast_targets) == set(targets)
    assert bool(choice.warnings) == warns
    assert "needed for 1 target)" in choice.line() or len(targets) > 1
    assert choice.line().startswith(f"fit: finals {finals} (")


def test_the_line_says_the_rate_and_what_was_needed():
    choice = decide(MAIN, FAST, {MAIN: Rates(8.0, 80.0), FAST: FAST_RATES}, ("de", "es"))
    need = needed_decode(80.0, 1)
    assert f"finals {MAIN} (8.0 tok/s ≥ {need:.1f} needed for 1 target)" in choice.line()
    assert "2 targets → es on the fast model" in choice.line()
    assert choice.to_json()["fast_targets"] == ["es"]


def test_without_a_fast_model_the_main_one_does_everything_and_warns_when_behind():
    choice = decide(MAIN, None, {MAIN: Rates(4.0, 40.0)}, ("de",))
    assert (choice.finals, choice.partials, choice.fast_targets) == (MAIN, None, ())
    assert choice.warnings


def test_load_and_needed_rate_agree():
    need = needed_decode(100.0, 2)
    assert finals_load(Rates(need, 100.0), 2) == pytest.approx(FINALS_SHARE)
    assert needed_decode(1.0, 1) == math.inf  # prefill alone exceeds the share
    assert finals_load(Rates(0.0, 100.0), 1) == math.inf
    slow = decide(MAIN, None, {MAIN: Rates(2.0, 5.0)}, ("de",))
    assert f"finals {MAIN} (prefill 5 tok/s: too slow for 1 target)" in slow.line()


@pytest.mark.parametrize(("targets", "partials_on"), [(("de",), True), (("de", "es"), False)])
def test_finals_that_fill_the_core_leave_no_partials(targets, partials_on):
    # this machine's calibration: the 1.5B too slow, the 0.5B's finals for two targets
    # take ≈ 0.78 of MT's time (measured: two targets came 16-25 s late with partials, 9 s without)
    rates = {MAIN: Rates(10.1, 24.1), FAST: Rates(17.5, 56.9)}
    choice = decide(MAIN, FAST, rates, targets)
    assert choice.finals == FAST
    assert choice.partials_on is partials_on
    assert choice.to_json()["partials_on"] is partials_on
    assert ("partials off" in choice.line()) is not partials_on


def test_without_a_fast_model_partials_need_room():
    busy = decide(MAIN, None, {MAIN: Rates(10.0, 60.0)}, ("de",))  # load ≈ 0.57
    roomy = decide(MAIN, None, {MAIN: Rates(30.0, 200.0)}, ("de",))  # load ≈ 0.19
    assert (busy.partials_on, roomy.partials_on) == (False, True)
