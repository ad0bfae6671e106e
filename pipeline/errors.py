"""One root exception; each subclass carries a stable `code` for error events."""

from __future__ import annotations

__all__ = [
    "AudioInputError",
    "ConfigError",
    "ModelError",
    "ModelMissingError",
    "ProvisioningError",
    "RttError",
]


class RttError(Exception):
    """Root of every error rtt reports to a user (never shown as a traceback)."""

    code = "internal"


class ConfigError(RttError):
    code = "bad_config"


class AudioInputError(RttError):
    """Audio that cannot be read: corrupt file, unsupported format, bad PCM, no device."""

    code = "bad_audio"


class ModelError(RttError):
    code = "model_error"


class ModelMissingError(ModelError):
    """A model is not in the cache; the message names the command that fetches it."""

    code = "model_missing"


class ProvisioningError(ModelError):
    """Fetching or assembling a model failed (network, hash, disk, conversion)."""

    code = "provisioning_failed"
