#!/usr/bin/env python3
"""Time one file through the OpenAI-compatible endpoint against `rtt batch` on the same file.

Starts `rtt serve` (loopback, a free port) and waits for its models; sends a
second of silence (which builds the batch path on the loaded engines), then times
one `POST /v1/audio/translations` (the wall time is the file's processing); then times `rtt batch FILE --to LANG --formats txt` (which loads its
models too: its model-load time is measured separately with a 1 s file and
subtracted). Both run the same models with the same settings; writes JSON.

    nice .venv/bin/python scripts/bench_openai.py audio.flac --to de --json out/bench_openai.json
    .venv/bin/python scripts/bench_openai.py clip.flac --to de -- --asr-model whisper-tiny.en \\
        --mt-model qwen2.5-coder-0.5b      # arguments after -- go to both rtt serve and rtt batch
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RTT = [sys.executable, "-m", "rtt.cli"]


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("file", type=Path, help="an audio file (e.g. 60 s of speech)")
    p.add_argument("--to", default="de", help="target language (default: %(default)s)")
    p.add_argument("--json", type=Path, help="write the figures here")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = p.parse_args(argv[:cut])
    args.extra = argv[cut + 1 :]  # model options for both rtt serve and rtt batch
    return args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def multipart(path: Path, fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + path.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def through_endpoint(file: Path, to: str, extra: list[str], tmp: Path) -> dict:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    serve = subprocess.Popen(
        [*RTT, "serve", "--port", str(port), "--journal", str(tmp / "journal"), *extra],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(1200):  # models load before the server listens
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("rtt serve did not answer /healthz within 10 minutes")
        # a first file builds the batch path on the loaded engines (and Silero): not timed
        translate(base, silence(tmp / "warm-up.wav"), to)
        t0 = time.perf_counter()
        text = translate(base, file, to)
        return {"seconds": round(time.perf_counter() - t0, 2), "text": text}
    finally:
        serve.terminate()
        serve.wait(60)


def translate(base: str, file: Path, to: str) -> str:
    body, kind = multipart(file, {"model": "whisper-1", "target_language": to})
    request = urllib.request.Request(
        base + "/v1/audio/translations", data=body, headers={"Content-Type": kind}
    )
    with urllib.request.urlopen(request, timeout=3600) as answer:
        return json.loads(answer.read())["text"]


def batch_seconds(file: Path, to: str, extra: list[str], out: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [*RTT, "batch", str(file), "--to", to, "--formats", "txt", "--out", str(out), *extra]
    t0 = time.perf_counter()
    subprocess.run(command + ["--force"], env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def silence(path: Path, seconds: float = 1.0) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * int(16000 * seconds))
    return path


def main() -> int:
    args = parse()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        endpoint = through_endpoint(args.file, args.to, args.extra, tmp)
        load = batch_seconds(silence(tmp / "one-second.wav"), args.to, args.extra, tmp / "warm")
        total = batch_seconds(args.file, args.to, args.extra, tmp / "out")
    figures = {
        "file": str(args.file),
        "to": args.to,
        "options": args.extra,
        "endpoint_seconds": endpoint["seconds"],
        "batch_seconds_total": round(total, 2),
        "batch_model_load_seconds": round(load, 2),
        "batch_seconds_without_load": round(total - load, 2),
        "endpoint_text": endpoint["text"][:500],
        "note": "wall times on this machine as it was (shared or not); compare in one run",
    }
    text = json.dumps(figures, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
