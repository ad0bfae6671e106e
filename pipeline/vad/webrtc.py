"""WebRtcClassifier: the WebRTC GMM voice detector on 10, 20 or 30 ms frames."""

from __future__ import annotations

import numpy as np
import webrtcvad

from ..audio_format import RATE
from ..config import VADConfig
from ..errors import ConfigError

__all__ = ["WebRtcClassifier", "check_webrtc_config"]

_FRAME_MS = (10, 20, 30)


def check_webrtc_config(config: VADConfig) -> None:
    if config.frame_ms not in _FRAME_MS:
        raise ConfigError(
            f"vad.frame_ms must be 10, 20 or 30 for the webrtc VAD, not {config.frame_ms}"
        )
    if config.aggressiveness not in range(4):
        raise ConfigError(f"vad.aggressiveness must be 0, 1, 2 or 3, not {config.aggressiveness}")


class WebRtcClassifier:
    def __init__(self, config: VADConfig) -> None:
        check_webrtc_config(config)
        self.frame_samples = RATE * config.frame_ms // 1000
        self._vad = webrtcvad.Vad(config.aggressiveness)

    def is_speech(self, frame: np.ndarray) -> bool:
        pcm = (np.clip(frame, -1.0, 1.0) * 32767.0).astype("<i2")
        return self._vad.is_speech(pcm.tobytes(), RATE)
