"""Every backend honours a forced target prefix (committed words) on the real 0.5B:
CTranslate2, llama.cpp, and speculation on both. The prefix is one the model would not
choose, so only forcing explains an output that begins with it."""

from __future__ import annotations

import pytest

from pipeline.config import MTConfig
from pipeline.models.cache import find_gguf
from pipeline.mt.ct2_backend import CT2GeneratorBackend
from pipeline.mt.speculative import SpeculativeBackend
from pipeline.mt.translator import TranslationRequest
from tests.conftest import model_path

pytestmark = pytest.mark.models

SOURCE = "Good morning everyone, and welcome to the workshop in Lisbon."
PREFIX = "Hallo ihr Lieben,"


def request(prefix: str | None = PREFIX, draft: str | None = None, final: bool = True):
    return TranslationRequest(SOURCE, "en", "de", draft=draft, final=final, prefix=prefix)


@pytest.fixture(scope="module")
def ct2():
    backend = CT2GeneratorBackend(model_path("qwen2.5-coder-0.5b"), threads=1)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def llama():
    pytest.importorskip("llama_cpp")
    from pipeline.mt.llama_backend import LlamaCppBackend

    path = find_gguf(model_path("qwen2.5-coder-0.5b"))
    if path is None:
        pytest.skip("qwen2.5-coder-0.5b has no GGUF form")
    backend = LlamaCppBackend(path, threads=1)
    yield backend
    backend.close()


def check(backend, req: TranslationRequest) -> str:
    (result,) = backend.translate_batch([req])
    assert result.text.startswith(req.prefix), result.text
    assert len(result.text) > len(req.prefix) + 5, result.text  # and it goes on translating
    return result.text


@pytest.mark.parametrize("runtime", ["ct2", "llama"])
def test_plain_backends_begin_with_the_forced_prefix(runtime, request_fixture):
    backend = request_fixture(runtime)
    free = backend.translate_batch([request(prefix=None)])[0].text
    assert not free.startswith(PREFIX)  # the model's own choice differs
    check(backend, request())


@pytest.mark.parametrize("runtime", ["ct2", "llama"])
@pytest.mark.parametrize("mode", ["exact", "stable"])
def test_speculation_keeps_the_forced_prefix_unverified(runtime, mode, request_fixture):
    target = request_fixture(runtime)
    backend = SpeculativeBackend(target, MTConfig(speculative=mode, beta=0.5))
    draft = check(backend, request(draft=None, final=False))
    check(backend, request(draft=draft, final=True))  # the final pass verifies; not the prefix


@pytest.fixture
def request_fixture(request):
    return lambda name: request.getfixturevalue(name)
