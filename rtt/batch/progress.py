"""Progress of `rtt batch` (rich): one bar per file in flight and one overall, in seconds
of audio, with the real-time factor so far and the time left; then a summary table.

A file's bar counts transcription as the first 30 % of its audio seconds and
translation as the rest: on a CPU the LLM takes most of the time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import av
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from .runner import BatchJob, FileReport

__all__ = ["BatchProgress", "print_summary", "probe_duration"]

_ASR_SHARE = 0.3  # of a file's bar; translation takes the rest


def probe_duration(path) -> float:
    """The container's stated duration (0 when unknown or unreadable): for the overall ETA only."""
    try:
        with av.open(str(path), timeout=5.0) as container:
            return max(0.0, (container.duration or 0) / av.time_base)
    except Exception:  # a corrupt file is reported when it is processed; here it only counts 0
        return 0.0


class _AudioColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(
            f"{task.completed:6.1f}/{task.total or 0:.1f} s audio", style="progress.download"
        )


class _RtfColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        rtf = elapsed / task.completed if task.completed > 0.5 else None
        return Text("RTF   -  " if rtf is None else f"RTF {rtf:5.2f}", style="cyan")


class _FileSink:
    """A file's progress, reported from worker threads (rich's Progress is thread-safe)."""

    def __init__(self, display: BatchProgress, job: BatchJob) -> None:
        self._display = display
        self._job = job
        self._task = display.progress.add_task(
            job.name, total=display.expected(job), stage="reading", start=True
        )
        self._duration = display.expected(job)
        self._asr = 0.0
        self._mt = 0.0

    def stage(self, name: str) -> None:
        self._display.progress.update(self._task, stage=name)

    def started(self, duration: float) -> None:
        self._display.correct_total(self._job, duration)
        self._duration = duration
        self._display.progress.update(self._task, total=duration)

    def transcribed(self, seconds: float) -> None:
        self._asr = min(1.0, seconds / self._duration) if self._duration else 1.0
        self._show()

    def translated(self, done: int, total: int) -> None:
        self._mt = done / total if total else 1.0
        self._show()

    def _show(self) -> None:
        completed = self._duration * (_ASR_SHARE * self._asr + (1 - _ASR_SHARE) * self._mt)
        self._display.advance(self._job, completed)
        self._display.progress.update(self._task, completed=completed)

    def close(self) -> None:
        self._display.progress.remove_task(self._task)


class BatchProgress:
    """The live display; a no-op when `enabled` is false (--quiet, or no terminal)."""

    def __init__(self, jobs: Sequence[BatchJob], console: Console, *, enabled: bool) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._expected = {job.path: probe_duration(job.path) for job in jobs} if enabled else {}
        self._done: dict = {}
        self._sinks: dict = {}
        self.progress = Progress(
            TextColumn("{task.description:<28.28}"),
            TextColumn("[dim]{task.fields[stage]:<11}"),
            BarColumn(),
            _AudioColumn(),
            _RtfColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not enabled,
        )
        self._overall = self.progress.add_task(
            "[bold]all files",
            total=sum(self._expected.values()) or None,
            stage=f"{len(jobs)} file{'s' if len(jobs) != 1 else ''}",
        )
        self.started = time.perf_counter()

    def __enter__(self) -> BatchProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def expected(self, job: BatchJob) -> float:
        return self._expected.get(job.path, 0.0)

    def sink(self, job: BatchJob):
        if not self.enabled:
            return None
        sink = self._sinks[job.path] = _FileSink(self, job)
        return sink

    def correct_total(self, job: BatchJob, duration: float) -> None:
        with self._lock:
            self._expected[job.path] = duration
            self.progress.update(self._overall, total=sum(self._expected.values()))

    def advance(self, job: BatchJob, completed: float) -> None:
        with self._lock:
            self._done[job.path] = completed
            self.progress.update(self._overall, completed=sum(self._done.values()))

    def finished(self, report: FileReport) -> None:
        """A file is over (done, skipped or failed): its audio counts as done overall."""
        if not self.enabled:
            return
        self.advance(
            report.job, self.expected(report.job) if report.status != "ok" else report.duration
        )
        sink = self._sinks.pop(report.job.path, None)
        if sink is not None:
            sink.close()
        if report.failed:
            self.progress.console.print(
                f"[red]failed:[/] {escape(report.job.name)}: {escape(report.error)}",
                highlight=False,
            )


_STYLE = {"ok": "green", "no speech": "yellow", "skipped": "dim", "failed": "red"}


def print_summary(reports: Sequence[FileReport], console: Console, wall: float) -> None:
    table = Table(title="rtt batch", title_justify="left")
    for name, justify in (
        ("file", "left"),
        ("status", "left"),
        ("audio s", "right"),
        ("time s", "right"),
        ("RTF", "right"),
        ("outputs / error", "left"),
    ):
        table.add_column(name, justify=justify, overflow="fold")
    for r in reports:
        rtf = f"{r.seconds / r.duration:.2f}" if r.duration else "-"
        detail = r.error if r.failed else (f"{len(r.outputs)} files" if r.outputs else "")
        table.add_row(
            r.job.name,
            Text(r.status, style=_STYLE[r.status]),
            f"{r.duration:.1f}",
            f"{r.seconds:.1f}",
            rtf,
            detail,
        )
    audio = sum(r.duration for r in reports)
    counts = ", ".join(
        f"{sum(r.status == s for r in reports)} {s}"
        for s in _STYLE
        if any(r.status == s for r in reports)
    )
    table.caption = f"{counts}; {audio:.1f} s of audio in {wall:.1f} s" + (
        f" (RTF {wall / audio:.2f})" if audio else ""
    )
    console.print(table)
