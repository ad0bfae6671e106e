#!/usr/bin/env python3
"""Memory soak of `rtt serve` (issue 17): speakers and listeners come and go for an hour.

The server is a real `rtt serve` process started through its CLI (`rtt.cli.main`) on
fake engines (`pipeline/fakes.py`: the real composition, no model loaded), on
127.0.0.1 at a free port with its journal in a temporary folder, so that what grows
is the server's own memory, not a model's. It is driven only through the protocol
(docs/protocol.md) and read only through /proc, /healthz, /metrics and its journal:

- `--rooms` rooms (4) whose speakers join, speak a slice (15-90 s) of a sample from
  audio_samples/ at real time, stop (or, one in six, vanish without `stop`), and
  after a pause of 2-15 s the next one starts;
- a plain stream every 5-20 s (a short slice, at real time);
- `--listeners` listeners (40) spread over the rooms, of five kinds: steady (stay),
  churn (leave after 20-180 s, come back fresh), resume (leave, come back with
  `since` and `journal_epoch`), slow (read a frame every 0.1 s) and idle (read
  nothing for 10-15 s at a time); all in this process's event loop.

Every 5 s the latency of GET /healthz; every 30 s the server's RSS, open file
descriptors and threads (/proc/PID) and its gauges (/metrics). At the end every
listener session's durable seqs are compared with the journal's: a "missed" commit
is one in the journal, on a channel the session joined, after the seq it started
from (its `since`, else `ready.channels`) and before the last one it received
(steady and resume listeners: before the journal's last one), that it never got.

RSS growth = median RSS over the last sixth of the run minus the median over
[T/12, T/4) (for an hour: minutes 50-60 minus minutes 5-15, after warm-up).
The exit status is 1 when the growth exceeds --max-growth-mb or a commit was missed.

    nice -n 19 .venv/bin/python scripts/soak_server.py --minutes 60 --json out/soak.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from pipeline.fakes import fake_model_folders  # noqa: E402

RATE = 16000
FRAME_S = 0.1
DURABLE = ("source_commit", "target_commit", "error", "end")
COMMITS = ("source_commit", "target_commit")
KINDS = ("steady", "churn", "resume", "slow", "idle")
# `rtt serve` through its CLI, with the engine registry's default backends the fakes
LAUNCH = r"""
import collections, sys
from pipeline import engine
from pipeline.fakes import FakeASRBackend, FakeTranslator
_init = engine.EngineRegistry.__init__
def _fake(self, **kw):
    mt = FakeTranslator()
    mt.requests = collections.deque(maxlen=64)  # it keeps every request (for tests): not here
    kw.update(asr_backend=FakeASRBackend, mt_backend=lambda path, **_: mt)
    _init(self, **kw)
