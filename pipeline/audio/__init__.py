"""Audio in: file, raw PCM on stdin and microphone sources, all yielding 16 kHz mono chunks."""

from .file import FileSource
from .mic import InputDevice, MicSource, list_input_devices
from .pcm import PcmSource
from .sources import open_source
from .stream import StreamSource

__all__ = [
    "FileSource",
    "InputDevice",
    "MicSource",
    "PcmSource",
    "StreamSource",
    "list_input_devices",
    "open_source",
]
