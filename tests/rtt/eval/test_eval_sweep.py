"""Sweep files and the `rtt eval` command line, without models."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import pytest

from pipeline import calibration
from pipeline.errors import ConfigError
from pipeline.fakes import fake_model_folders
from pipeline.fit import Rates
from rtt.cli import main
from rtt.corpus import load_corpus
from rtt.eval.cli import plan_from_args
from rtt.eval.evaluate import _fitted, select_items
from rtt.eval.report import write_report
from rtt.eval.sweep import DEFAULT_SWEEP, QUICK_SWEEP, load_sweep, parse_sweep


def test_default_sweep_covers_the_policy_knobs() -> None:
    plan = load_sweep(DEFAULT_SWEEP)
    settings = {s.name: s for s in plan.settings}
    assert settings["default"].headline and not any(s.warnings for s in plan.settings)
    configs = [s.config for s in plan.settings]
    assert {c.asr.step for c in configs} >= {0.4, 0.6, 1.0}
    assert {c.asr.agreement for c in configs} >= {1, 2, 3}
    assert {c.mt.model for c in configs} == {"qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"}
    assert {c.asr.model for c in configs} == {"whisper-base", "whisper-tiny.en"}
    assert {c.mt.speculative for c in configs} >= {"exact", "stable"}
    assert len({c.mt.beta for c in configs}) >= 3 and {c.mt.display_mask for c in configs} >= {0, 3}


def test_quick_sweep_uses_the_small_models_on_short_items() -> None:
    plan = load_sweep(QUICK_SWEEP)
    assert all(
        s.config.asr.model == "whisper-tiny.en" and s.config.mt.model == "qwen2.5-coder-0.5b"
        for s in plan.settings
    )
    assert all(
        s.config.mt.fast_model is None and s.config.mt.draft_model is None for s in plan.settings
    )
    items = select_items(plan, load_corpus())
    assert items and sum(i.duration for i in items) < 30 and all(i.lang == "en" for i in items)


def test_unknown_option_is_skipped_with_a_warning() -> None:
    plan = parse_sweep(
        {
            "base": {"mt": {"future_knob": 1}},
            "setting": [{"name": "a", "mt": {"beta": 0.5, "not_yet": True}}],
        }
    )
    (setting,) = plan.settings
    assert setting.config.mt.beta == 0.5
    assert any("mt.not_yet" in w for w in setting.warnings) and any(
        "mt.future_knob" in w for w in setting.warnings
    )


def test_the_core_budget_is_a_sweep_setting() -> None:
    plan = parse_sweep(
        {"setting": [{"name": "budget-off", "mt": {"budget": "off", "final_deadline": 3.0}}]}
    )
    (setting,) = plan.settings
    assert (setting.config.mt.budget, setting.config.mt.final_deadline) == ("off", 3.0)
    assert not setting.warnings


@pytest.mark.parametrize(
    "data, message",
    [
        ({"setting": []}, "at least one"),
        ({"setting": [{"asr": {"step": 1.0}}]}, "needs a name"),
        ({"setting": [{"name": "a"}, {"name": "a"}]}, "unique"),
        ({"setting": [{"name": "a", "gpu": {"x": 1}}]}, "unknown section"),
        ({"setting": [{"name": "a"}], "eval": {"word_times": "forced"}}, "word_times"),
        ({"setting": [{"name": "a"}], "eval": {"nope": 1}}, "unknown key"),
        ({"setting": [{"name": "a"}], "extra": {}}, "unknown table"),
    ],
)
def test_bad_sweep_is_a_config_error(data, message) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_sweep(data)


def test_missing_or_broken_sweep_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_sweep(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[setting]\nname=")
    with pytest.raises(ConfigError):
        load_sweep(bad)


def _args(**kw) -> argparse.Namespace:
    base = dict(quick=False, sweep=None, settings=None, items=None, targets=None)
    return argparse.Namespace(**{**base, **kw})


def test_plan_from_args_narrows_the_sweep() -> None:
    plan = plan_from_args(_args(settings="default,mt-0.5b", items="talk-opening-en", targets="de"))
    assert [s.name for s in plan.settings] == ["default", "mt-0.5b"]
    assert plan.items == ("talk-opening-en",) and plan.targets == ("de",)
    with pytest.raises(ConfigError, match="unknown setting"):
        plan_from_args(_args(settings="nope"))
    with pytest.raises(ConfigError, match="either"):
        plan_from_args(_args(quick=True, sweep=DEFAULT_SWEEP))


def test_cli_errors_are_clear(capsys, tmp_path: Path) -> None:
    assert main(["eval", "--sweep", str(tmp_path / "missing.toml")]) == 2
    assert main(["eval", "--quick", "--items", "no-such-item", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "sweep file not found" in err and "unknown corpus item" in err and "Traceback" not in err


def test_eval_help(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    out = capsys.readouterr().out
    assert "--quick" in out and "--sweep" in out and "default:" in out


def test_report_renders_from_a_minimal_result(tmp_path: Path) -> None:
    summary = {
        "items": 1,
        "errors": 0,
        "audio_s": 1.0,
        "rtf": {"ASRStage": 0.5, "all_stages": 0.5, "wall": 0.6},
        "wer": 0.1,
        "wer_by_lang": {"en": 0.1},
        "commit_latency": {"p50": 1.0, "p90": 2.0, "max": 2.0, "n": 3},
        "source_normalized_erasure": 0.2,
        "bleu": {"en-de": 20.0},
        "chrf": {"en-de": 50.0},
        "bleu_mean": 20.0,
        "chrf_mean": 50.0,
        "al": 1.0,
        "laal": 1.1,
        "laal_first_appearance": 0.9,
        "start_offset": 1.0,
        "end_offset": 0.5,
        "time_to_final": {"p50": 1.0, "p90": 1.5, "max": 1.5, "n": 1},
        "missing_utterances": 0,
        "target_normalized_erasure": 0.0,
        "revisions": 1,
        "revisions_per_sentence": 1.0,
    }
    run = {
        "name": "default",
        "mode": "unaware",
        "headline": True,
        "overrides": {},
        "warnings": [],
        "skipped_items": [],
        "models": {
            "asr": "a",
            "mt": "m",
            "fast_mt": None,
            "draft_mt": None,
            "device": "cpu",
            "asr_threads": 1,
            "mt_threads": 1,
        },
        "summary": summary,
        "items": {
            "x": {
                "lang": "en",
                "wer": 0.1,
                "targets": {"de": {"bleu": 20.0, "chrf": 50.0, "normalized_erasure": 0.0}},
            }
        },
    }
    meta = {
        "date": "d",
        "rtt_version": "v",
        "sweep": "s",
        "machine": {"cpu": "c", "cores": 2, "system": "l"},
        "items": ["x"],
        "audio_s": 1.0,
        "targets": ["de"],
        "word_times": "w",
    }
    text = write_report({"meta": meta, "runs": [run]}, tmp_path).read_text()
    assert "| default | computation-unaware | 0.100 |" in text and "en-de" in text


def test_every_shipped_sweep_parses_without_warnings() -> None:
    corpus = load_corpus()
    for path in sorted(DEFAULT_SWEEP.parent.glob("*.toml")):
        plan = load_sweep(path)
        assert plan.settings and not any(s.warnings for s in plan.settings), path
        assert select_items(plan, corpus), path
        assert (
            plan.source == f"rtt/eval/sweeps/{path.name}"
        )  # reports name it the same on every machine


def test_rtt_eval_fetches_the_models_its_sweep_needs(monkeypatch, tmp_path: Path) -> None:
    """Right after ./scripts/demo (default models only), `rtt eval --quick` fetches whisper-tiny.en."""
    import rtt.models_cli as models_cli
    from rtt.eval.cli import models_needed

    plan = load_sweep(QUICK_SWEEP)
    assert models_needed(plan) == ["whisper-tiny.en", "qwen2.5-coder-0.5b"]
    default = load_sweep(DEFAULT_SWEEP)
    assert {"whisper-base", "qwen2.5-coder-1.5b", "whisper-tiny.en"} <= set(models_needed(default))
    fetched: list[str] = []
    monkeypatch.setattr(
        models_cli, "is_installed", lambda name, fmt=None: name != "whisper-tiny.en"
    )
    monkeypatch.setattr(
        models_cli,
        "fetch",
        lambda name, formats=None, report=None: fetched.append(name) or tmp_path,
    )
    assert models_cli.fetch_missing([*models_needed(plan), "/my/own/model"]) == ["whisper-tiny.en"]
    assert fetched == ["whisper-tiny.en"]


def test_eval_pins_the_fit_off_unless_a_setting_says_auto(monkeypatch, tmp_path: Path) -> None:
    _, mt = fake_model_folders(tmp_path / "models")
    monkeypatch.setattr(calibration, "measure_rates", lambda source, config: Rates(2.0, 20.0))
    monkeypatch.setattr(calibration, "cache_root", lambda: tmp_path)
    plan = parse_sweep(
        {
            "base": {"mt": {"model": str(mt), "fast_model": "none"}, "compute": {"device": "cpu"}},
            "setting": [{"name": "plain"}, {"name": "fitted", "mt": {"fit": "auto"}}],
        }
    )
    plain, fitted = (asyncio.run(_fitted(s, log=lambda _: None)) for s in plan.settings)
    assert plain[0].config == plan.settings[0].config and plain[1]["mode"] == "off"
    assert fitted[1]["mode"] == "auto" and fitted[1]["warnings"]  # 2 tok/s cannot keep up
    assert fitted[1]["rates"][str(mt)]["decode_tokens_per_s"] == 2.0
