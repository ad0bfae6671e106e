"""The TUI's Save writes the cues `rtt batch` writes for the same events (one subtitle builder)."""

from __future__ import annotations

from pipeline.events import SourceCommit, TargetCommit
from pipeline.offline import SubtitleLimits, result_events
from rtt.batch.writers import OutputPlan, write_outputs
from rtt.tui.store import Piece, TranscriptStore
from tests.support import sample_result


def piece(event) -> Piece:
    """What the app stores for a committed event."""
    if isinstance(event, SourceCommit):
        words = tuple((w.word, w.start, w.end) for w in event.words)
        return Piece(
            event.lang, "source", event.utterance, 0, event.start, event.end, event.text, words
        )
    return Piece(
        event.lang, "target", event.utterance, event.sentence, event.start, event.end, event.text
    )


def test_save_and_batch_write_the_same_cues(tmp_path):
    result = sample_result()
    batch = write_outputs(
        result, OutputPlan(tmp_path / "batch", "talk", ("srt",), False), SubtitleLimits()
    )
    store = TranscriptStore(tmp_path / "session.jsonl")
    for event in result_events(result):
        if isinstance(event, (SourceCommit, TargetCommit)):
            store.add(piece(event))
    saved = store.export(tmp_path / "live", "talk", duration=result.duration)
    store.close()
    for lang in ("en", "de"):
        batch_srt = next(p for p in batch if p.name == f"talk.{lang}.srt").read_text()
        live_srt = next(p for p in saved if p.name == f"talk.{lang}.srt").read_text()
        assert live_srt == batch_srt and live_srt.count("-->") >= 3
