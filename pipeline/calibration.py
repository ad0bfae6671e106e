"""Calibration: measure a translator's decode and prefill rates once per machine and
model, cache them, and fit a pipeline config to them (`fit.py` decides).

The cache is one small JSON file per key under `<cache_root>/calibration/` (by
default ~/.cache/rtt/calibration/). The key holds everything that changes the rates:
the CPU model and core count, the runtime, the model's name and its source file's
size and mtime, the MT threads and `CALIBRATION_VERSION` (raise it when the
measurement changes). A file whose key differs, or that does not parse, is measured
again (an unreadable one with a warning, never a traceback). `MTConfig.fit`:
"auto" measures what is missing, "recalibrate" measures again, "off" keeps the
configured models exactly and measures nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .compute import resolve_compute
from .config import PipelineConfig
from .fit import FitChoice, Rates, decide, unfitted
from .models.cache import cache_root, model_family
from .mt.runtime import model_source, open_translator, runtime_of
from .mt.translator import TranslationRequest

__all__ = [
    "CALIBRATION_VERSION",
    "calibrated_rates",
    "calibration_key",
    "fit_config",
    "measure_rates",
]

CALIBRATION_VERSION = 1
# A fixed prompt of a typical sentence's length: what every final pays.
_SOURCE = "Please remember that the dinner on Wednesday evening requires a ticket from the desk."
_DECODE_TOKENS = 24  # ≈ 2-5 s for the 1.5B on one thread
Log = Callable[[str], None]


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def calibration_key(source: Path, model: str, threads: int) -> dict[str, Any]:
    """What the measured rates depend on; a change of any field measures again."""
    stat = (source / "model.bin" if source.is_dir() else source).stat()
    return {
        "version": CALIBRATION_VERSION,
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "runtime": runtime_of(source),
        "model": model,
        "source": str(source),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "threads": threads,
    }


def _cache_file(key: Mapping[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    name = Path(str(key["model"])).name
    return cache_root() / "calibration" / f"{name}-{key['runtime']}-{key['threads']}t-{digest}.json"


def _read(path: Path, key: Mapping[str, Any], log: Log) -> Rates | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        if data["key"] != key:
            return None
        return Rates(float(data["decode_tokens_per_s"]), float(data["prefill_tokens_per_s"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log(f"warning: ignoring the unreadable calibration {path} ({exc}); measuring again")
        return None


def calibrated_rates(
    key: Mapping[str, Any], measure: Callable[[], Rates], *, recalibrate: bool = False, log: Log
) -> tuple[Rates, bool]:
    """(rates, from_cache): the cached rates for `key`, else `measure()` and cache them."""
    path = _cache_file(key)
    if not recalibrate and (rates := _read(path, key, log)) is not None:
        return rates, True
    rates = measure()
    record = {
        "key": dict(key),
        "decode_tokens_per_s": rates.decode,
        "prefill_tokens_per_s": rates.prefill,
        "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "loadavg": os.getloadavg(),  # a busy machine measures low
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        tmp.replace(path)
    except OSError as exc:
        log(f"warning: cannot cache the calibration in {path} ({exc})")
    return rates, False


def measure_rates(source: Path, config: PipelineConfig) -> Rates:
    """Decode and prefill tokens/s of one model on the MT threads (a few seconds)."""
    compute = resolve_compute(config.compute)
    backend = open_translator(
        source,
        device=compute.device,
        compute_type=compute.compute_type,
        threads=compute.mt_threads,
        max_new_tokens=_DECODE_TOKENS + 8,
        family=model_family(source),
    )
    try:
        static, dynamic = backend.prompt_ids(TranslationRequest(_SOURCE, "en", "de"))
        backend.greedy([], dynamic[:4], 1)  # warm up: allocations, threads
        start = time.perf_counter()
        backend.greedy([], [*static, *dynamic], 1)  # the whole prompt, up to its first token
        prefill = (len(static) + len(dynamic)) / (time.perf_counter() - start)
        stamps: list[float] = []

        def stamp(token: int) -> bool:
            stamps.append(time.perf_counter())
            return False

        backend.greedy(static, dynamic, _DECODE_TOKENS, stamp)
        steps = len(stamps) - 1
        decode = steps / (stamps[-1] - stamps[0]) if steps > 0 else 0.0
    finally:
        backend.close()
    return Rates(decode=decode, prefill=prefill)


def fit_config(
    config: PipelineConfig,
    *,
    log: Log,
    measure: Callable[[Path, PipelineConfig], Rates] | None = None,
) -> tuple[PipelineConfig, FitChoice]:
    """`config` fitted to this machine (`mt.fit` auto/recalibrate) and the choice made;
    `measure` (default `measure_rates`) runs only for rates not cached."""
    mt = config.mt
    if mt.fit == "off":
        return config, unfitted(mt.model, mt.fast_model, mt.targets, "off (the configured models)")
    compute = resolve_compute(config.compute)
    if compute.device == "cuda":
        reason = "a GPU: the configured models (decoding is far above real time)"
        return config, unfitted(mt.model, mt.fast_model, mt.targets, reason, mode=mt.fit)
    recalibrate = mt.fit == "recalibrate"
    rates = {
        model: _rates(model, config, measure or measure_rates, recalibrate, log)
        for model in dict.fromkeys(m for m in (mt.model, mt.fast_model) if m)
    }
    choice = dataclasses.replace(decide(mt.model, mt.fast_model, rates, mt.targets), mode=mt.fit)
    for warning in choice.warnings:
        log(f"warning: fit: {warning}")
    fitted = dataclasses.replace(
        mt,
        model=choice.finals,
        fast_model=choice.partials,
        fast_targets=choice.fast_targets,
        partials=mt.partials and choice.partials_on,
        fit="off",  # applied: a later fit_config keeps it
    )
    return dataclasses.replace(config, mt=fitted), choice


def _rates(
    model: str,
    config: PipelineConfig,
    measure: Callable[[Path, PipelineConfig], Rates],
    recalibrate: bool,
    log: Log,
) -> Rates:
    compute = resolve_compute(config.compute)
    source = model_source(model, config.mt.runtime, compute)
    key = calibration_key(source, model, compute.mt_threads)
    threads = f"{compute.mt_threads} thread{'s' if compute.mt_threads != 1 else ''}"

    def run() -> Rates:
        log(f"calibrating {model} on {key['runtime']}, {threads} (once; cached)…")
        if os.getloadavg()[0] > (os.cpu_count() or 1):
            log(
                "warning: the CPUs are busy, so the rates measured now are low; rerun with --fit recalibrate when the machine is quiet"
            )
        return measure(source, config)

    return calibrated_rates(key, run, recalibrate=recalibrate, log=log)[0]
