"""Sweep files: a TOML description of which pipeline settings to evaluate on what.

    [eval]                      # what to run on (all optional)
    items = ["talk-opening-en"] # corpus item ids; empty or absent: the whole corpus
    targets = ["de", "en"]      # restrict target languages; absent: every reference language
    word_times = "offline"      # reference word end times: "offline" decode or "utterances"
    alignment_model = "whisper-base"

    [base.asr]                  # PipelineConfig sections applied to every setting
    model = "whisper-base"

    [[setting]]
    name = "default"
    headline = true             # also run computation-aware (real-time pace)

    [[setting]]
    name = "step-1.0"
    asr = { step = 1.0 }

    [[setting]]
    name = "glossary"
    glossary = "item"           # each item's own glossary (its manifest names it), or a file

A key the installed `PipelineConfig` does not know (a newer option) is skipped with a
warning kept on the setting, so one sweep file serves several versions of rtt.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipeline.config import PipelineConfig, config_from_dict
from pipeline.errors import ConfigError

__all__ = ["DEFAULT_SWEEP", "QUICK_SWEEP", "EvalPlan", "Setting", "load_sweep", "parse_sweep"]

SWEEPS = Path(__file__).resolve().parent / "sweeps"
DEFAULT_SWEEP = SWEEPS / "default.toml"
QUICK_SWEEP = SWEEPS / "quick.toml"
_SECTIONS = ("source", "vad", "asr", "mt", "compute")
_NULLABLE = {
    "fast_model",
    "draft_model",
    "language",
    "compute_type",
    "input_device",
}  # TOML has no null: "none"


@dataclass(frozen=True)
class Setting:
    """One point of the sweep: a name, its full config and what it changed."""

    name: str
    config: PipelineConfig
    overrides: dict[str, Any] = field(default_factory=dict)
    headline: bool = False
    warnings: tuple[str, ...] = ()
    glossary: str | None = None  # "item": each corpus item's own glossary; else a file


@dataclass(frozen=True)
class EvalPlan:
    """Everything an evaluation run needs besides the models."""

    settings: tuple[Setting, ...]
    items: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    word_times: Literal["offline", "utterances"] = "offline"
    alignment_model: str = "whisper-base"
    source: str = ""


def _known_keys(section: str) -> set[str]:
    return {f.name for f in dataclasses.fields(type(getattr(PipelineConfig(), section)))}


def _split_known(table: dict[str, Any], where: str) -> tuple[dict[str, Any], list[str]]:
    """Keep the keys PipelineConfig knows; name the others."""
    known: dict[str, Any] = {}
    skipped: list[str] = []
    for section, values in table.items():
        if section not in _SECTIONS:
            raise ConfigError(
                f"{where}: unknown section {section!r} (known: {', '.join(_SECTIONS)})"
            )
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: [{section}] must be a table")
        names = _known_keys(section)
        known[section] = {
            k: None if k in _NULLABLE and v == "none" else v
            for k, v in values.items()
            if k in names
        }
        skipped += [f"{section}.{k}" for k in values if k not in names]
    return known, skipped


def _setting(raw: Any, base: PipelineConfig, index: int) -> Setting:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise ConfigError(f"[[setting]] {index + 1} needs a name")
    name = raw["name"]
    sections = {k: v for k, v in raw.items() if k not in ("name", "headline", "glossary")}
    glossary = raw.get("glossary")
    if glossary is not None and not isinstance(glossary, str):
        raise ConfigError(f'setting {name!r}: glossary must be "item" or a file name')
    known, skipped = _split_known(sections, f"setting {name!r}")
    config = config_from_dict(known, base)
    warnings = tuple(
        f"setting {name!r}: {key} is not a PipelineConfig option here; skipped" for key in skipped
    )
    overrides = {**known, **({"glossary": {"file": glossary}} if glossary else {})}
    headline = bool(raw.get("headline", False))
    return Setting(name, config, overrides, headline, warnings, glossary)


def _eval_options(table: Any) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError("[eval] must be a table")
    unknown = set(table) - {"items", "targets", "word_times", "alignment_model"}
    if unknown:
        raise ConfigError(f"unknown key(s) in [eval]: {', '.join(sorted(unknown))}")
    if table.get("word_times", "offline") not in ("offline", "utterances"):
        raise ConfigError("[eval] word_times must be 'offline' or 'utterances'")
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}
    return options


def parse_sweep(data: dict[str, Any], source: str = "") -> EvalPlan:
    """An EvalPlan from a parsed sweep file; ConfigError says what is wrong."""
    known, skipped = _split_known(data.get("base", {}), "[base]")
    base = config_from_dict(known, PipelineConfig())
    raw_settings = data.get("setting", [])
    if not isinstance(raw_settings, list) or not raw_settings:
        raise ConfigError(f"{source or 'sweep'}: needs at least one [[setting]]")
    settings = tuple(_setting(raw, base, i) for i, raw in enumerate(raw_settings))
    names = [s.name for s in settings]
    if len(set(names)) != len(names):
        raise ConfigError(f"{source or 'sweep'}: setting names must be unique")
    if skipped:
        warning = tuple(
            f"[base]: {key} is not a PipelineConfig option here; skipped" for key in skipped
        )
        settings = tuple(dataclasses.replace(s, warnings=warning + s.warnings) for s in settings)
    unknown = set(data) - {"eval", "base", "setting"}
    if unknown:
        raise ConfigError(f"{source or 'sweep'}: unknown table(s) {', '.join(sorted(unknown))}")
    return EvalPlan(settings=settings, source=source, **_eval_options(data.get("eval", {})))


def load_sweep(path: Path) -> EvalPlan:
    """Read a sweep TOML file."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"sweep file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except TypeError as exc:  # e.g. a wrong value type inside a config section
        raise ConfigError(f"{path}: {exc}") from None
    try:
        return parse_sweep(data, _name(Path(path)))
    except TypeError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _name(path: Path) -> str:
    """How reports name the file: a shipped sweep by its place in the repository, wherever it runs."""
    if path.resolve().parent == SWEEPS.resolve():
        return f"rtt/eval/sweeps/{path.name}"
    return str(path)
