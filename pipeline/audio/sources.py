"""`open_source`: from a command-line source spec to an opened Source."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO

from ..config import SourceConfig
from ..errors import AudioInputError
from ..stage import Source
from .file import FileSource
from .mic import MicSource
from .pcm import PcmSource

__all__ = ["open_source"]


def open_source(
    spec: str, *, stream: str, config: SourceConfig, stdin: BinaryIO | None = None
) -> Source:
    """ "mic" → the microphone, "-" → raw PCM16LE on stdin, anything else → a file path.

    Every source is opened here, so a bad input fails before the pipeline starts.
    """
    if spec == "mic":
        return MicSource(stream=stream, config=config)
    if spec == "-":
        return PcmSource(
            stdin if stdin is not None else sys.stdin.buffer, stream=stream, config=config
        )
    if not Path(spec).exists():
        raise AudioInputError(
            f'cannot read audio from {spec}: no such file (use "mic" for the microphone, "-" for stdin)'
        )
    return FileSource(spec, stream=stream, config=config)
