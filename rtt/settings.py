"""Command-line options shared by the front ends, and the config they build.

Precedence: built-in defaults < `--config FILE` (TOML) < flags given.
"""

from __future__ import annotations

import argparse
import dataclasses
import tomllib
from collections.abc import Callable
from pathlib import Path

from pipeline.calibration import fit_config
from pipeline.config import PipelineConfig, load_config
from pipeline.errors import ConfigError
from pipeline.fit import FitChoice
from pipeline.languages import LANGUAGES, parse_languages, parse_source
from pipeline.models.cache import resolve_model

from .glossary_options import add_glossary_options, apply_glossary_options

__all__ = ["add_pipeline_options", "config_from_args", "fit_machine"]

_DEFAULTS = PipelineConfig()


def add_pipeline_options(parser: argparse.ArgumentParser, *, to_default: str = "de") -> None:
    langs = ", ".join(sorted(LANGUAGES))
    p = parser.add_argument_group("languages")
    p.add_argument(
        "--to",
        metavar="LANGS",
        help=f"target language(s), comma-separated, e.g. de or de,es (supported: {langs}); default: {to_default}",
    )
    p.add_argument(
        "--from",
        dest="source_lang",
        metavar="LANG",
        default=None,
        help="source language; 'auto' detects it (among the supported languages) from the first "
        "seconds of speech and follows a switch; 'auto:en,de,es' detects among these only, "
        "which is far more reliable when you know the languages of the event (default: auto)",
    )
    m = parser.add_argument_group(
        "models (a name from `rtt models list`, or a local CTranslate2 model folder)"
    )
    m.add_argument("--asr-model", help=f"speech recognition model (default: {_DEFAULTS.asr.model})")
    m.add_argument("--mt-model", help=f"translation LLM (default: {_DEFAULTS.mt.model})")
    m.add_argument(
        "--fast-model",
        help=f"smaller LLM for partials while the main one lags; 'none' to disable (default: {_DEFAULTS.mt.fast_model})",
    )
    m.add_argument(
        "--draft-model",
        help=f"draft LLM for speculative decoding; 'none' to disable (default: {_DEFAULTS.mt.draft_model})",
    )
    s = parser.add_argument_group(
        "speculative re-translation (the previous translation is the draft)"
    )
    s.add_argument(
        "--speculative",
        choices=["off", "exact", "stable"],
        help=f"off: plain re-translation; exact: verify the draft, output = plain greedy; stable: keep what was shown unless the model clearly prefers otherwise (default: {_DEFAULTS.mt.speculative})",
    )
    s.add_argument(
        "--beta",
        type=float,
        help=f"stable mode: keep a shown draft token if its probability is at least BETA times the best token's, 0 keeps it unverified (default: {_DEFAULTS.mt.beta})",
    )
    s.add_argument(
        "--verify-seen",
        choices=["every", "sentence_end"],
        help=f"stable mode with --beta > 0: verify the shown part at every update, or only for the final translation of a sentence (default: {_DEFAULTS.mt.verify_seen})",
    )
    s.add_argument(
        "--display-mask",
        type=int,
        metavar="K",
        help=f"stable mode: partials hide their last K words until they settle (default: {_DEFAULTS.mt.display_mask})",
    )
    s.add_argument(
        "--prompt-lookup",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"also draft by n-gram lookup in the source text (default: {'on' if _DEFAULTS.mt.prompt_lookup else 'off'})",
    )
    s.add_argument(
        "--use-draft-model",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run --draft-model ahead of the main one (default: off; measured slower on CPU, "
        "never measured on a GPU)",
    )
    t = parser.add_argument_group("target commits (when translated words become final)")
    t.add_argument(
        "--commit",
        choices=["agreement", "sentence"],
        help=f"agreement: words the last translations of the open sentence agree on are final before it ends (target_append); sentence: only whole sentences (default: {_DEFAULTS.mt.commit})",
    )
    t.add_argument(
        "--commit-lag",
        type=int,
        metavar="K",
        help=f"agreement: the last K agreed words stay tentative (default: {_DEFAULTS.mt.commit_lag})",
    )
    t.add_argument(
        "--commit-agreement",
        type=int,
        metavar="N",
        help=f"agreement: how many successive translations must agree (default: {_DEFAULTS.mt.commit_agreement})",
    )
    c = parser.add_argument_group("compute")
    c.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        help="where models run (default: auto = CUDA when present)",
    )
    c.add_argument(
        "--compute-type",
        help="CTranslate2 compute type (default: int8 on CPU, int8_float16 on CUDA)",
    )
    c.add_argument(
        "--mt-runtime",
        choices=["auto", "llama.cpp", "ctranslate2"],
        help="translation runtime: llama.cpp runs the LLM's GGUF file (faster decoding on a "
        "CPU, keeps the prompt cached), ctranslate2 its converted int8 folder (faster on CUDA "
        f"and for many streams); auto: llama.cpp on a CPU, CTranslate2 on CUDA (default: {_DEFAULTS.mt.runtime})",
    )
    c.add_argument(
        "--fit",
        choices=["auto", "off", "recalibrate"],
        help="fit the translation to this machine: auto measures each translation model's "
        "decode rate once (a few seconds, cached under ~/.cache/rtt/calibration) and chooses "
        "which model gives final and which fast translations and how many targets get the "
        "main model, to keep real time; recalibrate measures again; off runs the configured "
        "models exactly (default: auto, unless the --config file sets [mt] fit)",
    )
    c.add_argument(
        "--asr-threads",
        type=int,
        help="CPU threads for speech recognition (default: half the cores)",
    )
    c.add_argument(
        "--mt-threads", type=int, help="CPU threads for translation (default: the other half)"
    )
    a = parser.add_argument_group("audio")
    a.add_argument(
        "--vad", choices=["webrtc", "silero"], help="voice activity detector (default: webrtc)"
    )
    a.add_argument("--rate", type=int, help="sample rate of raw PCM on stdin (default: 16000)")
    a.add_argument("--channels", type=int, help="channels of raw PCM on stdin (default: 1)")
    a.add_argument(
        "--input-device",
        help="microphone name or index, or 'monitor' for what the speakers play (the computer's "
        "sound: the default PulseAudio/PipeWire monitor source) or 'monitor:NAME' for another; "
        "see `rtt devices` (default: the system default microphone)",
    )
    a.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help=f"network input: give up connecting after SECONDS, and count SECONDS without data as "
        f"a drop (default: {_DEFAULTS.source.timeout:g})",
    )
    a.add_argument(
        "--reconnect",
        type=float,
        metavar="SECONDS",
        help=f"live network input: after a drop, keep reconnecting (with backoff) for SECONDS; "
        f"0 ends the input at the first drop (default: {_DEFAULTS.source.reconnect:g})",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="TOML file with [source] [vad] [asr] [mt] [compute] [glossary] sections",
    )
    add_glossary_options(parser)


