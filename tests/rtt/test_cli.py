"""The command line: help, and bad input that must give a clear error, not a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pipeline import calibration
from pipeline.fit import Rates
from rtt.cli import main
from tests.conftest import ROOT, model_path

SHORT = ROOT / "audio_samples" / "short-workshop-en.flac"
SMALL = [
    "--asr-model",
    "whisper-tiny.en",
    "--mt-model",
    "qwen2.5-coder-0.5b",
    "--fast-model",
    "none",
    "--from",
    "en",
    "--fit",
    "off",  # tests never depend on this machine's calibration
]


def test_help_explains_every_command(capsys):
    for argv in (["--help"], ["translate", "--help"], ["models", "--help"], ["devices", "--help"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--no-realtime" in out and "--compute-type" in out and "default" in out


def test_corrupt_file_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "talk.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + os.urandom(2000))
    assert main(["translate", str(bad), "--to", "de"]) == 2
    err = capsys.readouterr().err
    assert "cannot read audio from" in err and "Traceback" not in err


def test_unsupported_format_is_a_clear_error(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("this is not audio\n" * 50)
    assert main(["translate", str(text), "--to", "de"]) == 2
    assert "cannot read audio from" in capsys.readouterr().err


def test_missing_file_and_bad_language(capsys):
    assert main(["translate", "/nonexistent/talk.mp3", "--to", "de"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["translate", str(SHORT), "--to", "xx"]) == 2
    assert "unsupported language 'xx'" in capsys.readouterr().err


def test_missing_model_names_the_fetch_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RTT_CACHE", str(tmp_path))
    assert main(["translate", str(SHORT), "--to", "de"]) == 2
    err = capsys.readouterr().err
    assert "rtt models fetch whisper-base" in err and "Traceback" not in err


@pytest.mark.models
def test_odd_length_pcm_on_stdin_reports_and_keeps_what_was_read():
    model_path("whisper-tiny.en")
    model_path("qwen2.5-coder-0.5b")
    import av
    import numpy as np

    with av.open(str(SHORT)) as container:
        pcm = b"".join(
            frame.to_ndarray().astype(np.int16).tobytes() for frame in container.decode(audio=0)
        )
    proc = subprocess.run(
        [sys.executable, "-m", "rtt.cli", "translate", "-", "--to", "de", "--jsonl", *SMALL],
        input=pcm[: 16000 * 2 * 5] + b"\x01",  # 5 s of speech and one stray byte
        capture_output=True,
        timeout=300,
        cwd=ROOT,
    )
    events = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert proc.returncode == 1, proc.stderr.decode()
    errors = [e for e in events if e["type"] == "error"]
    assert len(errors) == 1 and errors[0]["code"] == "bad_audio" and "byte" in errors[0]["message"]
    assert any(
        e["type"] == "source_commit" for e in events
    )  # the complete samples were still transcribed
    assert events[-1]["type"] == "end"
    assert b"Traceback" not in proc.stderr
    assert b"MT runtime: " in proc.stderr  # the start-up line says which runtime translates


@pytest.mark.models
def test_translate_says_the_fit_it_chose_at_start(capsys, monkeypatch, tmp_path):
    model_path("whisper-tiny.en")
    model_path("qwen2.5-coder-0.5b")
    measured = []

    def measure(source, config):
        measured.append(source)
        return Rates(decode=30.0, prefill=300.0)

    monkeypatch.setattr(calibration, "measure_rates", measure)
    monkeypatch.setattr(calibration, "cache_root", lambda: tmp_path)
    clip = ROOT / "audio_samples" / "clip-en-quick-brown-fox.flac"
    argv = ["translate", str(clip), "--to", "de", "--no-realtime", "--jsonl"]
    assert main([*argv, *SMALL[:-2], "--fit", "auto"]) == 0
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert "MT runtime: " in err and "calibrating qwen2.5-coder-0.5b" in err
    assert "fit: finals qwen2.5-coder-0.5b (30.0 tok/s ≥ " in err
    assert len(measured) == 1 and list(tmp_path.glob("calibration/*.json"))
    assert main([*argv, *SMALL]) == 0  # --fit off: the configured models, nothing measured
    assert "fit: off (the configured models)" in " ".join(capsys.readouterr().err.split())
    assert len(measured) == 1
