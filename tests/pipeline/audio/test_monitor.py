"""The computer's own sound: PulseAudio/PipeWire monitor sources, listed and captured.

The capture test runs a private PulseAudio server (Debian `pulseaudio`) with a null
sink on a socket in the test's folder, plays a corpus clip into the sink with
`paplay`, and transcribes what its monitor records like the file itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import subprocess
import time

import pytest

from pipeline.asr.stage import ASRStage
from pipeline.audio import MicSource, list_monitor_sources, open_source
from pipeline.audio.monitor import MonitorSource, parse_sources, resolve_monitor
from pipeline.clock import SimulatedClock
from pipeline.config import SourceConfig
from pipeline.errors import AudioInputError
from pipeline.factory import asr_engine
from pipeline.runner import Pipeline
from pipeline.vad.stage import VADStage
from rtt.cli import main
from rtt.corpus import corpus_item
from tests.pipeline.audio.test_network import CLIP, Asr, text_of, wer

PACTL_SOURCES = """\
Source #0
\tState: SUSPENDED
\tName: alsa_output.pci-0000_00_1f.3.analog-stereo.monitor
\tDescription: Monitor of Built-in Audio Analog Stereo
\tSample Specification: s16le 2ch 48000Hz
\tMonitor of Sink: alsa_output.pci-0000_00_1f.3.analog-stereo
Source #1
\tState: RUNNING
\tName: alsa_input.pci-0000_00_1f.3.analog-stereo
\tDescription: Built-in Audio Analog Stereo
\tSample Specification: s16le 2ch 44100Hz
\tMonitor of Sink: n/a
Source #2
\tName: bluez_output.AA_BB.1.monitor
\tDescription: Monitor of Headphones
\tSample Specification: float32le 1ch 16000Hz
\tMonitor of Sink: bluez_output.AA_BB.1
"""


def test_monitor_sources_are_parsed_and_chosen_by_name_or_description():
    sources = parse_sources(PACTL_SOURCES, "bluez_output.AA_BB.1")
    assert [s.name for s in sources] == [
        "alsa_output.pci-0000_00_1f.3.analog-stereo.monitor",
        "bluez_output.AA_BB.1.monitor",
    ]  # the microphone (Monitor of Sink: n/a) is not a monitor
    assert sources[0] == MonitorSource(
        sources[0].name, "Monitor of Built-in Audio Analog Stereo", 2, 48000, False
    )
    assert sources[1].is_default and sources[1].spec == "monitor:bluez_output.AA_BB.1.monitor"
    assert resolve_monitor("monitor", sources) is sources[1]
    assert resolve_monitor("monitor:headphones", sources) is sources[1]
    assert resolve_monitor(f"monitor:{sources[0].name}", sources) is sources[0]
    with pytest.raises(AudioInputError, match="several monitor sources match"):
        resolve_monitor("monitor:monitor", sources)
    with pytest.raises(AudioInputError, match="no monitor source matches 'hdmi'"):
        resolve_monitor("monitor:hdmi", sources)
    with pytest.raises(AudioInputError, match="no monitor sources"):
        resolve_monitor("monitor", [])


def test_without_a_sound_server_the_error_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path}/none")
    if shutil.which("pactl") is None:
        with pytest.raises(AudioInputError, match="pulseaudio-utils"):
            list_monitor_sources()
        return
    with pytest.raises(AudioInputError, match="no PulseAudio/PipeWire sound server"):
        MicSource(stream="s0", config=SourceConfig(input_device="monitor"))


@pytest.fixture
def pulse(tmp_path, monkeypatch):
    """A private PulseAudio server with a null sink `rtt_test`; PULSE_SERVER points to it."""
    if not all(shutil.which(t) for t in ("pulseaudio", "pactl", "parec", "paplay")):
        pytest.skip("PulseAudio is not installed (scripts/setup installs pulseaudio, -utils)")
    socket = tmp_path / "native"
    server = subprocess.Popen(
        [
            "pulseaudio", "--daemonize=no", "-n", "--exit-idle-time=-1", "--use-pid-file=no",
            "--disable-shm=yes", "--system=no",
            f"--load=module-native-protocol-unix socket={socket} auth-anonymous=1",
            "--load=module-null-sink sink_name=rtt_test "
            "sink_properties=device.description=RTT-Test-Speakers",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={"HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    monkeypatch.setenv("PULSE_SERVER", f"unix:{socket}")
    deadline = time.monotonic() + 10
    while subprocess.run(["pactl", "info"], capture_output=True).returncode != 0:
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            pytest.skip("PulseAudio did not start here")
        time.sleep(0.1)
    yield "rtt_test"
    server.terminate()
    server.wait(timeout=10)


def test_rtt_devices_lists_the_monitor_source(pulse, capsys):
    main(["devices"])
    out = capsys.readouterr().out
    assert "* monitor:rtt_test.monitor  Monitor of RTT-Test-Speakers" in out


@pytest.mark.models
def test_what_the_speakers_play_is_captured_and_transcribed_like_the_file(
    pulse, small_config, shared_registry
):
    asr = Asr(dataclasses.replace(small_config, source=SourceConfig()), shared_registry)
    clip = corpus_item(CLIP).audio
    local = text_of(asr.run(open_source(str(clip), stream="s0", config=asr.config.source)))
    config = SourceConfig(input_device="monitor")  # the default output's monitor

    async def capture():
        source = open_source("mic", stream="s0", config=config)
        assert isinstance(source, MicSource)
        stages = [
            VADStage(asr.config.vad, stream="s0"),
            ASRStage(asr_engine(shared_registry, asr.config), asr.config.asr),
        ]
        pipeline = Pipeline(source, stages, clock=SimulatedClock(), stream="s0")
        run = asyncio.ensure_future(_collect(pipeline))  # the source ends on end_input()
        await asyncio.sleep(0.5)  # parec is recording
        player = await asyncio.create_subprocess_exec("paplay", f"--device={pulse}", str(clip))
        await player.wait()
        await asyncio.sleep(1.0)  # the tail, and the VAD's hang-over
        pipeline.end_input()
        return await run

    events = asyncio.run(capture())
    assert wer(local, text_of(events)) <= 0.2, (local, text_of(events))


async def _collect(pipeline):
    return [e async for e in pipeline.run()]
