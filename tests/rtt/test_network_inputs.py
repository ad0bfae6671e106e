"""Network inputs at the front ends: `rtt translate URL`, `rtt batch URL`, `rtt live --input URL`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.audio.loopback import serve_dir, silent_listener
from pipeline.errors import AudioInputError
from pipeline.offline.segment import read_audio
from rtt.batch.runner import BatchOptions, discover_inputs
from rtt.cli import main
from rtt.live_cli import _input_label
from rtt.settings import config_from_args
from tests.conftest import ROOT, model_path
from tests.rtt.test_cli import SMALL

CLIP = ROOT / "audio_samples" / "clip-en-quick-brown-fox.flac"


def test_translate_a_url_that_never_answers_is_a_clear_error_without_credentials(capsys):
    with silent_listener() as port:
        url = f"http://carol:topsecret@127.0.0.1:{port}/live.m3u8"
        assert main(["translate", url, "--to", "de", "--timeout", "1"]) == 2
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert "no answer within 1 s" in err and "Traceback" not in err
    assert "topsecret" not in err and "carol" not in err


def test_translate_refuses_an_unsupported_protocol(capsys):
    assert main(["translate", "ftp://127.0.0.1/talk.mp3", "--to", "de"]) == 2
    assert "unsupported protocol 'ftp'" in " ".join(capsys.readouterr().err.split())


@pytest.mark.models
def test_translate_a_file_behind_http_like_the_file(capsys):
    model_path("whisper-tiny.en")
    model_path("qwen2.5-coder-0.5b")
    with serve_dir(CLIP.parent) as base:
        url = base.replace("http://", "http://dave:pw123@") + "/" + CLIP.name
        code = main(["translate", url, "--to", "de", "--no-realtime", "--jsonl", *SMALL])
    out = capsys.readouterr().out
    assert code == 0, out
    events = [json.loads(line) for line in out.splitlines()]
    said = " ".join(e["text"] for e in events if e["type"] == "source_commit").lower()
    assert "quick brown fox" in said and events[-1]["type"] == "end"
    assert any(e["type"] == "target_commit" for e in events)


def test_batch_takes_urls_names_outputs_after_them_and_masks_credentials(tmp_path):
    options = BatchOptions(
        out=tmp_path / "out", targets=("de",), source_lang="en", formats=("srt",)
    )
    url = "https://erin:pw@media.example.org/talks/keynote.mp4?token=abc"
    (job,) = discover_inputs([url], options)
    assert job.path == url and job.plan.stem == "keynote"
    assert "pw" not in job.name and "abc" not in job.name and "keynote.mp4" in job.name


def test_batch_reads_a_finished_file_behind_http_exactly_and_refuses_a_missing_one():
    with serve_dir(CLIP.parent) as base:
        remote = asyncio.run(read_audio(f"{base}/{CLIP.name}"))
        with pytest.raises(AudioInputError, match="404"):
            asyncio.run(read_audio(f"{base}/missing.flac"))
    assert np.array_equal(remote, asyncio.run(read_audio(CLIP)))


def test_live_labels_mask_the_url():
    from rtt.cli import build_parser

    args = build_parser().parse_args(["live", "--to", "de"])
    config = config_from_args(args)
    label = _input_label("rtsp://u:p@cam/stream1", config, live=True)
    assert label == "stream rtsp://***@cam/stream1"
    assert _input_label("https://h/a/talk.mp3", config, live=False) == "file talk (real time)"
    assert _input_label(str(Path("x/talk.wav")), config, live=False) == "file talk.wav (real time)"


def test_timeout_and_reconnect_flags_reach_the_source_config():
    from rtt.cli import build_parser

    args = build_parser().parse_args(
        ["translate", "rtsp://h/x", "--timeout", "3", "--reconnect", "0"]
    )
    source = config_from_args(args).source
    assert (source.timeout, source.reconnect) == (3.0, 0.0)


def test_live_with_a_url_that_never_answers_fails_before_the_tui_starts(capsys):
    with silent_listener() as port:
        url = f"rtsp://frank:pw9@127.0.0.1:{port}/cam"
        assert main(["live", "--input", url, "--to", "de", "--timeout", "1"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "no answer within 1 s" in err and "pw9" not in err and "***@" in err
