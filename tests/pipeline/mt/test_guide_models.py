"""The glossary on a real small model (qwen2.5-coder-0.5b on llama.cpp): a term it gets wrong
alone and right with the glossary, and a guide that leaves the cached static prompt alone."""

from __future__ import annotations

import pytest

from pipeline.glossary import glossary_from_entries, term_in
from pipeline.models.cache import find_gguf
from pipeline.mt.guide import Guidance
from pipeline.mt.translator import TranslationRequest
from tests.conftest import model_path

pytest.importorskip("llama_cpp")
from pipeline.mt.llama_backend import LlamaCppBackend  # noqa: E402

pytestmark = pytest.mark.models
SENTENCE = "The steering committee meets on Monday."
GLOSSARY = glossary_from_entries([{"en": "steering committee", "de": "Lenkungsausschuss"}])


@pytest.fixture(scope="module")
def backend():
    path = find_gguf(model_path("qwen2.5-coder-0.5b"))
    if path is None:
        pytest.skip("qwen2.5-coder-0.5b has no GGUF form")
    backend = LlamaCppBackend(path, threads=1)
    yield backend
    backend.close()


def test_a_term_mistranslated_alone_is_right_with_the_glossary(backend):
    guidance = Guidance(GLOSSARY, context=0)
    guide = guidance.guide(SENTENCE, "en", "de")
    plain = backend.translate_batch([TranslationRequest(SENTENCE, "en", "de")])[0].text
    guided = backend.translate_batch([TranslationRequest(SENTENCE, "en", "de", guide=guide)])
    assert not term_in("Lenkungsausschuss", plain), plain  # e.g. "Die Steuerkommission ..."
    assert term_in("Lenkungsausschuss", guided[0].text), guided[0].text
    assert guidance.check(guide, guided[0].text).missed == ()


def test_the_guide_keeps_the_cached_static_prompt(backend):
    guide = Guidance(GLOSSARY, context=0).guide(SENTENCE, "en", "de")
    static, plain = backend.prompt_ids(TranslationRequest(SENTENCE, "en", "de"))
    static_guided, guided = backend.prompt_ids(
        TranslationRequest(SENTENCE, "en", "de", guide=guide)
    )
    assert static_guided == static and len(guided) > len(plain)
