"""VAD: the segmenter with scripted decisions, the stage with a scripted classifier,
and the webrtc and silero classifiers on silence and synthetic speech (espeak-ng)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
import soxr

from pipeline.config import SourceConfig, VADConfig
from pipeline.errors import ConfigError
from pipeline.events import AudioChunk, End, Error, Flush, SpeechEnd, SpeechStart
from pipeline.vad import (
    SegmentAudio,
    SegmentEnd,
    SegmentStart,
    SileroClassifier,
    UtteranceSegmenter,
    VADStage,
    WebRtcClassifier,
)
from tests.conftest import require_tool

RATE = 16000
FRAME = 480  # 30 ms
F = FRAME / RATE

# 3 frames of pre-roll and of min_speech, 5 frames of hang-over.
CFG = VADConfig(frame_ms=30, pre_roll=3 * F, min_speech=3 * F, hangover=5 * F, max_utterance=10.0)


def feed_script(decisions: str, config: VADConfig = CFG) -> list:
    """'.' silence, 'S' speech, one frame each; frame i is filled with the value i."""
    seg = UtteranceSegmenter(config)
    out = []
    for i, d in enumerate(decisions):
        out += seg.feed(d == "S", np.full(FRAME, i, dtype=np.float32), i * F)
    return out, seg


def spans(segments: list) -> list[tuple]:
    """Each utterance as (number, start, end, first frame index, frames of audio)."""
    result, audio = [], {}
    for s in segments:
        if isinstance(s, SegmentAudio):
            audio.setdefault(s.utterance, []).append(s.samples)
    starts = {s.utterance: s.start for s in segments if isinstance(s, SegmentStart)}
    for s in segments:
        if isinstance(s, SegmentEnd):
            samples = np.concatenate(audio[s.utterance])
            result.append(
                (s.utterance, starts[s.utterance], s.end, samples[0], len(samples) / FRAME)
            )
    return result


# --- the segmenter ---------------------------------------------------------------


def test_short_burst_is_not_speech_and_onset_takes_min_speech():
    out, _ = feed_script("..........SS...SSS" + "." * 10)
    # The 2-frame burst is noise; the 3-frame run at frame 15 is an utterance.
    [(n, start, end, first, frames)] = spans(out)
    assert n == 1
    assert start == pytest.approx(12 * F)  # onset frame 15 minus 3 frames of pre-roll
    assert first == 12  # the pre-roll audio is emitted, starting at the right frame
    assert end == pytest.approx(18 * F)  # end of the last speech frame (17), not of the hang-over
    assert frames == 3 + 3 + 5  # pre-roll, speech, hang-over frames forwarded as audio


def test_speech_start_is_emitted_at_onset_not_before():
    seg = UtteranceSegmenter(CFG)
    for i in range(2):
        assert seg.feed(True, np.zeros(FRAME, np.float32), i * F) == []
    third = seg.feed(True, np.zeros(FRAME, np.float32), 2 * F)
    assert isinstance(third[0], SegmentStart) and isinstance(third[1], SegmentAudio)


@pytest.mark.parametrize("script", ["SSS.......", ".SSS......"])
def test_pre_roll_is_clamped_at_the_stream_start(script):
    out, _ = feed_script(script)
    [(_, start, end, first, _)] = spans(out)
    assert start == 0.0 and first == 0
    assert end == pytest.approx(script.rindex("S") * F + F)


def test_pre_roll_cuts_inside_a_frame():
    config = dataclasses.replace(CFG, pre_roll=0.05)  # 800 samples: one frame and 320 samples
    out, _ = feed_script("......SSS.....", config)
    start = next(s for s in out if isinstance(s, SegmentStart)).start
    audio = next(s for s in out if isinstance(s, SegmentAudio))
    assert start == pytest.approx(6 * F - 0.05)
    assert audio.start == start and len(audio.samples) == 800 + 3 * FRAME


def test_a_pause_shorter_than_the_hangover_keeps_one_utterance():
    out, _ = feed_script("SSS....SSS" + "." * 5)
    [(n, start, end, _, frames)] = spans(out)
    assert (n, start, end, frames) == (1, 0.0, pytest.approx(10 * F), 15)


def test_hangover_ends_the_utterance_and_the_next_pre_roll_stays_after_it():
    out, _ = feed_script("SSS" + "." * 5 + "SSS" + "." * 5)
    first, second = spans(out)
    assert first[:3] == (1, 0.0, pytest.approx(3 * F))
    # Utterance 1 ended with frame 7; the pre-roll of utterance 2 cannot reach back into it.
    assert second[0] == 2
    assert second[1] == pytest.approx(8 * F) and second[3] == 8
    assert second[2] == pytest.approx(11 * F)


def test_forced_split_at_max_utterance_loses_and_repeats_nothing():
    config = dataclasses.replace(CFG, max_utterance=10 * F)
    out, seg = feed_script("." * 4 + "S" * 40, config)
    out += seg.finish(np.zeros(0, np.float32), 44 * F)
    result = spans(out)
    assert [r[0] for r in result] == [1, 2, 3, 4, 5]
    assert all(r[4] <= 10 for r in result)  # never longer than max_utterance
    for a, b in zip(result, result[1:]):
        assert a[2] == pytest.approx(b[1])  # the next starts where the previous ended
    audio = np.concatenate([s.samples for s in out if isinstance(s, SegmentAudio)])
    assert np.array_equal(
        audio[::FRAME], np.arange(1, 44)
    )  # pre-roll from frame 1, no gap, no repeat


def test_forced_split_in_hangover_goes_idle():
    config = dataclasses.replace(CFG, max_utterance=8 * F, hangover=10 * F)
    out, _ = feed_script("SSSSSS" + "." * 6, config)
    [(n, start, end, _, frames)] = spans(out)
    assert (n, end, frames) == (1, pytest.approx(6 * F), 8)
    assert not any(isinstance(s, SegmentStart) and s.utterance == 2 for s in out)


def test_finish_closes_at_the_end_of_the_audio_seen():
    out, seg = feed_script("SSSS")
    tail = np.full(100, 4, dtype=np.float32)
    closing = seg.finish(tail, 4 * F)
    assert isinstance(closing[0], SegmentAudio) and closing[0].start == pytest.approx(4 * F)
    assert closing[1] == SegmentEnd(1, pytest.approx(4 * F + 100 / RATE))
    assert seg.finish(np.zeros(0, np.float32), 5 * F) == []  # nothing open any more


def test_finish_during_hangover_ends_at_the_last_speech():
    _, seg = feed_script("SSSS..")
    assert seg.finish(np.zeros(0, np.float32), 6 * F) == [SegmentEnd(1, pytest.approx(4 * F))]


def test_bad_segmenter_config():
    with pytest.raises(ConfigError, match="max_utterance"):
        UtteranceSegmenter(dataclasses.replace(CFG, max_utterance=0.1))
    with pytest.raises(ConfigError, match="hangover"):
        UtteranceSegmenter(dataclasses.replace(CFG, hangover=-1.0))


# --- the stage with a scripted classifier -----------------------------------------


class Scripted:
    """Speech wherever the frame's samples are non-zero."""

    frame_samples = FRAME

    def is_speech(self, frame: np.ndarray) -> bool:
        return bool(np.any(frame))


