"""The server's pure pieces: message parsing, audio decoding, throttling, outboxes, journal, language fan-out."""

from __future__ import annotations

import asyncio
import json
import os

import numpy as np
import pytest

from rtt.server.fanout import Frame, Outbox
from rtt.server.journal import Journal, JournalFile, Retention
from rtt.server.protocol import (
    AudioDecoder,
    Close,
    JoinMessage,
    ProtocolError,
    StartMessage,
    StopMessage,
    Throttle,
    parse_message,
)


# -- protocol -------------------------------------------------------------------------------
def test_parse_messages():
    start = parse_message(
        json.dumps(
            {"type": "start", "targets": ["de", "es", "de"], "rate": 48000, "room": "keynote"}
        )
    )
    assert start == StartMessage(targets=("de", "es"), rate=48000, room="keynote")
    assert parse_message('{"type": "stop"}') == StopMessage()
    join = parse_message(
        json.dumps({"type": "join", "room": "k", "languages": ["es"], "source": False, "since": 7})
    )
    assert join == JoinMessage(room="k", languages=("es",), source=False, since=(("es", 7),))
    join = parse_message(
        json.dumps(
            {"type": "join", "room": "k", "languages": "fr", "since": {"source": 3, "fr": 2}}
        )
    )
    assert join.channels == ("source", "fr") and dict(join.since) == {"source": 3, "fr": 2}


def test_a_newer_client_is_served_with_what_this_server_knows():
    # the compatibility rule: a newer version's unknown fields are ignored if what is needed is there
    start = parse_message(
        json.dumps({"type": "start", "version": 2, "targets": ["de"], "codec": "opus-ish"})
    )
    assert start == StartMessage(targets=("de",))
    join = parse_message(json.dumps({"type": "join", "version": 3, "room": "k", "tier": "gold"}))
    assert join.room == "k" and join.source
    with pytest.raises(ProtocolError):  # version 1 stays strict: a typo is caught
        parse_message(json.dumps({"type": "start", "version": 1, "colour": "red"}))


def test_source_language_auto_with_candidates():
    start = parse_message(json.dumps({"type": "start", "source_lang": "auto:en,de"}))
    assert start.source_lang == "auto:en,de"


@pytest.mark.parametrize(
    "message, code, close",
    [
        ("{oops", "bad_json", Close.INVALID_DATA),
        ("[1, 2]", "bad_json", Close.INVALID_DATA),
        ('{"type": "hello"}', "unknown_type", Close.PROTOCOL),
        ('{"type": "start", "version": 0}', "bad_version", Close.UNSUPPORTED),
        ('{"type": "start", "version": "2"}', "bad_version", Close.UNSUPPORTED),
        ('{"type": "start", "source_lang": "auto:en,xx"}', "unsupported_language", 4003),
        ('{"type": "start", "version": 9, "rate": 5}', "unsupported_rate", Close.UNSUPPORTED),
        ('{"type": "start", "encoding": "opus"}', "unsupported_encoding", Close.UNSUPPORTED),
        ('{"type": "start", "channels": 2}', "unsupported_encoding", Close.UNSUPPORTED),
        ('{"type": "start", "rate": 100}', "unsupported_rate", Close.UNSUPPORTED),
        ('{"type": "start", "targets": ["klingon"]}', "unsupported_language", Close.UNSUPPORTED),
        ('{"type": "start", "rate": "fast"}', "bad_message", Close.PROTOCOL),
        ('{"type": "start", "colour": "red"}', "bad_message", Close.PROTOCOL),
        ('{"type": "join", "room": "a b", "languages": ["de"]}', "bad_message", Close.PROTOCOL),
        (
            '{"type": "join", "room": "a", "languages": [], "source": false}',
            "bad_message",
            Close.PROTOCOL,
        ),
        (
            '{"type": "join", "room": "a", "languages": ["de"], "since": 3}',
            "bad_message",
            Close.PROTOCOL,
        ),
        (
            '{"type": "join", "room": "a", "languages": ["de"], "since": {"fr": 1}}',
            "bad_message",
            Close.PROTOCOL,
        ),
    ],
)
def test_bad_messages(message, code, close):
    with pytest.raises(ProtocolError) as error:
        parse_message(message)
    assert (error.value.code, error.value.close) == (code, close)


