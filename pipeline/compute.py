"""Where models run: turn `ComputeConfig` into a CTranslate2 (device, compute_type).

Every engine that loads a CTranslate2 model (ASR and MT) resolves its device
here, so `--device cuda` on a machine without a GPU fails once, clearly, before
any model is read. `resolve_compute()` is the one place a pipeline's compute
section is made concrete (device, compute type, thread split); the factory calls
it once and hands the result to every engine.
"""

from __future__ import annotations

import dataclasses
import os

import ctranslate2

from .config import ComputeConfig
from .errors import ConfigError

__all__ = ["default_compute_type", "resolve_compute", "resolve_device", "split_threads"]

_DEFAULT_COMPUTE_TYPE = {"cpu": "int8", "cuda": "int8_float16"}
# CTranslate2 resolves these itself to something the device supports.
_ALWAYS_SUPPORTED = frozenset({"default", "auto"})


def default_compute_type(device: str) -> str:
    return _DEFAULT_COMPUTE_TYPE[device]


def split_threads(compute: ComputeConfig) -> ComputeConfig:
    """Give ASR and MT an explicit share of the CPU threads (0 means: split the cores)."""
    cores = os.cpu_count() or 2
    asr = compute.asr_threads or max(1, cores // 2)
    mt = compute.mt_threads or max(1, cores - asr)
    return dataclasses.replace(compute, asr_threads=asr, mt_threads=mt)


def resolve_compute(config: ComputeConfig) -> ComputeConfig:
    """The concrete compute section: device and compute type resolved, threads split."""
    device, compute_type = resolve_device(config)
    return split_threads(
        dataclasses.replace(config, device=device, compute_type=compute_type)  # type: ignore[arg-type]
    )


def resolve_device(config: ComputeConfig) -> tuple[str, str]:
    """Return (device, compute_type) for CTranslate2, or raise `ConfigError`."""
    device = _resolve_device_name(config.device)
    compute_type = config.compute_type or default_compute_type(device)
    if compute_type not in _ALWAYS_SUPPORTED:
        supported = _supported_compute_types(device)
        if compute_type not in supported:
            raise ConfigError(
                f"compute type {compute_type!r} is not supported on {device}; "
                f"supported: {', '.join(sorted(supported))}"
            )
    return device, compute_type


def _resolve_device_name(device: str) -> str:
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"unknown device {device!r}; expected auto, cpu or cuda")
    if device == "cpu":
        return "cpu"
    gpus = _cuda_device_count()
    if device == "auto":
        return "cuda" if gpus > 0 else "cpu"
    if gpus == 0:
        raise ConfigError(
            "device 'cuda' was requested but no CUDA GPU is usable here; use --device cpu or auto"
        )
    return "cuda"


def _cuda_device_count() -> int:
    # A CUDA build without a working driver reports 0 or raises, depending on version.
    try:
        return ctranslate2.get_cuda_device_count()
    except RuntimeError:
        return 0


def _supported_compute_types(device: str) -> set[str]:
    try:
        return set(ctranslate2.get_supported_compute_types(device))
    except RuntimeError as exc:  # e.g. "CUDA driver version is insufficient"
        raise ConfigError(f"cannot use device {device!r}: {exc}") from None
