"""What /v1/audio answers, in the shapes the OpenAI API documents (pure: no I/O).

`json` is `{"text"}`; `verbose_json` adds `task`, `language` (its English name in
lower case, as OpenAI writes it), `duration`, `segments` (one per sentence) and,
when asked with `timestamp_granularities[]=word`, `words`; `text`, `srt` and `vtt`
are plain text. Whisper's per-segment scores (`avg_logprob`, `compression_ratio`,
`no_speech_prob`, `tokens`) are not kept by the batch path: they are present with
neutral values (0, 1, 0, []) so strict parsers accept the segments.

Extension: with several target languages, `json`/`verbose_json` carry
`translations: {lang: text}` and `text` is the first target's.
Errors are `{"error": {"message", "type", "param", "code"}}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.languages import LANGUAGES
from pipeline.offline import OfflineResult, SubtitleLimits, source_cues, target_cues
from pipeline.offline.subtitles import subtitle_text

__all__ = ["FORMATS", "ApiError", "Rendered", "error_body", "render"]

FORMATS = ("json", "text", "srt", "vtt", "verbose_json")


class ApiError(Exception):
    """A request the API refuses: its HTTP status and OpenAI-style error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",  # noqa: A002 - OpenAI's field name
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.retry_after = retry_after

    def body(self) -> dict:
        return error_body(self.message, self.type, self.code, self.param)


def error_body(message: str, type: str, code: str | None = None, param: str | None = None) -> dict:  # noqa: A002
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


@dataclass(frozen=True, slots=True)
class Rendered:
    body: str | dict
    media_type: str


def render(
    result: OfflineResult,
    *,
    task: str,  # "transcribe" or "translate"
    fmt: str,
    targets: Sequence[str] = (),
    words: bool = False,
    limits: SubtitleLimits | None = None,
) -> Rendered:
    """The answer for one file: the transcript (`targets` empty) or its translations."""
    limits = limits or SubtitleLimits()
    lang = targets[0] if targets else result.language
    texts = _texts(result, lang)
    text = " ".join(t for t in texts if t).strip()
    if fmt == "text":
        return Rendered(text + "\n", "text/plain; charset=utf-8")
    if fmt in ("srt", "vtt"):
        if lang == result.language:
            cues = source_cues(result.sentences, limits, result.duration)
        else:
            cues = target_cues(result.sentences, texts, limits, result.duration)
        media = "application/x-subrip" if fmt == "srt" else "text/vtt"
        return Rendered(subtitle_text(cues, fmt), f"{media}; charset=utf-8")
    body: dict = {"text": text}
    if fmt == "verbose_json":
        body = {
            "task": task,
            "language": LANGUAGES.get(lang, lang).lower(),
            "duration": round(result.duration, 3),
            "text": text,
            "segments": _segments(result, texts),
        }
        if words and task == "transcribe":
            body["words"] = [
                {"word": w.word, "start": w.start, "end": w.end}
                for s in result.sentences
                for w in s.words
            ]
        body["usage"] = {"type": "duration", "seconds": round(result.duration)}
    if len(targets) > 1:
        body["translations"] = {t: " ".join(x for x in _texts(result, t) if x) for t in targets}
    return Rendered(body, "application/json")


def _texts(result: OfflineResult, lang: str) -> tuple[str, ...]:
    if lang == result.language and lang not in result.translations:
        return tuple(s.text for s in result.sentences)
    return tuple(result.translations[lang])


def _segments(result: OfflineResult, texts: Sequence[str]) -> list[dict]:
    return [
        {
            "id": i,
            "seek": 0,
            "start": s.start,
            "end": s.end,
            "text": text,
            "tokens": [],
            "temperature": 0.0,
            "avg_logprob": 0.0,
            "compression_ratio": 1.0,
            "no_speech_prob": 0.0,
        }
        for i, (s, text) in enumerate(zip(result.sentences, texts))
    ]