def _none(value: str | None) -> str | None:
    return None if value is None or value.lower() == "none" else value


def fit_machine(
    config: PipelineConfig, log: Callable[[str], None]
) -> tuple[PipelineConfig, FitChoice]:
    """The config fitted to this machine (`--fit`), after checking the ASR model is there
    (so a missing model is named in the order a new user fetches them)."""
    resolve_model(config.asr.model)
    return fit_config(config, log=log)


def _fit(args: argparse.Namespace, configured: str) -> str:
    """--fit, else what the --config file says, else auto (the CLIs fit the machine)."""
    if getattr(args, "fit", None):
        return args.fit
    path = getattr(args, "config", None)
    if path is not None and "fit" in tomllib.loads(Path(path).read_text()).get("mt", {}):
        return configured
    return "auto"


def config_from_args(args: argparse.Namespace, **overrides: object) -> PipelineConfig:
    config = load_config(args.config) if getattr(args, "config", None) else PipelineConfig()
    source_lang = getattr(args, "source_lang", None)
    asr = _replace(config.asr, model=args.asr_model)
    if source_lang:
        language, candidates = parse_source(source_lang)
        asr = dataclasses.replace(asr, language=language, candidates=candidates)
    mt = _replace(
        config.mt, model=args.mt_model, targets=parse_languages(args.to) if args.to else None
    )
    if args.fast_model is not None:
        mt = dataclasses.replace(mt, fast_model=_none(args.fast_model))
    if args.draft_model is not None:
        mt = dataclasses.replace(mt, draft_model=_none(args.draft_model))
    speculation = (
        "speculative",
        "beta",
        "verify_seen",
        "display_mask",
        "prompt_lookup",
        "use_draft_model",
        "commit",
        "commit_lag",
        "commit_agreement",
    )
    # MTConfig checks its settings where it is built (beta, display mask, modes)
    mt = _replace(mt, **{name: getattr(args, name, None) for name in speculation})
    mt = _replace(mt, runtime=getattr(args, "mt_runtime", None))
    mt = dataclasses.replace(mt, fit=_fit(args, mt.fit))
    compute = _replace(
        config.compute,
        device=args.device,
        compute_type=args.compute_type,
        asr_threads=args.asr_threads,
        mt_threads=args.mt_threads,
    )
    vad = _replace(config.vad, backend=args.vad)
    source = _replace(
        config.source,
        rate=args.rate,
        channels=args.channels,
        input_device=args.input_device,
        timeout=getattr(args, "timeout", None),
        reconnect=getattr(args, "reconnect", None),
        **overrides,
    )
    for name, value in (("--rate", source.rate), ("--channels", source.channels)):
        if value <= 0:
            raise ConfigError(f"{name} must be positive")
    if not source.timeout > 0 or source.reconnect < 0:
        raise ConfigError("--timeout must be positive and --reconnect 0 or more")
    config = dataclasses.replace(config, asr=asr, mt=mt, compute=compute, vad=vad, source=source)
    return apply_glossary_options(args, config)


def _replace(section, **values):
    """Apply only the options that were given."""
    return dataclasses.replace(section, **{k: v for k, v in values.items() if v is not None})