async def run_stage(stage: VADStage, signal: np.ndarray, chunk: int = 1600, tail=None) -> list:
    await stage.start()
    events = []
    for i in range(0, len(signal), chunk):
        piece = AudioChunk(stream="s", start=i / RATE, samples=signal[i : i + chunk])
        events.append([e async for e in stage.process(piece)])
    for control in tail or [End(stream="s")]:
        events.append([e async for e in stage.process(control)])
    await stage.stop()
    return events


def speech_signal(*regions: tuple[float, float], total: float) -> np.ndarray:
    signal = np.zeros(round(total * RATE), dtype=np.float32)
    for a, b in regions:
        signal[round(a * RATE) : round(b * RATE)] = 0.5
    return signal


async def test_stage_numbers_utterances_and_drops_silence():
    signal = speech_signal((0.9, 1.5), (2.7, 3.3), total=4.5)
    per_chunk = await run_stage(VADStage(CFG, stream="s", classifier=Scripted()), signal)
    events = [e for batch in per_chunk for e in batch]
    starts = [e for e in events if isinstance(e, SpeechStart)]
    ends = [e for e in events if isinstance(e, SpeechEnd)]
    assert [(e.utterance, round(e.start, 3)) for e in starts] == [(1, 0.81), (2, 2.61)]
    assert [(e.utterance, round(e.end, 3)) for e in ends] == [(1, 1.5), (2, 3.3)]
    assert isinstance(events[-1], End)
    for n, start in ((1, 0.81), (2, 2.61)):
        chunks = [e for e in events if isinstance(e, AudioChunk) and e.utterance == n]
        assert chunks[0].start == pytest.approx(start)
        for a, b in zip(chunks, chunks[1:]):  # contiguous audio
            assert b.start == pytest.approx(a.end)
        assert chunks[-1].end == pytest.approx(ends[n - 1].end + CFG.hangover, abs=F)
    # At most one audio chunk per input chunk, and nothing outside speech.
    assert all(sum(isinstance(e, AudioChunk) for e in batch) <= 1 for batch in per_chunk)
    assert per_chunk[0] == [] and per_chunk[-2] == []


