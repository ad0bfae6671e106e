"""Where provisioned models live, and how a model reference becomes a folder.

An installed model is `<cache_root>/models/<name>/` with the marker
`rtt-model.json`, holding one or both forms the marker lists under "formats":
- "ctranslate2": a CTranslate2 model folder (model.bin, config.json, vocabulary)
  plus `tokenizer.json`;
- "gguf": the verified GGUF file itself (named in the marker), for llama.cpp.
The marker arrives last (a new folder is renamed into place whole; a form added
later is moved in before the marker is rewritten), so a folder or form the marker
does not list is never taken for installed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelMissingError
from .registry import MODELS, ModelSpec, spec_for

__all__ = [
    "CACHE_ENV",
    "MARKER",
    "cache_root",
    "find_gguf",
    "installed_formats",
    "is_ct2_model",
    "is_installed",
    "model_dir",
    "model_family",
    "models_root",
    "read_marker",
    "resolve_model",
]

CACHE_ENV = "RTT_CACHE"
MARKER = "rtt-model.json"


def cache_root() -> Path:
    """`$RTT_CACHE`, else `~/.cache/rtt`."""
    value = os.environ.get(CACHE_ENV)
    return Path(value).expanduser() if value else Path.home() / ".cache" / "rtt"


def models_root() -> Path:
    return cache_root() / "models"


def model_dir(name: str) -> Path:
    return models_root() / name


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The marker's content, or None when absent or unreadable (then the folder is not installed)."""
    try:
        data = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def installed_formats(model: str | ModelSpec) -> tuple[str, ...]:
    """The forms installed from the currently pinned file (a changed pin: none, outdated)."""
    spec = spec_for(model)
    marker = read_marker(model_dir(spec.name))
    if marker is None or marker.get("sha256") != spec.sha256:
        return ()
    formats = marker.get("formats")
    if not isinstance(formats, list):  # markers written before the GGUF was kept
        formats = [marker.get("format", "ctranslate2")]
    return tuple(f for f in spec.formats if f in formats)


def is_installed(model: str | ModelSpec, fmt: str | None = None) -> bool:
    """Installed from the currently pinned file, in form `fmt` (None: in any form)."""
    formats = installed_formats(model)
    return bool(formats) if fmt is None else fmt in formats


def is_ct2_model(folder: Path) -> bool:
    return (folder / "model.bin").is_file() and (folder / "config.json").is_file()


def find_gguf(path: Path) -> Path | None:
    """The GGUF file of a model reference: the file itself, the one the marker names, or
    the only `.gguf` in a folder; None when there is none."""
    if path.is_file():
        return path if path.suffix == ".gguf" else None
    marker = read_marker(path)
    if marker and "gguf" in (marker.get("formats") or ()):
        named = path / str(marker.get("source_file", ""))
        return named if named.is_file() else None
    found = sorted(path.glob("*.gguf")) if path.is_dir() else []
    return found[0] if len(found) == 1 else None


def resolve_model(ref: str) -> Path:
    """A registry name → its installed folder; otherwise `ref` must be a local model: a
    CTranslate2 folder, a `.gguf` file or a folder holding one."""
    if ref in MODELS:
        if not is_installed(ref):
            raise ModelMissingError(
                f"model {ref!r} is not installed in {models_root()}; fetch it with `rtt models fetch {ref}`"
            )
        return model_dir(ref)
    path = Path(ref).expanduser()
    if path.exists() and ((path.is_dir() and is_ct2_model(path)) or find_gguf(path)):
        return path.resolve()
    raise ConfigError(
        f"{ref!r} is neither a known model name (list them with `rtt models list`) "
        "nor a local model: a CTranslate2 model folder (model.bin and config.json), "
        "a .gguf file or a folder with one"
    )


def model_family(path: Path) -> str:
    """ "whisper" or "chatml": from the marker, else inferred from the CTranslate2 files
    or, for a GGUF without them, from the GGUF's vocabulary."""
    marker = read_marker(path if path.is_dir() else path.parent)
    if marker and marker.get("family") in ("whisper", "chatml"):
        return marker["family"]
    if not (path.is_dir() and is_ct2_model(path)) and (gguf := find_gguf(path)) is not None:
        if _gguf_mentions_chatml(gguf):
            return "chatml"
        raise ConfigError(
            f"{gguf}: cannot tell the model's family; rtt runs ChatML (<|im_start|>) LLMs"
        )
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read config.json ({exc})") from None
    if "lang_ids" in config or "alignment_heads" in config:  # only Whisper configs carry these
        return "whisper"
    if _mentions_chatml(config, path):
        return "chatml"
    raise ConfigError(
        f"{path}: cannot tell the model's family; rtt runs Whisper models and ChatML (<|im_start|>) LLMs"
    )


def _mentions_chatml(config: dict[str, Any], path: Path) -> bool:
    if any("<|im_" in str(value) for value in config.values()):
        return True
    for vocab in ("vocabulary.json", "vocabulary.txt", "tokenizer.json"):
        try:
            with open(path / vocab, encoding="utf-8") as handle:
                if "<|im_start|>" in handle.read():
                    return True
        except OSError:
            continue
    return False


def _gguf_mentions_chatml(gguf: Path, limit: int = 64 << 20) -> bool:
    """Whether a GGUF's metadata (vocabulary, chat template: the file's head) has ChatML's
    `<|im_start|>`; read in chunks, at most `limit` bytes."""
    needle, tail, read = b"<|im_start|>", b"", 0
    try:
        with open(gguf, "rb") as handle:
            while read < limit and (chunk := handle.read(4 << 20)):
                if needle in tail + chunk:
                    return True
                tail, read = chunk[-len(needle) :], read + len(chunk)
    except OSError as exc:
        raise ConfigError(f"{gguf}: cannot read the model ({exc})") from None
    return False
