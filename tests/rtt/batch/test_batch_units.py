"""`rtt batch` without models: cue shaping, sentences, windows, writers, inputs, resuming."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
from pathlib import Path

import pysubs2
import pytest
from rich.console import Console

from pipeline.errors import AudioInputError, ConfigError
from pipeline.events import (
    End,
    SourceCommit,
    SpeechEnd,
    SpeechStart,
    TargetCommit,
    Word,
    from_json,
    to_json,
)
from pipeline.offline import (
    OfflineConfig,
    OfflineResult,
    SpeechSegment,
    SubtitleLimits,
    asr_windows,
    bilingual_cues,
    result_events,
    source_cues,
    split_sentences,
    split_text,
    target_cues,
    wrap,
)
from pipeline.offline.transcribe import clean_words
from rtt.batch import writers
from rtt.batch.progress import BatchProgress, print_summary
from rtt.batch.runner import BatchOptions, discover_inputs, finished, run_batch_jobs
from rtt.batch.writers import OutputPlan, atomic_write, write_outputs
from rtt.cli import main
from tests.support import LONG, sample_result, timed

LIMITS = SubtitleLimits()


# --- cues ------------------------------------------------------------------


def check_cues(
    cues, duration: float, limits: SubtitleLimits = LIMITS, max_lines: int | None = None
) -> None:
    last_end = 0.0
    for i, cue in enumerate(cues):
        assert 0.0 <= cue.start < cue.end <= duration
        assert cue.start >= last_end - 1e-9, f"cue {i} overlaps the one before"
        assert cue.end - cue.start <= limits.max_duration + 1e-9
        lines = cue.text.split("\n")
        assert len(lines) <= (max_lines or limits.max_lines)
        assert all(len(line) <= limits.max_line for line in lines), lines
        room = (cues[i + 1].start if i + 1 < len(cues) else duration) - cue.start
        assert cue.end - cue.start >= min(limits.min_duration, room - limits.gap) - 1e-9
        last_end = cue.end


def test_source_cues_fit_the_limits_and_keep_every_word():
    result = sample_result()
    cues = source_cues(result.sentences, LIMITS, result.duration)
    check_cues(cues, result.duration)
    assert " ".join(c.text.replace("\n", " ") for c in cues).split() == [
        w.word for s in result.sentences for w in s.words
    ]
    assert len(cues) >= 4  # the long sentence needs several cues
    assert any(
        c.text.replace("\n", " ").endswith("countries,") for c in cues
    )  # broken after the comma


def test_target_cues_split_a_long_translation_within_its_sentence():
    result = sample_result()
    cues = target_cues(result.sentences, result.translations["de"], LIMITS, result.duration)
    check_cues(cues, result.duration)
    long = result.sentences[1]
    inside = [c for c in cues if long.start <= c.start < long.end]
    assert len(inside) >= 3
    assert " ".join(c.text.replace("\n", " ") for c in inside) == result.translations["de"][1]


def test_bilingual_cues_carry_source_then_translation():
    result = sample_result()
    cues = bilingual_cues(result.sentences, result.translations["de"], LIMITS, result.duration)
    check_cues(cues, result.duration, max_lines=5)  # a long translation may take a third line
    assert cues[0].text.startswith("Welcome to the workshop.") and cues[0].text.endswith(
        "Willkommen zum Workshop."
    )
    flat = " ".join(c.text.replace("\n", " ") for c in cues)
    assert (
        flat.index("Komitee") > flat.index("committee") > flat.index("Vorschläge")
    )  # shares follow the source


def test_wrap_balances_two_lines_and_split_text_keeps_words():
    text = "The first session starts at 10:15 in room 4, right after the coffee break."
    first, second = wrap(text, LIMITS).split("\n")
    assert abs(len(first) - len(second)) <= 12 and max(len(first), len(second)) <= 42
    assert wrap("Short line.", LIMITS) == "Short line."
    parts = split_text(LONG, [1 / 3, 2 / 3], LIMITS)
    assert " ".join(parts) == LONG and len(parts) == 3
    cjk = split_text(
        "我们今年收到了来自三十五个国家的四百多份提案委员会接受了六十二个报告", [0.5], LIMITS
    )
    assert "".join(cjk).startswith("我们") and len(cjk) == 2


def test_short_cue_is_held_to_read_but_never_into_the_next():
    words = [Word("Hi.", 1.0, 1.2), Word("Next", 1.5, 1.8), Word("one.", 1.8, 2.0)]
    sentences = split_sentences(words, "en", [SpeechSegment(0.9, 2.1)], max_pause=2.0)
    cues = source_cues(sentences, LIMITS, 10.0)
    assert [c.text for c in cues] == ["Hi.", "Next one."]
    assert cues[0].end == pytest.approx(1.5 - LIMITS.gap) and cues[1].end == pytest.approx(2.5)


# --- sentences, windows, words ---------------------------------------------------


def test_sentences_follow_punctuation_and_long_pauses():
    words = timed("Hello there. How are you doing today and then we stop", pauses={6: 3.0})
    segments = [SpeechSegment(0.0, 0.65), SpeechSegment(0.68, 10.0)]
    sentences = split_sentences(words, "en", segments, max_pause=2.0)
    assert [s.text for s in sentences] == [
        "Hello there.",
        "How are you doing",
        "today and then we stop",
    ]
    assert [s.index for s in sentences] == [0, 1, 2] and [s.utterance for s in sentences] == [
        1,
        2,
        2,
    ]
    assert split_sentences(
        words, "xx", segments, max_pause=2.0
    )  # a language pysbd lacks: English rules


def test_windows_group_segments_up_to_30_seconds_and_split_at_long_silence():
    config = OfflineConfig()
    segments = [SpeechSegment(s, s + 4) for s in (0, 5, 10, 15, 20, 25, 34, 60)]
    windows = asr_windows(segments, config)
    assert [(w.start, w.end) for w in windows] == [(0, 29), (34, 38), (60, 64)]
    assert asr_windows([], config) == []


def test_word_times_are_clamped_and_monotonic():
    words = [Word("a", 0.5, 0.9), Word("b", 0.8, 0.7), Word("c", 9.0, 12.0)]
    cleaned = clean_words(words, 10.0)
    assert [(w.start, w.end) for w in cleaned] == [(0.5, 0.9), (0.9, 0.9), (9.0, 10.0)]


# --- events and writers ----------------------------------------------------------


def test_events_are_ordered_and_round_trip_through_json():
    result = sample_result()
    events = result_events(result)
    assert isinstance(events[0], SpeechStart) and isinstance(events[-1], End)
    assert (
        sum(isinstance(e, SpeechStart) for e in events)
        == sum(isinstance(e, SpeechEnd) for e in events)
        == 3
    )
    commits = [e for e in events if isinstance(e, SourceCommit)]
    targets = [e for e in events if isinstance(e, TargetCommit)]
    assert [c.text for c in commits] == [s.text for s in result.sentences]
    assert [t.sentence for t in targets] == [0, 1, 2]
    assert events.index(targets[0]) > events.index(commits[0])
    assert [from_json(json.loads(json.dumps(to_json(e)))) for e in events] == events


def test_every_format_round_trips_through_a_parser(tmp_path):
    result = sample_result()
    plan = OutputPlan(tmp_path / "out", "talk", ("srt", "vtt", "jsonl", "txt"), True)
    written = write_outputs(result, plan, LIMITS)
    assert sorted(p.name for p in written) == sorted(p.name for p in plan.paths("en", ["de"]))
    for lang in ("en", "de"):
        cues = (
            source_cues(result.sentences, LIMITS, result.duration)
            if lang == "en"
            else target_cues(result.sentences, result.translations["de"], LIMITS, result.duration)
        )
        for ext in ("srt", "vtt"):
            subs = pysubs2.load(str(plan.folder / f"talk.{lang}.{ext}"), format_=ext)
            assert [(e.start, e.end, e.plaintext) for e in subs] == [
                (round(c.start * 1000), round(c.end * 1000), c.text) for c in cues
            ]
    assert (plan.folder / "talk.en.txt").read_text().splitlines() == [
        s.text for s in result.sentences
    ]
    assert (plan.folder / "talk.de.txt").read_text().splitlines() == list(result.translations["de"])
    events = [
        from_json(json.loads(line))
        for line in (plan.folder / "talk.jsonl").read_text().splitlines()
    ]
    assert events == result_events(result)
    bilingual = pysubs2.load(str(plan.folder / "talk.en-de.srt"))
    assert "Welcome" in bilingual[0].plaintext and "Willkommen" in bilingual[0].plaintext


def test_silent_result_writes_empty_but_valid_files(tmp_path):
    silent = OfflineResult("quiet.wav", 5.0, "en", (), (), {"de": ()})
    plan = OutputPlan(tmp_path, "quiet", ("srt", "vtt", "jsonl", "txt"), False)
    write_outputs(silent, plan, LIMITS)
    assert len(pysubs2.load(str(tmp_path / "quiet.de.srt"), format_="srt")) == 0
    assert (tmp_path / "quiet.de.vtt").read_text().startswith("WEBVTT")
    assert (tmp_path / "quiet.en.txt").read_text() == ""
    assert [
        json.loads(line)["type"] for line in (tmp_path / "quiet.jsonl").read_text().splitlines()
    ] == ["end"]


def test_atomic_write_leaves_no_half_file_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "talk.de.srt"

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(writers.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, "1\n00:00:00,000 --> 00:00:01,000\nHallo\n")
    assert list(tmp_path.iterdir()) == []


# --- inputs, skipping, resuming -----------------------------------------------------


def options(out: Path, **kw) -> BatchOptions:
    return BatchOptions(
        out=out, targets=("de",), source_lang="en", formats=("srt", "txt", "jsonl"), **kw
    )


def test_inputs_mirror_folders_skip_non_media_and_our_own_outputs(tmp_path):
    root = tmp_path / "talks"
    for name in ("a.wav", "day1/b.mp4", "day1/notes.txt", "out/old.wav"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    single = tmp_path / "c.weird"
    single.write_bytes(b"x")
    jobs = discover_inputs([root, single, root / "a.wav"], options(root / "out"))
    assert [j.name for j in jobs] == ["a.wav", "day1/b.mp4", "c.weird"]
    assert jobs[1].plan.folder == (root / "out" / "day1").resolve() and jobs[1].plan.stem == "b"
    assert jobs[2].plan.folder == (root / "out").resolve()
    with pytest.raises(ConfigError, match="no such file"):
        discover_inputs([tmp_path / "missing.wav"], options(tmp_path / "o"))
    (root / "a.mp3").write_bytes(b"x")
    with pytest.raises(ConfigError, match="same outputs"):
        discover_inputs([root], options(tmp_path / "o"))


class FakeProcessor:
    """Stands in for the models: the resume logic is the point here, not recognition."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def process(self, path, *, stream, language, targets, progress=None):
        self.calls.append(Path(path).name)
        if Path(path).read_bytes() == b"corrupt":
            raise AudioInputError(f"cannot read audio from {path}: corrupt")
        if progress is not None:
            progress.started(18.0)
            progress.stage("asr")
            progress.transcribed(18.0)
            progress.translated(3, 3)
        await asyncio.sleep(0)
        return sample_result(stream)


