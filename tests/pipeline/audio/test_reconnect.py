"""The pure cores of network input: URL masking and checks, backoff, gap silence."""

from __future__ import annotations

import pytest

from pipeline.audio.reconnect import MIN_GAP, Outage, ReconnectPolicy
from pipeline.audio.urls import check_url, is_url, mask_url, url_stem
from pipeline.errors import AudioInputError, ConfigError


@pytest.mark.parametrize(
    "url, masked",
    [
        ("rtsp://admin:pa55@cam.local:554/live", "rtsp://***@cam.local:554/live"),
        ("http://token@host/x.m3u8", "http://***@host/x.m3u8"),
        ("https://host/a.mp3?sig=abc&x=1#t", "https://host/a.mp3?sig=***&x=1#t"),
        (
            "srt://h:9000?passphrase=secret123&latency=200",
            "srt://h:9000?passphrase=***&latency=200",
        ),
        ("rtmp://host/live/app", "rtmp://host/live/app"),
        ("udp://127.0.0.1:1234", "udp://127.0.0.1:1234"),
        ("talk.mp3", "talk.mp3"),
    ],
)
def test_mask_url_hides_credentials(url, masked):
    assert mask_url(url) == masked


def test_urls_and_paths():
    assert is_url("rtsp://h/x") and is_url("HTTPS://h/x")
    assert not is_url("C:\\talks\\a.mp3") and not is_url("talk.mp3") and not is_url("-")
    assert check_url("HTTP://h/x") == "http" and check_url("udp://:1234") == "udp"
    with pytest.raises(AudioInputError, match="unsupported protocol 'file'"):
        check_url("file:///tmp/a.wav")
    assert url_stem("https://h/talks/keynote.mp4?x=1") == "keynote"
    assert url_stem("rtsp://***@cam/") == "cam"


def test_backoff_grows_caps_and_gives_up_at_the_window():
    policy = ReconnectPolicy(window=10.0, first_delay=0.5, factor=2.0, max_delay=4.0)
    assert [policy.delay(n, 0.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert policy.delay(5, 8.5) == pytest.approx(1.5)  # the last attempt at the window's end
    assert policy.delay(6, 10.0) is None
    assert ReconnectPolicy(window=0).delay(1, 0.0) is None  # reconnection off
    with pytest.raises(ConfigError):
        ReconnectPolicy(window=-1)


def test_outage_silence_follows_the_wall_clock_and_is_at_least_min_gap():
    outage = Outage(began=100.0, at=5.0, reason="timeout", rate=1000)
    assert outage.fill(100.25) == 250
    assert outage.fill(100.25) == 0
    assert outage.fill(100.5, over=True) == round(MIN_GAP * 1000) - 250  # topped up
    assert outage.silence == pytest.approx(MIN_GAP)
    long = Outage(began=0.0, at=0.0, reason="eof", rate=1000)
    assert long.fill(3.0) + long.fill(4.0, over=True) == 4000  # a long gap: its length
