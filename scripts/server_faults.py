#!/usr/bin/env python3
"""What `rtt serve` survives, as figures: load, idle sockets, faults, fuzzing (issue 17).

Fake stages (tests/rtt/server/helpers.py: a word per 0.5 s of audio, a fake translator),
so that the server, not a model, is what is measured; loopback only.

1. Load: 1 speaker + N listeners (200), every commit delivered to each, in order.
2. Idle sockets: M sockets (500) from other loopback addresses (127.0.1.x) that never
   start or wait in made-up rooms, while a legitimate speaker and listener work; and
   10 slow `since=0` listeners catching up on a 20 MiB journal (memory, /healthz).
3. Faults, each on a real `rtt serve` process (`_serve` with the fake kit), each with
   "commits lost": commits in the journal that the listener (rtt client's `listen`,
   with its reconnects) did not get, plus commits it got that are not in the journal:
   a full disk (RLIMIT_FSIZE), a torn tail, SIGTERM, SIGKILL, the journal deleted,
   a restart after 65 s (--quick: 3 s, with a shortened backoff).
4. Fuzz (hypothesis): the message parser and the PCM decoder in process, then messages
   on real sockets: no close 1011, no traceback in the server's log.

    nice .venv/bin/python scripts/server_faults.py            # about 2-3 minutes
    .venv/bin/python scripts/server_faults.py --quick          # CI's short form (~30 s)

Not here: the 1-hour memory soak (scripts/soak_server.py; figures in docs/eval/soak.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from server_fuzz import fuzz_in_process, fuzz_on_sockets  # noqa: E402  (scripts/)

from pipeline.fakes import voiced  # noqa: E402
from rtt.client import listen  # noqa: E402
from rtt.render import JsonlView  # noqa: E402
from rtt.server import Limits  # noqa: E402
from rtt.server.listener import Backoff  # noqa: E402
from rtt.server.loopback import (  # noqa: E402
    commits,
    connect_from,
    fake_server,
    listen_until_closed,
    speak_until_closed,
)

COMMITS = ("source_commit", "target_commit")


# -- 1 and 2: in process ------------------------------------------------------------------
async def load(journal: Path, listeners: int) -> bool:
    limits = Limits(max_listeners=listeners + 10, max_sessions=listeners + 50)
    async with fake_server(journal, limits=limits) as srv:
        url = f"ws://127.0.0.1:{srv.port}/ws"
        ready = [asyncio.Event() for _ in range(listeners)]
        tasks = [
            asyncio.create_task(
                listen_until_closed(
                    url, {"room": "fan", "languages": ["de"]}, address="127.0.0.2", ready=ev
                )
            )
            for ev in ready
        ]
        await asyncio.gather(*(e.wait() for e in ready))
        spoken, _ = await speak_until_closed(
            url,
            voiced(10.0).tobytes(),
            start={"room": "fan", "targets": ["de"]},
            address="127.0.0.3",
        )
        await asyncio.sleep(0.5)
        await srv.close()
        heard = [frames for frames, _ in await asyncio.gather(*tasks)]
    want = commits(spoken)
    same = sum(commits(frames) == want for frames in heard)
    print(
        f"  1 speaker + {listeners} listeners: {len(want)} commits each; identical and in order: {same}/{listeners}"
    )
    return same == listeners and len(want) > 0


async def idle_sockets(journal: Path, sockets: int) -> bool:
    async with fake_server(journal) as srv:
        url = f"ws://127.0.0.1:{srv.port}/ws"
        held, refused = [], {}
        for i in range(sockets):
            ws = await connect_from(url, f"127.0.1.{2 + i % 50}").__aenter__()
            if i % 2:
                join = {"type": "join", "room": f"made-up-{i}", "languages": ["de"]}
                await ws.send(json.dumps(join))
            held.append(ws)
        for ws in held[1::2]:
            answer = json.loads(await ws.recv())
            code = answer.get("code", "joined")
            refused[code] = refused.get(code, 0) + 1
        t0 = time.monotonic()
        speaker = asyncio.create_task(
            speak_until_closed(
                url,
                voiced(4.0).tobytes(),
                start={"room": "legit", "targets": ["de"]},
                address="127.0.0.2",
            )
        )
        await asyncio.sleep(0.2)
        listener = Listener(url, "legit", Backoff(0.2, 1.0), since={"source": 0, "de": 0})
        spoken, code = await speaker
        took = time.monotonic() - t0
        await asyncio.wait_for(listener.task, 10)
        await srv.close()
        for ws in held:
            await ws.close()
    heard = {(c, seq, text) for c, _, seq, text in listener.seen()}
    want = {(f["channel"], f["seq"], f["text"]) for f in spoken if f["type"] in COMMITS}
    ok = code == 1000 and heard == want and len(want) > 0
    print(
        f"  {sockets} idle sockets from 50 addresses: {sockets // 2} never start, {sockets // 2} "
        f"join made-up rooms ({refused}); a legit speaker and listener: "
        f"{'ok' if ok else 'FAILED'}, {len(heard)}/{len(want)} commits, done in {took:.1f} s"
    )
    return ok


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


async def catch_up_memory(journal: Path, mib: int, listeners: int) -> bool:
    """`listeners` slow since=0 listeners on a `mib` MiB journal: RSS growth, /healthz latency."""
    path = journal / "rooms" / "big" / "source.jsonl"
    path.parent.mkdir(parents=True)
    pad = "x" * 150
    with path.open("w") as f:
        for seq in range(1, mib * 2**20 // 230 + 1):
            f.write(
                json.dumps({"type": "source_commit", "text": pad, "seq": seq, "channel": "source"})
                + "\n"
            )
    async with fake_server(journal) as srv:
        url = f"ws://127.0.0.1:{srv.port}/ws"
        base, peak, health = rss_mib(), 0.0, []

        async def slow(i: int) -> int:
            got = 0
            async with connect_from(url, f"127.0.2.{i + 2}", max_queue=4) as ws:
                join = {"type": "join", "room": "big", "languages": [], "since": {"source": 0}}
                await ws.send(json.dumps(join))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(6.0):
                        async for _ in ws:
                            got += 1
                            await asyncio.sleep(0.002)
            return got

        tasks = [asyncio.create_task(slow(i)) for i in range(listeners)]
        while not all(t.done() for t in tasks):
            t0 = time.monotonic()
            await asyncio.to_thread(raw_get, srv.port)
            health.append(time.monotonic() - t0)
            peak = max(peak, rss_mib())
            await asyncio.sleep(0.1)
        got = [t.result() for t in tasks]
    growth = peak - base
    print(
        f"  {listeners} slow since=0 listeners on a {mib} MiB journal: RSS +{growth:.0f} MiB "
        f"(server and clients in one process), /healthz worst {max(health) * 1000:.0f} ms, "
        f"frames read {min(got)}-{max(got)} each"
    )
    return growth < 100


def raw_get(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(4096)


# -- 3: faults on a real server process --------------------------------------------------------
SERVE = """
import asyncio, sys
from pathlib import Path
from pipeline.fakes import fake_config, fake_registry
from rtt.server import ServerConfig
from rtt.server_cli import _serve
journal = Path(sys.argv[1])
pipeline = fake_config(journal.parent / "models")
config = ServerConfig(journal=journal, port=int(sys.argv[2]), shutdown_timeout=5.0, pipeline=pipeline)
sys.exit(asyncio.run(_serve(config, fake_registry())))
"""


class ServerProcess:
    def __init__(self, journal: Path, port: int, fsize: int | None = None) -> None:
        self.journal, self.port, self.fsize = journal, port, fsize
        self.url = f"ws://127.0.0.1:{port}/ws"
        self.proc: subprocess.Popen | None = None

    async def start(self) -> None:
        def limit():
            if self.fsize is not None:  # a full disk: writes past this size fail (EFBIG)
                resource.setrlimit(resource.RLIMIT_FSIZE, (self.fsize, self.fsize))

        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(self.journal), str(self.port)],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            env=env,
            preexec_fn=limit,
            cwd=ROOT,
        )
        for _ in range(200):
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("the server did not start")

    def signal(self, sig: int) -> str:
        self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=30)
        return err.decode(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def journal_commits(journal: Path, room: str) -> set:
    out = set()
    for path in (journal / "rooms" / room).glob("*.jsonl"):
        for line in path.read_text().splitlines():
            f = json.loads(line)
            if f["type"] in COMMITS:
                out.add((f["channel"], f.get("journal_epoch"), f["seq"], f["text"]))
    return out


class Listener:
    """rtt client's `listen` (reconnects with since and epochs), its JSONL output kept."""

    def __init__(
        self, url: str, room: str, backoff: Backoff, since: dict | None = None, until_end=True
    ) -> None:
        self.out = io.StringIO()
        join = {"type": "join", "room": room, "languages": ["de"], "source": True}
        self.task = asyncio.create_task(
            listen(
                url,
                join,
                JsonlView(self.out),
                since=since,
                until_end=until_end,
                backoff=backoff,
                say=lambda m: None,
            )
        )

    def seen(self) -> list:
        frames = [json.loads(line) for line in self.out.getvalue().splitlines()]
        return [
            (f["channel"], f.get("journal_epoch"), f["seq"], f["text"])
            for f in frames
            if f["type"] in COMMITS
        ]