async def test_stage_end_and_flush_close_an_open_utterance_and_are_forwarded():
    signal = speech_signal(
        (0.3, 1.06), total=1.06
    )  # speech to the very end: 35 frames and 160 samples
    flush, end = Flush(stream="s"), End(stream="s")
    per_chunk = await run_stage(
        VADStage(CFG, stream="s", classifier=Scripted()), signal, chunk=1000, tail=[flush, end]
    )
    assert [type(e) for e in per_chunk[-2]] == [AudioChunk, SpeechEnd, Flush]
    tail, closing, forwarded = per_chunk[-2]
    assert tail.end == pytest.approx(1.06) and closing.end == pytest.approx(
        1.06
    )  # the partial frame too
    assert forwarded is flush and per_chunk[-1] == [end]


async def test_stage_forwards_other_events_unchanged():
    stage = VADStage(CFG, stream="s", classifier=Scripted())
    await stage.start()
    error = Error(stream="s", code="x", message="y")
    assert [e async for e in stage.process(error)] == [error]


def test_stage_rejects_bad_config():
    with pytest.raises(ConfigError, match="frame_ms"):
        VADStage(dataclasses.replace(CFG, frame_ms=25), stream="s")
    with pytest.raises(ConfigError, match="aggressiveness"):
        VADStage(dataclasses.replace(CFG, aggressiveness=7), stream="s")
    with pytest.raises(ConfigError, match="backend"):
        VADStage(dataclasses.replace(CFG, backend="nope"), stream="s")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="threshold"):
        VADStage(dataclasses.replace(CFG, backend="silero", threshold=1.5), stream="s")


# --- real classifiers -------------------------------------------------------------


def test_webrtc_frame_size():
    assert WebRtcClassifier(VADConfig(frame_ms=20)).frame_samples == 320
    assert SileroClassifier(VADConfig()).frame_samples == 512


def test_silero_streaming_matches_faster_whisper_batch():
    """The recurrent state and the 64-sample context carry across calls as in faster-whisper."""
    from faster_whisper.vad import SileroVADModel

    from pipeline.vad.silero import silero_model_path

    rng = np.random.default_rng(0)
    t = np.arange(512 * 40) / RATE
    audio = (
        0.3 * np.sin(2 * np.pi * 220 * t) * (t > 0.4) + 0.01 * rng.standard_normal(len(t))
    ).astype(np.float32)
    expected = SileroVADModel(str(silero_model_path()))(audio).reshape(-1)
    classifier = SileroClassifier(VADConfig())
    streamed = [classifier.probability(audio[i : i + 512]) for i in range(0, len(audio), 512)]
    np.testing.assert_allclose(streamed, expected, atol=1e-4)


def _vad_config(backend: str) -> VADConfig:
    return VADConfig(backend=backend, pre_roll=0.0)


@pytest.mark.parametrize("backend", ["webrtc", "silero"])
@pytest.mark.parametrize("kind", ["zeros", "hiss"])
async def test_silence_has_no_utterance(backend, kind):
    rng = np.random.default_rng(1)
    signal = (
        np.zeros(3 * RATE, np.float32)
        if kind == "zeros"
        else (0.002 * rng.standard_normal(3 * RATE)).astype(np.float32)
    )
    per_chunk = await run_stage(VADStage(_vad_config(backend), stream="s"), signal)
    assert [e for batch in per_chunk for e in batch] == [End(stream="s")]


