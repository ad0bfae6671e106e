"""The glossary reaches Whisper's prompt: the stage's choice (scripted engine) and the
backend's prompt tokens (the real tiny.en tokenizer)."""

import dataclasses

import numpy as np
import pytest

from pipeline.asr.backend import ASRRequest, ASRResult
from pipeline.asr.stage import ASRStage
from pipeline.asr.terms_prompt import render
from pipeline.config import ASRConfig
from pipeline.events import AudioChunk, SetGlossary, SourceCommit, SpeechEnd, SpeechStart, Word
from pipeline.glossary import parse_glossary

GLOSSARY = parse_glossary(
    "en,de,es\n"
    "Dashwood,,\n"
    "Halvorsen,,\n"
    "Nordlicht Energy,,\n"
    "steering committee,Lenkungsausschuss,comité de dirección\n"
    "heat pump,Wärmepumpe,bomba de calor\n"
    "grid operator,Netzbetreiber,operador de red\n"
    "smart meter,Smart Meter,contador inteligente\n"
    "feed-in tariff,Einspeisevergütung,tarifa de inyección\n"
)
EN = {t.form("en") for t in GLOSSARY.terms}
SCRIPT = "my colleague Ingrid Haverson spoke with the grid operator about it".split()


class Engine:
    """Hears one word of SCRIPT per 0.5 s of buffer; counts a token per word."""

    multilingual = False

    def __init__(self):
        self.requests: list[ASRRequest] = []

    @staticmethod
    def count_tokens(text):
        return len(text.split())

    async def transcribe(self, request):
        self.requests.append(request)
        n = int(len(request.audio) / 8000)
        words = [Word(SCRIPT[i % len(SCRIPT)], i * 0.5, i * 0.5 + 0.4) for i in range(n)]
        return ASRResult(tuple(words), "en")


async def run(stage, events):
    for event in events:
        async for _ in stage.process(event):
            pass
        while stage.pending():
            async for _ in stage.work():
                pass


def utterance(n, seconds=3.0):
    chunks = [
        AudioChunk(stream="s", utterance=n, start=i * 0.1, samples=np.zeros(1600, np.float32))
        for i in range(int(seconds * 10))
    ]
    start = SpeechStart(stream="s", utterance=n, start=0.0)
    return [start, *chunks, SpeechEnd(stream="s", utterance=n, end=seconds)]


def tokens(terms):
    return sum(len((" " + t + ",").split()) for t in terms)


async def test_all_source_terms_reach_the_prompt_when_they_fit():
    engine = Engine()
    stage = ASRStage(engine, ASRConfig(language="en", glossary_tokens=64), GLOSSARY)
    await run(stage, utterance(1))
    assert engine.requests
    for request in engine.requests:
        assert set(request.terms) == EN  # every English form, no German or Spanish one
        assert request.terms == tuple(t.form("en") for t in GLOSSARY.terms)


async def test_over_budget_the_likeliest_terms_go_in_and_the_budget_holds():
    engine = Engine()
    stage = ASRStage(engine, ASRConfig(language="en", glossary_tokens=4), GLOSSARY)
    await run(stage, utterance(1, seconds=6.0))
    assert len(engine.requests) > 2
    for request in engine.requests:
        assert set(request.terms) <= EN
        assert 0 < tokens(request.terms) <= 4
    # the first pass knows nothing yet: names; later the partial "Haverson" and the said
    # "grid operator" rank first
    assert engine.requests[0].terms == ("Dashwood", "Halvorsen", "Nordlicht Energy")
    assert "grid operator" in engine.requests[-1].terms
    assert "Halvorsen" in engine.requests[-1].terms


async def test_the_asr_side_can_be_turned_off():
    engine = Engine()
    config = ASRConfig(language="en", glossary_prompt=False)
    await run(ASRStage(engine, config, GLOSSARY), utterance(1))
    assert engine.requests and all(r.terms == () for r in engine.requests)


async def test_a_glossary_set_in_band_reaches_the_next_passes_and_travels_on():
    engine = Engine()
    stage = ASRStage(engine, ASRConfig(language="en"))
    await run(stage, utterance(1))
    assert all(r.terms == () for r in engine.requests)
    out = [e async for e in stage.process(SetGlossary(stream="s", glossary=GLOSSARY))]
    assert [type(e) for e in out] == [SetGlossary]  # the translator needs it too
    engine.requests.clear()
    await run(stage, utterance(2))
    assert engine.requests and all(set(r.terms) == EN for r in engine.requests)


