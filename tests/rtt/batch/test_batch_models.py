"""`rtt batch` end to end on the small models (whisper-tiny.en, qwen2.5-coder-0.5b).

One folder holds the 11 s sample talk, the same talk inside a video (mp4 with a
video stream, made here with PyAV), a silent file and a corrupt one: the
documented results are outputs for the first two, empty outputs for the silent
file, a reported failure for the corrupt one, and exit status 1.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import wave
from pathlib import Path

import av
import numpy as np
import pysubs2
import pytest

from pipeline.events import SourceCommit, TargetCommit, from_json
from pipeline.factory import asr_engine, load_engines
from pipeline.offline import build_processor, read_audio
from rtt.batch import run_batch
from rtt.cli import build_parser
from tests.conftest import ROOT

pytestmark = pytest.mark.models

SHORT = ROOT / "audio_samples" / "short-workshop-en.flac"
SMALL = [
    "--asr-model",
    "whisper-tiny.en",
    "--mt-model",
    "qwen2.5-coder-0.5b",
    "--from",
    "en",
    "--device",
    "cpu",
]


def make_video(audio: np.ndarray, path: Path) -> None:
    """An mp4 with a small video stream first and the audio (AAC, 16 kHz mono) second."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=5)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = out.add_stream("aac", rate=16000)
        sound.layout = "mono"
        for i in range(int(len(audio) / 16000 * 5)):
            frame = av.VideoFrame.from_ndarray(
                np.full((48, 64, 3), i * 9 % 255, np.uint8), format="rgb24"
            )
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode())
        for i in range(0, len(audio), 1024):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(audio[None, i : i + 1024]), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 16000, i
            out.mux(sound.encode(frame))
        out.mux(sound.encode())


def make_silence(path: Path, seconds: float) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x00" * int(seconds * 16000))


@pytest.fixture(scope="module")
def media(tmp_path_factory, small_config) -> Path:
    root = tmp_path_factory.mktemp("batch") / "in"
    (root / "talks").mkdir(parents=True)
    shutil.copy(SHORT, root / "talks" / "talk.flac")
    make_video(asyncio.run(read_audio(SHORT)), root / "talks" / "clip.mp4")
    make_silence(root / "silence.wav", 4.0)
    (root / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(range(256)) * 8)
    return root


def batch(argv: list[str], registry) -> int:
    return run_batch(build_parser().parse_args(["batch", *argv, *SMALL]), registry=registry)


def check_subtitles(path: Path, duration: float) -> list[pysubs2.SSAEvent]:
    events = list(pysubs2.load(str(path), format_=path.suffix[1:]))
    last = 0
    for e in events:
        assert last <= e.start < e.end <= duration * 1000 + 1, (path.name, e)
        assert all(len(line) <= 42 for line in e.plaintext.split("\n"))
        last = e.end
    return events


def test_folder_with_video_silent_and_corrupt_files(media, tmp_path, shared_registry, capsys):
    out = tmp_path / "out"
    assert (
        batch(
            [str(media), "--out", str(out), "--to", "de", "--bilingual", "--jobs", "2"],
            shared_registry,
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "corrupt.wav" in err and "cannot read audio" in err and "Traceback" not in err
    assert "1 failed" in err and "2 ok" in err and "1 no speech" in err
    assert not list(out.glob("corrupt*"))

    for stem, duration in (("talk", 11.44), ("clip", 11.46)):  # AAC pads the clip's audio a little
        folder = out / "talks"
        names = {p.name for p in folder.glob(f"{stem}.*")}
        assert names == {
            f"{stem}.{lang}.{ext}" for lang in ("en", "de") for ext in ("srt", "vtt", "txt")
        } | {f"{stem}.jsonl", f"{stem}.en-de.srt"}
        for lang in ("en", "de"):
            srt = check_subtitles(folder / f"{stem}.{lang}.srt", duration)
            vtt = check_subtitles(folder / f"{stem}.{lang}.vtt", duration)
            assert [(e.start, e.end, e.plaintext) for e in srt] == [
                (e.start, e.end, e.plaintext) for e in vtt
            ] and srt
        source = (folder / f"{stem}.en.txt").read_text().lower()
        assert "workshop" in source and "coffee break" in source and len(source.splitlines()) == 3
        assert len((folder / f"{stem}.de.txt").read_text().splitlines()) == 3
        check_events(folder / f"{stem}.jsonl", duration)

    silent = {p.name: p for p in out.glob("silence.*")}
    assert len(silent) == 8 and check_subtitles(silent["silence.de.srt"], 4.0) == []
    assert silent["silence.en.txt"].read_text() == ""
    assert [
        json.loads(line)["type"] for line in silent["silence.jsonl"].read_text().splitlines()
    ] == ["end"]

    # a second run skips what is finished and reports the corrupt file again
    assert (
        batch(
            [str(media), "--out", str(out), "--to", "de", "--bilingual", "--quiet"], shared_registry
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "corrupt.wav" in err and "skipped" not in err  # --quiet: failures only, no table


def check_events(path: Path, duration: float) -> None:
    events = [from_json(json.loads(line)) for line in path.read_text().splitlines()]
    commits = [e for e in events if isinstance(e, SourceCommit)]
    targets = [e for e in events if isinstance(e, TargetCommit)]
    assert events[-1].__class__.__name__ == "End" and len(commits) == len(targets) == 3
    words = [w for c in commits for w in c.words]
    assert all(0 <= w.start <= w.end <= duration for w in words)
    assert all(a.end <= b.start for a, b in zip(words, words[1:]))  # monotonic
    assert [t.sentence for t in targets] == [0, 1, 2] and all(t.text for t in targets)
    for c in commits:
        assert c.start == c.words[0].start and c.end == c.words[-1].end


def test_batch_and_live_pipeline_share_loaded_models(shared_registry, small_config):
    processor = build_processor(small_config, shared_registry)
    loads = shared_registry.loads
    load_engines(shared_registry, small_config)  # what the live pipeline loads
    assert shared_registry.loads == loads
    assert processor._transcriber._asr._engine is asr_engine(shared_registry, small_config)
