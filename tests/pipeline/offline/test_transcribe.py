"""The whole-file transcriber: windows that end past the audio, and the file's language."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from pipeline.config import ASRConfig, ComputeConfig, PipelineConfig
from pipeline.factory import asr_engine
from pipeline.offline.config import OfflineConfig
from pipeline.offline.segment import RATE, SpeechSegment, Window, asr_windows, speech_segments
from pipeline.offline.transcribe import BatchTranscriber
from rtt.corpus import corpus_item
from tests.conftest import model_path

pytestmark = pytest.mark.models


def whisper(registry, name):
    model_path(name)
    config = PipelineConfig(asr=ASRConfig(model=name), compute=ComputeConfig(device="cpu"))
    return asr_engine(registry, config).backend


def espeak(tmp_path, voice: str, text: str) -> np.ndarray:
    """Speech made the way issue 17 found the failure: espeak-ng, resampled to 16 kHz mono."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/setup installs it)")
    from faster_whisper import decode_audio

    wav = tmp_path / "s.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True)
    return decode_audio(str(wav), sampling_rate=RATE)


def test_a_window_ending_past_the_last_sample(shared_registry):
    from faster_whisper import decode_audio

    audio = decode_audio(str(corpus_item("clip-en-hello-world").audio), sampling_rate=RATE)
    end = round(len(audio) / RATE + 0.0004, 3)  # rounded up, as segments are
    window = Window(0.0, end, (SpeechSegment(0.0, end),))
    transcriber = BatchTranscriber(whisper(shared_registry, "whisper-tiny.en"), OfflineConfig())
    transcript = transcriber.transcribe(audio, [window], "en")
    assert transcript.words and transcript.words[-1].end <= len(audio) / RATE


def test_the_espeak_clip_of_issue_17(shared_registry, tmp_path):
    audio = espeak(tmp_path, "es", "Necesito comprar pan y leche.")
    config = OfflineConfig()
    windows = asr_windows(speech_segments(audio, config), config)
    model = whisper(shared_registry, "whisper-base")
    transcript = BatchTranscriber(model, config).transcribe(audio, windows, "es")
    # (whisper-base hears robotic Spanish poorly: the point is that it does not fail)
    assert transcript.words and transcript.words[-1].end <= len(audio) / RATE
    # auto: decided by the streaming path's core among the candidates (on 2 s of robotic
    # speech whisper-base is unsure, see docs/eval/langid.md; here only: no failure)
    transcript = BatchTranscriber(model, config, ("en", "es")).transcribe(audio, windows, None)
    assert transcript.language in ("en", "es") and 0.5 <= transcript.language_probability <= 1


def test_the_glossary_reaches_the_batch_prompt_by_the_streaming_rule(shared_registry):
    """The batch path puts the same terms in Whisper's prompt: the company name of
    talk-energy-en is heard right with the glossary and not without (tiny.en)."""
    from faster_whisper import decode_audio

    from pipeline.asr.terms_prompt import source_terms
    from pipeline.glossary import load_glossary
    from pipeline.words import join_words

    item = corpus_item("talk-energy-en")
    glossary = load_glossary(item.glossary)
    audio = decode_audio(str(item.audio), sampling_rate=RATE)[7 * RATE : int(9.9 * RATE)]
    end = round(len(audio) / RATE, 3)
    windows = [Window(0.0, end, (SpeechSegment(0.0, end),))]
    model = whisper(shared_registry, "whisper-tiny.en")
    with_terms = BatchTranscriber(model, OfflineConfig(), (), glossary, 64)
    assert with_terms.terms("en") == source_terms(glossary, "en")
    assert with_terms.terms("de") == source_terms(glossary, "de")  # the source's forms only
    assert BatchTranscriber(model, OfflineConfig(), (), glossary, 0).terms("en") == ()
    heard = join_words(list(with_terms.transcribe(audio, windows, "en").words))
    plain = join_words(
        list(BatchTranscriber(model, OfflineConfig()).transcribe(audio, windows, "en").words)
    )
    assert "Nordlicht Energy" in heard, heard
    assert "Nordlicht Energy" not in plain, plain
