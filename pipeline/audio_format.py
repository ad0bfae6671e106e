"""Constants every part of rtt shares: the stream's audio format and sentence ends."""

from __future__ import annotations

__all__ = ["RATE", "SENTENCE_END"]

RATE = 16000  # samples per second of every stream: mono float32 at 16 kHz
# Punctuation that ends a sentence (Latin and CJK full-width forms).
SENTENCE_END = (".", "!", "?", "…", "。", "！", "？")