@pytest.fixture(scope="module")
def spoken(tmp_path_factory) -> tuple[Path, float, float]:
    """A 22.05 kHz WAV: 1 s of silence, an espeak-ng sentence, 1.5 s of silence; and the speech span."""
    require_tool("espeak-ng", "apt-get install espeak-ng: no synthetic speech to test on")
    tmp = tmp_path_factory.mktemp("speech")
    raw = tmp / "raw.wav"
    subprocess.run(
        ["espeak-ng", "-w", str(raw), "The quick brown fox jumps over the lazy dog."], check=True
    )
    with wave.open(str(raw)) as w:
        rate = w.getframerate()
        speech = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    padded = np.concatenate([np.zeros(rate, "<i2"), speech, np.zeros(rate * 3 // 2, "<i2")])
    loud = np.flatnonzero(np.abs(padded) > 0.02 * 32768)
    path = tmp / "speech.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(padded.tobytes())
    return path, loud[0] / rate, loud[-1] / rate


class NoClock:
    def now(self) -> float:
        return 0.0

    async def sleep_until(self, t: float) -> None:
        pass


async def utterances_in(path: Path, backend: str) -> list[tuple[float, float]]:
    """(start, end) of each utterance the stage finds in a file, read through FileSource."""
    from pipeline.audio import FileSource

    stage = VADStage(_vad_config(backend), stream="s")
    await stage.start()
    events = []
    async for chunk in FileSource(path, stream="s", config=SourceConfig()).chunks(NoClock()):
        events += [e async for e in stage.process(chunk)]
    events += [e async for e in stage.process(End(stream="s"))]
    starts = [e.start for e in events if isinstance(e, SpeechStart)]
    ends = [e.end for e in events if isinstance(e, SpeechEnd)]
    assert len(starts) == len(ends)
    return list(zip(starts, ends))


@pytest.mark.parametrize("backend", ["webrtc", "silero"])
async def test_one_utterance_where_the_speech_is(spoken, backend):
    path, speech_start, speech_end = spoken
    [(start, end)] = await utterances_in(path, backend)
    assert start == pytest.approx(speech_start, abs=0.3)
    assert end == pytest.approx(speech_end, abs=0.3)


def test_resampled_speech_is_detected_frame_by_frame(spoken):
    """Sanity check of the classifiers themselves: most frames inside the speech are speech."""
    path, a, b = spoken
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
    x = soxr.resample(x, rate, RATE).astype(np.float32)
    for classifier in (WebRtcClassifier(VADConfig()), SileroClassifier(VADConfig())):
        n = classifier.frame_samples
        votes = [classifier.is_speech(x[i : i + n]) for i in range(0, len(x) - n + 1, n)]
        inside = votes[int(a * RATE) // n : int(b * RATE) // n]
        outside = votes[: int(0.9 * RATE) // n]
        assert np.mean(inside) > 0.6 and not any(outside), type(classifier).__name__


SAMPLES = Path(__file__).resolve().parents[3] / "audio_samples"


@pytest.mark.parametrize("backend", ["webrtc", "silero"])
async def test_sample_corpus_utterances_are_found(backend):
    """The short corpus item: each reference utterance found once, its boundaries within 0.3 s."""
    manifest = SAMPLES / "manifest.json"
    items = json.loads(manifest.read_text())["items"] if manifest.exists() else []
    item = next(
        (i for i in items if i["id"] == "short-workshop-en" and (SAMPLES / i["audio"]).exists()),
        None,
    )
    if item is None:
        pytest.skip(
            "audio_samples/short-workshop-en is not there (scripts/make_samples.py builds it)"
        )
    found = await utterances_in(SAMPLES / item["audio"], backend)
    expected = [(u["start"], u["end"]) for u in item["utterances"]]
    assert len(found) == len(expected), found
    for (a, b), (ea, eb) in zip(found, expected):
        assert a == pytest.approx(ea, abs=0.3) and b == pytest.approx(eb, abs=0.3)
