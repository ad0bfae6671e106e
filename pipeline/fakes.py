"""Fake engines for tests, load tests and demos where the model is not the point.

They plug in where the real backends do (`EngineRegistry(asr_backend=...,
mt_backend=...)`), so every front end's real composition (`pipeline.factory`:
VAD, streaming ASR, the translator; the shared batching engines) runs unchanged
on them, and no model is loaded:

- `FakeASRBackend` hears one word per half second of audio in the buffer
  (`w1 w2 w3 w4.`: every fourth word ends a sentence), on the offline path one
  per half second of each window, in the language asked for;
- `FakeTranslator` "translates" by prefixing the target language (keeping a
  request's forced prefix, as real backends do), and can hold
  every call until released (a slow model, without wall-clock sleeps);
- `fake_model_folders()` makes model folders the factory resolves like real ones;
- `voiced()` is audio the VAD takes for speech (a harmonic tone, not a sine).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .asr.backend import ASRRequest, ASRResult, ClipsRequest, LanguageProbs, LanguageRequest
from .audio_format import RATE
from .config import ASRConfig, MTConfig, PipelineConfig
from .engine import EngineRegistry
from .events import Word
from .mt.translator import Translation, TranslationRequest

__all__ = [
    "FakeASRBackend",
    "FakeTranslator",
    "fake_config",
    "fake_model_folders",
    "fake_registry",
    "voiced",
]

WORD_SECONDS = 0.5


class FakeASRBackend:
    name = "fake-asr"
    multilingual = True

    def __init__(self, path: Path | None = None, **_: object) -> None:
        self.calls = 0

    def detect_batch(self, requests: Sequence[LanguageRequest]) -> list[LanguageProbs]:
        return [(("en", 1.0),) for _ in requests]

    def transcribe_clips(self, request: ClipsRequest) -> list[Word]:
        self.calls += 1
        words = []
        for start, end in request.clips:
            count = int((end - start) / WORD_SECONDS + 1e-6)
            words += [
                Word(
                    f"w{k}" + ("." if k % 4 == 0 else ""),
                    start + (k - 1) * WORD_SECONDS,
                    start + k * WORD_SECONDS,
                )
                for k in range(1, count + 1)
            ]
        return words

    @staticmethod
    def count_tokens(text: str) -> int:
        return len(text.split())

    def transcribe_batch(self, requests: Sequence[ASRRequest]) -> list[ASRResult]:
        self.calls += len(requests)
        return [self._one(r) for r in requests]

    @staticmethod
    def _one(request: ASRRequest) -> ASRResult:
        count = int(len(request.audio) / RATE / WORD_SECONDS + 1e-6)
        words = tuple(
            Word(f"w{k}" + ("." if k % 4 == 0 else ""), (k - 1) * WORD_SECONDS, k * WORD_SECONDS)
            for k in range(1, count + 1)
        )
        return ASRResult(words, request.language or "en")


class FakeTranslator:
    """A `Translator`: `[de] source text`. `hold()` makes every call wait for `release()`."""

    name = "fake-mt"

    def __init__(
        self, path: Path | None = None, *, fail_for: str | None = None, **_: object
    ) -> None:
        self.fail_for = fail_for  # a target language whose requests fail (a model that breaks)
        self.requests: list[TranslationRequest] = []
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def translate_batch(self, requests: Sequence[TranslationRequest]) -> list[Translation]:
        with self._lock:
            self.requests.extend(requests)
        if not self._open.wait(timeout=60):
            raise TimeoutError("FakeTranslator was held for a minute and never released")
        if any(r.target_lang == self.fail_for for r in requests):
            raise RuntimeError("the model fell over")
        return [Translation(_forced(r, f"[{r.target_lang}] {r.source}"), 1, 1) for r in requests]

    def close(self) -> None:
        self.release()


def _forced(request: TranslationRequest, text: str) -> str:
    """`text`, made to begin with the request's forced prefix as a real backend does: the
    prefix, then the words of `text` after as many words."""
    if not request.source.strip():
        return ""
    if not request.prefix or text.startswith(request.prefix):
        return text
    words = request.prefix.split()
    return " ".join([*words, *text.split()[len(words) :]])


def fake_registry(translator: FakeTranslator | None = None) -> EngineRegistry:
    """An engine registry whose models are fakes (one shared `translator` if given)."""
    mt = translator or FakeTranslator()
    return EngineRegistry(asr_backend=FakeASRBackend, mt_backend=lambda path, **kw: mt)


def fake_config(root: Path, config: PipelineConfig | None = None) -> PipelineConfig:
    """`config` on fake model folders under `root` (no fast or draft model, no speculation, no fit)."""
    config = config or PipelineConfig()
    asr, mt = fake_model_folders(root)
    return dataclasses.replace(
        config,
        asr=dataclasses.replace(config.asr or ASRConfig(), model=str(asr), language="en"),
        mt=dataclasses.replace(
            config.mt or MTConfig(),
            model=str(mt),
            fast_model=None,
            draft_model=None,
            speculative="off",
            fit="off",
        ),
    )


def fake_model_folders(root: Path) -> tuple[Path, Path]:
    """(asr, mt) folders that resolve like installed CTranslate2 models (no weights)."""
    folders = []
    for name, family in (("fake-whisper", "whisper"), ("fake-llm", "chatml")):
        folder = Path(root) / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.bin").write_bytes(b"")
        (folder / "config.json").write_text("{}")
        (folder / "rtt-model.json").write_text(json.dumps({"family": family}))
        folders.append(folder)
    return folders[0], folders[1]


def voiced(seconds: float, rate: int = RATE, *, f0: float = 130.0) -> np.ndarray:
    """A voiced tone (harmonics of `f0`, syllable-rate loudness): speech to a VAD. int16."""
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 25))
    tone = tone * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    peak = float(np.abs(tone).max()) if len(t) else 1.0
    return (tone / (peak or 1.0) * 8000).astype("<i2")
