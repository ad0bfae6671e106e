"""`rtt batch`'s translation step gives each sentence its own glossary terms (fake engine)."""

from __future__ import annotations

from pipeline.events import Word
from pipeline.glossary import glossary_from_entries
from pipeline.mt.guide import Guidance
from pipeline.mt.sentences import Sentence
from pipeline.offline.translate import translate_sentences
from tests.support import FakeEngine


def sentence(index: int, text: str) -> Sentence:
    words = tuple(
        Word(w, index + i * 0.1, index + i * 0.1 + 0.1) for i, w in enumerate(text.split())
    )
    return Sentence(index, 1, words)


async def test_each_sentence_gets_only_its_terms_and_no_context():
    engine = FakeEngine()
    glossary = glossary_from_entries([{"en": "heat pump", "de": "Wärmepumpe"}])
    sentences = [sentence(0, "A heat pump."), sentence(1, "You are welcome.")]
    out = await translate_sentences(
        engine, sentences, "en", ["de"], guidance=Guidance(glossary, context=0)
    )
    assert out["de"] == ("main:de:A heat pump.", "main:de:You are welcome.")
    guides = {r.source: r.guide for r in engine.requests}
    assert guides["A heat pump."].terms == (("heat pump", "Wärmepumpe", ""),)
    assert (
        guides["You are welcome."].terms == () and guides["You are welcome."].register == "formal"
    )
    assert all(not g.context for g in guides.values())
    await translate_sentences(engine, sentences[:1], "en", ["de"])
    assert engine.requests[-1].guide is None


async def test_a_translation_that_breaks_the_register_is_asked_once_more_insisting():
    engine = FakeEngine(script=["Kannst du mich hören?", "Können Sie mich hören?"])
    sentences = [sentence(0, "Can you hear me?")]
    out = await translate_sentences(
        engine, sentences, "en", ["de"], guidance=Guidance(None, context=0)
    )
    assert out["de"] == ("Können Sie mich hören?",)
    assert [r.guide.insist for r in engine.requests] == [False, True]
