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
from .errors import (
    AudioInputError,
    ConfigError,
    ModelError,
    ModelMissingError,
    ProvisioningError,
    RttError,
)
from .events import (
    AudioChunk,
    End,
    Error,
    Event,
    Flush,
    SourceCommit,
    SourcePartial,
    SpeechEnd,
    SpeechStart,
    TargetCommit,
    TargetPartial,
    Word,
    from_json,
    to_json,
)
from .factory import build_pipeline, load_engines
from .mt.engine import EngineRegistry
from .runner import Observer, Pipeline

__all__ = [
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
    "TargetPartial",
    "VADConfig",
    "Word",
    "build_pipeline",
    "from_json",
    "load_config",
    "load_engines",
    "to_json",
]
