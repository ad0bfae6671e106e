"""`rtt batch`: recorded files through the offline path into subtitles and transcripts."""

from .cli import add_batch_parser, run_batch

__all__ = ["add_batch_parser", "run_batch"]
