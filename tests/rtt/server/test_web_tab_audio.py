"""The speaker view's second input: the sound of a shared browser tab (getDisplayMedia).

Headless Chromium shares its own tab (picked by title, no dialog) while the tab plays
a corpus sample through an <audio> element; whisper-tiny.en must recognise what the
page sent, which checks the tab capture, the worklet and the server end to end.
"""

from __future__ import annotations

import pytest

from tests.conftest import require_module
from tests.rtt.server.helpers import running_server
from tests.rtt.server.test_web import ARGS, CHROMIUM, speaker_setup

playwright = require_module("playwright.async_api", "pip install 'rtt[test]'")
TAB = [
    "--auto-select-tab-capture-source-by-title=rtt captions",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.mark.models
async def test_speaker_view_sends_a_shared_tabs_sound(tmp_path, shared_registry):
    wav, config = await speaker_setup(tmp_path / "tab.wav", shared_registry)
    async with (
        running_server(tmp_path / "journal", shared_registry, pipeline=config) as server,
        playwright.async_playwright() as p,
    ):
        # Playwright mutes audio by default, and a muted tab shares silence.
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, args=ARGS + TAB, ignore_default_args=["--mute-audio"]
        )
        page = await browser.new_page()
        await page.route("**/tab-sound.wav", lambda route: route.fulfill(path=str(wav)))
        await page.goto(f"http://127.0.0.1:{server.port}/?view=speak&room=tab")
        await page.select_option("#speak-input", "tab")
        await page.click("#speak-start")
        await page.wait_for_function(
            "document.querySelector('#speak-status').textContent.startsWith('Speaking')"
        )
        status = await page.inner_text("#speak-status")
        await page.evaluate("new Audio('/tab-sound.wav').play()")
        await page.wait_for_function(
            "/workshop/i.test(document.querySelector('#speak-transcript').textContent)",
            timeout=40000,
        )
        await page.click("#speak-stop")
        await page.wait_for_function(
            "document.querySelector('#speak-status').textContent.startsWith('Stopped (1000')",
            timeout=30000,
        )
        transcript = await page.inner_text("#speak-transcript")
        await browser.close()
    assert "shared tab" in status
    assert "workshop" in transcript.lower(), transcript
