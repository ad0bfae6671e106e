"""Modal screens: help, save dialog, device picker, target languages, and errors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Markdown, OptionList, SelectionList, Static
from textual.widgets.option_list import Option

from pipeline.audio import InputDevice
from pipeline.languages import LANGUAGES

__all__ = ["DevicePickerScreen", "ErrorScreen", "HelpScreen", "LanguagesScreen", "SaveScreen"]

HELP = """\
# rtt live

The **source** pane shows what the speaker says; one pane per **target language** shows the
translation. Committed text is plain; the *tentative tail* (still being recognised or translated)
is italic and grey, and changes in place until it is committed. Each pane follows the newest
text; scroll up to read back (it keeps its place), scroll to the bottom to follow again.

| key | does |
|---|---|
| `space` | pause / resume capture (a microphone is muted, a file waits where it is, a room's captions are held) |
| `c` | clear the panes (the session file keeps everything; saving still writes it all) |
| `s` | save the session: SRT and TXT per language into a folder you choose |
| `t` | toggle the layout: side by side / stacked |
| `l` | add or remove target languages (new sentences are translated into them) |
| `d` | pick the microphone |
| `g` | load the glossary file (`--glossary`) again, e.g. after editing it during the event |
| `?` | this help |
| `q` | quit |

**Status bar.** Models and device; the input level (dBFS); the voice activity detector
(speech / silence); **TTF** is time to final: from the end of an utterance to its final
translation (median and 90th percentile of the recent ones); **lag** is how far the latest
committed translation came out behind the end of its speech; **RTF** is the real-time factor
(compute time / audio time, all stages). When the pipeline falls behind, a warning says what it
does about it: stale re-translations are skipped (latest wins), and tentative translations
switch to the smaller model until it has caught up. Final translations always use the main model.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Markdown(HELP)
            yield Label("[dim]esc closes[/]")


class SaveScreen(ModalScreen[Path | None]):
    """Asks for the folder to save the session into."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, default: Path) -> None:
        super().__init__()
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Save the session (SRT + TXT per language) into the folder:")
            yield Input(str(self.default), id="folder")
            yield Label("[dim]enter saves · esc cancels[/]")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        self.dismiss(Path(value).expanduser() if value else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class DevicePickerScreen(ModalScreen[InputDevice | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, devices: Sequence[InputDevice]) -> None:
        super().__init__()
        self.devices = list(devices)

    def compose(self) -> ComposeResult:
        options = [
            Option(
                f"{'*' if d.is_default else ' '} {d.index:>3}  {d.name}  ({d.channels} ch, {d.default_rate:.0f} Hz)",
                id=str(d.index),
            )
            for d in self.devices
        ]
        with Vertical(classes="dialog"):
            yield Label("Pick the microphone (* is the system default):")
            yield OptionList(*options, id="devices")
            yield Label("[dim]enter picks · esc cancels[/]")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.devices[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)


class LanguagesScreen(ModalScreen[tuple[str, ...] | None]):
    """Check the target languages; at least one stays."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "apply", "Apply", priority=True),
    ]

    def __init__(self, targets: Sequence[str], source_lang: str | None) -> None:
        super().__init__()
        self.targets = tuple(targets)
        self.choices = [code for code in LANGUAGES if code != source_lang]

    def compose(self) -> ComposeResult:
        items = [
            (f"{code}  {LANGUAGES[code]}", code, code in self.targets) for code in self.choices
        ]
        with Vertical(classes="dialog"):
            yield Label("Target languages (space toggles):")
            yield SelectionList[str](*items, id="languages")
            yield Label("[dim]enter applies · esc cancels[/]", id="languages-hint")

    def action_apply(self) -> None:
        selected = self.query_one(SelectionList).selected
        chosen = tuple(code for code in self.choices if code in selected)
        if not chosen:
            self.query_one("#languages-hint", Label).update(
                "[red]keep at least one target language[/]"
            )
            return
        self.dismiss(chosen)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ErrorScreen(ModalScreen[None]):
    """An error the user can act on, instead of a traceback."""

    BINDINGS = [Binding("escape,enter", "dismiss", "Close"), Binding("q", "app.quit", "Quit")]

    def __init__(self, title: str, message: str, hint: str = "") -> None:
        super().__init__()
        self.title_text, self.message, self.hint = title, message, hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog error"):
            yield Label(self.title_text, id="error-title")
            yield Static(self.message, id="error-message", markup=False)
            if self.hint:
                yield Static(self.hint, id="error-hint", markup=False)
            yield Label("[dim]esc closes · q quits[/]")
