"""The LLM translation backend, the shared MT engine and the engine registry.

Fakes stand in where batching and sharing are the point; the real small models
(marked `models`) where translation is. Each real model loads once per session.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from pipeline import compute
from pipeline.compute import resolve_device
from pipeline.config import ComputeConfig
from pipeline.engine import EngineRegistry, MTEngine
from pipeline.errors import ConfigError, ModelMissingError
from pipeline.mt.ct2_backend import CT2GeneratorBackend, _groups, _StopWhenDone
from pipeline.mt.translator import Translation, TranslationRequest
from tests.conftest import model_path

CPU = ComputeConfig(device="cpu", mt_threads=2)
CHATTER = ("translation", "here is", "here's", "note:", "```", "<|im")


def _req(source: str, target: str = "de", source_lang: str = "en") -> TranslationRequest:
    return TranslationRequest(source=source, source_lang=source_lang, target_lang=target)


# --- fakes: batching and sharing ----------------------------------------------------


class FakeTranslator:
    """Uppercases; records each batch; slow enough that concurrent calls pile up."""

    def __init__(self, path: Path | None = None, **options: object) -> None:
        self.name = "fake"
        self.options = options
        self.batches: list[list[TranslationRequest]] = []

    def translate_batch(self, requests: Sequence[TranslationRequest]) -> list[Translation]:
        self.batches.append(list(requests))
        time.sleep(0.05)
        return [Translation(f"{r.target_lang}:{r.source.upper()}", 1, 1) for r in requests]


async def test_engine_batches_by_language_pair() -> None:
    backend = FakeTranslator()
    engine = MTEngine(backend, max_batch=8)
    try:
        requests = [_req(f"s{i}", "de" if i % 2 else "es") for i in range(10)]
        results = await asyncio.gather(*(engine.translate(r) for r in requests))
        assert [r.text for r in results] == [
            f"{q.target_lang}:{q.source.upper()}" for q in requests
        ]
        assert engine.requests == 10 and engine.batches < 10
        for batch in backend.batches:
            assert len({(r.source_lang, r.target_lang) for r in batch}) == 1
    finally:
        engine.close()


async def test_registry_shares_one_engine_between_concurrent_sessions(tmp_path: Path) -> None:
    made: list[FakeTranslator] = []

    def factory(path: Path, **options: object) -> FakeTranslator:
        time.sleep(0.1)  # a slow load: concurrent sessions must wait for it, not start their own
        made.append(FakeTranslator(path, **options))
        return made[-1]

    registry = EngineRegistry(mt_backend=factory)
    try:
        engines = await asyncio.gather(
            *(asyncio.to_thread(registry.mt, tmp_path, CPU) for _ in range(6))
        )
        assert registry.loads == 1 and len(made) == 1
        assert all(e is engines[0] for e in engines)
        options = {
            "device": "cpu",
            "compute_type": "int8",
            "threads": 2,
            "max_new_tokens": 160,
            "family": "chatml",
        }
        assert made[0].options == options
        assert registry.mt(tmp_path / "other", CPU) is not engines[0] and registry.loads == 2
    finally:
        registry.close()


def test_registry_get_is_generic_and_close_closes_all() -> None:
    closed: list[str] = []

    class Engine:
        def __init__(self, name: str) -> None:
            self.name = name

        def close(self) -> None:
            closed.append(self.name)

    registry = EngineRegistry()
    asr = registry.get("asr", ("whisper-base", "cpu"), lambda: Engine("asr"))
    assert registry.get("asr", ("whisper-base", "cpu"), lambda: Engine("again")) is asr
    registry.get("mt", "x", lambda: Engine("mt"))
    registry.close()
    assert sorted(closed) == ["asr", "mt"] and registry.loads == 2


def test_groups_split_by_language_pair_and_prompt_length() -> None:
    de, es = ["<de>"], ["<es>"]
    prompts = [
        (de, ["t"] * 10),
        (es, ["t"] * 10),
        (de, ["t"] * 30),
        (de, ["t"] * 12),
        (de, ["t"] * 16),
    ]
    assert _groups(prompts, 6) == [[0, 3, 4], [2], [1]]
    assert _groups(prompts, 100) == [[0, 3, 4, 2], [1]]


class _Step:
    def __init__(self, batch_id: int, token_id: int) -> None:
        self.batch_id, self.token_id = batch_id, token_id


class _Pieces:
    """A tokenizer whose ids are indices into a list of strings."""

    pieces = ["Der", " Hund.", "\n", "Here is the translation:", "```", "Note", " und", " so"]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.pieces[i] for i in ids)


def _run(stop: _StopWhenDone, batch_id: int, ids: list[int]) -> list[bool]:
    return [stop(_Step(batch_id, i)) for i in ids]


def test_stop_at_a_newline_after_real_text_or_at_the_limit() -> None:
    stop = _StopWhenDone(
        _Pieces(), limits=[10, 10, 4, 10, 10], single_line=[True, True, True, False, True]
    )
    assert _run(stop, 0, [0, 1, 2]) == [False, False, True]  # "Der Hund.\n": done
    assert _run(stop, 1, [3, 2, 2, 0, 1, 2]) == [
        False,
        False,
        False,
        False,
        False,
        True,
    ]  # label first
    assert _run(stop, 2, [0, 6, 7, 6]) == [False, False, False, True]  # a loop meets its limit
    assert _run(stop, 3, [0, 1, 2, 5]) == [False, False, False, False]  # multi-line source
    assert _run(stop, 4, [4, 2, 0, 1, 2]) == [False, False, False, False, False]  # inside a fence


def test_missing_model_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match="tokenizer.json"):
        CT2GeneratorBackend(tmp_path)


# --- device resolution --------------------------------------------------------------


def _fake_ct2(monkeypatch: pytest.MonkeyPatch, gpus: int, cuda_types: set[str]) -> None:
    monkeypatch.setattr(compute.ctranslate2, "get_cuda_device_count", lambda: gpus)
    types = {"cpu": {"int8", "int8_float32", "float32"}, "cuda": cuda_types}
    monkeypatch.setattr(compute.ctranslate2, "get_supported_compute_types", lambda d: types[d])


def test_resolve_device_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_ct2(monkeypatch, 0, set())
    assert resolve_device(ComputeConfig()) == ("cpu", "int8")
    assert resolve_device(ComputeConfig(device="cpu", compute_type="float32")) == ("cpu", "float32")
    _fake_ct2(monkeypatch, 1, {"int8_float16", "float16", "int8"})
    assert resolve_device(ComputeConfig()) == ("cuda", "int8_float16")
    assert resolve_device(ComputeConfig(device="cpu")) == ("cpu", "int8")


def test_resolve_device_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_ct2(monkeypatch, 0, set())
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        resolve_device(ComputeConfig(device="cuda"))
    with pytest.raises(ConfigError, match="'float16' is not supported on cpu"):
        resolve_device(ComputeConfig(device="cpu", compute_type="float16"))


def test_resolve_device_on_this_machine() -> None:
    device, compute_type = resolve_device(ComputeConfig())
    assert (device, compute_type) in {("cpu", "int8"), ("cuda", "int8_float16")}


# --- real models --------------------------------------------------------------------


# Engines come from the session's shared registry (tests/conftest.py): each model
# loads once for the whole test run, whichever test asks first.


@pytest.fixture(scope="session")
def registry(shared_registry: EngineRegistry) -> EngineRegistry:
    return shared_registry


@pytest.fixture(scope="session")
def smol(registry: EngineRegistry) -> MTEngine:
    return registry.mt(model_path("smollm2-135m"), CPU, max_new_tokens=48)


@pytest.fixture(scope="session")
def qwen05(registry: EngineRegistry) -> MTEngine:
    return registry.mt(model_path("qwen2.5-coder-0.5b"), CPU)


@pytest.mark.models
def test_smollm_batch_produces_text_and_stops(smol: MTEngine) -> None:
    requests = [_req("Good morning."), _req("Where is the station?"), _req("I like green tea.")]
    results = smol.backend.translate_batch(requests)
    assert len(results) == 3
    for result in results:
        assert result.text.strip() and "<|im" not in result.text
        assert 0 < result.tokens == result.steps
    # Greedy decoding is deterministic: the same ids again, to see why each one stopped.
    ids = smol.backend.generate_ids(requests)
    assert [len(i) for i in ids] == [r.tokens for r in results]
    ended = [len(i) < 20 and "\n" not in smol.backend.tokenizer.decode(i) for i in ids]
    assert any(ended), [smol.backend.tokenizer.decode(i) for i in ids]  # at <|im_end|>, not a limit


@pytest.mark.models
def test_blank_source_skips_the_model(smol: MTEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = smol.backend

    def boom(requests: Sequence[TranslationRequest]) -> list[list[int]]:
        raise AssertionError("the model must not run for blank sources")

    monkeypatch.setattr(backend, "generate_ids", boom)
    assert backend.translate_batch([_req(""), _req("  \n")]) == [Translation("", 0, 0)] * 2


@pytest.mark.models
def test_mixed_language_pairs_in_one_batch(smol: MTEngine) -> None:
    long = "This sentence is a good deal longer than the others in this batch, by far."
    requests = [_req("Hello.", "de"), _req("Hello.", "es"), _req("  "), _req(long, "de")]
    results = smol.backend.translate_batch(requests)
    assert results[0].text and results[1].text and results[3].text and results[2].text == ""


@pytest.mark.models
async def test_engine_batches_concurrent_requests_on_a_real_model(smol: MTEngine) -> None:
    before = (smol.batches, smol.requests)
    sentences = ["One.", "Two cats.", "Three dogs run.", "Four.", "Five birds sing.", "Six."]
    results = await asyncio.gather(*(smol.translate(_req(s)) for s in sentences))
    assert all(r.text for r in results)
    batches, requests = smol.batches - before[0], smol.requests - before[1]
    assert requests == 6 and batches < requests


@pytest.mark.models
async def test_registry_loads_once_for_concurrent_users(
    registry: EngineRegistry, smol: MTEngine
) -> None:
    loads = registry.loads
    path = model_path("smollm2-135m")

    async def user(i: int) -> Translation:
        engine = await asyncio.to_thread(registry.mt, path, CPU)
        assert engine is smol
        return await engine.translate(_req(f"I have {i} apples."))

    results = await asyncio.gather(*(user(i) for i in range(5)))
    assert registry.loads == loads and all(r.text for r in results)


GERMAN_SPANISH = [
    "The weather is nice today.",
    "Where is the train station?",
    "My brother works in a hospital.",
    "We are meeting tomorrow at ten o'clock.",
]


@pytest.mark.models
@pytest.mark.parametrize("target", ["de", "es"])
def test_qwen_05b_translates_into_the_target_language(qwen05: MTEngine, target: str) -> None:
    import py3langid as langid

    results = qwen05.backend.translate_batch([_req(s, target) for s in GERMAN_SPANISH])
    for source, result in zip(GERMAN_SPANISH, results, strict=True):
        text = result.text
        assert text and text != source, source
        assert not any(c in text.lower() for c in CHATTER), text
        assert "\n" not in text, text
        assert langid.classify(text)[0] == target, (source, text)
