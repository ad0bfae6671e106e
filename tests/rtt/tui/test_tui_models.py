"""The live TUI on the real small models (Whisper tiny.en, Qwen2.5-Coder 0.5B).

The sample clip goes through the app's own session and worker: from a file on the
simulated clock (repeatable, as fast as the CPU allows), and through the microphone
path with a fake PortAudio stream. The panes must fill with the expected text.
"""

from __future__ import annotations

import dataclasses

import jiwer
import numpy as np
import py3langid
import pytest
from faster_whisper.audio import decode_audio
from whisper_normalizer.english import EnglishTextNormalizer

from pipeline.audio import MicSource, open_source
from rtt.corpus import corpus_item
from rtt.tui import LiveApp, LiveSession
from tests.rtt.tui.helpers import FakeMicStream, wait_for

pytestmark = pytest.mark.models
WER_BOUND = 0.2
SIZE = (140, 36)


def wer(reference: str, hypothesis: str) -> float:
    norm = EnglishTextNormalizer()
    return jiwer.wer(norm(reference), norm(hypothesis))


def assert_panes_filled(app: LiveApp, transcript: str) -> None:
    source = app.source_pane.shown_text
    assert wer(transcript, source) < WER_BOUND, source
    german = app.panes["de"].shown_text
    assert german and py3langid.classify(german)[0] == "de", german
    assert not app.panes["de"].core.tail  # every sentence got its final translation
    pieces = list(app.store.pieces())
    assert {p.kind for p in pieces} == {"source", "target"}


async def test_file_input_fills_source_and_target_panes(small_config, shared_registry):
    item = corpus_item("short-workshop-en")

    def open_input(config):
        return open_source(str(item.audio), stream=config.stream, config=config.source)

    session = LiveSession(small_config, open_input, shared_registry, live=False, input_label="file")
    app = LiveApp(session, targets=("de",), source_lang="en")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.state in ("ended", "failed"), timeout=240)
        assert app.state == "ended"
        assert_panes_filled(app, item.transcript)
        stats = session.stats()
        assert (
            stats.ttf_p50 is not None
            and stats.rtf is not None
            and stats.audio_seconds == pytest.approx(item.duration, abs=0.2)
        )
        assert "whisper-tiny.en" in app.status_bar.query_one("#models").content.plain


async def test_microphone_path_through_a_fake_input_stream(small_config, shared_registry):
    item = corpus_item("short-workshop-en")
    samples = decode_audio(str(item.audio), sampling_rate=16000)
    room_tone = (
        np.random.default_rng(0).normal(0, 0.001, 16000).astype(np.float32)
    )  # about -60 dBFS
    samples = np.concatenate([samples, room_tone])
    streams: list[FakeMicStream] = []

    def fake_portaudio(device, callback):
        streams.append(FakeMicStream(samples, callback, block=1600, pace=0.02))  # 5x real time
        return streams[-1]

    def open_mic(config):
        return MicSource(stream=config.stream, config=config.source, stream_factory=fake_portaudio)

    config = dataclasses.replace(
        small_config, source=dataclasses.replace(small_config.source, realtime=True)
    )
    session = LiveSession(config, open_mic, shared_registry, live=True, input_label="mic (fake)")
    app = LiveApp(session, targets=("de",), source_lang="en")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(
            pilot,
            lambda: (
                session.gate is not None
                and session.gate.audio_seconds >= len(samples) / 16000 - 0.1
            ),
            timeout=240,
        )
        assert -70 < session.stats().level < -50  # the meter hears the room tone
        session.end_input()  # what a quit or Ctrl-C does: stop capture, flush what was said
        await wait_for(pilot, lambda: app.state in ("ended", "failed"), timeout=240)
        assert app.state == "ended"
        assert_panes_filled(app, item.transcript)
    assert streams and streams[0].stopped.is_set()
