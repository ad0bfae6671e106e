import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.events import (
    AudioChunk,
    End,
    Error,
    SourceCommit,
    SourcePartial,
    SpeechEnd,
    SpeechStart,
    TargetCommit,
    TargetPartial,
    Word,
    from_json,
    to_json,
)

EXAMPLES = [
    SpeechStart(stream="s", utterance=1, start=0.5, emitted=0.6),
    SpeechEnd(stream="s", utterance=1, end=3.25, emitted=3.9),
    SourcePartial(stream="s", utterance=1, lang="en", text="good mor", emitted=1.0),
    SourceCommit(
        stream="s",
        utterance=1,
        lang="en",
        text="Good morning",
        words=(Word("Good", 0.5, 0.8), Word("morning", 0.8, 1.2)),
        start=0.5,
        end=1.2,
        emitted=2.0,
    ),
    TargetPartial(stream="s", utterance=1, lang="de", sentence=0, text="Guten", emitted=2.5),
    TargetCommit(
        stream="s",
        utterance=1,
        lang="de",
        sentence=0,
        text="Guten Morgen.",
        start=0.5,
        end=1.2,
        emitted=4.0,
    ),
    Error(stream="s", code="bad_audio", message="cannot read", emitted=0.0),
    End(stream="s", emitted=9.0),
]


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: type(e).__name__)
def test_json_round_trip(event):
    obj = json.loads(json.dumps(to_json(event)))
    assert from_json(obj) == event


def test_exact_keys():
    keys = {e["type"]: set(e) for e in map(to_json, EXAMPLES)}
    common = {"type", "stream", "utterance", "emitted"}
    assert keys["speech_start"] == common | {"start"}
    assert keys["speech_end"] == common | {"end"}
    assert keys["source_partial"] == common | {"lang", "text"}
    assert keys["source_commit"] == common | {"lang", "text", "words", "start", "end"}
    assert keys["target_partial"] == common | {"lang", "sentence", "text"}
    assert keys["target_commit"] == common | {"lang", "sentence", "text", "start", "end"}
    assert keys["error"] == common | {"code", "message"}
    assert keys["end"] == common
    assert to_json(EXAMPLES[3])["words"][0] == {"word": "Good", "start": 0.5, "end": 0.8}


def test_internal_events_have_no_json():
    with pytest.raises(TypeError):
        to_json(AudioChunk(stream="s", start=0.0, samples=np.zeros(160, np.float32)))


@pytest.mark.parametrize(
    "bad",
    [{"type": "nope"}, {"type": "end", "bogus": 1}, [], {"type": "speech_start", "stream": "s"}],
)
def test_bad_json_is_a_value_error(bad):
    with pytest.raises(ValueError):
        from_json(bad)


@given(st.text(), st.integers(0, 10_000), st.floats(0, 1e6, allow_nan=False))
def test_round_trip_any_text(text, sentence, t):
    event = TargetCommit(
        stream="x", utterance=3, lang="es", sentence=sentence, text=text, start=t, end=t, emitted=t
    )
    assert from_json(json.loads(json.dumps(to_json(event), ensure_ascii=False))) == event


def test_events_are_frozen():
    with pytest.raises(AttributeError):
        EXAMPLES[0].start = 2.0  # type: ignore[misc]
