"""Audio in: file, network stream, raw PCM on stdin, microphone and computer-sound sources,
all yielding 16 kHz mono chunks."""

from .file import FileSource
from .mic import InputDevice, MicSource, list_input_devices
from .monitor import MonitorSource, list_monitor_sources
from .pcm import PcmSource
from .sources import open_source
from .stream import StreamSource

__all__ = [
    "FileSource",
    "InputDevice",
    "MicSource",
    "MonitorSource",
    "PcmSource",
    "StreamSource",
    "list_input_devices",
    "list_monitor_sources",
    "open_source",
]
