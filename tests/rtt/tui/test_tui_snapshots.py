"""Snapshots of the live TUI's main layouts (pytest-textual-snapshot), from scripted events.

Update them after an intended change with `pytest tests/rtt/tui/test_tui_snapshots.py --snapshot-update`
and look at the report before committing.
"""

from __future__ import annotations

import dataclasses

from pipeline.errors import ModelMissingError
from rtt.tui import LiveApp
from tests.rtt.tui.helpers import STATS, ScriptedSession, fake_talk, wait_for

SIZE = (130, 34)


def app_for(session: ScriptedSession, targets=("de", "es")) -> LiveApp:
    return LiveApp(session, targets=targets, source_lang="en")


def settle(app: LiveApp):
    async def run_before(pilot) -> None:
        await wait_for(
            pilot,
            lambda: app.handled == len(app.session.script) and app.state == "running",
            timeout=10,
        )
        await pilot.pause(0.3)

    return run_before


def test_side_by_side(snap_compare):
    app = app_for(ScriptedSession(fake_talk()))
    assert snap_compare(app, terminal_size=SIZE, run_before=settle(app))


def test_stacked(snap_compare):
    app = app_for(ScriptedSession(fake_talk()))
    assert snap_compare(app, terminal_size=SIZE, press=["t"], run_before=settle(app))


def test_behind_warning_and_paused_microphone(snap_compare):
    stats = dataclasses.replace(
        STATS,
        input="mic 2: USB Mic",
        lag=6.3,
        degraded=True,
        skipped=14,
        fast_model="qwen2.5-coder-0.5b",
        speech=False,
    )
    app = app_for(ScriptedSession(fake_talk(("de",)), stats, live=True), targets=("de",))
    assert snap_compare(app, terminal_size=SIZE, press=["space"], run_before=settle(app))


def test_help_screen(snap_compare):
    app = app_for(ScriptedSession(fake_talk()))
    assert snap_compare(app, terminal_size=SIZE, press=["question_mark"], run_before=settle(app))


def test_missing_model_error_screen(snap_compare):
    error = ModelMissingError(
        "model 'whisper-base' is not installed in /root/.cache/rtt/models; fetch it with `rtt models fetch whisper-base`"
    )
    app = app_for(ScriptedSession([], fail=error))

    async def run_before(pilot) -> None:
        await wait_for(pilot, lambda: app.state == "failed", timeout=10)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
