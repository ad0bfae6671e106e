"""The translator seam: requests, results and the backend protocol.

A backend translates a batch of whole source sentences (or sentence prefixes)
in one call, synchronously; the MT engine runs it off the event loop. `draft` is
the previous translation of the same sentence: a plain backend ignores it, a
speculative one verifies it in one forward pass. `prefix` is the part of the
translation already committed (final): every backend forces its output to begin
with it, decoding only what follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .guide import PromptGuide

__all__ = ["Translation", "TranslationRequest", "Translator"]


@dataclass(frozen=True, slots=True)
class TranslationRequest:
    source: str
    source_lang: str
    target_lang: str
    draft: str | None = None
    final: bool | None = (
        None  # the sentence's final translation; None: not known (guess from punctuation)
    )
    guide: PromptGuide | None = None  # glossary terms, context, register (after the static prompt)
    prefix: str | None = None  # committed target words the output must begin with


@dataclass(frozen=True, slots=True)
class Translation:
    text: str
    tokens: int  # target tokens produced
    steps: int  # sequential decoder calls it took


class Translator(Protocol):
    name: str

    def translate_batch(self, requests: Sequence[TranslationRequest]) -> list[Translation]: ...