engine.EngineRegistry.__init__ = _fake
from rtt.cli import main
sys.exit(main(["serve", *sys.argv[1:]]))
"""


# -- the server process ----------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp: Path, port: int, log: Path) -> subprocess.Popen:
    asr, mt = fake_model_folders(tmp / "models")
    argv = ["--host", "127.0.0.1", "--port", str(port), "--journal", str(tmp / "journal")]
    argv += ["--asr-model", str(asr), "--mt-model", str(mt), "--from", "en"]
    argv += ["--fast-model", "none", "--draft-model", "none", "--speculative", "off"]
    argv += ["--mt-runtime", "ctranslate2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, *argv],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            cwd=ROOT,
        )
    for _ in range(600):
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the server did not start; its log:\n{log.read_text()[-3000:]}")


def proc_stats(pid: int) -> dict:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in status if ":" in line)
    return {
        "rss_mib": round(int(fields["VmRSS"].split()[0]) / 1024, 1),
        "hwm_mib": round(int(fields["VmHWM"].split()[0]) / 1024, 1),
        "threads": int(fields["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


def http_get(port: int, path: str) -> tuple[float, int, str]:
    """(seconds, status, body) of GET `path`."""
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        body = answer.read().decode(errors="replace")
    finally:
        conn.close()
    return time.monotonic() - t0, answer.status, body


def gauges(text: str) -> dict:
    wanted = ("rtt_sessions", "rtt_rooms", "rtt_listeners", "process_resident_memory_bytes")
    out: dict = {}
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in wanted:
            out[name] = out.get(name, 0) + float(line.rsplit(" ", 1)[1])
    return out


# -- audio ---------------------------------------------------------------------------------
def load_samples(folder: Path) -> list[tuple[str, bytes]]:
    """Every sample under 3 minutes (manifest.json), as 16 kHz mono PCM16LE (ffmpeg)."""
    out = []
    items = json.loads((folder / "manifest.json").read_text())["items"]
    for path in [folder / i["audio"] for i in items if i["duration"] < 180]:
        pcm = subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-i",
                str(path),
                "-f",
                "s16le",
                "-ac",
                "1",
                "-ar",
                "16000",
                "-",
            ],
            check=True,
            capture_output=True,
        ).stdout
        out.append((path.stem, pcm))
    return out


def pick(rng: random.Random, samples, low: float, high: float, left: float) -> bytes:
    _, pcm = rng.choice(samples)
    seconds = max(2.0, min(len(pcm) / RATE / 2, rng.uniform(low, high), left))
    start = int(rng.uniform(0, max(0.0, len(pcm) / 2 - seconds * RATE)))
    return pcm[start * 2 : (start + int(seconds * RATE)) * 2]


# -- the clients ------------------------------------------------------------------------------
@dataclass
class Tally:
    errors: Counter = field(default_factory=Counter)
    closes: Counter = field(default_factory=Counter)
    speakers: int = 0
    streams: int = 0
    speaker_commits: int = 0
    stream_commits: int = 0
    sessions: list = field(default_factory=list)


@dataclass
class Session:
    """One listener connection: where each channel started and the durable seqs it got."""

    name: str
    kind: str
    room: str
    start: dict = field(default_factory=dict)
    got: dict = field(default_factory=dict)  # channel -> [seq, ...] of durable frames
    epochs: dict = field(default_factory=dict)
    commits: int = 0
    out_of_order: int = 0
    alive: bool = True

    def take(self, frame: dict) -> None:
        if frame.get("type") not in DURABLE or "seq" not in frame:
            return
        seqs = self.got.setdefault(frame["channel"], [])
        if seqs and frame["seq"] <= seqs[-1]:
            self.out_of_order += 1
        seqs.append(frame["seq"])
        self.epochs[frame["channel"]] = frame.get("journal_epoch")
        self.commits += frame["type"] in COMMITS


async def pace(ws, audio: bytes) -> None:
    """Send `audio` in 0.1 s frames at real time (on a schedule, so it does not drift)."""
    step, t0 = int(FRAME_S * RATE) * 2, time.monotonic()
    for k, i in enumerate(range(0, len(audio), step)):
        await ws.send(audio[i : i + step])
        await asyncio.sleep(max(0.0, t0 + (k + 1) * FRAME_S - time.monotonic()))


async def speak(url: str, address: str, start: dict, audio: bytes, tally: Tally, abrupt=False):
    """One speaker (or plain stream): start, audio at real time, stop; the commits it got back."""
    got = 0
    async with connect(url, local_addr=(address, 0), max_size=None) as ws:
        await ws.send(json.dumps({"type": "start", "rate": RATE, **start}))

        async def read():
            nonlocal got
            with contextlib.suppress(ConnectionClosed):
                async for text in ws:
                    frame = json.loads(text)
                    got += frame.get("type") in COMMITS
                    if frame.get("type") == "error":
                        tally.errors[frame.get("code")] += 1

        reader = asyncio.create_task(read())
        with contextlib.suppress(ConnectionClosed):
            await pace(ws, audio)
            if not abrupt:
                await ws.send(json.dumps({"type": "stop"}))
                await asyncio.wait_for(asyncio.shield(reader), 60)
        reader.cancel()
    tally.closes[f"speaker {'abrupt' if abrupt else ws.close_code}"] += 1
    return got


async def room_speakers(url, room, address, samples, until, tally, rng) -> None:
    while (left := until - time.monotonic()) > 5:
        audio = pick(rng, samples, 15, 90, left)
        start = {"room": room, "targets": ["de"]}
        tally.speaker_commits += await speak(
            url, address, start, audio, tally, abrupt=rng.random() < 1 / 6
        )
        tally.speakers += 1
        await asyncio.sleep(rng.uniform(2, 15))


async def plain_streams(url, address, samples, until, tally, rng) -> None:
    while (left := until - time.monotonic()) > 5:
        audio = pick(rng, samples, 3, 20, left)
        tally.stream_commits += await speak(url, address, {"targets": ["es"]}, audio, tally)
        tally.streams += 1
        await asyncio.sleep(rng.uniform(5, 20))


async def listen_once(url, address, s: Session, join: dict, life: float, rng) -> None:
    queue = 2 if s.kind in ("slow", "idle") else 16
    async with connect(url, local_addr=(address, 0), max_size=None, max_queue=queue) as ws:
        await ws.send(json.dumps(join))
        ready = json.loads(await ws.recv())
        if ready.get("type") != "ready":
            s.alive = False
            raise RuntimeError(ready.get("code", ready.get("type")))
        since, reset = join.get("since", {}), ready.get("reset", [])
        for channel, last in ready["channels"].items():
            s.start[channel] = 0 if channel in reset else since.get(channel, last)
        await read_frames(ws, s, life, rng)


async def read_frames(ws, s: Session, life: float, rng) -> None:
    pause_at = time.monotonic() + rng.uniform(5, 20)
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(life):
                async for text in ws:
                    s.take(json.loads(text))
                    if s.kind == "slow":
                        await asyncio.sleep(0.1)
                    elif s.kind == "idle" and time.monotonic() > pause_at:
                        await asyncio.sleep(rng.uniform(10, 15))
                        pause_at = time.monotonic() + rng.uniform(5, 20)
        s.alive = False
    except ConnectionClosed:
        s.alive = False
        raise


async def listener(url, name, kind, room, address, tally: Tally, rng) -> None:
    """Join, read, leave and come back, until cancelled; each connection a Session."""
    languages = rng.sample(["de", "es", "fr"], rng.randint(0, 2))
    source = not languages or rng.random() < 0.5
    since: dict = {}
    epochs: dict = {}
    while True:
        s = Session(name, kind, room)
        tally.sessions.append(s)
        join = {"type": "join", "room": room, "languages": languages, "source": source}
        if since and kind != "churn":
            join.update(since=dict(since), journal_epoch=dict(epochs))
        life = 1e9 if kind in ("steady", "idle") else rng.uniform(20, 180)
        try:
            await listen_once(url, address, s, join, life, rng)
            tally.closes["listener left"] += 1
        except ConnectionClosed as exc:
            tally.closes[f"listener closed {exc.rcvd.code if exc.rcvd else None}"] += 1
        except (OSError, RuntimeError) as exc:
            tally.errors[f"listener: {exc}"] += 1
        since.update({c: seqs[-1] for c, seqs in s.got.items()})
        epochs.update({c: e for c, e in s.epochs.items() if e})
        await asyncio.sleep(rng.uniform(1, 10))


# -- sampling and the verdict ---------------------------------------------------------------
async def sampler(pid, port, t0, series, health, stop: asyncio.Event, every=30.0) -> None:
    next_sample = next_print = time.monotonic()
    while not stop.is_set():
        took, status, _ = await asyncio.to_thread(http_get, port, "/healthz")
        health.append(
            {"t": round(time.monotonic() - t0, 1), "ms": round(took * 1000, 1), "status": status}
        )
        if time.monotonic() >= next_sample:
            next_sample += every
            row = {"t": round(time.monotonic() - t0, 1), **proc_stats(pid)}
            row.update(gauges((await asyncio.to_thread(http_get, port, "/metrics"))[2]))
            series.append(row)
        if time.monotonic() >= next_print:
            next_print += 60
            last = series[-1]
            print(
                f"[{(time.monotonic() - t0) / 60:5.1f} min] RSS {last['rss_mib']} MiB, fds {last['fds']}, "
                f"threads {last['threads']}, sessions {last.get('rtt_sessions')}, /healthz {health[-1]['ms']} ms",
                flush=True,
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 5.0)


def read_journal(journal: Path) -> tuple[dict, int]:
    """{(room, channel): {seq: type}} of durable frames, and the plain streams' commits."""
    rooms: dict = {}
    for path in (journal / "rooms").glob("*/*.jsonl"):
        frames = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        rooms[(path.parent.name, path.stem)] = {f["seq"]: f["type"] for f in frames if "seq" in f}
    streams = sum(
        json.loads(line)["type"] in COMMITS
        for path in (journal / "streams").glob("*.jsonl")
        for line in path.read_text().splitlines()
        if line.strip()
    )
    return rooms, streams


