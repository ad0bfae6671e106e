"""The verdict logic of scripts/soak_server.py (the hour-long soak itself is not run in CI)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("soak_server", ROOT / "scripts" / "soak_server.py")
soak = sys.modules["soak_server"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(soak)


def session(kind, start, seqs, alive=False, channel="de"):
    s = soak.Session("l0", kind, "r", start={channel: start}, alive=alive)
    for seq in seqs:
        s.take({"type": "target_commit", "channel": channel, "seq": seq, "journal_epoch": "e"})
    return s


JOURNAL = {("r", "de"): {2: "target_commit", 5: "target_commit", 9: "target_commit", 12: "end"}}


def test_a_commit_skipped_inside_what_a_listener_received_is_missed():
    missed, behind, checked = soak.misses([session("churn", 0, [2, 9])], JOURNAL)
    assert [(m["seqs"], m["count"]) for m in missed] == [([5], 1)] and checked == 3
    assert behind == []


def test_a_listener_is_held_to_what_followed_its_start_only():
    # joined at seq 5 (its `since`, or ready.channels): 2 and 5 are not its business
    missed, _, checked = soak.misses([session("resume", 5, [9, 12])], JOURNAL)
    assert missed == [] and checked == 2


def test_a_steady_listener_still_connected_must_have_the_journal_s_last_frame():
    _, behind, _ = soak.misses([session("steady", 0, [2, 5, 9], alive=True)], JOURNAL)
    assert behind == [{"listener": "l0", "channel": "de", "got": 9, "journal": 12}]
    # a churn listener that left early is not
    assert soak.misses([session("churn", 0, [2, 5], alive=True)], JOURNAL)[1] == []


def test_frames_out_of_order_are_counted():
    assert session("slow", 0, [2, 9, 5]).out_of_order == 1


def test_growth_is_the_last_sixth_against_minutes_5_to_15_of_an_hour():
    series = [{"t": t, "rss_mib": 100 + t / 600} for t in range(0, 3601, 30)]
    g = soak.window_growth(series, "rss_mib", 3600)
    # baseline: samples in [300, 900) s, median 100.99; end: [3000, 3600], median 105.5
    assert (g["baseline_median"], g["end_median"]) == (100.975, 105.5)
    assert g["growth"] == 4.5
    assert soak.window_growth(series[:2], "rss_mib", 3600)["growth"] is None


def test_the_journal_is_read_per_room_and_channel(tmp_path):
    room = tmp_path / "rooms" / "r"
    room.mkdir(parents=True)
    lines = [
        {"type": "target_commit", "seq": 3, "channel": "de"},
        {"type": "end", "seq": 4, "channel": "de"},
    ]
    (room / "de.jsonl").write_text("".join(json.dumps(f) + "\n" for f in lines))
    (tmp_path / "streams").mkdir()
    (tmp_path / "streams" / "s1.jsonl").write_text(json.dumps(lines[0]) + "\n")
    assert soak.read_journal(tmp_path) == ({("r", "de"): {3: "target_commit", 4: "end"}}, 1)
