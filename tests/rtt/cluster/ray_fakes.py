"""Fake backends that run inside Ray Serve replicas (importable there by module path).

`LangFakeASR` is `FakeASRBackend` with language detection. `KillableTranslator` is
`FakeTranslator` that, once the test arms it (a file), hangs in one call after writing the
name of its replica's actor, so the test kills that replica while the request is in flight.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import ray

from pipeline.asr.backend import LanguageProbs, LanguageRequest
from pipeline.fakes import FakeASRBackend, FakeTranslator
from pipeline.mt.translator import Translation, TranslationRequest

__all__ = ["KillableTranslator", "LangFakeASR"]


class LangFakeASR(FakeASRBackend):
    multilingual = True

    def detect_batch(self, requests: Sequence[LanguageRequest]) -> list[LanguageProbs]:
        return [(("en", 0.9), ("de", 0.1)) for _ in requests]


class KillableTranslator(FakeTranslator):
    def __init__(self, path: Path | None = None, *, control: str = "", **options: object) -> None:
        super().__init__(path, **options)
        self.control = Path(control)

    def translate_batch(self, requests: Sequence[TranslationRequest]) -> list[Translation]:
        if (self.control / "armed").exists():
            try:  # the first call after arming, on any replica, is the one that hangs
                fd = os.open(self.control / "victim", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.write(fd, ray.get_runtime_context().get_actor_name().encode())
                os.close(fd)
                time.sleep(120)  # killed long before this ends
        return super().translate_batch(requests)
