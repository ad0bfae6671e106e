"""`rtt eval` end to end on the small test models (whisper-tiny.en, qwen2.5-coder-0.5b)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest

import rtt.cli
import rtt.translate
from pipeline.clock import SimulatedClock
from pipeline.events import End, to_json
from pipeline.factory import build_pipeline
from rtt.corpus import corpus_item, load_corpus
from rtt.eval import harness
from rtt.eval.evaluate import evaluate
from rtt.eval.observer import EventRecorder
from rtt.eval.plots import plot_all
from rtt.eval.report import write_report, write_results
from rtt.eval.sweep import QUICK_SWEEP, load_sweep
from tests.conftest import require_module

pytestmark = pytest.mark.models

CLIP = "clip-en-quick-brown-fox"  # 3.5 s: the shortest item with a full sentence


def test_harness_builds_the_pipeline_like_rtt_translate(small_config, shared_registry) -> None:
    assert harness.build_pipeline is rtt.translate.build_pipeline is build_pipeline
    item = corpus_item(CLIP)
    config = harness.item_config(small_config, item, ("de",), aware=False)
    ours = harness.make_pipeline(config, item, shared_registry, EventRecorder())
    source = rtt.translate.open_source(str(item.audio), stream=config.stream, config=config.source)
    theirs = build_pipeline(config, source, shared_registry, clock=SimulatedClock())
    assert [type(s) for s in ours.stages] == [type(s) for s in theirs.stages]
    assert isinstance(ours.clock, SimulatedClock)


def test_computation_unaware_runs_are_repeatable_to_the_event(
    small_config, shared_registry
) -> None:
    item = corpus_item(CLIP)

    def once():
        run = asyncio.run(
            harness.run_item(small_config, item, shared_registry, mode="unaware", targets=("de",))
        )
        return [to_json(e) for e in run.events]

    first, second = once(), once()
    assert first == second
    assert first[-1]["type"] == "end" and any(e["type"] == "target_commit" for e in first)


def test_quick_evaluation_end_to_end(shared_registry, tmp_path: Path) -> None:
    plan = load_sweep(QUICK_SWEEP)
    plan = dataclasses.replace(
        plan,
        items=(CLIP,),
        settings=tuple(s for s in plan.settings if s.name in ("default", "stable-beta-0")),
    )
    results = asyncio.run(evaluate(plan, load_corpus(), shared_registry, log=lambda _: None))
    write_results(results, tmp_path)
    plot_all(results, tmp_path)
    write_report(results, tmp_path)
    data = json.loads((tmp_path / "results.json").read_text())
    assert set(data) == {"meta", "word_ends", "runs"}
    assert [(r["name"], r["mode"]) for r in data["runs"]] == [
        ("default", "unaware"),
        ("default", "aware"),
        ("stable-beta-0", "unaware"),
    ]
    assert data["runs"][0]["fit"]["line"] == "fit: off (the configured models)"  # pinned
    summary = data["runs"][0]["summary"]
    for key in (
        "wer",
        "bleu",
        "chrf",
        "commit_latency",
        "time_to_final",
        "al",
        "laal",
        "start_offset",
        "end_offset",
        "source_normalized_erasure",
        "target_normalized_erasure",
        "revisions",
        "rtf",
    ):
        assert key in summary, key
    assert summary["errors"] == 0 and summary["wer"] is not None and summary["wer"] < 0.5
    assert summary["chrf"]["en-de"] > 0 and summary["time_to_final"]["n"] == 1
    assert {"ASRStage", "TranslateStage", "all_stages"} <= set(summary["rtf"])
    assert len(data["word_ends"][CLIP]) == 9
    for name in (
        "report.md",
        "frontier.png",
        "stages.png",
        "flicker_beta.png",
        "events/default.aware.jsonl",
    ):
        assert (tmp_path / name).stat().st_size > 0, name
    last = (tmp_path / "events/default.unaware.jsonl").read_text().splitlines()[-1]
    assert json.loads(last)["type"] == End.__name__.lower()


def test_rtt_eval_quick_exports_simuleval_logs_and_scores_them(tmp_path: Path) -> None:
    """`rtt eval --quick` (one item, one setting, simulated clock) as a user runs it."""
    require_module("omnisteval", "pip install 'rtt[eval]'")
    args = ["eval", "--quick", "--items", CLIP, "--settings", "default", "--clock", "unaware"]
    assert rtt.cli.main([*args, "--out", str(tmp_path)]) == 0
    folder = tmp_path / "simuleval" / "default.unaware" / "en-de"
    for name in ("instances.log", "segments.yaml", "references.txt", "omnisteval/scores.tsv"):
        assert (folder / name).stat().st_size > 0, name
    (line,) = [json.loads(x) for x in (folder / "instances.log").read_text().splitlines()]
    events = [
        json.loads(x) for x in (tmp_path / "events/default.unaware.jsonl").read_text().splitlines()
    ]
    commits = [e for e in events if e["type"] == "target_commit" and e["lang"] == "de"]
    assert line["prediction"] == " ".join(e["text"] for e in commits)
    # each target word counts from its commit: the target_append that carried it, else the
    # sentence's target_commit
    appended: dict[int, list[float]] = {}
    for e in events:
        if e["type"] == "target_append" and e["lang"] == "de":
            times = appended.setdefault(e["sentence"], [])
            if e["offset"] == len(times):
                times += [e["emitted"]] * len(e["text"].split())
    expected = []
    for e in commits:
        times = appended.get(e["sentence"], [])
        expected += [*times, *[e["emitted"]] * (len(e["text"].split()) - len(times))]
    assert any(appended.values())  # the clip commits words before its sentence ends
    assert line["delays"] == [pytest.approx(t * 1000, abs=0.05) for t in expected]
    run = json.loads((tmp_path / "results.json").read_text())["runs"][0]
    scored = run["omnisteval"]["en-de"]
    assert scored["scores"]["bleu"] >= 0 and scored["scores"]["chrf"] > 0
    assert scored["scores"]["longlaal_cu"] > 0
    assert scored["rtt_laal_on_resegmented_ms"] == pytest.approx(scored["scores"]["longlaal_cu"])
    assert scored["comparison"]["rtt"]["chrf"] == run["summary"]["chrf"]["en-de"]
    assert scored["comparison"]["texts_changed"] == []  # both scorers scored the same words
    assert "## OmniSTEval (the IWSLT 2026 scorer)" in (tmp_path / "report.md").read_text()