def misses(sessions: list[Session], rooms: dict) -> tuple[list, list, int]:
    """Commits a session should have had and did not; sessions behind at the end; how many
    (session, durable frame) pairs were checked."""
    missed, behind, checked = [], [], 0
    for s in sessions:
        for channel, start in s.start.items():
            kept = rooms.get((s.room, channel), {})
            got = set(s.got.get(channel, []))
            last = max(got, default=start)
            if s.alive and s.kind in ("steady", "resume") and kept:
                if max(kept) > last:
                    behind.append(
                        {"listener": s.name, "channel": channel, "got": last, "journal": max(kept)}
                    )
            due = [q for q in kept if start < q <= last]
            checked += len(due)
            gap = sorted(q for q in due if q not in got)
            if gap:
                missed.append(
                    {
                        "listener": s.name,
                        "kind": s.kind,
                        "room": s.room,
                        "channel": channel,
                        "start": start,
                        "seqs": gap[:20],
                        "count": len(gap),
                    }
                )
    return missed, behind, checked


def window_growth(series: list[dict], key: str, total: float) -> dict:
    base = [r[key] for r in series if total / 12 <= r["t"] < total / 4]
    end = [r[key] for r in series if r["t"] >= total - total / 6]
    if not base or not end:
        return {"baseline_median": None, "end_median": None, "growth": None}
    b, e = statistics.median(base), statistics.median(end)
    return {"baseline_median": b, "end_median": e, "growth": round(e - b, 1)}