def lost(journal: Path, room: str, seen: list) -> tuple[int, int, int]:
    """(in the journal, not seen; seen, not in the journal; seen twice)."""
    kept = journal_commits(journal, room)
    return len(kept - set(seen)), len(set(seen) - kept), len(seen) - len(set(seen))


def report(name: str, journal: Path, room: str, seen: list, extra: str = "") -> bool:
    missing, phantom, twice = lost(journal, room, seen)
    print(
        f"  {name}: commits seen {len(seen)}, commits lost: {missing}, not in the journal: {phantom}, duplicates: {twice}{extra}"
    )
    return missing == phantom == twice == 0 and len(seen) > 0


async def speak(url: str, room: str, seconds: float, **kw):
    return await speak_until_closed(
        url,
        voiced(seconds).tobytes(),
        start={"room": room, "targets": ["de"]},
        address="127.0.0.2",
        **kw,
    )


async def fault_sigterm(journal: Path, backoff: Backoff) -> bool:
    server = ServerProcess(journal, free_port())
    await server.start()
    listener = Listener(server.url, "term", backoff)
    await asyncio.sleep(0.3)
    speaker = asyncio.create_task(speak(server.url, "term", 8.0, speed=2.0, stop=False))
    await asyncio.sleep(2.0)
    t0 = time.monotonic()
    await asyncio.to_thread(server.signal, signal.SIGTERM)
    took = time.monotonic() - t0
    _, code = await speaker
    await asyncio.wait_for(listener.task, 10)
    ends = [
        line
        for line in (journal / "rooms" / "term" / "de.jsonl").read_text().splitlines()
        if '"end"' in line
    ]
    return report(
        "SIGTERM",
        journal,
        "term",
        listener.seen(),
        f" (exit in {took:.1f} s, speaker closed {code}, end journaled on de: {bool(ends)})",
    )


