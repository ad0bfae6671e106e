"""The captions page in headless Chromium (Debian's package, driven by Playwright; never a downloaded browser).

- Listener view: joins a room fed by a file-streaming speaker (`rtt client`'s code),
  shows the translated captions, partials tentatively, and catches up with `since`
  after its connection drops. Fake engines are enough: the page is the point.
- Speaker view: Chromium's fake microphone plays a sample file through the
  AudioWorklet; the real whisper-tiny.en must recognise it, which checks the
  worklet's 16 kHz PCM16 conversion end to end.
"""

from __future__ import annotations

import asyncio
import io
import json
import wave
from pathlib import Path

import numpy as np
import pytest

from pipeline.audio import open_source
from pipeline.clock import SimulatedClock
from pipeline.config import ASRConfig, ComputeConfig, MTConfig, PipelineConfig, SourceConfig
from pipeline.factory import load_engines
from rtt.client import ScaledClock, speak
from rtt.corpus import corpus_item
from rtt.render import JsonlView
from tests.conftest import model_path, require_module, require_tool
from tests.rtt.server.helpers import commits, running_server

playwright = require_module("playwright.async_api", "pip install 'rtt[test]'")
CHROMIUM = require_tool("chromium", "apt-get install chromium")
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

SAW_PARTIAL = """
new MutationObserver(() => {
  if (document.querySelector('#captions .partial')) window.sawPartial = true;
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


async def stream_sample(url: str, room: str, targets: list[str]) -> list[dict]:
    item = corpus_item("short-workshop-en")
    source = open_source(str(item.audio), stream="client", config=SourceConfig(chunk_seconds=0.1))
    out = io.StringIO()
    start = {"type": "start", "room": room, "targets": targets, "rate": 16000}
    assert (
        await speak(
            url, start, source.chunks(ScaledClock(3.0)), JsonlView(out), handle_sigint=False
        )
        == 0
    )
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_listener_view_shows_translated_captions_and_catches_up(tmp_path):
    async with running_server(tmp_path) as server, playwright.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page()
        await page.add_init_script(SAW_PARTIAL)
        await page.goto(f"http://127.0.0.1:{server.port}/?room=web&lang=de")
        await page.click("#join")
        await page.wait_for_function(
            "document.querySelector('#status').textContent.startsWith('Listening')"
        )
        speaker = asyncio.create_task(stream_sample(server.url, "web", ["de"]))
        await page.wait_for_selector("#captions .commit")
        await page.evaluate(
            "listener.ws.close(4000)"
        )  # the connection drops; the page comes back with since
        spoken = await speaker
        expected = [text for _, text in commits(spoken, "de")]
        await page.wait_for_function(
            f"document.querySelectorAll('#captions .commit').length >= {len(expected)}",
            timeout=15000,
        )
        await asyncio.sleep(0.3)  # nothing more (no duplicates) may arrive
        shown = [t.strip() for t in await page.locator("#captions .commit").all_inner_texts()]
        saw_partial = await page.evaluate("window.sawPartial === true")
        await browser.close()
    assert len(expected) >= 3 and shown == expected  # every commit once, after the reconnect
    assert all(text.startswith("[de] ") for text in shown)
    assert saw_partial


def fake_microphone_file(path) -> None:
    """The sample as a 16-bit WAV at 48 kHz, what Chromium's fake capture device plays (looped)."""
    item = corpus_item("short-workshop-en")
    source = open_source(str(item.audio), stream="wav", config=SourceConfig(realtime=False))

    async def read():
        return np.concatenate([c.samples async for c in source.chunks(SimulatedClock())])

    samples = asyncio.run(read())
    samples = np.interp(np.arange(len(samples) * 3) / 3, np.arange(len(samples)), samples)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48000)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


async def speaker_setup(wav: Path, registry) -> tuple[Path, PipelineConfig]:
    """A speaker test's sample (48 kHz, as a browser records) and the small models, loaded."""
    model_path("whisper-tiny.en")
    model_path("smollm2-135m")
    await asyncio.to_thread(fake_microphone_file, wav)
    config = PipelineConfig(
        asr=ASRConfig(model="whisper-tiny.en", language="en"),
        mt=MTConfig(model="smollm2-135m", fast_model=None, draft_model=None, targets=()),
        compute=ComputeConfig(device="cpu"),
    )
    await asyncio.to_thread(load_engines, registry, config)
    return wav, config


@pytest.mark.models
async def test_speaker_view_sends_the_microphone_through_the_worklet(tmp_path, shared_registry):
    wav, config = await speaker_setup(tmp_path / "mic.wav", shared_registry)
    media = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    async with (
        running_server(tmp_path / "journal", shared_registry, pipeline=config) as server,
        playwright.async_playwright() as p,
    ):
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS + media)
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{server.port}/?view=speak&room=mic")
        await page.fill("#speak-to", "es")
        await page.click("#speak-start")
        await page.wait_for_function(
            "document.querySelector('#speak-status').textContent.startsWith('Speaking')"
        )
        await page.wait_for_function(
            "/translation/i.test(document.querySelector('#speak-transcript').textContent)",
            timeout=30000,
        )
        await page.click("#speak-stop")
        await page.wait_for_function(
            "document.querySelector('#speak-status').textContent.startsWith('Stopped (1000')",
            timeout=30000,
        )
        transcript = await page.inner_text("#speak-transcript")
        translated = await page.locator("#speak-captions .commit").count()
        await browser.close()
    assert "workshop" in transcript.lower(), transcript
    assert translated >= 1
