"""Configuration: one frozen dataclass per stage, composed into `PipelineConfig`.

Only `rtt/` builds configuration (from flags or a TOML file); stages receive
their own section and never read the environment.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import ConfigError
from .glossary import Glossary, glossary_from_toml
from .languages import language_name, parse_source

__all__ = [
    "ASRConfig",
    "ComputeConfig",
    "MTConfig",
    "PipelineConfig",
    "SourceConfig",
    "VADConfig",
    "load_config",
]


@dataclass(frozen=True, slots=True)
class ComputeConfig:
    """Where models run. `compute_type` None means int8 on CPU, int8_float16 on CUDA."""

    device: Literal["auto", "cpu", "cuda"] = "auto"
    compute_type: str | None = None
    asr_threads: int = 0  # 0: split the cores between ASR and MT
    mt_threads: int = 0


@dataclass(frozen=True, slots=True)
class SourceConfig:
    realtime: bool = True
    rate: int = 16000  # raw PCM on stdin only
    channels: int = 1  # raw PCM on stdin only
    chunk_seconds: float = 0.1
    input_device: str | None = None  # microphone name or index, or "monitor[:NAME]"
    timeout: float = 10.0  # network input: seconds to connect, and of silence that is a drop
    reconnect: float = 60.0  # live network input: keep reconnecting this long; 0: never


@dataclass(frozen=True, slots=True)
class VADConfig:
    backend: Literal["webrtc", "silero"] = "webrtc"
    frame_ms: int = 30  # webrtcvad accepts 10, 20 or 30
    aggressiveness: int = 2  # webrtcvad 0..3
    threshold: float = 0.5  # silero speech probability
    pre_roll: float = 0.3  # audio kept before speech onset
    hangover: float = 0.5  # silence that ends an utterance
    min_speech: float = 0.2  # shorter bursts are noise
    max_utterance: float = 30.0  # force an utterance end after this long


@dataclass(frozen=True, slots=True)
class ASRConfig:
    model: str = "whisper-base"
    # None (or "auto"): detect (pipeline/asr/language.py); "auto:en,de" sets candidates too
    language: str | None = None
    candidates: tuple[str, ...] = ()  # detect among these only; empty: every supported language
    lid_threshold: float = (
        0.8  # decide once the best is this likely (stricter under 8 s: LanguagePolicy.bars)
    )
    lid_max_speech: float = 15.0  # ... or at the latest after this many seconds of speech
    switch_threshold: float = 0.85  # a re-detection switches to a language at least this likely
    step: float = 0.6  # seconds of new audio between streaming passes
    agreement: int = 2  # LocalAgreement-n
    padding: float = 1.0  # seconds of silence appended to the decode window
    max_buffer: float = 12.0  # trim the buffer at a committed sentence end beyond this
    beam_size: int = 1
    no_speech_threshold: float = 0.6
    window: float = 30.0  # Whisper's window: the decoded buffer plus padding never exceeds it
    # The glossary's source terms in Whisper's prompt (pipeline/asr/terms_prompt.py), within
    # `glossary_tokens` of its ~200 prompt tokens; the committed context gets the rest
    glossary_prompt: bool = True
    glossary_tokens: int = 64
    # ... and heard words that nearly spell one of those terms are written as it
    # (pipeline/asr/respell.py: "Havorsen" -> "Halvorsen")
    glossary_respell: bool = True

    def __post_init__(self) -> None:
        if self.language is not None and self.language.strip().lower().startswith("auto"):
            language, candidates = parse_source(self.language)
            object.__setattr__(self, "language", language)
            object.__setattr__(self, "candidates", candidates or tuple(self.candidates))
        elif self.language is not None:
            language_name(self.language)
        for code in self.candidates:
            language_name(code)
        if not 0.0 < self.lid_threshold <= 1.0 or not 0.0 < self.switch_threshold <= 1.0:
            raise ConfigError("lid_threshold and switch_threshold must be within 0 and 1")
        if not self.max_buffer + self.padding < self.window <= 30.0:
            raise ConfigError("the ASR window must be at most 30 s and exceed max_buffer + padding")
        if not 0 <= self.glossary_tokens <= 150:
            raise ConfigError("glossary_tokens must be within 0 and 150 (Whisper's prompt is ~200)")


@dataclass(frozen=True, slots=True)
class MTConfig:
    model: str = "qwen2.5-coder-1.5b"
    fast_model: str | None = "qwen2.5-coder-0.5b"  # partials while lagging
    draft_model: str | None = "qwen2.5-coder-0.5b"
    targets: tuple[str, ...] = ("de",)
    fallback_lag: float = 4.0  # seconds of source behind before partials use fast_model
    recover_lag: float = 1.5  # back to the main model once lag is below this
    # The core budget (pipeline/mt/budget.py): "auto" runs a partial only when, at the
    # measured costs, every final still finishes within `final_deadline` seconds of its
    # sentence's end, and chooses the fast model only when the main one does not fit
    # (fallback_lag/recover_lag are then unused); "off": partials whenever no final waits.
    budget: Literal["auto", "off"] = "auto"
    final_deadline: float = 4.0
    partials: bool = True
    max_new_tokens: int = 160
    # The translation runtime (pipeline/mt/runtime.py): "auto" runs llama.cpp on the GGUF
    # file on a CPU (faster decoding, the static prompt stays cached) and CTranslate2 on CUDA.
    runtime: Literal["auto", "llama.cpp", "ctranslate2"] = "auto"
    # Speculative re-translation (pipeline/mt/speculative.py): the previous translation
    # of a sentence is the draft. "exact" verifies it (output = plain greedy); "stable"
    # keeps what a reader has seen unless the model clearly prefers otherwise.
    # "off" and "stable" are the product modes; "exact", prompt lookup and the draft
    # model are explicit options, measured in the benches (the draft model: 0.38x on a
    # 2-core CPU, never measured on a GPU, so it is off unless asked for).
    speculative: Literal["off", "exact", "stable"] = "stable"
    # stable: keep a seen draft token with p >= beta * p(best); 0: never verify it
    beta: float = 0.5
    # stable: verify the seen part at every update, or only when the source ends a sentence
    verify_seen: Literal["every", "sentence_end"] = "sentence_end"
    display_mask: int = 3  # stable: partials hide their last words (draft tokens) until they settle
    prompt_lookup: bool = False  # n-gram lookup in the source text as a draft source
    use_draft_model: bool = False  # run draft_model ahead of the main one
    draft_k: int = 6  # tokens the draft model decodes ahead
    min_draft: int = 4  # shorter guesses are not worth a verification pass
    # Fit the machine (pipeline/fit.py, calibration.py): "auto" measures the models' rates
    # once (cached) and picks finals/partials models and full-quality targets from them;
    # "recalibrate" measures again; "off" runs the models above exactly (the library's,
    # the tests' and `rtt eval`'s default; the CLIs default to auto).
    fit: Literal["auto", "off", "recalibrate"] = "off"
    fast_targets: tuple[str, ...] = ()  # targets whose finals fast_model translates (fit)
    # Form of address where the target language has one (Sie/du): talks default to formal.
    register: Literal["formal", "informal", "auto"] = "formal"
    context: int = 1  # earlier sentences (source + final translation) in each prompt
    # When target words become final (pipeline/mt/target_agreement.py): "agreement"
    # commits the words that the last `commit_agreement` translations of the open
    # sentence agree on, less the last `commit_lag` of them (target_append events);
    # "sentence" commits only whole sentences (target_commit).
    commit: Literal["agreement", "sentence"] = "agreement"
    commit_agreement: int = 2
    commit_lag: int = 2

    def __post_init__(self) -> None:
        if self.register not in ("formal", "informal", "auto"):
            raise ConfigError(f"register must be formal, informal or auto, got {self.register!r}")
        if not isinstance(self.context, int) or not 0 <= self.context <= 4:
            raise ConfigError(f"context must be 0 to 4 sentences, got {self.context!r}")
        if self.runtime not in ("auto", "llama.cpp", "ctranslate2"):
            raise ConfigError(
                f"runtime must be auto, llama.cpp or ctranslate2, got {self.runtime!r}"
            )
        if self.fit not in ("auto", "off", "recalibrate"):
            raise ConfigError(f"fit must be auto, off or recalibrate, got {self.fit!r}")
        if self.budget not in ("auto", "off"):
            raise ConfigError(f"budget must be auto or off, got {self.budget!r}")
        deadline = self.final_deadline
        if isinstance(deadline, bool) or not isinstance(deadline, (int, float)) or deadline <= 0:
            raise ConfigError(f"final_deadline must be positive, got {self.final_deadline}")
        if self.speculative not in ("off", "exact", "stable"):
            raise ConfigError(f"speculative must be off, exact or stable, got {self.speculative!r}")
        if not 0.0 <= self.beta <= 1.0:
            raise ConfigError(f"beta must be within 0 and 1, got {self.beta}")
        if self.verify_seen not in ("every", "sentence_end"):
            raise ConfigError(
                f"verify_seen must be every or sentence_end, got {self.verify_seen!r}"
            )
        if not isinstance(self.use_draft_model, bool):
            raise ConfigError(
                f"use_draft_model must be true or false, not {self.use_draft_model!r}"
            )
        if self.commit not in ("agreement", "sentence"):
            raise ConfigError(f"commit must be agreement or sentence, got {self.commit!r}")
        if self.commit_agreement < 1 or self.commit_lag < 0:
            raise ConfigError("commit_agreement must be 1 or more, commit_lag 0 or more")
        if self.display_mask < 0 or self.draft_k < 1 or self.min_draft < 1:
            raise ConfigError("display_mask must be 0 or more, draft_k and min_draft 1 or more")


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    stream: str = "s0"
    source: SourceConfig = field(default_factory=SourceConfig)
    vad: VADConfig = field(default_factory=VADConfig)
    asr: ASRConfig = field(default_factory=ASRConfig)
    mt: MTConfig = field(default_factory=MTConfig)
    compute: ComputeConfig = field(default_factory=ComputeConfig)
    queue_size: int = 512
    glossary: Glossary | None = None  # [glossary] file = "..." or terms = [...]


_SECTIONS = {
    "source": SourceConfig,
    "vad": VADConfig,
    "asr": ASRConfig,
    "mt": MTConfig,
    "compute": ComputeConfig,
}


def _section(cls: type, values: dict[str, Any], name: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(fields)
    if unknown:
        raise ConfigError(f"unknown key(s) in [{name}]: {', '.join(sorted(unknown))}")
    values = {k: _value(fields[k], v) for k, v in values.items()}
    return cls(**values)


def _value(f: dataclasses.Field, value: Any) -> Any:
    """TOML has no null: "none" means None where the field may be None (as on the command line)."""
    if isinstance(value, str) and value.lower() == "none" and "None" in str(f.type):
        return None
    return tuple(value) if isinstance(value, list) else value


def config_from_dict(
    data: dict[str, Any], base: PipelineConfig | None = None, *, root: Path | None = None
) -> PipelineConfig:
    """`root`: the folder a glossary file named in `[glossary]` is relative to."""
    base = base or PipelineConfig()
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"[{key}] must be a table")
            current = dataclasses.asdict(getattr(base, key))
            changes[key] = _section(_SECTIONS[key], {**current, **value}, key)
        elif key in ("stream", "queue_size"):
            changes[key] = value
        elif key == "cluster":
            continue  # the engines' deployments: read by `rtt serve --ray` (rtt/cluster/engines.py)
        elif key == "glossary":
            if not isinstance(value, dict):
                raise ConfigError("[glossary] must be a table")
            changes[key] = glossary_from_toml(value, base=root)
        else:
            raise ConfigError(f"unknown configuration section {key!r}")
    return dataclasses.replace(base, **changes)


def load_config(path: Path, base: PipelineConfig | None = None) -> PipelineConfig:
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return config_from_dict(data, base, root=Path(path).parent)