def test_audio_decoder_checks_and_resamples():
    decoder = AudioDecoder(48000)
    with pytest.raises(ProtocolError) as error:
        decoder.decode(b"\x00" * 3)
    assert error.value.code == "bad_audio" and error.value.close == Close.INVALID_DATA
    out = [decoder.decode(np.zeros(4800, dtype="<i2").tobytes()) for _ in range(10)]
    total = sum(len(o) for o in out) + len(decoder.flush())
    assert total == pytest.approx(16000, abs=2) and decoder.seconds == pytest.approx(1.0)


def test_throttle_holds_the_client_to_the_rate_and_spots_abuse():
    throttle = Throttle(4.0, burst=2.0, patience=10.0)
    assert throttle.delay(audio_seconds=6.0, elapsed=1.0) == 0.0  # 2 + 1 * 4 allowed
    assert throttle.delay(audio_seconds=10.0, elapsed=1.0) == pytest.approx(
        1.0
    )  # wait until 8 s / 4
    assert not throttle.abusive
    throttle.delay(audio_seconds=100.0, elapsed=12.0)
    assert throttle.abusive
    assert throttle.delay(audio_seconds=10.0, elapsed=100.0) == 0.0 and not Throttle().abusive


# -- outbox ---------------------------------------------------------------------------------
def frame(seq, kind="commit", channel="de", sentence=0):
    if kind == "partial":
        return Frame(channel, seq, f"p{seq}", False, key=(channel, "target", "de", sentence))
    return Frame(channel, seq, f"c{seq}", True, settles=(channel, "target", "de", sentence))


async def drain(outbox):
    out = []
    outbox.finish()
    while texts := await outbox.get():
        out += texts
    return out


async def test_outbox_coalesces_stale_partials():
    outbox = Outbox(["de"], reader=None, limit=10)
    for seq, kind, sentence in [
        (1, "partial", 0),
        (2, "partial", 0),
        (3, "partial", 1),
        (4, "partial", 0),
        (5, "commit", 0),
    ]:
        outbox.put(frame(seq, kind, sentence=sentence))
    assert await drain(outbox) == ["p3", "c5"]
    assert outbox.coalesced == 3


async def test_overflow_catches_up_from_the_journal_without_losing_commits():
    journal = {seq: f"c{seq}" for seq in range(1, 41)}

    async def reader(channel, since):
        await asyncio.sleep(0)
        return [(s, t) for s, t in sorted(journal.items()) if s > since]

    outbox = Outbox(["de"], reader=reader, limit=4)
    outbox.put(frame(1))
    assert await outbox.get() == ["c1"]
    for seq in range(2, 41):
        outbox.put(frame(seq))
        if seq % 2:
            outbox.put(frame(100 + seq, "partial", sentence=seq))  # partials go first when full
    assert outbox.overflows >= 1 and len(outbox) <= 4
    assert [t for t in await drain(outbox) if t.startswith("c")] == [f"c{s}" for s in range(2, 41)]


async def test_since_replays_then_goes_live():
    async def reader(channel, since):
        return [(s, f"c{s}") for s in range(1, 6) if s > since]

    outbox = Outbox(["de"], reader=reader)
    outbox.put(frame(5))  # already live when the replay runs: sent once
    outbox.put(frame(6))
    outbox.resume({"de": 2})
    assert await drain(outbox) == ["c3", "c4", "c5", "c6"]


# -- journal --------------------------------------------------------------------------------
def test_journal_appends_reads_and_survives_a_torn_line(tmp_path):
    file = JournalFile(tmp_path / "rooms" / "r" / "de.jsonl")
    assert file.last_seq() == 0
    for seq in (1, 3, 4):
        file.append(json.dumps({"type": "target_commit", "seq": seq}))
    file.close()
    with file.path.open("a") as f:
        f.write('{"type": "target_commit", "se')  # a crash mid-write
    assert file.last_seq() == 4
    assert [seq for seq, _ in file.read_since(1)] == [3, 4]


def test_journal_retention_by_age_and_size(tmp_path):
    journal = Journal(tmp_path, Retention(max_age=100.0, max_bytes=350))
    paths = []
    for i in range(4):
        file = journal.room(f"r{i}", "de")
        file.append("x" * 99)
        file.close()
        os.utime(file.path, (1000.0 + i * 10, 1000.0 + i * 10))
        paths.append(file.path)
    old = journal.stream("old")
    old.append("{}")
    old.close()
    os.utime(old.path, (0.0, 0.0))
    deleted = journal.prune(keep={paths[0]}, now=1050.0)
    assert (
        old.path in deleted and paths[1] in deleted
    )  # too old; then the oldest until under 350 bytes (the kept file counts)
    assert all(p.exists() for p in (paths[0], paths[2], paths[3]))
