"""Shared fixtures: one engine registry per test session, so each model loads once.

Tests that need the small real models ask for them through `model_path`. When
`RTT_REQUIRE_MODELS=1` (set by ./scripts/test, which fetches them first) a missing
model fails the test instead of skipping it, so CI can never pass by skipping.
Tests that need a program or an optional package ask through `require_tool` /
`require_module`: with `RTT_REQUIRE_TOOLS=1` (set by ./scripts/test, after
./scripts/setup installed them) a missing one fails the test too.
"""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from pipeline.config import ASRConfig, ComputeConfig, MTConfig, PipelineConfig, SourceConfig
from pipeline.engine import EngineRegistry
from pipeline.models.cache import is_installed, model_dir

ROOT = Path(__file__).resolve().parent.parent


def model_path(name: str) -> Path:
    if not is_installed(name):
        message = f"model {name} is not installed (run: rtt models fetch {name})"
        if os.environ.get("RTT_REQUIRE_MODELS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return model_dir(name)


def _missing(message: str) -> None:
    if os.environ.get("RTT_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{message}; ./scripts/setup installs it (RTT_REQUIRE_TOOLS=1)")
    pytest.skip(message, allow_module_level=True)  # also from a module's top level


def require_tool(name: str, install: str) -> str:
    """The path of program `name`; skips (fails under RTT_REQUIRE_TOOLS=1) when it is missing."""
    path = shutil.which(name)
    if path is None:
        _missing(f"{name} is not installed ({install})")
    return path  # type: ignore[return-value]


def require_module(name: str, install: str) -> ModuleType:
    """Import an optional package; skips (fails under RTT_REQUIRE_TOOLS=1) when it is missing."""
    try:
        return importlib.import_module(name)
    except ImportError:
        _missing(f"the Python package {name} is not installed ({install})")
        raise


@pytest.fixture(scope="session")
def shared_registry():
    registry = EngineRegistry()
    yield registry
    registry.close()


@pytest.fixture(scope="session")
def small_config() -> PipelineConfig:
    """The pipeline on the small test models, on the simulated clock."""
    model_path("whisper-tiny.en")
    model_path("qwen2.5-coder-0.5b")
    return PipelineConfig(
        source=SourceConfig(realtime=False),
        asr=ASRConfig(model="whisper-tiny.en", language="en"),
        mt=MTConfig(
            model="qwen2.5-coder-0.5b",
            fast_model=None,
            draft_model=None,
            targets=("de",),
            fit="off",  # tests never depend on this machine's calibration
        ),
        compute=ComputeConfig(device="cpu"),
    )
