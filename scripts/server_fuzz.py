"""Fuzzing `rtt serve` (part 4 of scripts/server_faults.py): the message parser and the PCM
path in process (hypothesis), then hostile messages on real sockets: no 1011, no traceback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path

from websockets.asyncio.client import connect

from rtt.server.loopback import fake_server

__all__ = ["fuzz_in_process", "fuzz_on_sockets"]


def fuzz_in_process(cases: int) -> bool:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from rtt.server.protocol import AudioDecoder, ProtocolError, parse_message

    keys = [
        "type",
        "version",
        "targets",
        "source_lang",
        "rate",
        "encoding",
        "channels",
        "room",
        "vad",
        "partials",
        "receive",
        "languages",
        "source",
        "since",
        "journal_epoch",
    ]
    values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    )
    message = st.fixed_dictionaries(
        {"type": st.sampled_from(["start", "stop", "join", "x"])},
        optional={k: values for k in keys if k != "type"},
    ).map(json.dumps)
    texts = message | st.text(max_size=200) | st.integers(1, 5000).map(lambda n: "[" * n)
    count = {"text": 0, "pcm": 0}
    quiet = settings(
        max_examples=cases, database=None, deadline=None, suppress_health_check=list(HealthCheck)
    )

    @quiet
    @given(texts)
    def parser(text):
        count["text"] += 1
        with contextlib.suppress(ProtocolError):
            parse_message(text)

    @quiet
    @given(
        st.sampled_from([8000, 16000, 44100, 48000]), st.lists(st.binary(max_size=4000), max_size=5)
    )
    def pcm_path(rate, frames):
        count["pcm"] += 1
        decoder = AudioDecoder(rate)
        for data in frames:
            with contextlib.suppress(ProtocolError):
                decoder.decode(data)
        decoder.flush()

    parser()
    pcm_path()
    print(f"  parser: {count['text']} cases, PCM path: {count['pcm']} cases: only protocol errors")
    return True


async def fuzz_on_sockets(journal: Path, cases: int) -> bool:
    import random

    rng = random.Random(17)
    tracebacks = []
    handler = logging.Handler()
    handler.emit = lambda record: record.exc_info and tracebacks.append(record.getMessage())
    logging.getLogger("rtt.server").addHandler(handler)
    pieces = [
        '{"type": "start"',
        '{"type": "join", "room": "r"',
        '"since": {"source": -1}',
        '"targets": [[]]',
        '"rate": 1e400',
        '"room": "a\\n"',
        '"languages": "de"',
        "[" * 3000,
        '"version": 2',
        "}",
        ",",
    ]
    codes: dict[int, int] = {}
    async with fake_server(journal) as srv:
        url = f"ws://127.0.0.1:{srv.port}/ws"
        for i in range(cases):
            text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 5)))
            async with connect(url) as ws:
                if i % 3 == 0:
                    await ws.send(json.dumps({"type": "start", "targets": []}))
                    await ws.recv()
                    await ws.send(rng.randbytes(rng.randint(0, 3000)))
                with contextlib.suppress(Exception):
                    await ws.send(text)
                    async with asyncio.timeout(2):
                        async for _ in ws:
                            pass
            codes[ws.close_code] = codes.get(ws.close_code, 0) + 1
    logging.getLogger("rtt.server").removeHandler(handler)
    print(
        f"  {cases} hostile messages on sockets: close codes {dict(sorted(codes.items(), key=str))}; 1011: {codes.get(1011, 0)}; tracebacks: {len(tracebacks)}"
    )
    return not codes.get(1011) and not tracebacks
