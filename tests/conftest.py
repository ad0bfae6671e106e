"""Shared fixtures: one engine registry per test session, so each model loads once.

Tests that need the small real models ask for them through `model_path`. When
`RTT_REQUIRE_MODELS=1` (set by ./scripts/test, which fetches them first) a missing
model fails the test instead of skipping it, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

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
        mt=MTConfig(model="qwen2.5-coder-0.5b", fast_model=None, draft_model=None, targets=("de",)),
        compute=ComputeConfig(device="cpu"),
    )
