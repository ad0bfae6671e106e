"""The llama.cpp backend on the real small GGUF files: the same prompts, stops and results as
the CTranslate2 backend, a KV cache that does not re-read the static prompt, speculation
on it, and the runtime choice. Each model loads once per module."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pipeline.config import ComputeConfig, MTConfig
from pipeline.errors import ConfigError, ModelError, ModelMissingError
from pipeline.factory import mt_engines
from pipeline.models.cache import find_gguf
from pipeline.mt import runtime
from pipeline.mt.ct2_backend import CT2GeneratorBackend
from pipeline.mt.drafts import common_prefix
from pipeline.mt.speculative import SpeculationTarget, SpeculativeBackend
from pipeline.mt.translator import Translation, TranslationRequest
from tests.conftest import model_path
from tests.pipeline.mt.test_speculative import prefix_sequences

pytest.importorskip("llama_cpp")
from pipeline.mt.llama_backend import LlamaCppBackend  # noqa: E402

CHATTER = ("translation", "here is", "here's", "note:", "```", "<|im")


def gguf(name: str) -> Path:
    path = find_gguf(model_path(name))
    if path is None:
        pytest.skip(f"{name} has no GGUF form (rtt models fetch --format gguf {name})")
    return path


def _req(source: str, target: str = "de", draft: str | None = None) -> TranslationRequest:
    return TranslationRequest(source, "en", target, draft=draft)


@pytest.fixture(scope="module")
def smol():
    backend = LlamaCppBackend(gguf("smollm2-135m"), threads=1, max_new_tokens=20)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def qwen05():
    backend = LlamaCppBackend(gguf("qwen2.5-coder-0.5b"), threads=1)
    yield backend
    backend.close()


# --- the backend ------------------------------------------------------------------------


@pytest.mark.models
def test_same_prompt_tokens_as_the_ct2_tokenizer(smol: LlamaCppBackend) -> None:
    ct2_folder = model_path("smollm2-135m")
    if not (ct2_folder / "tokenizer.json").is_file():
        pytest.skip("smollm2-135m has no CTranslate2 form")
    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(str(ct2_folder / "tokenizer.json"))
    request = _req("Good morning, everyone: welcome to Lisbon!")
    static, dynamic = smol.template.encode(tokenizer, "en", "de", request.source)
    ids = smol.prompt_ids(request)
    assert ids == (
        [tokenizer.token_to_id(t) for t in static],
        [tokenizer.token_to_id(t) for t in dynamic],
    )
    assert smol.decode(smol.encode("Guten Morgen")) == "Guten Morgen"


@pytest.mark.models
def test_translates_stops_and_counts_like_the_ct2_backend(smol: LlamaCppBackend) -> None:
    requests = [_req("Good morning."), _req("  "), _req("Where is the station?")]
    results = smol.translate_batch(requests)
    assert results[1] == Translation("", 0, 0)
    ids = smol.generate_ids([requests[0], requests[2]])
    for result, generated in zip([results[0], results[2]], ids, strict=True):
        assert result.text.strip() and "<|im" not in result.text
        assert 0 < result.tokens == result.steps == len(generated) <= 20
        assert not set(generated) & set(smol.end_ids)
        text = smol.decode(generated)
        # it stopped at the end token, at the end of its first line or at the limit
        assert len(generated) == 20 or "\n" not in text.rstrip("\n"), text


@pytest.mark.models
def test_the_static_prompt_is_read_once_per_language_pair(smol: LlamaCppBackend) -> None:
    context = smol.context
    smol.translate_batch([_req("Hello there.", "de"), _req("Hello there.", "es")])
    before = context.forwarded
    results = smol.translate_batch([_req("Good evening, friends.", lang) for lang in ("de", "es")])
    # each pair has its own slot: only the request and the reply are read, twice over
    requests = [smol.prompt_ids(_req("Good evening, friends.", lang))[1] for lang in ("de", "es")]
    read = sum(len(r) for r in requests) + sum(r.tokens + 1 for r in results)
    assert context.forwarded - before <= read


@pytest.mark.models
def test_greedy_is_deterministic_with_and_without_the_cache(smol: LlamaCppBackend) -> None:
    request = _req("The weather is nice today.")
    first = smol.generate_ids([request])[0]
    smol.translate_batch([_req("Something else entirely, to move the cache.")])
    assert smol.generate_ids([request])[0] == first


@pytest.mark.models
def test_qwen_05b_translates_a_sentence(qwen05: LlamaCppBackend) -> None:
    import py3langid as langid

    for target in ("de", "es"):
        text = qwen05.translate_batch([_req("Where is the train station?", target)])[0].text
        assert text and not any(c in text.lower() for c in CHATTER) and "\n" not in text
        assert langid.classify(text)[0] == target, text


def test_missing_or_corrupt_gguf_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match="no GGUF file"):
        LlamaCppBackend(tmp_path / "none.gguf")
    (tmp_path / "text.gguf").write_text("not a model")
    with pytest.raises(ModelError, match="is not a GGUF file"):
        LlamaCppBackend(tmp_path / "text.gguf")
    (tmp_path / "cut.gguf").write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 64)
    with pytest.raises(ModelError, match="damaged or truncated"):
        LlamaCppBackend(tmp_path / "cut.gguf")


@pytest.mark.models
def test_closed_backend_raises(tmp_path: Path) -> None:
    backend = LlamaCppBackend(gguf("smollm2-135m"))
    backend.close()
    with pytest.raises(ModelError, match="closed"):
        backend.translate_batch([_req("Hello.")])


# --- speculation on llama.cpp -----------------------------------------------------------


# A batched forward pass and one-token decoding round differently in llama.cpp: the
# smallest model's greedy choice flipped on a 0.2-logit gap. Where exact mode and plain
# decoding part, plain's token must be that close to the verification pass's best.
NEAR_TIE = 0.5


@pytest.mark.models
def test_exact_mode_equals_plain_greedy_on_recorded_prefixes(smol: LlamaCppBackend) -> None:
    assert isinstance(smol, SpeculationTarget)
    speculative = SpeculativeBackend(smol, MTConfig(speculative="exact", beta=1.0))
    plain_steps = speculative_steps = same = updates = 0
    for prefixes in prefix_sequences():
        draft = None
        for source in prefixes:
            plain = smol.generate_ids([_req(source)])[0]
            ids, steps = speculative.speculate(_req(source, draft=draft))
            updates += 1
            if ids == plain:
                same += 1
            else:
                i = common_prefix(ids, plain)
                static, dynamic = smol.prompt_ids(_req(source))
                score = smol.scores(static, dynamic + plain[: i + 1], len(dynamic) + i)[0]
                assert score.draft_margin > -NEAR_TIE, (source, i, score)
            draft = smol.to_translation(_req(source), ids).text
            plain_steps += len(plain)
            speculative_steps += steps
    assert same >= 0.8 * updates, (same, updates)
    assert speculative.stats.accepted > 0 and speculative_steps < plain_steps


@pytest.mark.models
def test_verification_reads_only_the_uncached_part(smol: LlamaCppBackend) -> None:
    request = _req("Good morning everyone, and welcome to Lisbon.")
    static, dynamic = smol.prompt_ids(request)
    draft = smol.generate_ids([request])[0]
    before = smol.context.forwarded
    scores = smol.scores(static, dynamic + draft, len(dynamic))
    # the prompt is cached: only the rows that give logits are forwarded
    assert smol.context.forwarded - before == len(draft) + 1
    assert [s.best for s in scores[:-1]] == draft and all(s.draft_margin == 0 for s in scores[:-1])


@pytest.mark.models
def test_stable_mode_keeps_the_seen_part(smol: LlamaCppBackend) -> None:
    speculative = SpeculativeBackend(smol, MTConfig(speculative="stable", beta=0.0))
    first = speculative.translate_batch([_req("Good morning everyone, and welcome")])[0]
    second = speculative.translate_batch(
        [_req("Good morning everyone, and welcome to Lisbon.", draft=first.text)]
    )[0]
    seen = smol.encode(first.text)[:-3]
    assert smol.encode(second.text)[: len(seen)] == seen


# --- the runtime choice -----------------------------------------------------------------


def test_auto_means_llama_cpp_on_a_cpu_and_ctranslate2_on_cuda(tmp_path: Path) -> None:
    both = tmp_path / "both"
    both.mkdir()
    (both / "m.gguf").write_bytes(b"GGUF")
    (both / "model.bin").write_bytes(b"")
    (both / "config.json").write_text("{}")
    assert runtime.choose_runtime("auto", "cpu", both) == "llama.cpp"
    assert runtime.choose_runtime("auto", "cuda", both) == "ctranslate2"
    assert runtime.choose_runtime("ctranslate2", "cpu", both) == "ctranslate2"
    ct2_only = tmp_path / "ct2"
    ct2_only.mkdir()
    (ct2_only / "model.bin").write_bytes(b"")
    (ct2_only / "config.json").write_text("{}")
    assert runtime.choose_runtime("auto", "cpu", ct2_only) == "ctranslate2"
    with pytest.raises(ConfigError, match="unknown MT runtime"):
        runtime.choose_runtime("onnx", "cpu", both)
    with pytest.raises(ModelMissingError, match="no gguf form"):
        runtime.model_source(str(ct2_only), "llama.cpp", ComputeConfig(device="cpu"))


@pytest.mark.models
def test_factory_builds_speculation_on_the_chosen_runtime(shared_registry, small_config) -> None:
    gguf("qwen2.5-coder-0.5b")
    for name, kind in (("llama.cpp", LlamaCppBackend), ("ctranslate2", CT2GeneratorBackend)):
        if name == "ctranslate2" and not (model_path("qwen2.5-coder-0.5b") / "model.bin").is_file():
            continue
        mt = dataclasses.replace(small_config.mt, speculative="stable", beta=0.0, runtime=name)
        main, _ = mt_engines(shared_registry, dataclasses.replace(small_config, mt=mt))
        assert isinstance(main.backend, SpeculativeBackend)
        assert isinstance(main.backend.target, kind), name
    line = runtime.describe_runtime(
        MTConfig(model="qwen2.5-coder-0.5b"), ComputeConfig(device="cpu", mt_threads=1)
    )
    assert (
        line.startswith("MT runtime: llama.cpp (auto: llama.cpp on a CPU)") and "1 thread" in line
    )
