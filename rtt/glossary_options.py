"""The glossary, register and context options every front end shares (`settings.py` adds them)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from pipeline.config import PipelineConfig
from pipeline.glossary import MAX_TERMS, load_glossary

__all__ = ["add_glossary_options", "apply_glossary_options"]


def add_glossary_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group(
        "terminology and context",
        "An interpreter's glossary: CSV or TSV, a header naming languages (en,de,es) and an "
        "optional note column, one term per row; an empty cell keeps the source term (names). "
        "Terms found in a sentence are given to the translator, and each target event says "
        "which it used or missed; the source-language terms also go into Whisper's prompt.",
    )
    g.add_argument(
        "--glossary",
        type=Path,
        metavar="FILE",
        help=f"glossary file (CSV/TSV, at most {MAX_TERMS} terms); overrides [glossary] in --config",
    )
    g.add_argument(
        "--glossary-prompt",
        choices=("on", "off"),
        help="put the glossary's source terms into Whisper's prompt, within [asr] "
        "glossary_tokens (default: on; [asr] glossary_prompt)",
    )
    g.add_argument(
        "--register",
        choices=("formal", "informal", "auto"),
        help="form of address in languages that have one (Sie/du, usted/tú); "
        "auto leaves it to the model (default: formal, as for a talk)",
    )
    g.add_argument(
        "--context",
        type=int,
        metavar="N",
        help="earlier sentences (source + final translation) shown to the translator, 0-4 "
        "(default: 1)",
    )


def apply_glossary_options(args: argparse.Namespace, config: PipelineConfig) -> PipelineConfig:
    """`config` with the options that were given."""
    mt = config.mt
    for name in ("register", "context"):
        if getattr(args, name, None) is not None:
            mt = dataclasses.replace(mt, **{name: getattr(args, name)})
    asr = config.asr
    if getattr(args, "glossary_prompt", None) is not None:
        asr = dataclasses.replace(asr, glossary_prompt=args.glossary_prompt == "on")
    glossary = config.glossary
    if getattr(args, "glossary", None) is not None:
        glossary = load_glossary(args.glossary)
    return dataclasses.replace(config, asr=asr, mt=mt, glossary=glossary)
