"""The sans-I/O listener state shared by `rtt client --listen` and the TUI room."""

from __future__ import annotations

from rtt.server.listener import Backoff, ListenerState


def test_since_and_epochs_follow_durable_frames_and_resets_forget_them():
    state = ListenerState("keynote", ("de",))
    assert state.join() == {
        "type": "join",
        "version": 1,
        "room": "keynote",
        "languages": ["de"],
        "source": True,
    }
    got = state.on_frame(
        {"type": "ready", "channels": {"source": 0, "de": 0}, "journal_epoch": {"de": "a"}}
    )
    assert got.ready and not got.reset
    state.on_frame({"type": "source_partial", "text": "w", "seq": 1, "channel": "source"})
    got = state.on_frame(
        {"type": "target_commit", "text": "t", "seq": 4, "channel": "de", "journal_epoch": "b"}
    )
    assert got.event == {"type": "target_commit", "text": "t"}  # transport fields off
    assert state.join()["since"] == {"de": 4} and state.join()["journal_epoch"] == {"de": "b"}
    got = state.on_frame(
        {
            "type": "ready",
            "channels": {"source": 0, "de": 1},
            "journal_epoch": {"de": "c"},
            "reset": ["de"],
        }
    )
    assert got.reset == ("de",) and "since" not in state.join()


def test_end_on_every_channel_is_over_and_refusals_are_sorted():
    state = ListenerState("r", ("de",))
    state.on_frame({"type": "ready", "channels": {"source": 3, "de": 1}})
    assert not state.on_frame({"type": "end", "seq": 4, "channel": "source"}).over
    assert state.on_frame({"type": "end", "seq": 2, "channel": "de"}).over
    assert state.on_frame({"type": "error", "code": "server_full", "message": "m"}).retry
    refused = state.on_frame({"type": "error", "code": "room_full", "message": "full"})
    assert refused.refused == "room_full: full" and not refused.retry
    # a notice outside the journal's sequence (no seq) never moves since
    state.on_frame({"type": "error", "code": "journal_failed", "channel": "de", "message": "m"})
    assert state.since == {"source": 4, "de": 2}


def test_backoff_doubles_up_to_its_cap():
    backoff = Backoff(base=0.5, cap=4.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
