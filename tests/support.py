"""Shared test fakes: engines, clocks, source commits, and the fake model set-up.

The fake engines that plug into the real composition (the factory's VAD, ASR and
translator stages on a fake `EngineRegistry`) live in `pipeline/fakes.py`, so the
load script can use them too; this module adds what only tests need.
"""

from __future__ import annotations

import asyncio

import numpy as np

from pipeline.events import AudioChunk, SourceCommit, Word
from pipeline.fakes import FakeTranslator, fake_config, fake_registry, voiced
from pipeline.mt.translator import Translation
from pipeline.offline import OfflineResult, SpeechSegment, split_sentences

__all__ = [
    "ArraySource",
    "speech_samples",
    "LONG",
    "sample_result",
    "timed",
    "FakeClock",
    "FakeEngine",
    "FakeTranslator",
    "commit",
    "fake_config",
    "fake_registry",
    "voiced",
]


class FakeEngine:
    """An MT engine answering `name:lang:source` at once, recording its requests.

    `script`: answers to give instead, in order (then the default); a request's forced
    prefix is kept the way a real backend keeps it (the prefix, then the answer's words
    after as many words)."""

    def __init__(self, name: str = "main", script: list[str] | None = None) -> None:
        self.name = name
        self.requests = []
        self.script = list(script or [])

    async def translate(self, request, priority=0):
        self.requests.append(request)
        await asyncio.sleep(0)
        text = f"{self.name}:{request.target_lang}:{request.source}"
        if self.script:
            text = self.script.pop(0)
        if request.prefix and not text.startswith(request.prefix):
            words = request.prefix.split()
            text = " ".join([*words, *text.split()[len(words) :]])
        return Translation(text, tokens=1, steps=1)


class FakeClock:
    """A real-time clock whose time the test sets (`t`); never simulated."""

    simulated = False

    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def now(self) -> float:
        return self.t

    def start(self) -> None:
        pass

    def bind(self, wait_idle) -> None:
        pass

    async def sleep_until(self, t: float) -> None:
        self.t = max(self.t, t)


def commit(text: str, start: float, utterance: int = 1, *, lang: str = "en", stream: str = "s"):
    """A source commit of `text`, one word every 0.3 s from `start`."""
    words = tuple(
        Word(w, start + i * 0.3, start + i * 0.3 + 0.25) for i, w in enumerate(text.split())
    )
    return SourceCommit(
        stream=stream,
        utterance=utterance,
        lang=lang,
        text=text,
        words=words,
        start=words[0].start,
        end=words[-1].end,
    )


# -- a whole-file result (rtt batch) ------------------------------------------------
def timed(
    text: str, start: float = 0.0, step: float = 0.35, pauses: dict[int, float] | None = None
) -> list[Word]:
    """Words of `text`, one every `step` seconds, with extra pauses before given word indices."""
    words, t = [], start
    for i, w in enumerate(text.split()):
        t += (pauses or {}).get(i, 0.0)
        words.append(Word(w, round(t, 3), round(t + step * 0.8, 3)))
        t += step
    return words


LONG = (
    "This year we received more than four hundred proposals from thirty five countries, "
    "and the committee accepted sixty two talks after a long and careful review."
)


def sample_result(stream: str = "talk.wav") -> OfflineResult:
    words = timed(
        "Welcome to the workshop. " + LONG + " Thanks.", start=0.5, pauses={4: 1.5, 30: 2.5}
    )
    segments = (SpeechSegment(0.3, 2.0), SpeechSegment(3.2, 14.0), SpeechSegment(16.0, 17.0))
    sentences = tuple(split_sentences(words, "en", segments, max_pause=2.0))
    german = (
        "Willkommen zum Workshop.",
        "In diesem Jahr haben wir mehr als vierhundert Vorschläge aus fünfunddreißig Ländern erhalten, "
        "und das Komitee hat nach einer langen und sorgfältigen Prüfung zweiundsechzig Vorträge angenommen.",
        "Danke.",
    )
    return OfflineResult(stream, 18.0, "en", segments, sentences, {"de": german})


class ArraySource:
    """A `Source` of 16 kHz samples in 0.1 s chunks, paced by the clock (a file or a microphone)."""

    def __init__(self, samples, stream: str = "s0", chunk: float = 0.1) -> None:
        self.samples = np.asarray(samples, np.float32)
        self.stream, self.step = stream, int(chunk * 16000)
        self.closed = False

    async def chunks(self, clock):
        for i in range(0, len(self.samples), self.step):
            if self.closed:
                return
            chunk = AudioChunk(
                stream=self.stream, start=i / 16000, samples=self.samples[i : i + self.step]
            )
            await clock.sleep_until(chunk.end)
            yield chunk

    async def close(self) -> None:
        self.closed = True


def speech_samples(utterances: int, seconds: float = 2.0, pause: float = 1.0) -> np.ndarray:
    """Float samples: utterances of voiced audio, each followed by silence."""
    one = np.concatenate([voiced(seconds) / 32768.0, np.zeros(int(pause * 16000))])
    return np.tile(one, utterances).astype(np.float32)