async def test_a_german_stream_gets_the_german_forms():
    engine = Engine()
    stage = ASRStage(engine, ASRConfig(language="de"), GLOSSARY)
    await run(stage, utterance(1))
    assert set(engine.requests[0].terms) == {
        "Lenkungsausschuss",
        "Wärmepumpe",
        "Netzbetreiber",
        "Smart Meter",
        "Einspeisevergütung",
    }


@pytest.mark.models
def test_the_backend_puts_terms_before_the_context_within_200_tokens(small_config, shared_registry):
    from pipeline.factory import asr_engine

    backend = asr_engine(shared_registry, small_config).backend
    tokenizer = backend._tokenizer("en")
    terms = tuple(t.form("en") for t in GLOSSARY.terms)
    context = "The grid operator can see the load in real time. " * 30  # far over 200 tokens
    audio = np.zeros(8000, np.float32)
    requests = [
        ASRRequest(audio, "en", prompt=context, terms=terms),
        ASRRequest(audio, "en", prompt="Hello there.", terms=terms),
    ]
    long, short = backend._prompts(tokenizer, requests)
    start = list(tokenizer.sot_sequence) + [tokenizer.no_timestamps]
    term_tokens = tokenizer.encode(" " + render(terms))
    assert len(long) == len(short)  # one length in a batch
    assert long[0] == tokenizer.sot_prev and long[-len(start) :] == start
    assert long[1 : 1 + len(term_tokens)] == term_tokens  # the terms whole, first
    assert short[1 : 1 + len(term_tokens)] == term_tokens  # the context gave way, not the terms
    assert tokenizer.decode(short[1 + len(term_tokens) : -len(start)]) == " Hello there."
    assert tokenizer.decode(long[1 + len(term_tokens) : -len(start)]).endswith("real time.")
    (alone,) = backend._prompts(tokenizer, requests[:1])  # not cut to a shorter neighbour
    assert len(alone) - len(start) - 1 == 200
    assert alone[1 : 1 + len(term_tokens)] == term_tokens
    assert tokenizer.decode(alone[1 + len(term_tokens) : -len(start)]).endswith("real time.")
    (plain,) = backend._prompts(tokenizer, [dataclasses.replace(requests[0], terms=())])
    assert len(plain) - len(start) - 1 == 200
    assert backend.count_tokens(" Dashwood,") == len(tokenizer.encode(" Dashwood,"))


async def test_the_factory_gives_the_config_glossary_to_the_asr_stage(tmp_path):
    from pipeline.clock import SimulatedClock
    from pipeline.factory import build_stages
    from pipeline.fakes import fake_config, fake_registry

    config = dataclasses.replace(fake_config(tmp_path), glossary=GLOSSARY)
    registry = fake_registry()
    try:
        stages = build_stages(config, registry, SimulatedClock())
        (asr,) = [s for s in stages if isinstance(s, ASRStage)]
        assert asr.glossary is GLOSSARY
        assert set(asr._terms("en")) == EN  # counted by the loaded backend's tokenizer
    finally:
        registry.close()


class Misheard(Engine):
    """Hears the colleague's name one letter off, as whisper-base does with the prompt."""

    async def transcribe(self, request):
        result = await super().transcribe(request)
        words = tuple(
            Word("Havorsen", w.start, w.end) if w.word == "Haverson" else w for w in result.words
        )
        return ASRResult(words, "en")


async def committed_text(config, glossary=GLOSSARY):
    stage, text = ASRStage(Misheard(), config, glossary), []
    for event in utterance(1, seconds=6.0):
        async for out in stage.process(event):
            if isinstance(out, SourceCommit):
                text += [w.word for w in out.words]
    return text


async def test_a_near_miss_of_a_prompt_term_is_committed_as_the_term():
    assert "Halvorsen" in await committed_text(ASRConfig(language="en"))
    assert "Havorsen" in await committed_text(ASRConfig(language="en", glossary_respell=False))
    assert "Havorsen" in await committed_text(ASRConfig(language="en", glossary_prompt=False))
    assert "Havorsen" in await committed_text(ASRConfig(language="en"), glossary=None)
