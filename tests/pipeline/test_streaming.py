"""Real streaming on real small models (Whisper tiny.en, Qwen2.5-Coder 0.5B), on CPU.

The simulated clock makes these runs repeatable: audio time advances only when
every stage is idle, so `emitted` is where in the audio each event came out.
"""

from __future__ import annotations

import asyncio
import dataclasses

import jiwer
import py3langid
import pytest
from whisper_normalizer.english import EnglishTextNormalizer

from pipeline.audio import open_source
from pipeline.config import MTConfig
from pipeline.engine import EngineRegistry
from pipeline.events import (
    End,
    Error,
    SourceCommit,
    SourcePartial,
    SpeechEnd,
    TargetCommit,
    TargetPartial,
)
from pipeline.factory import build_pipeline
from rtt.corpus import corpus_item
from tests.conftest import model_path

pytestmark = pytest.mark.models
WER_BOUND = 0.15  # tiny.en measured 0.02-0.07 on these Piper clips


def wer(reference: str, hypothesis: str) -> float:
    norm = EnglishTextNormalizer()
    return jiwer.wer(norm(reference), norm(hypothesis))


async def run(config, registry, path):
    source = open_source(str(path), stream=config.stream, config=config.source)
    return [e async for e in build_pipeline(config, source, registry).run()]


@pytest.fixture(scope="module")
def short_run(small_config, shared_registry):
    item = corpus_item("short-workshop-en")
    return item, asyncio.run(run(small_config, shared_registry, item.audio))


def test_streams_partials_and_commits_before_speech_ends(short_run):
    item, events = short_run
    assert isinstance(events[-1], End) and not [e for e in events if isinstance(e, Error)]
    partials = [e for e in events if isinstance(e, SourcePartial) and e.text]
    assert len({p.text for p in partials}) >= 3, "partials should be revised as audio arrives"
    ends = {e.utterance: e for e in events if isinstance(e, SpeechEnd)}
    early = [c for c in events if isinstance(c, SourceCommit) and c.emitted < ends[c.utterance].end]
    assert early, "some words must be committed while the speaker is still talking"
    for commit in (e for e in events if isinstance(e, SourceCommit)):
        assert events.index(commit) < events.index(ends[commit.utterance])


def test_committed_source_is_accurate(short_run):
    item, events = short_run
    text = " ".join(e.text for e in events if isinstance(e, SourceCommit))
    assert wer(item.transcript, text) < WER_BOUND, text


def test_translation_comes_out_in_german(short_run):
    item, events = short_run
    commits = [e for e in events if isinstance(e, TargetCommit)]
    assert commits and all(c.lang == "de" for c in commits)
    assert [c.sentence for c in commits] == sorted({c.sentence for c in commits})
    german = " ".join(c.text for c in commits)
    assert py3langid.classify(german)[0] == "de", german
    assert "translation" not in german.lower()  # no chatter
    assert any(isinstance(e, TargetPartial) for e in events)


def test_simulated_runs_repeat_to_the_event(short_run, small_config, shared_registry):
    item, events = short_run
    config = dataclasses.replace(
        small_config, mt=dataclasses.replace(small_config.mt, targets=("de",))
    )
    again = asyncio.run(run(config, shared_registry, item.audio))

    def key(es):
        return [
            (type(e).__name__, getattr(e, "text", None), e.emitted)
            for e in es
            if not isinstance(e, SourcePartial)
        ]

    assert key(again) == key(events)


def test_concurrent_streams_load_each_model_once(small_config):
    model_path("smollm2-135m")
    config = dataclasses.replace(
        small_config,
        mt=MTConfig(
            model="smollm2-135m",
            fast_model=None,
            draft_model=None,
            targets=("de",),
            max_new_tokens=24,
        ),
    )
    registry = EngineRegistry()
    item = corpus_item("short-workshop-en")

    async def many():
        streams = [dataclasses.replace(config, stream=f"s{i}") for i in range(3)]
        return await asyncio.gather(*(run(c, registry, item.audio) for c in streams))

    try:
        results = asyncio.run(many())
        loads = registry.loaded("asr"), registry.loaded("mt")
    finally:
        registry.close()
    assert loads == (1, 1)  # one Whisper, one LLM, for three streams
    for i, events in enumerate(results):
        assert {e.stream for e in events} == {f"s{i}"}
        assert any(isinstance(e, TargetCommit) for e in events)
