"""Which translation runtime runs a model: llama.cpp or CTranslate2, behind one seam.

Decoding one token at a time is memory-bound: on a CPU llama.cpp on the 4-bit GGUF
decodes 2-2.5x faster than CTranslate2 int8 (the 1.5B: 14-15 against 6 tokens/s on
2 threads) and keeps the static prompt's KV cache between calls. CTranslate2 wins
where batched matrix products dominate: CUDA, many streams. So `auto` picks
llama.cpp on a CPU and CTranslate2 on CUDA; `MTConfig.runtime` pins one.

A model *source* is what a backend opens: a `.gguf` file (llama.cpp) or a
CTranslate2 folder. The engine registry keys engines by it, so both runtimes of
one model can be loaded side by side, and `open_translator` opens the right one.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from ..compute import resolve_device
from ..config import ComputeConfig, MTConfig
from ..errors import ConfigError, ModelMissingError
from ..models.cache import find_gguf, is_ct2_model, resolve_model
from ..models.registry import MODELS
from .translator import Translator

__all__ = [
    "RUNTIMES",
    "choose_runtime",
    "default_runtime",
    "describe_runtime",
    "llama_cpp_available",
    "model_source",
    "open_translator",
    "runtime_format",
    "runtime_of",
]

RUNTIMES = ("llama.cpp", "ctranslate2")
_FORMATS = {"llama.cpp": "gguf", "ctranslate2": "ctranslate2"}


def default_runtime(device: str) -> str:
    """The runtime `auto` means on a resolved device ("cpu" or "cuda")."""
    return "ctranslate2" if device == "cuda" else "llama.cpp"


def runtime_format(runtime: str) -> str:
    """The installed model form a runtime reads ("gguf" or "ctranslate2")."""
    return _FORMATS[runtime]


def llama_cpp_available() -> bool:
    return find_spec("llama_cpp") is not None


def choose_runtime(runtime: str, device: str, folder: Path) -> str:
    """The runtime for one model: the pinned one, or under `auto` the device's default,
    falling back to the other when the model has only the other form (e.g. a local
    CTranslate2 folder on a CPU) or llama.cpp is not installed."""
    if runtime not in ("auto", *RUNTIMES):
        raise ConfigError(
            f"unknown MT runtime {runtime!r}; expected auto, llama.cpp or ctranslate2"
        )
    if runtime != "auto":
        return runtime
    has_gguf = find_gguf(folder) is not None and llama_cpp_available()
    has_ct2 = folder.is_dir() and is_ct2_model(folder)
    preferred = default_runtime(device)
    if preferred == "llama.cpp" and not has_gguf and has_ct2:
        return "ctranslate2"
    if preferred == "ctranslate2" and not has_ct2 and has_gguf:
        return "llama.cpp"
    return preferred


def model_source(ref: str, runtime: str, compute: ComputeConfig) -> Path:
    """The file or folder the chosen runtime opens for a model reference."""
    folder = resolve_model(ref)
    device, _ = resolve_device(compute)
    chosen = choose_runtime(runtime, device, folder)
    if chosen == "llama.cpp":
        gguf = find_gguf(folder)
        if gguf is None:
            raise _missing(ref, "gguf", "llama.cpp")
        if not llama_cpp_available():
            raise ConfigError(
                "the llama.cpp runtime needs llama-cpp-python (pip install llama-cpp-python), "
                "or choose --mt-runtime ctranslate2"
            )
        return gguf
    if not (folder.is_dir() and is_ct2_model(folder)):
        raise _missing(ref, "ctranslate2", "CTranslate2")
    return folder


def describe_runtime(mt: MTConfig, compute: ComputeConfig) -> str:
    """One line for a front end's start-up: which runtime translates, on what, and why."""
    device, _ = resolve_device(compute)
    runtime = runtime_of(model_source(mt.model, mt.runtime, compute))
    if mt.runtime != "auto":
        why = "pinned"
    elif runtime == default_runtime(device):
        why = f"auto: {runtime} on {'CUDA' if device == 'cuda' else 'a CPU'}"
    else:
        why = f"auto: the model has no {runtime_format(default_runtime(device))} form"
    threads = f", {compute.mt_threads} thread{'s' if compute.mt_threads != 1 else ''}"
    return f"MT runtime: {runtime} ({why}) · {mt.model} on {device}{threads if device == 'cpu' else ''}"


def _missing(ref: str, fmt: str, runtime: str) -> ModelMissingError:
    if ref in MODELS:
        return ModelMissingError(
            f"model {ref!r} is installed without its {fmt} form, which {runtime} reads; "
            f"fetch it with `rtt models fetch --format {fmt} {ref}`"
        )
    return ModelMissingError(f"{ref!r} has no {fmt} form, which {runtime} reads")


def runtime_of(source: Path) -> str:
    """The runtime that opens a model source."""
    return "llama.cpp" if source.suffix == ".gguf" else "ctranslate2"


def open_translator(source: Path, **options: object) -> Translator:
    """The backend for a model source (the engine registry's default factory): options
    are the registry's (device, compute_type, threads, max_new_tokens, family)."""
    if runtime_of(Path(source)) == "llama.cpp":
        from .llama_backend import LlamaCppBackend  # imports llama_cpp: only when it runs

        return LlamaCppBackend(Path(source), **options)  # type: ignore[arg-type]
    from .ct2_backend import CT2GeneratorBackend

    return CT2GeneratorBackend(Path(source), **options)  # type: ignore[arg-type]
