"""Speculative re-translation on real models: exact mode equals plain greedy decoding
(float32), the factory builds it over the shared engines, and stable mode's display mask."""

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest

from pipeline.config import MTConfig
from pipeline.events import SourceCommit, TargetPartial, Word
from pipeline.factory import mt_engines
from pipeline.mt.ct2_backend import CT2GeneratorBackend
from pipeline.mt.speculative import SpeculativeBackend
from pipeline.mt.stage import TranslateStage
from pipeline.mt.translator import Translation, TranslationRequest
from tests.conftest import model_path
from tests.support import FakeClock, FakeEngine

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "prefixes.json"
# Five short sentences of the recorded fixture (17 prefixes), as (item, sentence index).
SHORT = [
    ("short-workshop-en", 0),
    ("talk-opening-en", 0),
    ("talk-opening-en", 7),
    ("talk-opening-en", 8),
    ("talk-opening-en", 9),
]


def prefix_sequences():
    sentences = json.loads(FIXTURE.read_text())["sentences"]
    by_key = {(s["item"], s["sentence"]): s["prefixes"] for s in sentences}
    return [by_key[key] for key in SHORT]


def test_fixture_holds_enough_recorded_prefixes():
    data = json.loads(FIXTURE.read_text())
    assert sum(len(s["prefixes"]) for s in data["sentences"]) >= 50
    assert sum(1 for s in data["sentences"] if s["reference"]) >= 10


@pytest.fixture(scope="module")
def smollm_float32():
    # float32: batched and step-by-step decoding then agree exactly (int8 has near-ties).
    backend = CT2GeneratorBackend(
        model_path("smollm2-135m"), compute_type="float32", threads=2, max_new_tokens=20
    )
    yield backend
    backend.close()


@pytest.mark.models
def test_exact_mode_gives_the_same_tokens_as_plain_greedy(smollm_float32):
    speculative = SpeculativeBackend(smollm_float32, MTConfig(speculative="exact"))
    plain_steps = speculative_steps = 0
    for prefixes in prefix_sequences():
        draft = None
        for source in prefixes:
            plain = smollm_float32.generate_ids([TranslationRequest(source, "en", "de")])[0]
            ids, steps = speculative.speculate(TranslationRequest(source, "en", "de", draft=draft))
            assert ids == plain, source
            draft = smollm_float32.to_translation(TranslationRequest(source, "en", "de"), ids).text
            plain_steps += len(plain)
            speculative_steps += steps
    assert speculative.stats.accepted > 0
    assert speculative_steps < plain_steps


@pytest.mark.models
def test_factory_wraps_the_shared_engine_and_loads_nothing_twice(shared_registry, small_config):
    mt = dataclasses.replace(
        small_config.mt, speculative="stable", beta=0.0, runtime="ctranslate2"
    )  # the llama.cpp runtime: tests/pipeline/mt/test_llama_backend.py
    config = dataclasses.replace(small_config, mt=mt)
    main, _ = mt_engines(shared_registry, config)
    loads = shared_registry.loads
    again, _ = mt_engines(shared_registry, config)
    assert again is main and shared_registry.loads == loads
    assert isinstance(main.backend, SpeculativeBackend)
    assert (
        isinstance(main.backend.target, CT2GeneratorBackend) and main.backend.draft is None
    )  # CPU: no draft model
    plain, _ = mt_engines(
        shared_registry,
        dataclasses.replace(config, mt=dataclasses.replace(config.mt, speculative="off")),
    )
    assert plain.backend is main.backend.target and shared_registry.loads == loads

    async def retranslate():
        first = await main.translate(
            TranslationRequest("Good morning everyone, and welcome", "en", "de")
        )
        second = await main.translate(
            TranslationRequest(
                "Good morning everyone, and welcome to Lisbon.", "en", "de", draft=first.text
            )
        )
        return first, second

    first, second = asyncio.run(retranslate())
    seen = main.backend.target.tokenizer.encode(first.text).ids[
        :-3
    ]  # stable mode keeps what was shown
    assert main.backend.target.tokenizer.encode(second.text).ids[: len(seen)] == seen


class EchoEngine(FakeEngine):
    def __init__(self):
        super().__init__("echo")
        self.drafts = []

    async def translate(self, request):
        self.drafts.append(request.draft)
        return Translation(f"T {request.source}", 1, 1)


def test_stable_mode_masks_the_tail_of_partials_but_drafts_the_whole_translation():
    engine = EchoEngine()
    stage = TranslateStage(
        engine, MTConfig(speculative="stable", display_mask=2), clock=FakeClock()
    )

    async def run():
        out = []
        for i, text in enumerate(["Good morning dear", "friends and"]):
            words = tuple(
                Word(w, i + j * 0.2, i + j * 0.2 + 0.1) for j, w in enumerate(text.split())
            )
            event = SourceCommit(
                stream="s", utterance=1, lang="en", text=text, words=words, start=i, end=i + 1
            )
            async for o in stage.process(event):
                out.append(o)
            while stage.pending():
                async for o in stage.work():
                    out.append(o)
        return [o.text for o in out if isinstance(o, TargetPartial)]

    shown = asyncio.run(run())
    assert shown == ["T Good", "T Good morning dear"]  # 6 words less the last 2
    assert engine.drafts == [None, "T Good morning dear"]