async def fault_kill(journal: Path, backoff: Backoff, down: float, name: str, delete=False) -> bool:
    port = free_port()
    server = ServerProcess(journal, port)
    await server.start()
    listener = Listener(server.url, "kill", backoff)
    await asyncio.sleep(0.3)
    speaker = asyncio.create_task(speak(server.url, "kill", 8.0, speed=2.0, stop=False))
    await asyncio.sleep(2.0)
    await asyncio.to_thread(server.signal, signal.SIGKILL)
    await speaker
    before = journal_commits(journal, "kill")
    if delete:
        shutil.rmtree(journal / "rooms" / "kill")
    await asyncio.sleep(down)
    server = ServerProcess(journal, port)
    await server.start()
    await speak(server.url, "kill", 3.0)
    await asyncio.wait_for(listener.task, 30 + backoff.cap)
    seen = listener.seen()
    await asyncio.to_thread(server.signal, signal.SIGTERM)
    if delete:  # the first journal is gone: count its commits against what was seen before
        missing = len(before - set(seen))
        ok = report(name, journal, "kill", [s for s in seen if s not in before])
        print(f"    (the deleted journal had {len(before)} commits; of those not seen: {missing})")
        return ok and missing == 0
    return report(name, journal, "kill", seen, f" (down {down:g} s)")


