"""The event vocabulary: everything that flows through a pipeline.

One small closed set of frozen dataclasses. Times are float seconds on the
stream clock (seconds of audio since the stream began). `emitted` is stamped by
the runner as an event leaves the pipeline; stages never set it.

Public events serialise to JSON with exactly the keys documented in the README
(`to_json` / `from_json`). `AudioChunk` and the control events (`Flush`,
`SetTargets`, `AddTarget`, `SetGlossary`: sent in band with `Pipeline.send()`) are internal:
they never leave a pipeline and have no JSON form.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .audio_format import RATE
from .glossary import Glossary

__all__ = [
    "AddTarget",
    "AudioChunk",
    "CONTROL_EVENTS",
    "Event",
    "End",
    "Error",
    "Flush",
    "PUBLIC_EVENTS",
    "SetGlossary",
    "SetTargets",
    "SourceCommit",
    "SourcePartial",
    "SpeechEnd",
    "SpeechStart",
    "TargetAppend",
    "TargetCommit",
    "TargetPartial",
    "TermUse",
    "Word",
    "from_json",
    "to_json",
]

_EVENT = dict(frozen=True, slots=True, kw_only=True)


@dataclass(frozen=True, slots=True)
class Word:
    """A recognised word with its span on the stream clock.

    `glued`: Whisper wrote it without a leading space, so it continues the word
    before it ("Wi" + "-Fi"); text is assembled by `pipeline.words.join_words`.
    """

    word: str
    start: float
    end: float
    glued: bool = False


@dataclass(frozen=True, slots=True)
class TermUse:
    """Glossary terms a translation was asked to use (their target forms): used or missed."""

    used: tuple[str, ...] = ()
    missed: tuple[str, ...] = ()


@dataclass(**_EVENT)
class AudioChunk:
    """Mono float32 samples at 16 kHz, starting at `start` seconds of the stream.

    Sources emit chunks with utterance 0; the VAD forwards only the chunks that
    belong to speech, numbered with their utterance.
    """

    stream: str
    utterance: int = 0
    emitted: float | None = None
    start: float
    samples: np.ndarray = field(repr=False, compare=False)

    @property
    def end(self) -> float:
        return self.start + len(self.samples) / RATE


@dataclass(**_EVENT)
class Flush:
    """Control: finish what is pending (finalise the utterance) without ending the stream."""

    stream: str
    utterance: int = 0
    emitted: float | None = None


@dataclass(**_EVENT)
class SetTargets:
    """Control: translate into these languages from now on (new ones also get the
    sentences of the current utterance, so their first sentence is whole)."""

    stream: str
    utterance: int = 0
    emitted: float | None = None
    targets: tuple[str, ...]


@dataclass(**_EVENT)
class AddTarget:
    """Control: translate into one more language, like `SetTargets` (no-op if present)."""

    stream: str
    utterance: int = 0
    emitted: float | None = None
    lang: str


@dataclass(**_EVENT)
class SetGlossary:
    """Control: translate with this glossary from the next request on (None: without one)."""

    stream: str
    utterance: int = 0
    emitted: float | None = None
    glossary: Glossary | None = field(compare=False)


CONTROL_EVENTS = (Flush, SetTargets, AddTarget, SetGlossary)


@dataclass(**_EVENT)
class SpeechStart:
    stream: str
    utterance: int
    emitted: float | None = None
    start: float


@dataclass(**_EVENT)
class SpeechEnd:
    stream: str
    utterance: int
    emitted: float | None = None
    end: float


@dataclass(**_EVENT)
class SourcePartial:
    """The whole uncommitted tail of the utterance; replaces the previous partial."""

    stream: str
    utterance: int
    emitted: float | None = None
    lang: str  # "und" while the language is not decided yet (`--from auto`)
    text: str
    language_probability: float | None = None  # of `lang`, when it was detected


@dataclass(**_EVENT)
class SourceCommit:
    """Newly committed words only (append-only)."""

    stream: str
    utterance: int
    emitted: float | None = None
    lang: str
    text: str
    words: tuple[Word, ...]
    start: float
    end: float
    language_probability: float | None = None  # of `lang`, when it was detected


@dataclass(**_EVENT)
class TargetPartial:
    """The whole tentative translation of one sentence; replaces the previous one."""

    stream: str
    utterance: int
    emitted: float | None = None
    lang: str
    sentence: int
    text: str
    terms: TermUse | None = None  # only when glossary terms occur in the sentence


@dataclass(**_EVENT)
class TargetAppend:
    """Newly committed words of an open sentence's translation (append-only, final).

    `offset` is how many words (whitespace-separated) of this sentence's translation
    were committed before these: a reader appends `text` when `offset` equals the words
    it holds and skips a repeat (offset below), so replays are idempotent. The
    sentence's `target_commit` begins with every word appended to it."""

    stream: str
    utterance: int
    emitted: float | None = None
    lang: str
    sentence: int
    text: str
    offset: int = 0


