"""Glossary terms, context and register in the prompt, with a scripted translator.

The translator renders each request through rtt's real prompt template and answers
from a script, so the test sees exactly what a model would read.
"""

import asyncio

from pipeline.config import MTConfig
from pipeline.events import End, SetGlossary, SpeechEnd, TargetCommit, TargetPartial, TermUse
from pipeline.glossary import parse_glossary
from pipeline.mt.guide import Guidance, PromptGuide, needs_register
from pipeline.mt.prompts import template_for
from pipeline.mt.stage import TranslateStage
from pipeline.mt.translator import Translation
from tests.support import FakeClock, commit

GLOSSARY = parse_glossary("en,de,note\nheat pump,Wärmepumpe,\nDashwood,,surname\n")
TEMPLATE = template_for("chatml")


class ScriptedEngine:
    """Answers each final from `script` (source -> translation); records the prompts."""

    name = "scripted"

    def __init__(self, script: dict[str, str]) -> None:
        self.script = script
        self.prompts: list[str] = []

    async def translate(self, request):
        prompt = TEMPLATE.static_text(request.source_lang, request.target_lang)
        self.prompts.append(prompt + TEMPLATE.request_text(*_request(request)))
        await asyncio.sleep(0)
        return Translation(self.script.get(request.source, "?"), tokens=1, steps=1)


def _request(request):
    return request.target_lang, request.source, request.guide


async def run(stage, events):
    out = []
    for event in events:
        async for o in stage.process(event):
            out.append(o)
        while stage.pending():
            async for o in stage.work():
                out.append(o)
    return [o for o in out if isinstance(o, (TargetPartial, TargetCommit))]


def make(engine, glossary=GLOSSARY, **config):
    config = MTConfig(targets=("de",), partials=False, **config)
    return TranslateStage(engine, config, clock=FakeClock(), glossary=glossary)


async def test_terms_reach_the_prompt_only_for_their_sentence_and_misses_are_reported():
    engine = ScriptedEngine(
        {
            "Our heat pump is quiet.": "Unsere Wärmepumpe ist leise.",
            "It runs all night.": "Sie läuft die ganze Nacht.",
            "Mr. Dashwood built two heat pumps.": "Herr Dashwood baute zwei Heizpumpen.",
        }
    )
    stage = make(engine, context=0)
    end = SpeechEnd(stream="s", utterance=1, end=9)
    out = await run(
        stage,
        [
            commit("Our heat pump is quiet.", 0),
            commit("It runs all night.", 2),
            commit("Mr. Dashwood built two heat pumps.", 4),
            end,
        ],
    )
    first, second, third = engine.prompts
    assert "- heat pump = Wärmepumpe\n" in first and "Dashwood" not in first
    assert "terms" not in second and "Wärmepumpe" not in second.split("<|im_end|>", 3)[3]
    assert "- Dashwood = Dashwood (keep as is) [surname]" in third
    assert [c.terms for c in out] == [
        TermUse(used=("Wärmepumpe",), missed=()),
        None,  # no glossary term in the sentence: no field
        TermUse(used=("Dashwood",), missed=("Wärmepumpe",)),
    ]


async def test_the_static_prefix_is_byte_identical_with_any_guide():
    plain = TEMPLATE.static_text("en", "de")
    guide = PromptGuide("en", "de", (("heat pump", "Wärmepumpe", ""),), (("a", "b"),), "formal")
    request = TEMPLATE.request_text("de", "Your heat pump.", guide)
    assert TEMPLATE.static_text("en", "de") == plain
    assert request.index("Earlier in this talk") < request.index("Use these German terms")
    assert request.index("Sie") < request.index("Translate into German:\nYour heat pump.")
    assert TEMPLATE.request_text("de", "x", None) == TEMPLATE.request_text("de", "x")


async def test_the_previous_final_is_context_for_the_next_sentence():
    engine = ScriptedEngine({"Hello.": "Hallo.", "Thanks.": "Danke."})
    stage = make(engine, glossary=None, context=1)
    await run(stage, [commit("Hello.", 0), commit("Thanks.", 1), commit("Bye", 2)])
    await run(stage, [End(stream="s")])
    assert "Earlier in this talk" not in engine.prompts[0]
    assert "English: Hello.\nGerman: Hallo.\n" in engine.prompts[1]
    assert "English: Thanks.\nGerman: Danke.\n" in engine.prompts[2]
    assert "Hello." not in engine.prompts[2].split("<|im_end|>", 3)[3]  # one sentence only


