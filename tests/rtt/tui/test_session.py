"""The TUI's live session steers its running pipeline in band and reads its stats snapshot
(the real composition on fake engines: no model)."""

from __future__ import annotations

import dataclasses

import pytest

from pipeline.config import SourceConfig
from pipeline.events import SourceCommit, TargetCommit
from pipeline.fakes import fake_registry
from rtt.tui.session import LiveSession
from tests.support import ArraySource, fake_config, speech_samples


async def test_targets_and_the_microphone_change_while_the_pipeline_runs(tmp_path):
    config = fake_config(tmp_path)
    config = dataclasses.replace(config, source=SourceConfig(realtime=False))
    config = dataclasses.replace(config, mt=dataclasses.replace(config.mt, targets=("de",)))
    registry = fake_registry()
    second = ArraySource(speech_samples(1))
    session = LiveSession(
        config, lambda c: ArraySource(speech_samples(2)), registry, live=True, owns_registry=True
    )
    events, switched, at = [], False, 0.0
    async for event in session.events():
        events.append(event)
        if isinstance(event, SourceCommit) and event.utterance == 1 and not switched:
            session.set_targets(("es",))  # in band: from here on the translator serves es
        if isinstance(event, SourceCommit) and event.utterance == 2 and not switched:
            at = session.stats().audio_seconds
            await session.switch_source(second, "mic 2")
            switched = True
    await session.close()
    finals = [(e.utterance, e.lang) for e in events if isinstance(e, TargetCommit)]
    assert "es" in {lang for _, lang in finals}
    assert all(lang == "es" for u, lang in finals if u >= 2)
    stats = session.stats()
    assert stats.input == "mic 2" and second.closed and stats.rtf is not None
    # the second microphone's 3 s went on on the same stream clock
    assert at + 2.9 <= stats.audio_seconds <= at + 3.5
    last = max(e.end for e in events if isinstance(e, SourceCommit))
    assert last > at + 1.0
    engines = {e.name: e for e in session.pipeline.stats().engines}  # the shared engines' counters
    assert set(engines) == {"fake-asr", "fake-mt"} and engines["fake-asr"].requests > 0


async def test_reloading_the_glossary_reaches_the_running_translator_in_band(tmp_path):
    from pipeline.errors import ConfigError
    from pipeline.fakes import FakeTranslator
    from pipeline.glossary import load_glossary

    path = tmp_path / "terms.csv"
    path.write_text("en,de\nw9,neun\n")
    config = fake_config(tmp_path)
    config = dataclasses.replace(
        config, source=SourceConfig(realtime=False), glossary=load_glossary(path)
    )
    translator = FakeTranslator()
    session = LiveSession(
        config, lambda c: ArraySource(speech_samples(3)), fake_registry(translator), live=True
    )
    async for event in session.events():
        if isinstance(event, SourceCommit) and event.utterance == 1:
            path.write_text("en,de\nw1,eins\n")
            assert len(session.reload_glossary()) == 1
    await session.close()
    later = [r.guide.terms for r in translator.requests if r.guide and r.guide.terms]
    assert later and all(t == (("w1", "eins", ""),) for t in later)
    bare = LiveSession(fake_config(tmp_path), lambda c: None, fake_registry(), live=True)
    with pytest.raises(ConfigError, match="--glossary"):
        bare.reload_glossary()
