"""Where provisioned models live, and how a model reference becomes a folder.

An installed model is `<cache_root>/models/<name>/`: a CTranslate2 model folder
(model.bin, config.json, vocabulary) plus `tokenizer.json` and the marker
`rtt-model.json`. The marker arrives last (the folder is renamed into place
whole), so a folder without it is never taken for an installed model.
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


def is_installed(model: str | ModelSpec) -> bool:
    """Installed from the currently pinned file: a changed pin makes the model outdated."""
    spec = spec_for(model)
    marker = read_marker(model_dir(spec.name))
    return marker is not None and marker.get("sha256") == spec.sha256


def is_ct2_model(folder: Path) -> bool:
    return (folder / "model.bin").is_file() and (folder / "config.json").is_file()


def resolve_model(ref: str) -> Path:
    """A registry name → its installed folder; otherwise `ref` must be a CTranslate2 model folder."""
    if ref in MODELS:
        if not is_installed(ref):
            raise ModelMissingError(
                f"model {ref!r} is not installed in {models_root()}; fetch it with `rtt models fetch {ref}`"
            )
        return model_dir(ref)
    folder = Path(ref).expanduser()
    if folder.is_dir() and is_ct2_model(folder):
        return folder.resolve()
    raise ConfigError(
        f"{ref!r} is neither a known model name (list them with `rtt models list`) "
        "nor a CTranslate2 model folder (a folder with model.bin and config.json)"
    )


def model_family(path: Path) -> str:
    """ "whisper" or "chatml": from the marker, else inferred from the CTranslate2 files."""
    marker = read_marker(path)
    if marker and marker.get("family") in ("whisper", "chatml"):
        return marker["family"]
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