async def test_register_is_asked_for_only_when_the_text_addresses_someone():
    engine = ScriptedEngine({})
    stage = make(engine, glossary=None, context=0)
    await run(stage, [commit("Thank you.", 0), commit("The end.", 1), End(stream="s")])
    assert "Address the audience formally (Sie), never with du/ihr." in engine.prompts[0]
    assert "Address the audience" not in engine.prompts[1]
    informal = make(ScriptedEngine({}), glossary=None, register="informal").guidance
    assert informal.guide("Can you", "en", "de").register == "informal"
    assert make(ScriptedEngine({}), register="auto").guidance.guide("you", "en", "de") is None
    assert needs_register("Sie können", "de") and not needs_register("Young people", "en")


async def test_a_glossary_set_in_band_applies_from_the_next_request():
    engine = ScriptedEngine({})
    stage = make(engine, glossary=None, context=0)
    await run(stage, [commit("A heat pump.", 0), SpeechEnd(stream="s", utterance=1, end=1)])
    assert "Wärmepumpe" not in engine.prompts[0]
    await run(stage, [SetGlossary(stream="s", glossary=GLOSSARY), commit("Another heat pump.", 1)])
    await run(stage, [End(stream="s")])
    assert "- heat pump = Wärmepumpe" in engine.prompts[1]


def test_guidance_checks_with_inflection_and_says_nothing_without_terms():
    guidance = Guidance(GLOSSARY)
    guide = guidance.guide("two heat pumps", "en", "de")
    assert guidance.check(guide, "zwei Wärmepumpen") == TermUse(used=("Wärmepumpe",))
    assert guidance.check(None, "x") is None
    assert guidance.guide("nothing", "en", "de") is None


class SlippingEngine(ScriptedEngine):
    """Says "du" unless the guide insists on the register (as the 1.5B did on talk-keynote-en)."""

    async def translate(self, request):
        await super().translate(request)
        if request.guide is not None and request.guide.insist:
            return Translation("Schreiben Sie auf, warum.", tokens=1, steps=1)
        return Translation("Schreibe dir auf, warum.", tokens=1, steps=1)


async def test_a_final_that_breaks_the_formal_register_is_asked_again_once_insisting():
    engine = SlippingEngine({})
    stage = make(engine, glossary=None, context=1)
    out = await run(stage, [commit("Write down why you did it.", 0), End(stream="s")])
    assert [e.text for e in out if isinstance(e, TargetCommit)] == ["Schreiben Sie auf, warum."]
    assert len(engine.prompts) == 2 and stage.repairs == 1
    assert "This sentence too: Sie only, no du/ihr in any form." in engine.prompts[1]
    assert "This sentence too" not in engine.prompts[0]


async def test_no_second_request_when_the_register_holds_or_was_not_asked_for():
    engine = ScriptedEngine({"Write down why you did it.": "Schreiben Sie auf, warum."})
    stage = make(engine, glossary=None, context=0)
    await run(stage, [commit("Write down why you did it.", 0), End(stream="s")])
    assert len(engine.prompts) == 1 and stage.repairs == 0
    slipping = SlippingEngine({})
    auto = make(slipping, glossary=None, context=0, register="auto")  # nothing asked: kept
    out = await run(auto, [commit("Write down why you did it.", 0), End(stream="s")])
    assert [e.text for e in out if isinstance(e, TargetCommit)] == ["Schreibe dir auf, warum."]
    assert len(slipping.prompts) == 1


def test_a_guide_is_repaired_once_and_only_for_the_forms_its_register_rules_out():
    guidance = Guidance(None, register="formal")
    guide = guidance.guide("Can you see?", "en", "de")
    again = guidance.repair(guide, "Kannst du sehen?", "en", "de")
    assert again is not None and again.insist and again.register == "formal"
    assert guidance.repair(again, "Kannst du?", "en", "de") is None  # once
    assert guidance.repair(guide, "Können Sie sehen? Sie (they) sahen es.", "en", "de") is None
    informal = Guidance(None, register="informal")
    assert informal.repair(None, "Das können Sie sehen.", "en", "de") is not None
    assert guidance.repair(None, "¿Puedes ver?", "en", "es") is None  # checked for German only
    assert Guidance(None, register="auto").repair(None, "Kannst du?", "en", "de") is None


def test_a_slip_where_the_source_addressed_no_one_is_repaired_too():
    # the 0.5B on talk-opening-en: "Our first keynote speaker is Daniel Weber." -> "Dein erste ..."
    guidance = Guidance(None, register="formal", context=0)
    assert guidance.guide("Our first speaker is Daniel Weber.", "en", "de") is None
    again = guidance.repair(None, "Dein erster Sprecher ist Daniel Weber.", "en", "de")
    assert again is not None and again.register == "formal" and again.insist
    assert "This sentence too: Sie only" in again.render()
