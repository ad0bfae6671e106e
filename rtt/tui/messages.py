"""Messages the pipeline worker posts to the app."""

from __future__ import annotations

from textual.message import Message

from pipeline.events import Event

__all__ = ["PipelineEnded", "PipelineEvent", "PipelineFailed"]


class PipelineEvent(Message):
    """An event that left the pipeline (stamped)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class PipelineFailed(Message):
    """The session could not start or run: a missing model, no microphone, a bad file."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


class PipelineEnded(Message):
    """The stream is finished (end of the file, or input ended)."""
