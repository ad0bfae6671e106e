"""Journal faults seen from the wire: a full disk, a torn tail, a journal that is gone.

A failed journal write ends that room's stream (error `journal_failed`, `end`, close
1011), frees the room, shows in /healthz and the metrics, and leaves every other room
running; a torn last line (even one cut inside a UTF-8 character) is repaired on open
and replay stays exact; a `since` from a journal that is gone is caught up from the
start of the new one.
"""

from __future__ import annotations

import asyncio
import errno
import json
import shutil

from rtt.server.journal import JournalFile
from rtt.server.loopback import (
    connect_from,
    listen_until_closed,
    metric,
    raw_http,
    speak_until_closed,
)
from tests.rtt.server.helpers import commits, listen_frames, pcm, running_server


def full_disk_for(monkeypatch, room: str, after: int) -> dict:
    """Every journal write of `room` after the first `after` fails with ENOSPC (while "full")."""
    real, disk = JournalFile._write_all, {"writes": 0, "full": True}

    def write(self, data):
        if f"/{room}/" in str(self.path) and disk["full"]:
            disk["writes"] += 1
            if disk["writes"] > after:
                raise OSError(errno.ENOSPC, "No space left on device")
        real(self, data)

    monkeypatch.setattr(JournalFile, "_write_all", write)
    return disk


async def test_a_full_disk_ends_that_room_only_and_frees_it(tmp_path, monkeypatch):
    disk = full_disk_for(monkeypatch, "doomed", after=3)
    async with running_server(tmp_path) as server:
        ready = asyncio.Event()
        listener = asyncio.create_task(
            listen_until_closed(
                server.url,
                {"room": "doomed", "languages": ["de"]},
                address="127.0.0.2",
                ready=ready,
            )
        )
        await asyncio.wait_for(ready.wait(), 5)
        fine = asyncio.create_task(
            speak_until_closed(
                server.url, pcm(4.0), start={"room": "fine", "targets": ["de"]}, address="127.0.0.4"
            )
        )
        spoken, code = await asyncio.wait_for(
            speak_until_closed(
                server.url,
                pcm(8.0),
                start={"room": "doomed", "targets": ["de"]},
                address="127.0.0.3",
            ),
            20,
        )
        heard, heard_code = await asyncio.wait_for(listener, 10)
        fine_frames, fine_code = await asyncio.wait_for(fine, 20)
        health = await asyncio.to_thread(raw_http, server.port, "GET /healthz HTTP/1.1\nHost: x\n")
        failures = metric(server, "rtt_journal_failures_total")
        disk["full"] = False  # space freed
        again = await speak_until_closed(  # the room is free for a new speaker
            server.url, pcm(0.5), start={"room": "doomed", "targets": []}, address="127.0.0.5"
        )
    assert code == 1011 and heard_code == 1011
    assert {(f["code"], f["channel"]) for f in spoken if f["type"] == "error"} == {
        ("journal_failed", "source"),
        ("journal_failed", "de"),
    }
    assert "No space left" in next(f["message"] for f in spoken if f["type"] == "error")
    errors = [f for f in heard if f["type"] == "error"]
    assert {f["channel"] for f in errors} == {"source", "de"}
    assert {f["channel"] for f in heard if f["type"] == "end"} == {"source", "de"}
    assert all("seq" not in f for f in errors)  # not journaled: not to be used for since
    assert fine_code == 1000 and fine_frames[-1]["type"] == "end"
    assert len(commits(fine_frames, "de")) == 2 and not [
        f for f in fine_frames if f["type"] == "error"
    ]
    assert health[1].startswith(("ok", "journal failing")) and "No space left" in health[1]
    assert failures == 1
    assert again[0][0]["type"] == "ready" and again[0][-1]["type"] == "end" and again[1] == 1000


async def test_a_failed_journal_open_refuses_with_a_retryable_error(tmp_path):
    (tmp_path / "rooms" / "locked" / "de.jsonl").mkdir(parents=True)  # cannot be opened as a file
    async with running_server(tmp_path) as server:
        frames, code = await listen_until_closed(
            server.url, {"room": "locked", "languages": ["de"]}
        )
        async with connect_from(server.url, "127.0.0.3") as ws:
            await ws.send(json.dumps({"type": "join", "room": "open", "languages": ["de"]}))
            ok = json.loads(await ws.recv())
    assert code == 1013 and frames[0]["code"] == "journal_failed"
    assert ok["type"] == "ready"


async def test_a_torn_tail_is_repaired_and_replay_stays_exact(tmp_path):
    async with running_server(tmp_path) as server:
        await speak_until_closed(server.url, pcm(2.0), start={"room": "t", "targets": []})
    source = tmp_path / "rooms" / "t" / "source.jsonl"
    with source.open("ab") as f:  # a crash mid-write, inside the two bytes of "é"
        f.write(b'{"type": "source_commit", "text": "caf' + "é".encode()[:1])
    async with running_server(tmp_path) as server:
        await speak_until_closed(server.url, pcm(2.0), start={"room": "t", "targets": []})
        journaled = len(source.read_text().splitlines())  # the commits and ends of both talks
        heard = await listen_frames(
            server.url,
            {"room": "t", "languages": [], "since": {"source": 0}},
            until_end=False,
            limit=journaled,  # `ready` and then every journaled frame: more than `limit`
        )
    replay = commits(heard[1:], "source")
    assert " ".join(text for _, text in replay).split() == ["w1", "w2", "w3", "w4."] * 2
    seqs = [seq for seq, _ in replay]
    assert seqs == sorted(seqs)
    assert all(line.startswith("{") for line in source.read_text().splitlines())


async def test_a_since_from_a_lost_journal_catches_up_from_the_new_start(tmp_path):
    async with running_server(tmp_path) as server:
        first, _ = await speak_until_closed(
            server.url, pcm(2.0), start={"room": "e", "targets": []}, address="127.0.0.2"
        )
    last = [f for f in first if f.get("seq") and f["type"] == "end"][-1]
    old_epoch = last["journal_epoch"]
    shutil.rmtree(tmp_path / "rooms" / "e")  # pruned, or another --journal, or a lost volume
    async with running_server(tmp_path) as server:
        await speak_until_closed(
            server.url, pcm(1.0), start={"room": "e", "targets": []}, address="127.0.0.3"
        )
        journal = tmp_path / "rooms" / "e" / "source.jsonl"
        journaled = len(journal.read_text().splitlines())
        for join in (
            {"since": {"source": last["seq"]}, "journal_epoch": {"source": old_epoch}},
            {"since": {"source": last["seq"]}},  # an older client: its seq is past this journal
        ):
            heard = await listen_frames(
                server.url,
                {"room": "e", "languages": [], **join},
                until_end=False,
                limit=journaled,
            )
            assert heard[0]["reset"] == ["source"]
            assert heard[0]["journal_epoch"]["source"] != old_epoch
            words = " ".join(text for _, text in commits(heard)).split()
            assert [w.rstrip(".") for w in words] == ["w1", "w2"]  # the new journal, from its start
