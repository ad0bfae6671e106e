"""The frame classifier seam: one fixed-size 16 kHz frame in, speech or not out."""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["FrameClassifier"]


class FrameClassifier(Protocol):
    """Stateful across calls (frames are consecutive); one instance per stream."""

    frame_samples: int

    def is_speech(self, frame: np.ndarray) -> bool: ...