class Interrupted(BaseException):
    """Like Ctrl-C in the middle of writing, but not a KeyboardInterrupt (which would stop pytest)."""


async def test_an_interrupted_run_resumes_where_it_stopped(tmp_path, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.wav", "b.wav"):
        (src / name).write_bytes(b"audio")
    opts = options(tmp_path / "out", bilingual=True)
    jobs = discover_inputs([src], opts)
    per_file = len(jobs[0].plan.paths("en", ["de"]))
    real_replace, renames = writers.os.replace, []

    def replace_then_die(a, b):
        renames.append(b)
        if len(renames) == per_file + 2:  # a's outputs done, b halfway
            raise Interrupted
        real_replace(a, b)

    monkeypatch.setattr(writers.os, "replace", replace_then_die)
    fake = FakeProcessor()
    with pytest.raises(Interrupted):
        await run_batch_jobs(jobs, fake, opts)
    monkeypatch.setattr(writers.os, "replace", real_replace)
    out = tmp_path / "out"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left behind
    assert finished(jobs[0], opts) and not finished(jobs[1], opts)

    reports = await run_batch_jobs(jobs, fake, opts)
    assert [r.status for r in reports] == ["skipped", "ok"] and fake.calls == [
        "a.wav",
        "b.wav",
        "b.wav",
    ]
    assert all(finished(j, opts) for j in jobs)
    forced = await run_batch_jobs(jobs, fake, dataclasses.replace(opts, force=True))
    assert [r.status for r in forced] == ["ok", "ok"]


async def test_a_failing_file_is_reported_and_the_rest_run(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "bad.wav").write_bytes(b"corrupt")
    (src / "good.wav").write_bytes(b"audio")
    opts = options(tmp_path / "out", jobs=2)
    reports = await run_batch_jobs(discover_inputs([src], opts), FakeProcessor(), opts)
    assert [(r.job.name, r.status) for r in reports] == [("bad.wav", "failed"), ("good.wav", "ok")]
    assert "corrupt" in reports[0].error and not list((tmp_path / "out").glob("bad*"))


async def test_progress_and_summary_show_audio_seconds_rtf_and_failures(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "bad.wav").write_bytes(b"corrupt")
    (src / "good.wav").write_bytes(b"audio")
    opts = options(tmp_path / "out")
    jobs = discover_inputs([src], opts)
    console = Console(file=io.StringIO(), force_terminal=True, width=150)
    with BatchProgress(jobs, console, enabled=True) as display:
        reports = await run_batch_jobs(jobs, FakeProcessor(), opts, display.sink, display.finished)
    print_summary(reports, console, wall=2.0)
    text = console.file.getvalue()
    assert "failed:" in text and "bad.wav" in text and "s audio" in text and "RTF" in text
    assert "1 ok, 1 failed" in text and "18.0 s of audio" in text


def test_auto_language_counts_any_source_language_as_finished(tmp_path):
    opts = BatchOptions(out=tmp_path, targets=("de",), source_lang=None, formats=("srt",))
    job = discover_inputs([Path(__file__)], opts)[0]
    assert not finished(job, opts)
    for name in ("test_batch_units.fr.srt", "test_batch_units.de.srt"):
        (tmp_path / name).write_text("")
    assert finished(job, opts)


# --- the command line ------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--formats", "srt,docx"], "unknown output format(s) docx"),
        (["--jobs", "0"], "--jobs must be at least 1"),
        (["--to", "xx"], "unsupported language 'xx'"),
    ],
)
def test_bad_options_are_clear_errors(tmp_path, capsys, argv, message):
    assert main(["batch", str(tmp_path), "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_input_and_empty_folder_are_clear_errors(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "nope.wav"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["batch", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "no audio or video files found" in capsys.readouterr().err


def test_help_explains_outputs_and_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["batch", "--help"])
    out = capsys.readouterr().out
    assert (
        "<stem>.<lang>.srt" in out and "--bilingual" in out and "--jobs" in out and "default" in out
    )
