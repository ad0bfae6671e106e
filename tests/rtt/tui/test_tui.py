"""The live TUI without models: keys, saving, error screens, the bounded panes and the store.

A scripted session stands in for the pipeline (the model is not the point here);
tests/rtt/tui/test_tui_models.py runs the app on the real small models.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import srt

from pipeline.audio import InputDevice, open_source
from pipeline.clock import SimulatedClock
from pipeline.config import MTConfig, PipelineConfig, SourceConfig
from pipeline.engine import EngineRegistry
from pipeline.errors import AudioInputError
from pipeline.events import AudioChunk, SourceCommit, TargetCommit, Word
from pipeline.offline import SubtitleLimits
from pipeline.offline.subtitles import subtitle_text
from rtt.cli import main
from rtt.corpus import corpus_item
from rtt.tui import LiveApp, LiveSession, TranscriptStore
from rtt.tui.capture import CaptureGate, PausableClock, level_db
from rtt.tui.screens import DevicePickerScreen, ErrorScreen, HelpScreen, LanguagesScreen, SaveScreen
from rtt.tui.store import Piece, cues
from rtt.tui.transcript import Paragraphs
from tests.rtt.tui.helpers import ScriptedSession, fake_talk, wait_for

SIZE = (120, 32)


def make_app(session=None, **kwargs) -> LiveApp:
    session = session or ScriptedSession(fake_talk())
    kwargs.setdefault("targets", ("de", "es"))
    return LiveApp(session, source_lang="en", **kwargs)


async def settled(app: LiveApp, pilot) -> None:
    await wait_for(pilot, lambda: app.handled == len(app.session.script), timeout=10)
    await pilot.pause()


# -- keys do what the footer says ---------------------------------------------------
async def test_footer_lists_every_key():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settled(app, pilot)
        shown = {key for key, active in app.active_bindings.items() if active.binding.show}
        assert {"space", "c", "s", "t", "l", "d", "question_mark", "q"} <= shown


async def test_panes_show_committed_text_and_a_tentative_tail():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settled(app, pilot)
        source, german = app.source_pane, app.panes["de"]
        assert source.paragraphs == [
            "Good morning, everyone, and welcome to the 12th Open Tools Summit here in Lisbon."
        ]
        assert (
            source.core.text == "My name is Maria Santos,"
            and source.core.tail == "and I chair this year's program"
        )
        assert german.core.tail == "Mein Name ist Maria Santos,"
        assert app.status_bar.query_one("#state").content.plain.strip() == "running"


async def test_the_start_notice_says_the_machine_fit():
    line = "fit: finals qwen2.5-coder-1.5b (9.0 tok/s ≥ 6.9 needed for 1 target); partials x"
    app = make_app(notice=line)
    async with app.run_test(size=SIZE) as pilot:
        await settled(app, pilot)
        assert [n.message for n in app._notifications] == [line]


async def test_space_pauses_and_resumes_capture():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settled(app, pilot)
        await pilot.press("space")
        assert app.session.paused
        await pilot.pause(0.1)
        assert app.status_bar.query_one("#state").content.plain.strip() == "paused"
        await pilot.press("space")
        assert not app.session.paused


async def test_c_clears_the_panes_but_not_the_session():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settled(app, pilot)
        await pilot.press("c")
        await pilot.pause()
        assert all(not p.shown_text for p in (app.source_pane, *app.panes.values()))
        assert app.store.count == 5  # 3 source commits + 1 sentence in each of 2 languages


async def test_t_toggles_side_by_side_and_stacked():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settled(app, pilot)
        source, german = app.source_pane, app.panes["de"]
        assert source.region.y == german.region.y and source.region.x < german.region.x
        await pilot.press("t")
        await pilot.pause()
        assert app.panes_box.has_class("stacked")
        assert source.region.x == german.region.x and source.region.y < german.region.y
        await pilot.press("t")
        assert app.panes_box.has_class("side")


async def test_l_adds_and_removes_target_languages():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settled(app, pilot)
        await pilot.press("l")
        assert isinstance(app.screen, LanguagesScreen)
        selection = app.screen.query_one("SelectionList")
        selection.deselect("es")
        selection.select("fr")
        await pilot.press("enter")
        await pilot.pause()
        assert app.targets == ("de", "fr") and set(app.panes) == {"de", "fr"}
        assert app.session.targets_set == [("de", "fr")]
        assert not app.query("#pane-es") and app.query_one("#pane-fr")


async def test_languages_keep_at_least_one():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settled(app, pilot)
        await pilot.press("l")
        app.screen.query_one("SelectionList").deselect_all()
        await pilot.press("enter")
        assert isinstance(app.screen, LanguagesScreen)  # refused, still open
        await pilot.press("escape")
        assert app.targets == ("de", "es")


async def test_question_mark_opens_help_and_q_quits():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settled(app, pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0 and app.session.closed


async def test_d_switches_the_microphone():
    devices = [
        InputDevice(0, "Built-in", 1, 48000.0, True),
        InputDevice(3, "USB Mic", 1, 44100.0, False),
    ]
    opened: list[str] = []

    def open_mic(spec: str):
        opened.append(spec)
        return object()

    app = make_app(
        ScriptedSession(fake_talk(), live=True), devices=lambda: devices, open_mic=open_mic
    )
    async with app.run_test(size=SIZE) as pilot:
        await settled(app, pilot)
        await pilot.press("d")
        assert isinstance(app.screen, DevicePickerScreen)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: app.session.switched, timeout=5)
        assert opened == ["3"] and app.session.switched == ["mic 3: USB Mic"]


async def test_d_on_a_file_input_says_it_is_for_microphones():
    app = make_app(open_mic=lambda spec: None)
    async with app.run_test(size=SIZE) as pilot:
        await settled(app, pilot)
        await pilot.press("d")
        assert not isinstance(app.screen, DevicePickerScreen)


# -- saving ------------------------------------------------------------------------
async def test_s_saves_valid_srt_and_txt_per_language(tmp_path):
    app = make_app(save_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settled(app, pilot)
        await pilot.press("s")
        assert isinstance(app.screen, SaveScreen)
        folder = tmp_path / "talk"
        field = app.screen.query_one("Input")
        field.value = str(folder)
        await pilot.press("enter")
        await wait_for(pilot, lambda: (folder / "session.es.txt").exists(), timeout=5)
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        f"session.{lang}.{ext}" for lang in ("de", "en", "es") for ext in ("srt", "txt")
    ]
    english = list(srt.parse((folder / "session.en.srt").read_text()))
    assert (
        " ".join(c.content.replace("\n", " ") for c in english)
        == "Good morning, everyone, and welcome to the 12th Open Tools Summit here in Lisbon. My name is Maria Santos,"
    )
    assert [c.start.total_seconds() for c in english] == [
        0.5,
        6.0,
    ]  # a new cue after the sentence ends
    german = list(srt.parse((folder / "session.de.srt").read_text()))
    assert (
        len(german) == 1
        and german[0].content.startswith("Guten Morgen")
        and german[0].end.total_seconds() >= 4.9  # its source span, held long enough to read
    )
    assert (folder / "session.en.txt").read_text().split("\n\n")[
        1
    ].strip() == "My name is Maria Santos,"


async def test_saving_into_an_unwritable_place_is_a_message_not_a_crash(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    app = make_app(save_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settled(app, pilot)
        await pilot.press("s")
        app.screen.query_one("Input").value = str(blocker / "sub")
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: any(n.severity == "error" for n in app._notifications), timeout=5
        )


def test_source_cues_split_at_sentences_and_length():
    text = ["word0", "word1", "end."] + [f"longer{i}" for i in range(3, 12)]
    words = [
        Piece("en", "source", 1, 0, i * 1.0, i * 1.0 + 0.9, w, ((w, i * 1.0, i * 1.0 + 0.9),))
        for i, w in enumerate(text)
    ]
    subtitles = list(srt.parse(subtitle_text(cues(words, SubtitleLimits(), 12.0), "srt")))
    # the sentence end closes a cue, and a cue holds at most two lines of 42 characters
    assert [s.content.split()[0] for s in subtitles][:2] == ["word0", "longer3"]
    assert len(subtitles) == 3 and all(len(s.content.split("\n")) <= 2 for s in subtitles)


# -- errors in the app, not tracebacks --------------------------------------------------
async def test_missing_microphone_is_an_error_screen(tmp_path):
    config = PipelineConfig(source=SourceConfig(input_device="no-such-microphone-xyz"))

    def open_mic(cfg):
        return open_source("mic", stream=cfg.stream, config=cfg.source)

    session = LiveSession(config, open_mic, EngineRegistry(), live=True, input_label="mic")
    app = LiveApp(session, targets=("de",), devices=lambda: [], open_mic=lambda spec: None)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), timeout=10)
        text = str(app.screen.query_one("#error-message").content)
        assert app.screen.query_one("#error-title").content == "No audio input"
        assert "microphone" in text or "PortAudio" in text
        assert "libportaudio2" in str(app.screen.query_one("#error-hint").content)
        assert app.state == "failed"
        await pilot.press("escape")
        await pilot.press("d")  # no devices at all: said so in the app
        assert (
            isinstance(app.screen, ErrorScreen)
            and app.screen.query_one("#error-title").content == "No microphone"
        )


async def test_missing_model_names_the_command_that_fetches_it(tmp_path, monkeypatch):
    monkeypatch.setenv("RTT_CACHE", str(tmp_path))
    item = corpus_item("short-workshop-en")
    config = PipelineConfig(mt=MTConfig(model="qwen2.5-coder-1.5b"))

    def open_file(cfg):
        return open_source(str(item.audio), stream=cfg.stream, config=cfg.source)

    app = LiveApp(LiveSession(config, open_file, EngineRegistry(), live=False), targets=("de",))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), timeout=20)
        assert "rtt models fetch whisper-base" in str(
            app.screen.query_one("#error-message").content
        )


async def test_a_failed_start_can_go_on_with_a_picked_microphone():
    devices = [InputDevice(2, "USB Mic", 1, 44100.0, True)]
    session = ScriptedSession(
        fake_talk(), live=True, fail=AudioInputError("cannot use the default microphone")
    )
    app = make_app(session, devices=lambda: devices, open_mic=lambda spec: None)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), timeout=5)
        await pilot.press("escape", "d")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.handled == len(session.script), timeout=5)
        assert session.devices_used == ["2"] and app.state == "running"


def test_rtt_live_rejects_stdin_and_bad_languages(capsys):
    assert main(["live", "--input", "-"]) == 2
    assert "stdin" in capsys.readouterr().err
    assert main(["live", "--to", "xx"]) == 2
    assert "unsupported language" in capsys.readouterr().err


# -- bounded panes, file-backed store ---------------------------------------------------
def test_paragraphs_core_keeps_tentative_sentences_until_committed():
    core = Paragraphs()
    assert core.propose(1, "Hallo", sentence=0) is None
    core.propose(1, "Wie geht", sentence=1)
    assert core.tail == "Hallo Wie geht"
    core.commit(1, "Hallo.", sentence=0)
    assert (core.text, core.tail) == ("Hallo.", "Wie geht")
    assert core.commit(2, "Neu.", sentence=2) == "Hallo."  # a new utterance closes the paragraph
    assert (core.text, core.tail) == ("Neu.", "")


def test_paragraphs_core_shows_appended_words_as_committed():
    core = Paragraphs()
    core.propose(1, "Guten Morgen liebe", sentence=0)
    core.append(1, "Guten Morgen", sentence=0, offset=0)
    core.append(1, "Guten Morgen", sentence=0, offset=0)  # a replay: skipped
    assert (core.text, core.tail) == ("Guten Morgen", "liebe")
    core.propose(1, "Guten Morgen liebe Gäste", sentence=0)
    assert (core.text, core.tail) == ("Guten Morgen", "liebe Gäste")
    core.commit(1, "Guten Morgen liebe Gäste.", sentence=0)  # the whole sentence replaces them
    assert (core.text, core.tail) == ("Guten Morgen liebe Gäste.", "")


async def test_panes_keep_a_bounded_window_and_the_store_keeps_everything():
    events = []
    for u in range(1, 41):
        words = (Word(f"u{u}.", u, u + 0.5),)
        events.append(
            SourceCommit(
                stream="s0",
                utterance=u,
                emitted=u + 1.0,
                lang="en",
                text=f"Sentence {u}.",
                words=words,
                start=u,
                end=u + 0.5,
            )
        )
        events.append(
            TargetCommit(
                stream="s0",
                utterance=u,
                emitted=u + 1.5,
                lang="de",
                sentence=u,
                text=f"Satz {u}.",
                start=u,
                end=u + 0.5,
            )
        )
    app = make_app(ScriptedSession(events), targets=("de",), max_paragraphs=10)
    async with app.run_test(size=SIZE) as pilot:
        await settled(app, pilot)
        assert len(app.source_pane.paragraphs) == 10 and app.source_pane.dropped == 29
        assert (
            app.source_pane.paragraphs[-1] == "Sentence 39."
            and app.source_pane.core.text == "Sentence 40."
        )
        assert "29 earlier" in str(app.source_pane.query_one(".earlier").content)
        assert app.store.count == 80 and [p.text for p in app.store.pieces()][:2] == [
            "Sentence 1.",
            "Satz 1.",
        ]


def test_store_is_a_temporary_file_unless_given(tmp_path):
    store = TranscriptStore()
    store.add(Piece("en", "source", 1, 0, 0.0, 1.0, "Hi."))
    temp = store.path
    assert temp.exists()
    store.close()
    assert not temp.exists()
    kept = TranscriptStore(tmp_path / "t.jsonl")
    kept.add(Piece("en", "source", 1, 0, 0.0, 1.0, "Hi."))
    kept.close()
    assert (tmp_path / "t.jsonl").read_text().count("\n") == 1


# -- capture: pause, level, device switch ----------------------------------------------------
class ListSource:
    def __init__(self, chunks: list[np.ndarray], clock_paced: bool = True) -> None:
        self.data, self.closed = chunks, False

    async def chunks(self, clock):
        t = 0.0
        for samples in self.data:
            if self.closed:
                return
            t += len(samples) / 16000
            await clock.sleep_until(t)
            yield AudioChunk(stream="s0", start=t - len(samples) / 16000, samples=samples)

    async def close(self) -> None:
        self.closed = True


async def test_gate_mutes_and_meters():
    tone = np.full(1600, 0.1, np.float32)
    first = ListSource([tone, tone, tone])
    gate = CaptureGate(first, live=True)
    out = []
    async for chunk in gate.chunks(SimulatedClock()):
        out.append(chunk)
        gate.muted = len(out) == 1
    assert [c.start for c in out] == pytest.approx([0.0, 0.1, 0.2])
    assert [float(np.abs(c.samples).max()) for c in out] == pytest.approx([0.1, 0.0, 0.1])
    assert gate.level == pytest.approx(level_db(tone)) == pytest.approx(-20.0)
    await gate.close()
    assert first.closed


async def test_paused_clock_holds_a_file_and_freezes_stream_time():
    t = [100.0]

    class Wall:
        def start(self):
            pass

        def now(self):
            return t[0] - 100.0

        async def sleep_until(self, when):
            t[0] = max(t[0], 100.0 + when)

    clock = PausableClock(Wall())
    await clock.sleep_until(1.0)
    clock.pause()
    waiting = asyncio.create_task(clock.sleep_until(2.0))
    t[0] += 30.0  # half a minute paused
    await asyncio.sleep(0.01)
    assert not waiting.done() and clock.now() == pytest.approx(1.0)
    clock.resume()
    await asyncio.wait_for(waiting, 1)
    assert clock.now() == pytest.approx(2.0)


async def test_a_pane_follows_new_text_and_keeps_its_place_when_scrolled_back():
    from rtt.tui.messages import PipelineEvent

    def commit(u: int) -> SourceCommit:
        return SourceCommit(
            stream="s0",
            utterance=u,
            emitted=u + 1.0,
            lang="en",
            text=f"Sentence number {u}.",
            words=(),
            start=u,
            end=u + 0.5,
        )

    app = make_app(ScriptedSession([commit(u) for u in range(1, 31)]), targets=("de",))
    async with app.run_test(size=(80, 20)) as pilot:
        await settled(app, pilot)
        pane = app.source_pane
        await pilot.pause(0.2)
        assert (
            pane.max_scroll_y > 0 and pane.scroll_y == pane.max_scroll_y
        )  # following the newest text
        pane.scroll_to(y=5, animate=False)  # the reader scrolls back
        await pilot.pause(0.1)
        for u in range(31, 36):
            app.post_message(PipelineEvent(commit(u)))
        await wait_for(pilot, lambda: app.handled == 35)
        await pilot.pause(0.2)
        assert pane.scroll_y == 5 and pane.scroll_y < pane.max_scroll_y  # kept its place
        pane.scroll_end(animate=False)  # back at the bottom: follows again
        await pilot.pause(0.1)
        app.post_message(PipelineEvent(commit(36)))
        await wait_for(pilot, lambda: app.handled == 36)
        await pilot.pause(0.2)
        assert pane.scroll_y == pane.max_scroll_y


def test_behind_warning_says_what_the_pipeline_does():
    from rtt.tui.session import LiveStats
    from rtt.tui.status import behind_message

    fast = LiveStats(lag=6.0, degraded=True, skipped=3, fast_model="qwen2.5-coder-0.5b")
    assert fast.behind
    assert behind_message(fast) == (
        "⚠ behind the audio by 6.0 s: tentative translations on the smaller model (qwen2.5-coder-0.5b); "
        "3 stale re-translation(s) skipped"
    )
    assert not LiveStats(lag=1.0).behind
    assert "no smaller model is configured" in behind_message(LiveStats(lag=9.0))
    assert "server" in behind_message(LiveStats(lag=9.0, remote=True))


def test_status_bar_language_label():
    from rtt.tui.status import language_text

    assert language_text("und", None).plain == "⚠ language: detecting…"
    assert language_text("de", 0.97).plain == "de (97%)"
    assert language_text("de", 0.5).plain.startswith("⚠ de? (50%")
    assert language_text("de", None).plain == ""  # given, not detected: nothing to say


async def test_status_bar_shows_the_detected_language_and_a_switch():
    script = [
        SourceCommit(
            stream="s",
            utterance=1,
            lang=lang,
            language_probability=p,
            text=text,
            words=(Word(text, t, t + 1),),
            start=t,
            end=t + 1,
            emitted=t + 1,
        )
        for lang, p, text, t in (("en", 0.99, "Hello.", 0.0), ("de", 0.9, "Hallo.", 2.0))
    ]
    app = make_app(ScriptedSession(script))
    async with app.run_test(size=SIZE) as pilot:
        await settled(app, pilot)
        label = app.status_bar.query_one("#language")
        assert label.display and label.content.plain == "de (90%)"
        assert app.source_pane.lang == "de"  # the pane follows the switch


async def test_g_reloads_the_glossary_file_while_running_and_a_bad_one_is_a_message(tmp_path):
    path = tmp_path / "terms.csv"
    path.write_text("en,de\nheat pump,Wärmepumpe\n")
    session = ScriptedSession(fake_talk())
    session.glossary_file = path
    app = make_app(session)
    async with app.run_test(size=SIZE) as pilot:
        await settled(app, pilot)
        await pilot.press("g")
        path.write_text("en,de\nheat pump,Wärmepumpe\ngrid,Netz\n")  # edited during the talk
        await pilot.press("g")
        assert [len(g) for g in session.glossaries] == [1, 2]
        path.write_text("en,de\nheat pump,Wärmepumpe,extra\n")
        await pilot.press("g")
        await pilot.pause()
        assert len(session.glossaries) == 2 and app.state != "failed"
        messages = [n.message for n in app._notifications]
        assert "Glossary: 2 terms, used from the next sentence on." in messages
        assert any("terms.csv:2: 3 cells" in m for m in messages)
