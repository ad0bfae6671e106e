"""Voice activity detection: frame classifiers, the utterance segmenter, and the stage."""

from .classifier import FrameClassifier
from .segmenter import Segment, SegmentAudio, SegmentEnd, SegmentStart, UtteranceSegmenter
from .silero import SileroClassifier
from .stage import VADStage, make_classifier
from .webrtc import WebRtcClassifier

__all__ = [
    "FrameClassifier",
    "Segment",
    "SegmentAudio",
    "SegmentEnd",
    "SegmentStart",
    "SileroClassifier",
    "UtteranceSegmenter",
    "VADStage",
    "WebRtcClassifier",
    "make_classifier",
]
