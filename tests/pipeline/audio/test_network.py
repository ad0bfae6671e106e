"""Network inputs over loopback: a file behind http, HLS, UDP and RTMP streams, drops.

Each transport is transcribed (Whisper tiny.en, VAD + ASR only) and compared with
the same clip read from disk. Senders are a Python HTTP server and the FFmpeg
command line; RTSP is not tested: FFmpeg cannot serve RTSP playback (its
`-rtsp_flags listen` receives a stream), and Debian ships no RTSP server binary.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time

import jiwer
import numpy as np
import pytest
from whisper_normalizer.english import EnglishTextNormalizer

from pipeline.asr.stage import ASRStage
from pipeline.audio import FileSource, StreamSource, open_source
from pipeline.audio.loopback import (
    LiveServer,
    ffmpeg,
    ffmpeg_sender,
    free_port,
    needs_ffmpeg,
    serve_dir,
    silent_listener,
)
from pipeline.audio.reconnect import MIN_GAP
from pipeline.clock import SimulatedClock
from pipeline.config import SourceConfig
from pipeline.errors import AudioInputError
from pipeline.events import Error, SourceCommit, SpeechEnd, SpeechStart
from pipeline.factory import asr_engine
from pipeline.runner import Pipeline
from pipeline.vad.stage import VADStage
from rtt.corpus import corpus_item

CLIP = "clip-en-quick-brown-fox"
TALK = "short-workshop-en"
NET = SourceConfig(realtime=False, timeout=3.0, reconnect=0.0)


def wer(reference: str, hypothesis: str) -> float:
    norm = EnglishTextNormalizer()
    return jiwer.wer(norm(reference), norm(hypothesis))


async def _transcribe(source, config, registry) -> list:
    """VAD + streaming ASR on the simulated clock. `source` may be a callable that opens
    it: called once the stages are built, so a live stream is read as soon as it opens."""
    stages = [
        VADStage(config.vad, stream=config.stream),
        ASRStage(asr_engine(registry, config), config.asr),
    ]
    if callable(source):
        source = source()
    pipeline = Pipeline(source, stages, clock=SimulatedClock(), stream=config.stream)
    return [e async for e in pipeline.run()]


def text_of(events) -> str:
    return " ".join(e.text for e in events if isinstance(e, SourceCommit))


@dataclasses.dataclass
class Asr:
    config: object
    registry: object

    async def arun(self, source) -> list:
        return await _transcribe(source, self.config, self.registry)

    def run(self, source) -> list:
        return asyncio.run(self.arun(source))


@pytest.fixture(scope="module")
def asr(small_config, shared_registry) -> Asr:
    config = dataclasses.replace(small_config, source=NET)
    asr_engine(shared_registry, config)  # loaded once, before any stream opens
    return Asr(config, shared_registry)


@pytest.fixture(scope="module")
def local_text(asr):
    path = corpus_item(CLIP).audio
    return text_of(asr.run(FileSource(path, stream="s0", config=asr.config.source)))


class _Now:
    """A clock that never waits: a source is read as fast as it delivers."""

    def now(self) -> float:
        return 0.0

    async def sleep_until(self, t: float) -> None:
        return None


async def _samples(source) -> np.ndarray:
    return np.concatenate([c.samples async for c in source.chunks(_Now())])


# -- files behind http ---------------------------------------------------------------
@pytest.mark.models
def test_a_file_behind_http_reads_exactly_like_the_file(asr, local_text):
    config = asr.config
    path = corpus_item(CLIP).audio
    with serve_dir(path.parent) as base:
        url = f"{base}/{path.name}"
        remote = open_source(url, stream="s0", config=config.source)
        assert isinstance(remote, FileSource) and not remote.live
        local = FileSource(path, stream="s0", config=config.source)
        assert np.array_equal(asyncio.run(_samples(remote)), asyncio.run(_samples(local)))
        events = asr.run(open_source(url, stream="s0", config=config.source))
    assert text_of(events) == local_text and "fox" in local_text.lower()


@needs_ffmpeg
@pytest.mark.models
def test_an_hls_playlist_written_by_ffmpeg_is_transcribed_like_the_file(tmp_path, asr, local_text):
    config = asr.config
    ffmpeg(
        "-i", str(corpus_item(CLIP).audio), "-ac", "1", "-c:a", "aac", "-b:a", "64k",
        "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod", str(tmp_path / "talk.m3u8"),
    )  # fmt: skip
    with serve_dir(tmp_path) as base:
        source = open_source(f"{base}/talk.m3u8", stream="s0", config=config.source)
        assert isinstance(source, FileSource)  # a VOD playlist has an end: it is a file
        events = asr.run(source)
    assert wer(local_text, text_of(events)) <= 0.2, text_of(events)


@needs_ffmpeg
@pytest.mark.models
def test_a_live_hls_playlist_is_read_live_and_ends_when_ffmpeg_ends_it(
    tmp_path, asr, local_text, caplog
):
    sender = ffmpeg_sender(
        "-re", "-i", str(corpus_item(CLIP).audio), "-af", "apad=pad_dur=1", "-c:a", "aac",
        "-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "-hls_playlist_type", "event",
        str(tmp_path / "live.m3u8"),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not (tmp_path / "live1.ts").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        config = dataclasses.replace(asr.config.source, reconnect=5.0)
        with serve_dir(tmp_path) as base, caplog.at_level(logging.WARNING):
            opened: list = []
            events = asr.run(lambda: _keep(opened, f"{base}/live.m3u8", config))
            source = opened[0]
            assert isinstance(source, StreamSource)  # no end in the playlist yet: live
    finally:
        sender.kill()
        sender.wait()
    # the end of the playlist ends the input: reopened, it is a finished recording, not re-read
    assert "now a finished recording" in caplog.text and source.reconnects == 0
    assert not [e for e in events if isinstance(e, Error)]
    assert wer(local_text, text_of(events)) <= 0.2, text_of(events)


# -- live streams -------------------------------------------------------------------------
@needs_ffmpeg
@pytest.mark.models
def test_an_mpegts_stream_over_udp_is_transcribed_like_the_file(asr, local_text):
    config = asr.config
    port = free_port()
    url = f"udp://127.0.0.1:{port}"

    async def run():
        opening = asyncio.create_task(
            asyncio.to_thread(open_source, url, stream="s0", config=config.source)
        )
        await asyncio.sleep(0.3)  # the reader binds the port first
        sender = ffmpeg_sender(
            "-re", "-i", str(corpus_item(CLIP).audio), "-af", "adelay=1000:all=1,apad=pad_dur=1",
            "-c:a", "mp2", "-f", "mpegts", f"{url}?pkt_size=1316",
        )  # fmt: skip
        try:
            source = await opening
            assert isinstance(source, StreamSource) and source.live
            return await asr.arun(source)
        finally:
            sender.kill()
            sender.wait()

    events = asyncio.run(run())
    assert not [e for e in events if isinstance(e, Error)]
    assert wer(local_text, text_of(events)) <= 0.2, text_of(events)


@needs_ffmpeg
@pytest.mark.models
def test_an_rtmp_stream_is_transcribed_like_the_file(asr, local_text):
    config = asr.config
    url = f"rtmp://127.0.0.1:{free_port()}/live/talk"
    sender = ffmpeg_sender(
        "-re", "-i", str(corpus_item(CLIP).audio), "-af", "apad=pad_dur=1",
        "-c:a", "aac", "-f", "flv", "-listen", "1", url,
    )  # fmt: skip
    try:
        source = _open_when_listening(url, config.source)
        assert isinstance(source, StreamSource)
        events = asr.run(source)
    finally:
        sender.kill()
        sender.wait()
    assert not [e for e in events if isinstance(e, Error)]
    assert wer(local_text, text_of(events)) <= 0.2, text_of(events)


def _keep(opened: list, url: str, config: SourceConfig):
    """open_source, keeping the source for the test to inspect."""
    opened.append(open_source(url, stream="s0", config=config))
    return opened[-1]


def _open_when_listening(url: str, config: SourceConfig, patience: float = 10.0):
    deadline = time.monotonic() + patience
    while True:
        try:
            return open_source(url, stream="s0", config=config)
        except AudioInputError as exc:
            if "refused" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@needs_ffmpeg
@pytest.mark.models
def test_a_stream_that_drops_mid_utterance_comes_back_and_nothing_committed_is_lost(
    tmp_path, asr, caplog
):
    """The server drops the connection inside the second utterance and continues from
    there when the client reconnects: the cut utterance is finished at the drop (its
    words are committed), the rest is transcribed after the gap, and the drop and the
    reconnection are logged with the credentials masked."""
    item = corpus_item(TALK)  # utterances 0.5-2.84, 3.57-7.93, 8.83-10.94 s
    ffmpeg(
        "-i", str(item.audio), "-ac", "1", "-ar", "16000", "-b:a", "32k", str(tmp_path / "t.mp3")
    )
    cut = 5.5  # seconds into the second utterance
    server = LiveServer((tmp_path / "t.mp3").read_bytes(), rate=4000, speed=3, drop_at=22000)
    config = dataclasses.replace(asr.config.source, timeout=2.0, reconnect=3.0)
    with server.serving() as url, caplog.at_level(logging.WARNING, "pipeline.audio.stream"):
        url = url.replace("http://", "http://alice:s3cret@")
        opened: list = []
        events = asr.run(lambda: _keep(opened, url, config))
        source = opened[0]
        assert isinstance(source, StreamSource)
    # the drop, then the end of the broadcast (retried for the window, then a clean end)
    assert server.connections >= 3 and source.drops == 2 and source.reconnects == 1
    assert not [e for e in events if isinstance(e, Error)]
    logs = caplog.text
    assert "dropped at" in logs and "reconnected after" in logs
    assert "s3cret" not in logs and "alice" not in logs and "***@127.0.0.1" in logs
    ends = [e.end for e in events if isinstance(e, SpeechEnd)]
    starts = [e.start for e in events if isinstance(e, SpeechStart)]
    # the cut utterance ends at the drop, and the speech after the gap is a new utterance
    assert any(cut - 1.0 < end <= cut + 0.3 for end in ends), (ends, starts)
    assert any(cut + 0.5 <= start < cut + 1.0 + source.gap_seconds for start in starts)
    by_utterance: dict[int, str] = {}
    for e in events:
        if isinstance(e, SourceCommit):
            by_utterance[e.utterance] = by_utterance.get(e.utterance, "") + " " + e.text
    text = text_of(events).lower()
    assert "workshop" in text and "first session" in text and "phones" in text, text
    assert any("first session" in t.lower() for t in by_utterance.values())


@needs_ffmpeg
def test_a_stream_that_does_not_come_back_ends_with_an_error_after_the_window(tmp_path):
    clip = corpus_item(CLIP).audio
    ffmpeg("-i", str(clip), "-ac", "1", "-ar", "16000", "-b:a", "32k", str(tmp_path / "c.mp3"))
    data = (tmp_path / "c.mp3").read_bytes()
    server = LiveServer(data, rate=4000, speed=4, drop_at=8000, comes_back=False, stall=6.0)
    config = SourceConfig(timeout=2.0, reconnect=1.5)
    with server.serving() as url:
        source = open_source(url, stream="s0", config=config)
        got: list[np.ndarray] = []

        async def read():
            with pytest.raises(AudioInputError, match=r"did not come back within 1.5 s"):
                async for chunk in source.chunks(_Now()):
                    got.append(chunk.samples)

        asyncio.run(read())
    audio = np.concatenate(got)
    assert server.connections >= 3  # the first, and retries with backoff
    assert source.drops == 1 and source.reconnects == 0
    # what arrived before the drop (~2 s), then silence in its place (at least the window)
    assert len(audio) / 16000 >= 1.5 + 1.5 and not audio[-8000:].any()


@needs_ffmpeg
def test_a_live_stream_opened_long_before_reading_starts_at_its_live_edge(tmp_path):
    """Opened to fail early, then idle while models load: reading reconnects, so the
    pipeline does not run behind a backlog for ever after."""
    clip = corpus_item(TALK).audio  # 11.44 s
    ffmpeg("-i", str(clip), "-ac", "1", "-ar", "16000", "-b:a", "32k", str(tmp_path / "c.mp3"))
    server = LiveServer((tmp_path / "c.mp3").read_bytes(), rate=4000, speed=2)
    skew = [0.0]
    with server.serving() as url:
        config = SourceConfig(timeout=2.0, reconnect=0.0)
        source = StreamSource(
            url, stream="s0", config=config, time_fn=lambda: time.monotonic() + skew[0]
        )
        time.sleep(1.0)  # the server goes on: about 2 s of audio pass
        skew[0] = 3.0  # as if the models took 3 s to load
        audio = asyncio.run(_samples(source))
    assert server.connections == 2 and source.drops == 1  # the end of the broadcast
    # the end adds MIN_GAP of silence; what went by while idle (~2 s) is skipped
    assert len(audio) / 16000 < 11.44 + MIN_GAP - 1.0


# -- errors ---------------------------------------------------------------------------
def test_a_url_that_never_answers_fails_within_its_timeout():
    with silent_listener() as port:
        started = time.monotonic()
        with pytest.raises(AudioInputError, match=r"no answer within 1 s"):
            open_source(
                f"http://127.0.0.1:{port}/talk.mp3",
                stream="s0",
                config=SourceConfig(timeout=1.0),
            )
    assert time.monotonic() - started < 6.0


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://127.0.0.1/talk.mp3", "unsupported protocol 'ftp'"),
        ("gopher://u:pw@x/y", "unsupported protocol 'gopher'"),
        ("srt://127.0.0.1:9000", "cannot open srt URLs"),
        ("http:///talk.mp3", "has no host"),
    ],
)
def test_unsupported_urls_are_clear_errors(url, message):
    with pytest.raises(AudioInputError, match=message) as info:
        open_source(url, stream="s0", config=SourceConfig(timeout=1.0))
    assert "pw" not in str(info.value)


def test_wrong_urls_are_clear_errors_without_credentials(tmp_path):
    with serve_dir(tmp_path) as base:
        missing = base.replace("http://", "http://bob:hunter2@") + "/nope.mp3"
        with pytest.raises(AudioInputError, match="404") as info:
            open_source(missing, stream="s0", config=SourceConfig(timeout=2.0))
        assert "hunter2" not in str(info.value) and "***@" in str(info.value)
    port = free_port()
    with pytest.raises(AudioInputError, match="connection refused"):
        open_source(f"rtsp://127.0.0.1:{port}/cam", stream="s0", config=SourceConfig(timeout=2.0))


@needs_ffmpeg
def test_a_stream_without_audio_is_a_clear_error(tmp_path):
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=5", "-t", "1", str(tmp_path / "v.mp4"))
    with serve_dir(tmp_path) as base:
        with pytest.raises(AudioInputError, match="has no audio"):
            open_source(f"{base}/v.mp4", stream="s0", config=SourceConfig(timeout=2.0))


@needs_ffmpeg
def test_a_live_stream_is_refused_as_a_file(tmp_path):
    clip = corpus_item(CLIP).audio
    ffmpeg("-i", str(clip), "-ac", "1", "-ar", "16000", "-b:a", "32k", str(tmp_path / "c.mp3"))
    server = LiveServer((tmp_path / "c.mp3").read_bytes(), rate=4000, speed=4)
    with server.serving() as url:
        with pytest.raises(AudioInputError, match="live stream"):
            FileSource(url, stream="s0", config=SourceConfig(timeout=2.0))
