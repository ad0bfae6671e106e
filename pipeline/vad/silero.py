"""SileroClassifier: the Silero VAD v6 ONNX model shipped inside faster-whisper.

Run with onnxruntime directly, one 512-sample window (32 ms) per call. The model is
recurrent: its LSTM state (h, c) and the last 64 samples of the previous window
(prepended as context) carry from call to call, as in faster_whisper/vad.py.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import onnxruntime

from ..config import VADConfig
from ..errors import ConfigError, ModelError

__all__ = ["SileroClassifier", "check_silero_config", "silero_model_path"]

_WINDOW = 512  # samples at 16 kHz, fixed by the model
_CONTEXT = 64
_STATE_SHAPE = (1, 1, 128)


def silero_model_path() -> Path:
    return Path(str(resources.files("faster_whisper") / "assets" / "silero_vad_v6.onnx"))


def check_silero_config(config: VADConfig) -> None:
    if not 0.0 < config.threshold < 1.0:
        raise ConfigError(f"vad.threshold must be between 0 and 1, not {config.threshold}")


class SileroClassifier:
    frame_samples = _WINDOW

    def __init__(self, config: VADConfig, model_path: Path | None = None) -> None:
        check_silero_config(config)
        path = model_path or silero_model_path()
        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1  # a 32 ms window is far too small to share out
        options.intra_op_num_threads = 1
        options.log_severity_level = 4
        try:
            self._session = onnxruntime.InferenceSession(
                str(path), providers=["CPUExecutionProvider"], sess_options=options
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"cannot load the Silero VAD model from {path}: {exc}") from None
        self._threshold = config.threshold
        self.last_probability = 0.0
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)

    def probability(self, frame: np.ndarray) -> float:
        window = np.concatenate([self._context, np.asarray(frame, dtype=np.float32)])[None, :]
        prob, self._h, self._c = self._session.run(
            None, {"input": window, "h": self._h, "c": self._c}
        )
        self._context = window[0, -_CONTEXT:].copy()
        return float(prob[0])

    def is_speech(self, frame: np.ndarray) -> bool:
        self.last_probability = self.probability(frame)
        return self.last_probability >= self._threshold
