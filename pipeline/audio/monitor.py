"""The computer's own sound on Linux: PulseAudio/PipeWire monitor sources.

Every output device ("sink") has a monitor source that records what it plays: a
call, a browser tab, a video. `pactl` lists them and `parec` records one (both from
pulseaudio-utils; PipeWire answers them through pipewire-pulse), so this works on
either sound server without linking to it. A monitor is chosen like a microphone:
`--input-device monitor` (the default output's monitor) or `monitor:NAME` (a source
name, or a unique part of its name or description, as `rtt devices` lists them).

`MonitorStream` is a `MicStream`: `MicSource` drives it exactly like a PortAudio
stream, so resampling, chunking, stall detection and device switching are shared.
Other platforms need a loopback device that shows up as a microphone (macOS:
BlackHole or Loopback; Windows: "Stereo Mix" or a virtual cable); see the README.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import AudioInputError

__all__ = [
    "MonitorSource",
    "MonitorStream",
    "is_monitor_spec",
    "list_monitor_sources",
    "parse_sources",
    "resolve_monitor",
]

RATE = 16000  # parec resamples: the pipeline's rate, so no resampling here
_BLOCK = 1600  # samples per callback (0.1 s)
_TOOLS = (
    "capturing the computer's sound needs PulseAudio's command-line tools (pactl, parec): "
    "apt-get install pulseaudio-utils (with PipeWire, pipewire-pulse must be running too)"
)


@dataclass(frozen=True, slots=True)
class MonitorSource:
    name: str  # the sound server's source name, e.g. alsa_output.pci-0000_00_1f.3.analog-stereo.monitor
    description: str  # e.g. "Monitor of Built-in Audio Analog Stereo"
    channels: int
    rate: int
    is_default: bool  # the monitor of the default output

    @property
    def spec(self) -> str:
        """What `--input-device` takes to choose it."""
        return f"monitor:{self.name}"


def is_monitor_spec(device: object) -> bool:
    return isinstance(device, str) and (device == "monitor" or device.startswith("monitor:"))


def parse_sources(text: str, default_sink: str | None) -> list[MonitorSource]:
    """The monitor sources in `LC_ALL=C pactl list sources` output."""
    found: list[MonitorSource] = []
    for block in text.split("Source #")[1:]:
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.strip().partition(": ")
            if sep and key not in fields:
                fields[key] = value.strip()
        sink = fields.get("Monitor of Sink", "n/a")
        if sink == "n/a" or "Name" not in fields:
            continue
        spec = fields.get("Sample Specification", "").split()
        channels = next((int(p[:-2]) for p in spec if p.endswith("ch") and p[:-2].isdigit()), 2)
        rate = next((int(p[:-2]) for p in spec if p.endswith("Hz") and p[:-2].isdigit()), 48000)
        found.append(
            MonitorSource(
                name=fields["Name"],
                description=fields.get("Description", fields["Name"]),
                channels=channels,
                rate=rate,
                is_default=sink == default_sink,
            )
        )
    return found


def _pactl(*args: str) -> str:
    if shutil.which("pactl") is None:
        raise AudioInputError(_TOOLS)
    env = {**os.environ, "LC_ALL": "C"}  # parse the untranslated output
    try:
        done = subprocess.run(
            ["pactl", *args], capture_output=True, text=True, timeout=5, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        raise AudioInputError("the sound server did not answer pactl within 5 s") from None
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        raise AudioInputError(
            "no PulseAudio/PipeWire sound server to capture the computer's sound from"
            + (f" ({reason[-1]})" if reason else "")
        )
    return done.stdout


def list_monitor_sources() -> list[MonitorSource]:
    """The monitor sources of the running sound server, for `rtt devices`."""
    info = _pactl("info")
    default = next(
        (
            line.split(":", 1)[1].strip()
            for line in info.splitlines()
            if line.startswith("Default Sink:")
        ),
        None,
    )
    return parse_sources(_pactl("list", "sources"), default)


def resolve_monitor(spec: str, sources: list[MonitorSource]) -> MonitorSource:
    """`monitor` → the default output's monitor; `monitor:NAME` → that source (exact name,
    or a unique case-insensitive part of its name or description)."""
    hint = "`rtt devices` lists the monitor sources"
    if not sources:
        raise AudioInputError(f"the sound server has no monitor sources to capture; {hint}")
    if spec == "monitor":
        default = [s for s in sources if s.is_default]
        return default[0] if default else sources[0]
    wanted = spec.split(":", 1)[1].strip()
    exact = [s for s in sources if s.name == wanted]
    if exact:
        return exact[0]
    matches = [
        s for s in sources if wanted.lower() in f"{s.name}\n{s.description}".lower() and wanted
    ]
    if len(matches) == 1:
        return matches[0]
    what = "no monitor source matches" if not matches else "several monitor sources match"
    raise AudioInputError(f"cannot capture {spec!r}: {what} {wanted!r}; {hint}")


class MonitorStream:
    """A `MicStream` over `parec`: 16 kHz mono float32 blocks to a PortAudio-style callback."""

    samplerate = float(RATE)
    channels = 1

    def __init__(self, source: MonitorSource, callback: Callable[..., None]) -> None:
        if shutil.which("parec") is None:
            raise AudioInputError(_TOOLS)
        self.source = source
        self._callback = callback
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        command = [
            "parec",
            f"--device={self.source.name}",
            "--format=float32le",
            f"--rate={RATE}",
            "--channels=1",
            "--latency-msec=100",
            "--client-name=rtt",
            "--stream-name=rtt capture",
        ]
        self._proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._thread = threading.Thread(target=self._read, daemon=True, name="parec")
        self._thread.start()

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        out, size = self._proc.stdout, _BLOCK * 4
        carry = b""
        while True:
            try:
                data = out.read(size)
            except (OSError, ValueError):  # closed under the read
                return
            if not data:
                return
            data = carry + data
            whole = len(data) - len(data) % 4
            carry = data[whole:]
            block = np.frombuffer(data[:whole], dtype="<f4").reshape(-1, 1)
            self._callback(block, len(block), None, None)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()

    def close(self) -> None:
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()


def open_monitor_stream(device: str, callback: Callable[..., None]) -> MonitorStream:
    """A `StreamFactory` for `monitor[:NAME]` devices (what `MicSource` opens)."""
    return MonitorStream(resolve_monitor(device, list_monitor_sources()), callback)
