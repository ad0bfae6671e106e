"""A room whose speaker sets a glossary, on fake engines (the model is not the point here).

The fake ASR hears w1, w2, ... (every fourth word ends a sentence); the fake translator
answers "[de] <source>", so a term kept as is ("w3") is used and one with another
translation ("w2" = "zwei") is missed, and listeners see both in `terms`.
"""

from __future__ import annotations

import asyncio
import json

from pipeline.config import PipelineConfig
from pipeline.fakes import FakeTranslator
from pipeline.glossary import MAX_TERMS, glossary_from_entries
from rtt.server import Close
from tests.rtt.server.helpers import listen_frames, running_server, speak_frames, speech
from tests.rtt.server.test_server_protocol import expect_refusal

TERMS = [{"en": "w2", "de": "zwei"}, {"en": "w3"}]


def term_commits(frames):
    return [f for f in frames if f["type"] == "target_commit" and "terms" in f]


async def test_a_speakers_glossary_reaches_the_translator_and_the_listeners(tmp_path):
    translator = FakeTranslator()
    async with running_server(tmp_path, translator=translator) as server:
        listener = asyncio.create_task(
            listen_frames(server.url, {"room": "r", "languages": ["de"]})
        )
        await asyncio.sleep(0.2)
        start = {"room": "r", "targets": ["de"], "glossary": TERMS}
        spoken = await speak_frames(server.url, speech(1, 2.0), start=start)
        heard = await asyncio.wait_for(listener, 30)
    for frames in (spoken, heard):
        (commit,) = term_commits(frames)
        assert commit["terms"] == {"used": ["w3"], "missed": ["zwei"]}
    guides = [r.guide for r in translator.requests if r.guide is not None and r.guide.terms]
    assert guides and all(("w2", "zwei", "") in g.terms for g in guides)


async def test_the_server_default_glossary_applies_when_the_speaker_sends_none(tmp_path):
    default = PipelineConfig(glossary=glossary_from_entries([{"en": "w1", "de": "eins"}]))
    async with running_server(tmp_path, pipeline=default) as server:
        frames = await speak_frames(server.url, speech(1, 2.0), start={"targets": ["de"]})
    (commit,) = term_commits(frames)
    assert commit["terms"] == {"used": [], "missed": ["eins"]}


async def test_a_bad_glossary_is_refused_with_a_clear_error_frame(tmp_path):
    async with running_server(tmp_path, max_message=200_000) as server:
        for glossary, message in [
            ({"en": "x"}, "must be a list"),
            ([{"en": "x", "xx": "y"}], "glossary[1]: unknown language 'xx'"),
            ([{"en": "x"}] * (MAX_TERMS + 1), f"more than {MAX_TERMS}"),
        ]:
            start = json.dumps({"type": "start", "targets": ["de"], "glossary": glossary})
            error = await expect_refusal(
                server.url, start, code="bad_glossary", close=Close.PROTOCOL
            )
            assert message in error["message"]
