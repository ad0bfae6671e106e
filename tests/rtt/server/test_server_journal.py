"""The journal file on its own: torn tails, epochs, paged replay by binary search, failures."""

from __future__ import annotations

import asyncio
import errno
import json
import os

import numpy as np
import pytest

from rtt.server.journal import JournalError, JournalFile
from rtt.server.source import QueueSource


def line(seq: int, text: str = "x", epoch: str = "e1") -> str:
    return json.dumps({"type": "target_commit", "text": text, "seq": seq, "journal_epoch": epoch})


def test_a_tail_torn_inside_a_utf8_character_is_cut_on_open(tmp_path):
    file = JournalFile(tmp_path / "rooms" / "r" / "de.jsonl")
    assert file.open() == 0 and len(file.epoch) == 8
    for seq in (1, 2):
        file.append(line(seq, "Grüße", epoch=file.epoch))
    file.close()
    with file.path.open("ab") as f:
        f.write(line(3, "Grüße").encode()[:-12])  # cut inside "ü"
    again = JournalFile(file.path)
    assert again.open() == 2 and again.epoch == file.epoch  # the epoch is the file's
    again.append(line(3, "ok", epoch=again.epoch))
    assert [s for s, _ in again.read_since(0)] == [1, 2, 3]
    assert file.path.read_bytes().endswith(
        b'"ok", "seq": 3, "journal_epoch": "' + file.epoch.encode() + b'"}\n'
    )


def test_a_new_file_gets_a_new_epoch(tmp_path):
    a, b = JournalFile(tmp_path / "a.jsonl"), JournalFile(tmp_path / "b.jsonl")
    a.open(), b.open()
    assert a.epoch != b.epoch


def test_replay_finds_its_place_by_binary_search_and_reads_in_pages(tmp_path, monkeypatch):
    file = JournalFile(tmp_path / "big.jsonl")
    file.open()
    with file.path.open("w") as f:  # 20000 lines, about 1.5 MB
        for seq in range(1, 20001):
            f.write(line(seq, "w" * 40) + "\n")
    parsed = []
    real = json.loads
    monkeypatch.setattr(json, "loads", lambda s, *a, **k: (parsed.append(1), real(s, *a, **k))[1])
    page = file.read_since(15000, max_bytes=4096)
    assert page[0][0] == 15001 and [s for s, _ in page] == list(range(15001, 15001 + len(page)))
    assert sum(len(t) + 1 for _, t in page) < 4096 + 200
    assert len(parsed) < 1500  # not the 20000 lines of a whole-file parse
    pages, since = [], 19000
    while chunk := file.read_since(since, max_bytes=8192):
        pages.append(chunk)
        since = chunk[-1][0]
    assert since == 20000 and len(pages) > 5


def test_a_failed_append_leaves_no_torn_line_and_says_why(tmp_path, monkeypatch):
    file = JournalFile(tmp_path / "f.jsonl")
    file.open()
    file.append(line(1))

    def half_then_full(self, data):
        os.write(self._fd, data[:5])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(JournalFile, "_write_all", half_then_full)
    with pytest.raises(JournalError, match="No space left"):
        file.append(line(2))
    file.close()
    file.close()  # never raises
    assert file.path.read_text() == line(1) + "\n"


async def test_the_speaker_queue_is_bounded_in_bytes():
    source = QueueSource("s", max_bytes=64_000)  # 1 s of 16 kHz float32
    block = np.zeros(16_000, dtype=np.float32)
    await source.feed(block)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await source.feed(block)  # over the bound: waits for the pipeline
    assert source.queued_bytes == 64_000
    source.end()
    await source.feed(block)  # after end: dropped, never waits
