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
from .network import open_url
from .pcm import PcmSource
from .stream import StreamSource
from .urls import is_url

__all__ = ["open_source"]


def open_source(
    spec: str, *, stream: str, config: SourceConfig, stdin: BinaryIO | None = None
) -> Source:
    """ "mic" → the microphone (or the computer's sound: `config.input_device` "monitor"),
    "-" → raw PCM16LE on stdin, a URL → a network stream (`StreamSource` when live, a
    `FileSource` for a finished file behind http), anything else → a file path.

    Every source is opened here, so a bad input fails before the pipeline starts. The
    source's `live` attribute (when present) says whether it paces itself.
    """
    if spec == "mic":
        return MicSource(stream=stream, config=config)
    if spec == "-":
        return PcmSource(
            stdin if stdin is not None else sys.stdin.buffer, stream=stream, config=config
        )
    if is_url(spec):
        container, live = open_url(spec, config)
        if live:
            return StreamSource(spec, stream=stream, config=config, opened=container)
        return FileSource(spec, stream=stream, config=config, opened=container)
    if not Path(spec).exists():
        raise AudioInputError(
            f"cannot read audio from {spec}: no such file "
            '(use "mic" for the microphone, "-" for stdin, or a URL such as rtsp://HOST/PATH)'
        )
    return FileSource(spec, stream=stream, config=config)
