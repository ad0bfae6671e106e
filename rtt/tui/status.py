"""The status bar: models and device, input level, VAD state, latency, and the behind-warning."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Static

from .session import LiveStats

__all__ = ["LevelMeter", "StatusBar", "behind_message", "figures", "language_text"]

METER_FLOOR_DB = -60.0
METER_CELLS = 12


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}s"


def figures(stats: LiveStats) -> str:
    """Latency figures: time to final p50/p90, lag behind the audio, real-time factor."""
    rtf = "–" if stats.rtf is None else f"{stats.rtf:.2f}"
    return f"TTF p50 {_seconds(stats.ttf_p50)} p90 {_seconds(stats.ttf_p90)} │ lag {_seconds(stats.lag)} │ RTF {rtf}"


UNSURE = 0.8  # a detected language below this probability is shown with a warning


def language_text(lang: str, probability: float | None) -> Text:
    """The source language as detected (`--from auto`); empty when it was given."""
    if lang == "und":
        return Text("⚠ language: detecting…", style="bold yellow")
    if probability is None:
        return Text("")
    if probability < UNSURE:
        return Text(f"⚠ {lang}? ({probability:.0%}, unsure: pass --from)", style="bold yellow")
    return Text(f"{lang} ({probability:.0%})")


def behind_message(stats: LiveStats) -> str:
    """What is late, and what the pipeline does about it."""
    lag = f"{stats.lag:.1f} s" if stats.lag is not None else "more than the fallback lag"
    if stats.remote:
        return f"⚠ captions are {lag} behind the speaker: the server skips stale re-translations and uses its smaller model until it catches up"
    actions = []
    if stats.degraded and stats.fast_model:
        actions.append(f"tentative translations on the smaller model ({stats.fast_model})")
    if stats.skipped:
        actions.append(f"{stats.skipped} stale re-translation(s) skipped")
    if not actions:
        actions.append(
            "final translations keep the main model; no smaller model is configured"
            if not stats.fast_model
            else "switching tentative translations to the smaller model"
        )
    return f"⚠ behind the audio by {lag}: " + "; ".join(actions)


class LevelMeter(Static):
    """Input level in dBFS as a bar, -60 dB (empty) to 0 dB (full)."""

    level: reactive[float] = reactive(-90.0)
    muted: reactive[bool] = reactive(False)

    def render(self) -> Text:
        filled = round(
            METER_CELLS * (max(self.level, METER_FLOOR_DB) - METER_FLOOR_DB) / -METER_FLOOR_DB
        )
        style = "red" if self.level > -3 else "green"
        bar = Text("▮" * filled, style="dim" if self.muted else style)
        bar.append("▯" * (METER_CELLS - filled), style="dim")
        label = (
            "muted"
            if self.muted
            else ("  –  " if self.level <= METER_FLOOR_DB else f"{self.level:4.0f} dB")
        )
        bar.append(f" {label}")
        return bar


class StatusBar(Vertical):
    """Two lines of status, plus a warning line while the pipeline is behind."""

    stats: reactive[LiveStats] = reactive(LiveStats, always_update=True)
    state: reactive[str] = reactive("starting")
    # the source language of the latest source event and its probability (None: given)
    language: reactive[tuple[str, float | None] | None] = reactive(None)

    def __init__(self) -> None:
        super().__init__()
        self.models, self.state_label, self.meter = (
            Static(id="models"),
            Static(id="state"),
            LevelMeter(id="meter"),
        )
        self.vad, self.figures, self.behind = (
            Static(id="vad"),
            Static(id="figures"),
            Static(id="behind"),
        )
        self.language_label = Static(id="language")
        self.language_label.display = False

    def compose(self) -> ComposeResult:
        yield self.models
        with Horizontal(id="gauges"):
            yield self.state_label
            yield self.meter
            yield self.vad
            yield self.figures
            yield self.language_label
        yield self.behind

    def watch_language(self, language: tuple[str, float | None] | None) -> None:
        text = language_text(*language) if language is not None else Text("")
        self.language_label.display = bool(text.plain)
        self.language_label.update(text)

    def watch_stats(self, stats: LiveStats) -> None:
        if not self.is_mounted:
            return
        parts = [p for p in (stats.models, stats.device, stats.input) if p]
        self.models.update(Text(" · ".join(parts)))
        self.meter.level, self.meter.muted = stats.level, stats.paused
        vad = (
            Text("● speech", style="bold green") if stats.speech else Text("○ silence", style="dim")
        )
        self.vad.update(vad)
        self.figures.update(Text(figures(stats)))
        self.behind.display = stats.behind and self.state == "running"
        if self.behind.display:
            self.behind.update(Text(behind_message(stats)))
        self.watch_state(self.state)

    def watch_state(self, state: str) -> None:
        if not self.is_mounted:
            return
        label = "paused" if self.stats.paused and state == "running" else state
        self.state_label.update(Text(f" {label} "))
        self.state_label.set_classes("state-" + "".join(c for c in label.split()[0] if c.isalpha()))
