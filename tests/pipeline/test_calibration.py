"""Calibration: measured once per key, cached, reused; a pinned fit measures nothing."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pipeline.calibration import calibrated_rates, calibration_key, fit_config
from pipeline.config import ComputeConfig, MTConfig, PipelineConfig
from pipeline.fakes import fake_config
from pipeline.fit import Rates


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RTT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "calibration"


class Measure:
    def __init__(self) -> None:
        self.calls = 0
        self.rates = Rates(10.0, 100.0)

    def __call__(self, *args: object) -> Rates:
        self.calls += 1
        return self.rates


def _key(tmp_path, threads: int = 1):
    source = tmp_path / "model.gguf"
    if not source.exists():
        source.write_bytes(b"GGUF")
    return calibration_key(source, "m", threads)


def test_measured_once_then_reused(cache, tmp_path):
    measure, logs = Measure(), []
    first = calibrated_rates(_key(tmp_path), measure, log=logs.append)
    again = calibrated_rates(_key(tmp_path), measure, log=logs.append)
    assert first == (Rates(10.0, 100.0), False) and again == (Rates(10.0, 100.0), True)
    assert measure.calls == 1 and not logs
    assert len(list(cache.glob("*.json"))) == 1


def test_a_changed_key_or_recalibrate_measures_again(cache, tmp_path):
    measure = Measure()
    calibrated_rates(_key(tmp_path), measure, log=print)
    calibrated_rates(_key(tmp_path, threads=2), measure, log=print)  # other threads
    (tmp_path / "model.gguf").write_bytes(b"GGUF, a new version")  # the model file changed
    calibrated_rates(_key(tmp_path), measure, log=print)
    calibrated_rates(_key(tmp_path), measure, recalibrate=True, log=print)
    assert measure.calls == 4


def test_a_corrupt_cache_file_is_ignored_with_a_warning(cache, tmp_path):
    measure, logs = Measure(), []
    calibrated_rates(_key(tmp_path), measure, log=logs.append)
    (path,) = cache.glob("*.json")
    path.write_text("{not json")
    rates, cached = calibrated_rates(_key(tmp_path), measure, log=logs.append)
    assert (rates, cached, measure.calls) == (Rates(10.0, 100.0), False, 2)
    assert len(logs) == 1 and "unreadable calibration" in logs[0]
    assert json.loads(path.read_text())["decode_tokens_per_s"] == 10.0  # rewritten


def _config(tmp_path, fit: str, targets=("de", "es")) -> PipelineConfig:
    config = fake_config(tmp_path / "models")
    fast = tmp_path / "models" / "fast"
    fast.mkdir()
    for name in ("model.bin", "config.json", "rtt-model.json"):
        (fast / name).write_bytes((tmp_path / "models" / "fake-llm" / name).read_bytes())
    mt = dataclasses.replace(config.mt, fast_model=str(fast), targets=targets, fit=fit)
    return dataclasses.replace(config, mt=mt, compute=ComputeConfig(device="cpu", mt_threads=1))


def test_fit_config_applies_the_choice_and_caches(cache, tmp_path):
    config = _config(tmp_path, "auto")
    slow = {config.mt.model: Rates(8.0, 80.0), config.mt.fast_model: Rates(24.0, 240.0)}
    measure, logs = Measure(), []

    def measure_by_source(source, cfg) -> Rates:
        measure()
        return slow[config.mt.model if source.name == "fake-llm" else config.mt.fast_model]

    fitted, choice = fit_config(config, log=logs.append, measure=measure_by_source)
    assert fitted.mt.fast_targets == ("es",) and fitted.mt.model == config.mt.model
    assert fitted.mt.fit == "off" and choice.mode == "auto"
    assert measure.calls == 2 and any(line.startswith("calibrating") for line in logs)
    fit_config(config, log=logs.append, measure=measure_by_source)
    assert measure.calls == 2  # both cached
    _, again = fit_config(
        dataclasses.replace(config, mt=dataclasses.replace(config.mt, fit="recalibrate")),
        log=logs.append,
        measure=measure_by_source,
    )
    assert measure.calls == 4 and again.line() == choice.line()


def test_fit_off_measures_nothing_and_keeps_the_models(cache, tmp_path):
    config = _config(tmp_path, "off")
    fitted, choice = fit_config(config, log=print, measure=Measure())
    assert fitted == config and choice.line() == "fit: off (the configured models)"
    assert not cache.exists()


def test_the_test_configs_pin_fit_off(tmp_path):
    assert fake_config(tmp_path).mt.fit == "off"
    assert PipelineConfig().mt.fit == "off" and MTConfig().fit == "off"
    with pytest.raises(Exception, match="fit must be"):
        MTConfig(fit="sometimes")  # type: ignore[arg-type]