@dataclass(**_EVENT)
class TargetCommit:
    """The final translation of one sentence; `start`/`end` is its source span."""

    stream: str
    utterance: int
    emitted: float | None = None
    lang: str
    sentence: int
    text: str
    start: float
    end: float
    terms: TermUse | None = None  # only when glossary terms occur in the sentence


@dataclass(**_EVENT)
class Error:
    stream: str
    utterance: int = 0
    emitted: float | None = None
    code: str
    message: str


@dataclass(**_EVENT)
class End:
    """The stream is finished; nothing follows it."""

    stream: str
    utterance: int = 0
    emitted: float | None = None


Event = (
    AudioChunk
    | Flush
    | SetTargets
    | AddTarget
    | SetGlossary
    | SpeechStart
    | SpeechEnd
    | SourcePartial
    | SourceCommit
    | TargetPartial
    | TargetAppend
    | TargetCommit
    | Error
    | End
)

PUBLIC_EVENTS: dict[str, type] = {
    "speech_start": SpeechStart,
    "speech_end": SpeechEnd,
    "source_partial": SourcePartial,
    "source_commit": SourceCommit,
    "target_partial": TargetPartial,
    "target_append": TargetAppend,
    "target_commit": TargetCommit,
    "error": Error,
    "end": End,
}
_TYPE_OF = {cls: name for name, cls in PUBLIC_EVENTS.items()}
_FIELDS = {cls: {f.name for f in dataclasses.fields(cls)} for cls in PUBLIC_EVENTS.values()}


def to_json(event: Event) -> dict[str, Any]:
    """The JSON object of a public event: `type` first, then its fields."""
    name = _TYPE_OF.get(type(event))
    if name is None:
        raise TypeError(f"{type(event).__name__} is internal and has no JSON form")
    out: dict[str, Any] = {"type": name}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if f.name == "words":
            value = [_word_json(w) for w in value]
        elif f.name == "terms":
            if value is None:  # omitted without a glossary: old readers see what they saw
                continue
            value = {"used": list(value.used), "missed": list(value.missed)}
        out[f.name] = value
    return out


def _word_json(word: Word) -> dict[str, Any]:
    out: dict[str, Any] = {"word": word.word, "start": word.start, "end": word.end}
    if word.glued:  # only when set: old readers see the same words as before
        out["glued"] = True
    return out


def _word(obj: Any) -> Word:
    if not isinstance(obj, dict):
        raise ValueError("a word must be a JSON object")
    try:
        return Word(obj["word"], obj["start"], obj["end"], bool(obj.get("glued", False)))
    except KeyError as exc:
        raise ValueError(f"a word needs {exc}") from None


def _terms(obj: Any) -> TermUse:
    if not isinstance(obj, dict):
        raise ValueError("terms must be a JSON object with used and missed")
    lists = [obj.get(key, []) for key in ("used", "missed")]
    if not all(isinstance(v, list) and all(isinstance(t, str) for t in v) for v in lists):
        raise ValueError("terms.used and terms.missed must be lists of strings")
    return TermUse(used=tuple(lists[0]), missed=tuple(lists[1]))


def from_json(obj: dict[str, Any]) -> Event | None:
    """Inverse of `to_json`, for any version of the protocol: fields this version does not
    know are ignored, and an event type it does not know gives None (skip it: events only
    grow). Raises ValueError when a field this version needs is missing or malformed."""
    if not isinstance(obj, dict):
        raise ValueError("an event must be a JSON object")
    cls = PUBLIC_EVENTS.get(obj.get("type"))  # type: ignore[arg-type]
    if cls is None:
        return None
    known = _FIELDS[cls]
    kwargs = {k: v for k, v in obj.items() if k in known}
    if "words" in kwargs:
        if not isinstance(kwargs["words"], list):
            raise ValueError("words must be a list")
        kwargs["words"] = tuple(_word(w) for w in kwargs["words"])
    if kwargs.get("terms") is not None:
        kwargs["terms"] = _terms(kwargs["terms"])
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"bad fields for {obj['type']}: {exc}") from None
