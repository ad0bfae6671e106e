"""`rtt eval`: latency against quality over the sample corpus."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from pathlib import Path

from pipeline.engine import EngineRegistry
from pipeline.errors import ConfigError
from rtt.corpus import DEFAULT_MANIFEST, load_corpus

from .sweep import DEFAULT_SWEEP, QUICK_SWEEP, EvalPlan, load_sweep

__all__ = ["add_eval_parser", "run_eval"]

EPILOG = f"""\
Every setting runs computation-unaware (a simulated clock: repeatable, free of this
machine's speed); settings marked headline also run computation-aware (the audio
at real-time pace: costs the corpus length each). Definitions: docs/metrics.md.
Every run also writes its hypothesis log in SimulEval JSONL with the speech segmentation
and references (OUT/simuleval/<setting>.<clock>/<pair>/) and, with OmniSTEval installed,
scores it with `omnisteval longform` (BLEU, chrF, LongYAAL) beside rtt's own figures.

examples:
  rtt eval --quick                          small models, a few short items (~2 min on 2 cores)
  rtt eval --out out/eval                   the default sweep over the whole corpus (hours on a CPU)
  rtt eval --settings default --clock unaware   one setting, simulated clock only
  rtt eval --sweep my.toml --items talk-opening-en,talk-keynote-en

default sweep: {DEFAULT_SWEEP}
quick sweep:   {QUICK_SWEEP}
small-model sweep (computation-unaware, ~10 min): {QUICK_SWEEP.parent / "small.toml"}"""


def add_eval_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="measure latency against quality over the sample corpus",
        description="Run the live pipeline (built as for `rtt translate`) over the audio_samples corpus for each "
        "setting of a sweep file and write results.json, report.md and PNG plots.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="the quick sweep: small test models on a few short English items",
    )
    p.add_argument(
        "--sweep",
        type=Path,
        metavar="FILE",
        help="sweep TOML file (default: the shipped default sweep; with --quick: the quick sweep)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("out/eval"),
        metavar="DIR",
        help="output folder (default: %(default)s)",
    )
    p.add_argument(
        "--settings",
        metavar="NAMES",
        help="run only these settings of the sweep, comma-separated (default: all)",
    )
    p.add_argument(
        "--items",
        metavar="IDS",
        help="corpus item ids, comma-separated (default: the sweep's [eval] items)",
    )
    p.add_argument(
        "--targets",
        metavar="LANGS",
        help="translate only into these of each item's reference languages, comma-separated (default: the sweep's [eval] targets, else all)",
    )
    p.add_argument(
        "--clock",
        choices=["auto", "unaware", "aware"],
        default="auto",
        help="auto: every setting computation-unaware, headline settings also computation-aware; "
        "unaware: simulated clock only; aware: every chosen setting at real-time pace only (default: auto)",
    )
    p.add_argument(
        "--scorer",
        choices=["rtt", "omnisteval", "both"],
        default=None,
        help="rtt: rtt's own metrics only; omnisteval: also OmniSTEval's (the IWSLT 2026 scorer: "
        "BLEU, chrF, LongYAAL on the SimulEval log each run exports); both: OmniSTEval's beside "
        "rtt's with their differences (default: both when omnisteval is installed, else rtt)",
    )
    p.add_argument(
        "--manifest",
        type=Path,
        default=DEFAULT_MANIFEST,
        metavar="FILE",
        help="corpus manifest (default: audio_samples/manifest.json)",
    )
    p.set_defaults(func=run_eval)


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()


def plan_from_args(args: argparse.Namespace) -> EvalPlan:
    """The sweep file, narrowed by --settings and --items."""
    if args.quick and args.sweep:
        raise ConfigError("--quick is a sweep of its own; give either --quick or --sweep")
    plan = load_sweep(args.sweep or (QUICK_SWEEP if args.quick else DEFAULT_SWEEP))
    names = _split(args.settings)
    if names:
        unknown = set(names) - {s.name for s in plan.settings}
        if unknown:
            raise ConfigError(
                f"unknown setting(s): {', '.join(sorted(unknown))}; the sweep has: "
                f"{', '.join(s.name for s in plan.settings)}"
            )
        plan = dataclasses.replace(
            plan, settings=tuple(s for s in plan.settings if s.name in names)
        )
    if args.items:
        plan = dataclasses.replace(plan, items=_split(args.items))
    if args.targets:
        plan = dataclasses.replace(plan, targets=_split(args.targets))
    return plan


def models_needed(plan: EvalPlan) -> list[str]:
    """Every model the plan's settings (and its offline word-time decode) load."""
    names = [plan.alignment_model] if plan.word_times == "offline" else []
    for setting in plan.settings:
        mt = setting.config.mt
        names += [setting.config.asr.model, mt.model, mt.fast_model]
        if mt.speculative != "off" and mt.use_draft_model != "no":
            names.append(mt.draft_model)
    return [name for name in dict.fromkeys(names) if name]


def run_eval(args: argparse.Namespace) -> int:
    from rtt.models_cli import fetch_missing

    from .evaluate import evaluate
    from .omniscore import resolve_scorer, score_runs
    from .plots import plot_all
    from .report import write_report, write_results

    plan = plan_from_args(args)
    scorer = resolve_scorer(args.scorer)
    if args.scorer is None and scorer == "rtt":
        print(
            "OmniSTEval is not installed: rtt's own metrics only (pip install 'rtt[eval]')",
            file=sys.stderr,
        )
    try:
        corpus = load_corpus(args.manifest)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the corpus manifest: {exc}") from None
    fetch_missing(models_needed(plan))

    def write(results: dict) -> tuple[Path, Path]:
        results["meta"]["scorer"] = scorer
        score_runs(results, corpus, args.out, scorer, log=lambda m: print(m, file=sys.stderr))
        path = write_results(results, args.out)
        plot_all(results, args.out)
        return path, write_report(results, args.out)

    registry = EngineRegistry()
    try:
        results = asyncio.run(
            evaluate(
                plan,
                corpus,
                registry,
                clock=args.clock,
                log=lambda m: print(m, file=sys.stderr),
                on_run=write,
            )
        )
    finally:
        registry.close()
    path, report = write(results)
    print(f"wrote {path}, {report} and plots in {args.out}")
    return 1 if any(run["summary"]["errors"] for run in results["runs"]) else 0
