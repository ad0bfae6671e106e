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
    TermUse,
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
    detected = {"language_probability"}  # null when the language was given, not detected
    assert keys["source_partial"] == common | {"lang", "text"} | detected
    assert keys["source_commit"] == common | {"lang", "text", "words", "start", "end"} | detected
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
    [
        [],
        {"type": "speech_start", "stream": "s"},
        {
            "type": "source_commit",
            "stream": "s",
            "utterance": 1,
            "lang": "en",
            "text": "a",
            "words": [{"word": "a"}],
            "start": 0,
            "end": 1,
        },
    ],
)
def test_bad_json_is_a_value_error(bad):
    with pytest.raises(ValueError):
        from_json(bad)


def test_readers_skip_unknown_event_types_and_ignore_unknown_fields():
    # events only grow: a newer writer's event type is skipped, its new fields ignored
    assert from_json({"type": "target_rewrite", "stream": "s", "text": "Guten"}) is None
    assert from_json({"type": "nope"}) is None
    event = from_json({"type": "end", "stream": "s", "utterance": 0, "emitted": 1.0, "bogus": 1})
    assert event == End(stream="s", emitted=1.0)
    old = {"type": "source_partial", "stream": "s", "utterance": 1, "emitted": 1.0}
    assert (
        from_json({**old, "lang": "en", "text": "hi"}).language_probability is None
    )  # older writer


def test_target_append_round_trips_and_an_older_writer_has_offset_0():
    from pipeline.events import TargetAppend, to_json

    event = TargetAppend(
        stream="s", utterance=1, emitted=2.0, lang="de", sentence=3, text="Guten Tag", offset=2
    )
    data = to_json(event)
    assert data["type"] == "target_append" and data["offset"] == 2
    assert from_json(data) == event
    del data["offset"]
    assert from_json(data).offset == 0


def test_words_keep_whether_they_continue_the_previous_one():
    commit = SourceCommit(
        stream="s",
        utterance=1,
        lang="en",
        language_probability=0.97,
        text="Wi-Fi",
        words=(Word("Wi", 0.5, 0.7), Word("-Fi", 0.7, 0.9, glued=True)),
        start=0.5,
        end=0.9,
    )
    obj = to_json(commit)
    assert obj["words"] == [
        {"word": "Wi", "start": 0.5, "end": 0.7},  # unchanged for old readers
        {"word": "-Fi", "start": 0.7, "end": 0.9, "glued": True},
    ]
    assert obj["language_probability"] == 0.97
    assert from_json(json.loads(json.dumps(obj))) == commit


@given(st.text(), st.integers(0, 10_000), st.floats(0, 1e6, allow_nan=False))
def test_round_trip_any_text(text, sentence, t):
    event = TargetCommit(
        stream="x", utterance=3, lang="es", sentence=sentence, text=text, start=t, end=t, emitted=t
    )
    assert from_json(json.loads(json.dumps(to_json(event), ensure_ascii=False))) == event


def test_events_are_frozen():
    with pytest.raises(AttributeError):
        EXAMPLES[0].start = 2.0  # type: ignore[misc]


def test_terms_travel_as_used_and_missed_and_are_omitted_without_a_glossary():
    plain = TargetCommit(
        stream="s", utterance=1, lang="de", sentence=0, text="x", start=0.0, end=1.0
    )
    assert "terms" not in to_json(plain)
    used = TargetPartial(
        stream="s", utterance=1, lang="de", sentence=0, text="x", terms=TermUse(("A",), ("B",))
    )
    obj = to_json(used)
    assert obj["terms"] == {"used": ["A"], "missed": ["B"]}
    assert from_json(obj) == used
    with pytest.raises(ValueError, match="terms"):
        from_json({**obj, "terms": {"used": [1]}})
