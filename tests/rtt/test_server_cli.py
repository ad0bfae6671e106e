"""`rtt serve` and `rtt client` from the command line: clear errors, and the client against a live server."""

from __future__ import annotations

import asyncio
import json

from rtt.cli import main
from rtt.corpus import corpus_item
from tests.rtt.server.helpers import running_server


def test_serve_off_loopback_needs_a_token(capsys, monkeypatch):
    monkeypatch.delenv("RTT_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--asr-model", "whisper-tiny.en"]) == 2
    assert "needs a token" in capsys.readouterr().err


def test_serve_api_limits_from_flags(capsys, tmp_path):
    from rtt.cli import build_parser
    from rtt.server_cli import server_config_from_args

    flags = ["--journal", str(tmp_path), "--file-jobs", "2", "--key-streams", "3"]
    args = build_parser().parse_args(["serve", *flags, "--key-audio-per-hour", "600"])
    api = server_config_from_args(args).api
    assert (api.file_jobs, api.streams, api.audio_per_hour) == (2, 3, 600.0)
    assert main(["serve", "--journal", str(tmp_path), "--file-jobs", "0"]) == 2
    assert "--file-jobs" in capsys.readouterr().err


def test_client_usage_errors(capsys):
    assert main(["client", "--listen", "--to", "de"]) == 2
    assert "--listen needs --room" in capsys.readouterr().err
    assert main(["client", "--to", "de"]) == 2
    assert "give an INPUT" in capsys.readouterr().err
    assert main(["client", "--listen", "--room", "r", "--to", "de,es", "--since", "3"]) == 2


async def test_client_cannot_connect(capsys):
    assert (
        await asyncio.to_thread(
            main, ["client", "--listen", "--room", "r", "--url", "ws://127.0.0.1:1/ws"]
        )
        == 2
    )


async def test_client_speaks_a_file_and_listens(tmp_path, capsys):
    async with running_server(tmp_path) as server:
        listener = asyncio.to_thread(
            main,
            ["client", "--listen", "--room", "cli", "--to", "es", "--jsonl", "--url", server.url],
        )
        listener = asyncio.ensure_future(listener)
        await asyncio.sleep(0.5)
        audio = str(corpus_item("short-workshop-en").audio)
        speaker = [
            "client",
            audio,
            "--room",
            "cli",
            "--to",
            "es",
            "--jsonl",
            "--speed",
            "4",
            "--url",
            server.url,
        ]
        assert await asyncio.to_thread(main, speaker) == 0
        assert await asyncio.wait_for(listener, 20) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    spoken_es = [f for f in lines if f["type"] == "target_commit"]
    # the speaker and the listener both printed the same Spanish commits: each one twice
    assert len(spoken_es) >= 2
    assert sorted((f["seq"], f["text"]) for f in spoken_es) == sorted(
        2 * list({(f["seq"], f["text"]) for f in spoken_es})
    )