async def fault_full_disk(journal: Path, backoff: Backoff) -> bool:
    server = ServerProcess(journal, free_port(), fsize=3000)
    await server.start()
    listener = Listener(server.url, "full", backoff)
    await asyncio.sleep(0.3)
    spoken, code = await speak(server.url, "full", 12.0)
    errors = [f["code"] for f in spoken if f["type"] == "error"]
    await asyncio.wait_for(listener.task, 10)
    _, other = await speak(server.url, "other", 1.0)
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = s.recv(4096).decode(errors="replace")
    health = answer.split("\r\n")[0].split(" ", 1)[1] + (
        ", names the failure" if "File too large" in answer else ""
    )
    err = await asyncio.to_thread(server.signal, signal.SIGTERM)
    clean = "Traceback" not in err
    return (
        report(
            "full disk (RLIMIT_FSIZE 3000 B)",
            journal,
            "full",
            listener.seen(),
            f" (speaker: {set(errors)}, close {code}; another room after it: close {other}; /healthz {health}; shutdown without traceback: {clean})",
        )
        and clean
    )


async def fault_torn_tail(journal: Path, backoff: Backoff) -> bool:
    server = ServerProcess(journal, free_port())
    await server.start()
    await speak(server.url, "torn", 2.0)
    await asyncio.to_thread(server.signal, signal.SIGKILL)
    with (journal / "rooms" / "torn" / "de.jsonl").open("ab") as f:
        f.write(b'{"type": "target_commit", "text": "Gr' + "ü".encode()[:1])
    server = ServerProcess(journal, server.port)
    await server.start()
    listener = Listener(server.url, "torn", backoff, since={"source": 0, "de": 0}, until_end=False)
    await asyncio.sleep(0.3)
    await speak(server.url, "torn", 2.0)
    await asyncio.sleep(1.0)  # the replay and the live stream are in
    listener.task.cancel()
    await asyncio.to_thread(server.signal, signal.SIGTERM)
    return report("torn tail (cut inside a UTF-8 character)", journal, "torn", listener.seen())


async def main(args: argparse.Namespace) -> bool:
    quick = args.quick
    backoff = Backoff(base=0.2, cap=1.0) if quick else Backoff()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print("load:")
        results.append(await load(tmp / "load", 20 if quick else 200))
        print("idle sockets:")
        results.append(await idle_sockets(tmp / "idle", 50 if quick else 500))
        print("catch-up memory:")
        results.append(await catch_up_memory(tmp / "big", 2 if quick else 20, 10))
        print("faults:")
        results.append(await fault_full_disk(tmp / "full", backoff))
        results.append(await fault_torn_tail(tmp / "torn", backoff))
        results.append(await fault_sigterm(tmp / "term", backoff))
        results.append(await fault_kill(tmp / "kill", backoff, 0.5, "SIGKILL"))
        results.append(await fault_kill(tmp / "del", backoff, 0.5, "journal deleted", delete=True))
        down = 3.0 if quick else 65.0
        results.append(await fault_kill(tmp / "long", backoff, down, f"restart after {down:g} s"))
        print("fuzz:")
        results.append(await asyncio.to_thread(fuzz_in_process, 500 if quick else 5000))
        results.append(await fuzz_on_sockets(tmp / "fuzz", 60 if quick else 400))
    print(f"all survived: {all(results)}")
    return all(results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="CI's short form: fewer sockets, cases, a 3 s restart"
    )
    sys.exit(0 if asyncio.run(main(parser.parse_args())) else 1)
