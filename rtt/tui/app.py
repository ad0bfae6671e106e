"""`rtt live`: the Textual app. Its CSS is app.tcss beside this file.

The pipeline runs in a Textual worker that posts one `PipelineEvent` per event;
handlers put committed text into the file-backed store and update the panes. A
timer copies the session's figures into the status bar's reactive `stats`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.reactive import reactive
from textual.widgets import Footer, Header

from pipeline.audio import InputDevice, list_input_devices
from pipeline.errors import RttError
from pipeline.events import (
    End,
    Error,
    SourceCommit,
    SourcePartial,
    SpeechEnd,
    TargetAppend,
    TargetCommit,
    TargetPartial,
)
from pipeline.languages import LANGUAGES
from pipeline.stage import Source

from .errors import explain, explain_event
from .messages import PipelineEnded, PipelineEvent, PipelineFailed
from .screens import DevicePickerScreen, ErrorScreen, HelpScreen, LanguagesScreen, SaveScreen
from .session import Session
from .status import StatusBar
from .store import Piece, TranscriptStore
from .transcript import MAX_PARAGRAPHS, TranscriptView

__all__ = ["LiveApp"]

# device spec ("3", a name) -> an opened microphone Source; raises AudioInputError
MicOpener = Callable[[str], Source]


def _title(lang: str | None) -> str:
    return f"{lang} · {LANGUAGES.get(lang, lang)}" if lang else "source"


class LiveApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "rtt live"
    BINDINGS = [
        Binding("space", "toggle_pause", "Pause/Resume"),
        Binding("c", "clear", "Clear"),
        Binding("s", "save", "Save"),
        Binding("t", "toggle_layout", "Layout"),
        Binding("l", "languages", "Languages"),
        Binding("d", "pick_device", "Device"),
        Binding("g", "glossary", "Glossary"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    state: reactive[str] = reactive("starting")
    layout_mode: reactive[str] = reactive("side")

    def __init__(
        self,
        session: Session,
        *,
        targets: Sequence[str],
        source_lang: str | None = None,
        store: TranscriptStore | None = None,
        save_dir: Path = Path("."),
        devices: Callable[[], list[InputDevice]] = list_input_devices,
        open_mic: MicOpener | None = None,
        stats_interval: float = 0.25,
        max_paragraphs: int = MAX_PARAGRAPHS,
        notice: str | None = None,
    ) -> None:
        super().__init__()
        self.notice = notice  # shown once at start (e.g. the machine fit's choice)
        self.session = session
        self.targets = tuple(targets)
        self.source_lang = source_lang
        self.store = store or TranscriptStore()
        self.save_dir = save_dir
        self._devices = devices
        self._open_mic = open_mic
        self._stats_interval = stats_interval
        self.handled = 0  # pipeline events handled (tests wait on it)
        self.max_paragraphs = max_paragraphs
        self._starting = session.starting  # the state shown until the stream runs
        self.sub_title = f"{source_lang or 'auto'} → {', '.join(self.targets)}"
        # Widgets of the main screen, kept so that handlers reach them while a dialog is on top.
        self.source_pane = self._pane(source_lang or "", "source")
        self.panes: dict[str, TranscriptView] = {lang: self._pane(lang) for lang in self.targets}
        self.panes_box = Container(
            self.source_pane, *self.panes.values(), id="panes", classes="side"
        )
        self.status_bar = StatusBar()

    def _pane(self, lang: str, name: str | None = None) -> TranscriptView:
        return TranscriptView(
            lang,
            _title(lang or None),
            max_paragraphs=self.max_paragraphs,
            id=f"pane-{name or lang}",
        )

    def compose(self) -> ComposeResult:
        yield Header(icon="◉")
        yield self.panes_box
        yield self.status_bar
        yield Footer()

    def on_mount(self) -> None:
        self.source_pane.focus()
        self.run_pipeline()
        self.set_interval(self._stats_interval, self.refresh_stats)
        if self.notice:
            self.notify(self.notice, timeout=12)
        self.refresh_stats()

    # -- the worker -------------------------------------------------------------
    @work(exclusive=True, group="pipeline")
    async def run_pipeline(self) -> None:
        self.state = self._starting
        try:
            async for event in self.session.events():
                self.post_message(PipelineEvent(event))
        except (
            Exception
        ) as exc:  # RttError from set-up; anything else is shown too, never a traceback
            self.post_message(PipelineFailed(exc))
        else:
            self.post_message(PipelineEnded())

    def refresh_stats(self) -> None:
        stats = self.session.stats()
        if self.state == self._starting and self.session.ready:
            self.state = "running"
        self.status_bar.state = self.state
        self.status_bar.stats = stats

    # -- pipeline messages --------------------------------------------------------
    @on(PipelineEvent)
    def show_event(self, message: PipelineEvent) -> None:
        event, source = message.event, self.source_pane
        self.handled += 1
        if self.state in (self._starting, "ended") and not isinstance(event, End):
            self.state = "running"  # (a room goes on when a new speaker starts)
        if isinstance(event, (SourceCommit, SourcePartial)):
            self.status_bar.language = (event.lang, event.language_probability)
        if isinstance(event, SourceCommit):
            words = tuple((w.word, w.start, w.end) for w in event.words)
            self.store.add(
                Piece(
                    event.lang,
                    "source",
                    event.utterance,
                    0,
                    event.start,
                    event.end,
                    event.text,
                    words,
                )
            )
            if source.lang != event.lang:  # the first commit, or the speaker switched language
                source.lang, source.border_title = event.lang, _title(event.lang)
            source.commit(event.utterance, event.text)
        elif isinstance(event, SourcePartial):
            source.propose(event.utterance, event.text)
        elif isinstance(event, SpeechEnd):
            source.settle()
        elif isinstance(event, TargetCommit):
            self.store.add(
                Piece(
                    event.lang,
                    "target",
                    event.utterance,
                    event.sentence,
                    event.start,
                    event.end,
                    event.text,
                )
            )
            if pane := self.panes.get(event.lang):
                pane.commit(event.utterance, event.text, event.sentence)
        elif isinstance(event, TargetPartial):
            if pane := self.panes.get(event.lang):
                pane.propose(event.utterance, event.text, event.sentence)
        elif isinstance(event, TargetAppend):  # final words; the store takes the whole sentence
            if pane := self.panes.get(event.lang):
                pane.append(event.utterance, event.text, event.sentence, event.offset)
        elif isinstance(event, Error):
            self.push_screen(ErrorScreen(*explain_event(event)))
        elif isinstance(event, End):
            self.state = "ended"

    @on(PipelineFailed)
    def show_failure(self, message: PipelineFailed) -> None:
        self.state = "failed"
        self.push_screen(ErrorScreen(*explain(message.error)))

    @on(PipelineEnded)
    def ended(self) -> None:
        if self.state != "failed":
            self.state = "ended"

    def watch_state(self, state: str) -> None:
        if self.is_mounted:
            self.status_bar.state = state

    # -- actions (the footer's keys) --------------------------------------------
    def action_toggle_pause(self) -> None:
        if self.session.paused:
            self.session.resume()
        else:
            self.session.pause()
        self.refresh_stats()

    def action_clear(self) -> None:
        for pane in (self.source_pane, *self.panes.values()):
            pane.clear()
        self.notify("Cleared the panes (the session file keeps everything).")

    def action_save(self) -> None:
        default = self.save_dir / dt.datetime.now().strftime("rtt-session-%Y%m%d-%H%M%S")
        self.push_screen(SaveScreen(default), self._save_to)

    @work(group="save")
    async def _save_to(self, folder: Path | None) -> None:
        if folder is None:
            return
        try:
            audio = self.session.stats().audio_seconds or None  # cues never outlast the audio
            written = await asyncio.to_thread(self.store.export, folder, duration=audio)
        except OSError as exc:
            self.notify(
                f"Could not save to {folder}: {exc.strerror or exc}", severity="error", timeout=8
            )
            return
        if not written:
            self.notify("Nothing to save yet.", severity="warning")
        else:
            self.notify(f"Saved {len(written)} files to {folder}", timeout=6)

    def action_toggle_layout(self) -> None:
        self.layout_mode = "stacked" if self.layout_mode == "side" else "side"

    def watch_layout_mode(self, mode: str) -> None:
        if self.is_mounted:
            self.panes_box.set_classes(mode)

    def action_languages(self) -> None:
        source_lang = self.source_pane.lang or self.source_lang
        self.push_screen(LanguagesScreen(self.targets, source_lang), self.set_targets)

    def set_targets(self, targets: tuple[str, ...] | None) -> None:
        if not targets or targets == self.targets:
            return
        removed = [lang for lang in self.targets if lang not in targets]
        added = [lang for lang in targets if lang not in self.targets]
        self.targets = tuple(targets)
        self.session.set_targets(self.targets)
        for lang in removed:
            self.panes.pop(lang).remove()
        for lang in added:
            self.panes[lang] = self._pane(lang)
            self.panes_box.mount(self.panes[lang])
        self.sub_title = f"{self.source_lang or 'auto'} → {', '.join(self.targets)}"
        self.notify(f"Translating into {', '.join(self.targets)} from the next sentence on.")

    def action_glossary(self) -> None:
        """Load the configured glossary file again (edited during the event)."""
        try:
            glossary = self.session.reload_glossary()
        except RttError as exc:
            self.notify(f"Glossary not loaded: {exc}", severity="error", timeout=8)
            return
        self.notify(f"Glossary: {len(glossary)} terms, used from the next sentence on.")

    def action_pick_device(self) -> None:
        if not self.session.live or self._open_mic is None:
            self.notify(
                "No microphone in use (the input is a file or a room); the picker is for microphones.",
                severity="warning",
            )
            return
        try:
            devices = self._devices()
        except RttError as exc:
            self.push_screen(ErrorScreen(*explain(exc)))
            return
        if not devices:
            self.push_screen(
                ErrorScreen(
                    "No microphone",
                    "No audio input device was found.",
                    "Connect a microphone, or read a file with --input FILE.",
                )
            )
            return
        self.push_screen(DevicePickerScreen(devices), self._use_device)

    @work(group="device")
    async def _use_device(self, device: InputDevice | None) -> None:
        if device is None or self._open_mic is None:
            return
        label = f"mic {device.index}: {device.name}"
        if self.state == "failed":  # nothing is running: start again on this device
            self.session.use_device(str(device.index), label)
            self.run_pipeline()
            return
        try:
            source = self._open_mic(str(device.index))
        except RttError as exc:
            self.push_screen(ErrorScreen(*explain(exc)))
            return
        await self.session.switch_source(source, label)
        self.notify(f"Listening to {device.name}")

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        self.session.end_input()
        self.exit(0)

    async def on_unmount(self) -> None:
        await self.session.close()
        self.store.close()
