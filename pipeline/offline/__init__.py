"""The offline path: whole recorded files through VAD, batched Whisper, sentence
segmentation and batched LLM translation, into timed subtitle cues.

It shares the streaming path's loaded models (the Whisper model of the ASR engine,
the MT engine) and its event vocabulary.
"""

from .config import OfflineConfig, SubtitleLimits
from .process import UNDETERMINED, OfflineProcessor, ProgressSink, build_processor
from .result import OfflineResult, result_events
from .segment import SpeechSegment, Window, asr_windows, read_audio, speech_segments
from .sentences import split_sentences
from .subtitles import Cue, bilingual_cues, source_cues, split_text, target_cues, wrap
from .transcribe import BatchTranscriber, Transcript
from .translate import translate_sentences

__all__ = [
    "BatchTranscriber",
    "Cue",
    "OfflineConfig",
    "OfflineProcessor",
    "OfflineResult",
    "ProgressSink",
    "SpeechSegment",
    "SubtitleLimits",
    "Transcript",
    "UNDETERMINED",
    "Window",
    "asr_windows",
    "bilingual_cues",
    "build_processor",
    "read_audio",
    "result_events",
    "source_cues",
    "speech_segments",
    "split_sentences",
    "split_text",
    "target_cues",
    "translate_sentences",
    "wrap",
]
