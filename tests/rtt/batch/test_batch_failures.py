"""`rtt batch` keeps going whatever one file raises; its outputs are durable and not private."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from rtt.batch import writers
from rtt.batch.runner import discover_inputs, run_batch_jobs
from rtt.batch.writers import atomic_write
from tests.rtt.batch.test_batch_units import FakeProcessor, options


class BuggyProcessor(FakeProcessor):
    """faster-whisper's batched pipeline asserting on a clip (issue 17, item 10), for one file."""

    async def process(self, path, **kw):
        if Path(path).name == "espeak.wav":
            self.calls.append(Path(path).name)
            raise AssertionError("non-negative timestamp expected")
        return await super().process(path, **kw)


async def test_any_exception_on_one_file_is_that_files_failure(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.wav", "espeak.wav", "z.wav"):
        (src / name).write_bytes(b"audio")
    opts = options(tmp_path / "out", jobs=2)
    reported = []
    reports = await run_batch_jobs(
        discover_inputs([src], opts), BuggyProcessor(), opts, on_report=reported.append
    )
    assert [(r.job.name, r.status) for r in reports] == [
        ("a.wav", "ok"),
        ("espeak.wav", "failed"),
        ("z.wav", "ok"),
    ]
    assert reports[1].error == "AssertionError: non-negative timestamp expected"
    assert len(reported) == 3 and not list((tmp_path / "out").glob("espeak*"))


def test_outputs_follow_the_umask_and_their_folder_is_fsynced(tmp_path, monkeypatch):
    synced = []
    real = writers.fsync_dir
    monkeypatch.setattr(writers, "fsync_dir", lambda path: (synced.append(path), real(path)))
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "new" / "talk.de.srt", "text\n")
    finally:
        os.umask(old)
    path = tmp_path / "new" / "talk.de.srt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's 0600
    assert path.read_text() == "text\n" and synced == [tmp_path / "new"]
    assert [p.name for p in path.parent.iterdir()] == ["talk.de.srt"]
