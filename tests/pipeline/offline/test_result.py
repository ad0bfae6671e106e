"""A batch result's events carry the detected language's probability, as the live pipeline's do."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest

from pipeline.config import ASRConfig, ComputeConfig, PipelineConfig
from pipeline.events import SourceCommit, TargetCommit, from_json, to_json
from pipeline.factory import asr_engine
from pipeline.offline.process import OfflineProcessor
from pipeline.offline.result import result_events
from rtt.corpus import corpus_item
from tests.conftest import model_path
from tests.support import sample_result


def source_commits(result) -> list[SourceCommit]:
    return [e for e in result_events(result) if isinstance(e, SourceCommit)]


def test_source_commits_carry_the_detected_probability_and_round_trip():
    result = dataclasses.replace(sample_result(), language_probability=0.97)
    events = result_events(result)
    commits = [e for e in events if isinstance(e, SourceCommit)]
    assert commits and all(c.language_probability == 0.97 for c in commits)
    assert all(json.loads(json.dumps(to_json(c)))["language_probability"] == 0.97 for c in commits)
    assert [from_json(to_json(e)) for e in events] == events
    # the probability is the source language's: target commits have none
    assert not any(
        hasattr(e, "language_probability") for e in events if isinstance(e, TargetCommit)
    )


def test_a_given_language_has_no_probability():
    assert all(c.language_probability is None for c in source_commits(sample_result()))


@pytest.mark.models
def test_batch_passes_the_detection_on_to_its_events(shared_registry):
    model_path("whisper-base")
    config = PipelineConfig(
        asr=ASRConfig(model="whisper-base"), compute=ComputeConfig(device="cpu")
    )
    whisper = asr_engine(shared_registry, config).backend
    processor = OfflineProcessor(whisper, mt_engine=None, candidates=("en", "de"))  # no targets
    clip = corpus_item("clip-en-quick-brown-fox").audio

    def run(language):
        return asyncio.run(processor.process(clip, stream="c", language=language, targets=()))

    detected = run(None)
    assert detected.language == "en" and 0.5 < detected.language_probability <= 1.0
    commits = source_commits(detected)
    assert commits and {c.language_probability for c in commits} == {detected.language_probability}
    assert all(c.language_probability is None for c in source_commits(run("en")))
