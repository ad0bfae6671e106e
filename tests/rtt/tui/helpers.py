"""Test doubles for the live TUI: a scripted session, fake events, a fake microphone stream.

(No tests here; the module name only keeps it among the TUI's test files.)
"""

from __future__ import annotations

import asyncio
import threading
import types
from collections.abc import AsyncIterator, Sequence

import numpy as np

from pipeline.events import (
    Event,
    SourceCommit,
    SourcePartial,
    SpeechEnd,
    SpeechStart,
    TargetCommit,
    TargetPartial,
    Word,
)
from rtt.tui.session import LiveStats

__all__ = ["FakeMicStream", "ScriptedSession", "fake_talk", "wait_for"]

STATS = LiveStats(
    models="whisper-tiny.en → qwen2.5-coder-0.5b",
    device="cpu int8",
    input="file talk.flac (real time)",
    level=-18.0,
    speech=True,
    ttf_p50=1.24,
    ttf_p90=2.61,
    lag=1.8,
    rtf=0.42,
    audio_seconds=21.0,
)


class ScriptedSession:
    """Plays a fixed list of events; then holds (a stream still running) unless `end`."""

    starting = "loading models…"

    def __init__(
        self,
        events: Sequence[Event],
        stats: LiveStats = STATS,
        *,
        live: bool = False,
        end: bool = False,
        fail: BaseException | None = None,
    ) -> None:
        self.script, self._stats, self.live, self.end, self.fail = (
            list(events),
            stats,
            live,
            end,
            fail,
        )
        self.ready = False
        self.paused = False
        self.targets_set: list[tuple[str, ...]] = []
        self.switched: list[str] = []
        self.devices_used: list[str] = []
        self.closed = False
        self.glossary_file = None  # what `g` reloads
        self.glossaries: list = []

    async def events(self) -> AsyncIterator[Event]:
        if self.fail is not None:
            raise self.fail
        self.ready = True
        for event in self.script:
            yield event
        if not self.end:
            await asyncio.Event().wait()

    def stats(self) -> LiveStats:
        import dataclasses

        return dataclasses.replace(self._stats, paused=self.paused)

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def set_targets(self, targets: tuple[str, ...]) -> None:
        self.targets_set.append(targets)

    async def switch_source(self, source, label: str) -> None:
        self.switched.append(label)

    def use_device(self, spec: str, label: str) -> None:
        self.devices_used.append(spec)
        self.fail = None

    def reload_glossary(self):
        from pipeline.glossary import load_glossary

        if self.glossary_file is None:
            from pipeline.errors import ConfigError

            raise ConfigError("no glossary file configured: start with --glossary FILE")
        self.glossaries.append(load_glossary(self.glossary_file))
        return self.glossaries[-1]

    def end_input(self) -> None:
        pass

    async def close(self) -> None:
        self.closed = True


def _commit(utterance: int, text: str, start: float, end: float, t: float) -> SourceCommit:
    words = text.split()
    step = (end - start) / len(words)
    spans = tuple(Word(w, start + i * step, start + (i + 1) * step) for i, w in enumerate(words))
    return SourceCommit(
        stream="s0",
        utterance=utterance,
        emitted=t,
        lang="en",
        text=text,
        words=spans,
        start=start,
        end=end,
    )


def fake_talk(targets: Sequence[str] = ("de", "es"), *, tentative: bool = True) -> list[Event]:
    """Two utterances of a conference opening: the first final, the second still in progress."""
    german = {
        0: "Guten Morgen zusammen und willkommen zum zwölften Open Tools Summit in Lissabon.",
        1: "Mein Name ist Maria Santos,",
    }
    spanish = {
        0: "Buenos días a todos y bienvenidos al duodécimo Open Tools Summit en Lisboa.",
        1: "Me llamo Maria Santos,",
    }
    texts = {"de": german, "es": spanish}
    events: list[Event] = [
        SpeechStart(stream="s0", utterance=1, emitted=0.6, start=0.5),
        _commit(1, "Good morning, everyone, and welcome", 0.5, 2.4, 3.1),
        _commit(1, "to the 12th Open Tools Summit here in Lisbon.", 2.4, 4.9, 5.6),
        SpeechEnd(stream="s0", utterance=1, emitted=5.5, end=4.92),
    ]
    for lang in targets:
        events.append(
            TargetCommit(
                stream="s0",
                utterance=1,
                emitted=6.4,
                lang=lang,
                sentence=0,
                text=texts[lang][0],
                start=0.5,
                end=4.9,
            )
        )
    events += [
        SpeechStart(stream="s0", utterance=2, emitted=6.1, start=6.0),
        _commit(2, "My name is Maria Santos,", 6.0, 7.9, 8.6),
    ]
    if tentative:
        events.append(
            SourcePartial(
                stream="s0",
                utterance=2,
                emitted=9.0,
                lang="en",
                text="and I chair this year's program",
            )
        )
        for lang in targets:
            events.append(
                TargetPartial(
                    stream="s0",
                    utterance=2,
                    emitted=9.4,
                    lang=lang,
                    sentence=1,
                    text=texts[lang][1],
                )
            )
    return events


async def wait_for(pilot, condition, timeout: float = 60.0, step: float = 0.05) -> None:
    """Let the app run until `condition()` holds (or fail after `timeout` seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(step)


class FakeMicStream:
    """Plays samples into MicSource's callback from its own thread, like PortAudio."""

    def __init__(
        self,
        samples: np.ndarray,
        callback,
        *,
        samplerate: float = 16000,
        block: int = 1600,
        pace: float = 0.0,
    ) -> None:
        self.samplerate, self.channels = samplerate, 1
        self.samples, self.callback, self.block, self.pace = samples, callback, block, pace
        self.active = True
        self.stopped = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        for i in range(0, len(self.samples), self.block):
            if self.stopped.is_set():
                return
            block = self.samples[i : i + self.block].reshape(-1, 1).astype(np.float32)
            self.callback(block, len(block), None, types.SimpleNamespace(input_overflow=False))
            if self.pace:
                self.stopped.wait(self.pace)

    def stop(self) -> None:
        self.stopped.set()

    def close(self) -> None:
        self.stopped.set()
