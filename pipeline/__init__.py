"""The streaming runtime and its stages. Never imports `rtt`.

The public surface is re-exported here; everything else is reachable through
its module but not promised.
"""

from .clock import RealClock, SimulatedClock
from .config import (
    ASRConfig,
    ComputeConfig,
    MTConfig,
    PipelineConfig,
    SourceConfig,
    VADConfig,
    load_config,
)
from .engine import EngineRegistry
from .errors import (
    AudioInputError,
    ConfigError,
    ModelError,
    ModelMissingError,
    ProvisioningError,
    RttError,
)
from .events import (
    AddTarget,
    AudioChunk,
    End,
    Error,
    Event,
    Flush,
    SetTargets,
    SourceCommit,
    SourcePartial,
    SpeechEnd,
    SpeechStart,
    TargetAppend,
    TargetCommit,
    TargetPartial,
    Word,
    from_json,
    to_json,
)
from .factory import build_pipeline, load_engines
from .runner import Observer, Pipeline
from .stage import Capabilities, Stage
from .stats import PipelineStats

__all__ = [
    "AddTarget",
    "Capabilities",
    "PipelineStats",
    "SetTargets",
    "Stage",
    "ASRConfig",
    "AudioChunk",
    "AudioInputError",
    "ComputeConfig",
    "ConfigError",
    "End",
    "EngineRegistry",
    "Error",
    "Event",
    "Flush",
    "MTConfig",
    "ModelError",
    "ModelMissingError",
    "Observer",
    "Pipeline",
    "PipelineConfig",
    "ProvisioningError",
    "RealClock",
    "RttError",
    "SimulatedClock",
    "SourceCommit",
    "SourceConfig",
    "SourcePartial",
    "SpeechEnd",
    "SpeechStart",
    "TargetCommit",
    "TargetAppend",
    "TargetPartial",
    "VADConfig",
    "Word",
    "build_pipeline",
    "from_json",
    "load_config",
    "load_engines",
    "to_json",
]
