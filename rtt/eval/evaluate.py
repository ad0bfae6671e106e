"""An evaluation run: every setting of a plan over the chosen corpus items.

Each setting runs computation-unaware (simulated clock); headline settings also run
computation-aware (real-time pace). Models load once, through one EngineRegistry.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import platform
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pipeline.calibration import fit_config
from pipeline.compute import resolve_device
from pipeline.engine import EngineRegistry
from pipeline.errors import ConfigError
from pipeline.events import to_json
from pipeline.factory import split_threads
from rtt import __version__
from rtt.corpus import CorpusItem

from .harness import ItemRun, Mode, offline_word_ends, run_item, supports
from .langid import leaves_language_auto
from .scoring import score_item, word_ends_from_utterances
from .summary import summarize
from .sweep import EvalPlan, Setting
from .terms import item_terms, with_glossary

__all__ = ["evaluate", "machine", "select_items"]

Log = Callable[[str], None]


def select_items(plan: EvalPlan, corpus: Sequence[CorpusItem]) -> list[CorpusItem]:
    """The plan's items in corpus order; when it names none, all but the long-form talks
    (style "longform": 10 minutes each, run only when named, e.g. sweeps/longform.toml)."""
    known = {item.id for item in corpus}
    unknown = [i for i in plan.items if i not in known]
    if unknown:
        raise ConfigError(
            f"unknown corpus item(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    if not plan.items:
        return [item for item in corpus if item.style != "longform"]
    return [item for item in corpus if item.id in plan.items]


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu
            )
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "system": platform.platform(),
        "python": platform.python_version(),
    }


async def _word_ends(
    plan: EvalPlan, items: Sequence[CorpusItem], base: Setting, registry: EngineRegistry, log: Log
) -> dict[str, list[float]]:
    if plan.word_times == "utterances":
        return {item.id: word_ends_from_utterances(item) for item in items}
    log(f"reference word times: offline decode with {plan.alignment_model}")
    # Model calls stay off the event loop.
    return {
        item.id: await asyncio.to_thread(
            offline_word_ends, item, base.config, registry, plan.alignment_model
        )
        for item in items
    }


def _models(setting: Setting) -> dict[str, Any]:
    """The models and compute a setting really ran with (device resolved, draft only where used)."""
    config = setting.config
    compute = split_threads(config.compute)
    device, compute_type = resolve_device(compute)
    mt = config.mt
    draft_used = mt.speculative != "off" and mt.draft_model and mt.use_draft_model
    return {
        "asr": config.asr.model,
        "mt": mt.model,
        "fast_mt": mt.fast_model,
        "draft_mt": mt.draft_model if draft_used else None,
        "device": device,
        "compute_type": compute_type,
        "asr_threads": compute.asr_threads,
        "mt_threads": compute.mt_threads,
    }


async def _run_setting(
    setting: Setting,
    mode: Mode,
    items: Sequence[CorpusItem],
    plan: EvalPlan,
    word_ends: dict[str, list[float]],
    registry: EngineRegistry,
    log: Log,
) -> dict[str, Any]:
    runs: list[ItemRun] = []
    scores: dict[str, dict[str, Any]] = {}
    # An English-only Whisper cannot do other languages; --targets may leave an item nothing to translate into.
    skipped = [
        item.id
        for item in items
        if not supports(setting.config, item)
        or (plan.targets and not set(plan.targets) & set(item.translations))
    ]
    for item in items:
        if item.id in skipped:
            continue
        auto = leaves_language_auto(setting.overrides)
        config = with_glossary(setting.config, setting.glossary, item)
        run = await run_item(
            config, item, registry, mode=mode, targets=plan.targets, auto_language=auto
        )
        runs.append(run)
        scores[item.id] = score_item(item, run.events, word_ends[item.id], run.targets)
        scores[item.id]["terms"] = item_terms(item, run.events, run.targets)
        log(
            f"  {setting.name} [{mode}] {item.id}: {len(run.events)} events, {run.wall_s:.1f} s for {run.audio_s:.1f} s of audio"
        )
    references = {item.id: dict(item.translations) for item in items}
    return {
        "name": setting.name,
        "mode": mode,
        "headline": setting.headline,
        "overrides": setting.overrides,
        "warnings": list(setting.warnings),
        "models": _models(setting),
        "config": dataclasses.asdict(setting.config),
        "skipped_items": skipped,
        "summary": summarize(scores, runs, references),
        "items": scores,
        "events": {run.item_id: [to_json(e) for e in run.events] for run in runs},
    }


async def evaluate(
    plan: EvalPlan,
    corpus: Sequence[CorpusItem],
    registry: EngineRegistry,
    *,
    clock: Literal["auto", "unaware", "aware"] = "auto",
    log: Log = print,
    on_run: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run the plan; the returned dict is results.json (events are split off by the writer).

    `clock` picks the runs (see `_modes`). `on_run` gets the results so far after every finished run, so a long sweep that is
    stopped still leaves its finished settings behind.
    """
    items = select_items(plan, corpus)
    word_ends = await _word_ends(plan, items, plan.settings[0], registry, log)
    results = _results(plan, items, word_ends)
    for setting in plan.settings:
        for warning in setting.warnings:
            log(f"warning: {warning}")
        setting, fit = await _fitted(setting, log)
        modes = _modes(setting, clock)
        for mode in modes:
            run = await _run_setting(setting, mode, items, plan, word_ends, registry, log)
            results["runs"].append({**run, "fit": fit})
            if on_run is not None:
                on_run(results)
    return results


async def _fitted(setting: Setting, log: Log) -> tuple[Setting, dict[str, Any]]:
    """The setting fitted to this machine when it says `fit = "auto"` (or "recalibrate");
    otherwise (the default, so that runs reproduce) its configured models exactly."""
    config, choice = await asyncio.to_thread(fit_config, setting.config, log=log)
    if setting.config.mt.fit != "off":
        log(f"  {setting.name}: {choice.line()}")
    return dataclasses.replace(setting, config=config), choice.to_json()


def _modes(setting: Setting, clock: str) -> list[Mode]:
    """auto: unaware for all, aware too for headline settings; otherwise the one clock asked for."""
    if clock == "auto":
        return ["unaware", "aware"] if setting.headline else ["unaware"]
    return [clock]  # type: ignore[list-item]


def _results(
    plan: EvalPlan, items: Sequence[CorpusItem], word_ends: dict[str, list[float]]
) -> dict[str, Any]:
    return {
        "meta": {
            "rtt_version": __version__,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "sweep": plan.source,
            "items": [item.id for item in items],
            "audio_s": round(sum(item.duration for item in items), 2),
            "targets": list(plan.targets) or "every reference language",
            "word_times": (
                f"word timestamps of an offline decode with {plan.alignment_model} (faster-whisper, "
                "word_timestamps=True), aligned to the reference words; unmatched words interpolated "
                "within their utterance"
                if plan.word_times == "offline"
                else "spread over each utterance's boundaries in proportion to word length"
            ),
        },
        "word_ends": word_ends,
        "runs": [],
    }