def pct(values: list[float], q: float) -> float | None:
    return round(sorted(values)[min(len(values) - 1, int(q * len(values)))], 1) if values else None


async def soak(args: argparse.Namespace, tmp: Path) -> dict:
    rng = random.Random(args.seed)
    samples = load_samples(ROOT / "audio_samples")
    port, log = free_port(), tmp / "server.log"
    server = start_server(tmp, port, log)
    url = f"ws://127.0.0.1:{port}/ws"
    idle_before = proc_stats(server.pid)  # started, no client yet
    t0 = time.monotonic()
    total = args.minutes * 60
    series: list = []
    health: list = []
    tally = Tally()
    stop = asyncio.Event()
    watcher = asyncio.create_task(sampler(server.pid, port, t0, series, health, stop, args.every))
    rooms = [f"soak-{r}" for r in range(args.rooms)]
    listeners = [
        asyncio.create_task(
            listener(
                url,
                f"l{i}",
                KINDS[i % len(KINDS)],
                rooms[i % len(rooms)],
                f"127.0.0.{100 + i % 100}",
                tally,
                random.Random(rng.random()),
            )
        )
        for i in range(args.listeners)
    ]
    talkers = [
        room_speakers(
            url, room, f"127.0.0.{10 + r}", samples, t0 + total, tally, random.Random(rng.random())
        )
        for r, room in enumerate(rooms)
    ]
    talkers.append(
        plain_streams(url, "127.0.0.30", samples, t0 + total, tally, random.Random(rng.random()))
    )
    await asyncio.gather(*talkers)
    await asyncio.sleep(args.drain)  # the last commits reach every listener
    for task in listeners:
        task.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)
    await asyncio.sleep(1.0)
    stop.set()
    await watcher
    series.append({"t": round(time.monotonic() - t0, 1), "final": True, **proc_stats(server.pid)})
    series.insert(0, {"t": 0.0, "idle_before": True, **idle_before})
    server.send_signal(signal.SIGTERM)
    rc = await asyncio.to_thread(server.wait, 60)
    return verdict(args, tmp, series, health, tally, rc, log.read_text())


def verdict(args, tmp, series, health, tally: Tally, rc: int, log: str) -> dict:
    total = args.minutes * 60
    rooms, stream_commits = read_journal(tmp / "journal")
    missed, behind, checked = misses(tally.sessions, rooms)
    loaded = [r for r in series if not r.get("final") and not r.get("idle_before")]
    growth = window_growth(loaded, "rss_mib", total)
    fds = window_growth(loaded, "fds", total)
    ms = [h["ms"] for h in health]
    report = {
        "config": {k: v for k, v in vars(args).items() if k != "json"},
        "machine": {"cpus": os.cpu_count(), "load_at_end": os.getloadavg()},
        "rss_mib": {
            "start": series[0]["rss_mib"],
            "end": series[-1]["rss_mib"],
            "peak": max(r["hwm_mib"] for r in series),
            **growth,
        },
        "fds": {"start": series[0]["fds"], "end": series[-1]["fds"], **fds},
        "threads": {"start": series[0]["threads"], "end": series[-1]["threads"]},
        "healthz_ms": {
            "n": len(ms),
            "p50": pct(ms, 0.5),
            "p99": pct(ms, 0.99),
            "max": max(ms, default=None),
            "not_200": sum(h["status"] != 200 for h in health),
        },
        "commits": {
            "journal_rooms": sum(
                t in COMMITS for frames in rooms.values() for t in frames.values()
            ),
            "journal_streams": stream_commits,
            "listeners_received": sum(s.commits for s in tally.sessions),
            "speakers_received": tally.speaker_commits,
            "streams_received": tally.stream_commits,
        },
        "sessions": {
            "speakers": tally.speakers,
            "streams": tally.streams,
            "listeners": dict(Counter(s.kind for s in tally.sessions)),
        },
        "out_of_order": sum(s.out_of_order for s in tally.sessions),
        "checked": checked,
        "missed": missed,
        "missed_commits": sum(m["count"] for m in missed),
        "behind_at_end": behind,
        "errors": dict(tally.errors),
        "closes": dict(tally.closes),
        "server": {"exit": rc, "tracebacks": log.count("Traceback"), "log_tail": log[-2000:]},
        "series": series,
        "healthz": health,
    }
    report["pass"] = (
        growth["growth"] is not None
        and growth["growth"] < args.max_growth_mb
        and not missed
        and not behind
        and not report["out_of_order"]
    )
    return report


def summary(r: dict) -> str:
    rss, h, c = r["rss_mib"], r["healthz_ms"], r["commits"]
    return (
        f"RSS idle before the clients {rss['start']} MiB, idle after they all left {rss['end']} MiB, "
        f"peak {rss['peak']}; growth {rss['growth']} MiB "
        f"(median {rss['end_median']} over the last sixth minus {rss['baseline_median']} over [T/12, T/4))\n"
        f"fds idle {r['fds']['start']} -> {r['fds']['end']} (loaded growth {r['fds']['growth']}); threads "
        f"{r['threads']['start']} -> {r['threads']['end']}\n"
        f"/healthz p50 {h['p50']} ms, p99 {h['p99']} ms, max {h['max']} ms ({h['n']} probes, not 200: {h['not_200']})\n"
        f"commits journaled {c['journal_rooms']} in rooms + {c['journal_streams']} in streams; received by "
        f"listeners {c['listeners_received']}, speakers {c['speakers_received']}, streams {c['streams_received']}\n"
        f"sessions {r['sessions']}; durable frames checked {r['checked']}, missed {r['missed_commits']}; behind at the end "
        f"{len(r['behind_at_end'])}; out of order {r['out_of_order']}\n"
        f"errors {r['errors']}; closes {r['closes']}; server exit {r['server']['exit']}, "
        f"tracebacks {r['server']['tracebacks']}\npass: {r['pass']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--minutes", type=float, default=60.0, help="how long speakers keep coming (default: 60)"
    )
    parser.add_argument("--rooms", type=int, default=4, help="rooms with speakers (default: 4)")
    parser.add_argument(
        "--listeners", type=int, default=40, help="listeners over all rooms (default: 40)"
    )
    parser.add_argument(
        "--max-growth-mb", type=float, default=50.0, help="RSS growth limit, MiB (default: 50)"
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=10.0,
        help="seconds listeners stay after the last speaker (10)",
    )
    parser.add_argument(
        "--every", type=float, default=30.0, help="seconds between RSS samples (default: 30)"
    )
    parser.add_argument("--seed", type=int, default=17, help="random seed (default: 17)")
    parser.add_argument("--json", type=Path, help="write the report (with the series) here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rtt-soak-") as tmp:
        report = asyncio.run(soak(args, Path(tmp)))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    print(summary(report))
    for m in report["missed"][:10]:
        print(f"  missed: {m}")
    return 0 if report["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
