#!/usr/bin/env python3
"""Glossary terms read out of Whisper's prompt into audio that does not hold them (issue 18).

Decodes non-speech (silence, white noise at three levels, mains hum) and short non-term
speech (two corpus clips, whole and their first 0.6/1.2 s: what a stream's first pass sees)
with each model, three prompts each: none, the glossary's terms, the terms + a committed
sentence. Counts the passes whose output holds a glossary term, after the backend's echo
guard (pipeline/asr/terms_prompt.py: `echo_mask`), and the words the guard dropped.

    python scripts/bench_term_echo.py --models whisper-base whisper-tiny.en --json out/echo.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.asr.backend import ASRRequest  # noqa: E402
from pipeline.asr.terms_prompt import source_terms  # noqa: E402
from pipeline.asr.whisper_backend import WhisperBackend  # noqa: E402
from pipeline.glossary import load_glossary, term_in  # noqa: E402
from pipeline.models.cache import model_dir  # noqa: E402

CONTEXT = "Good afternoon, and thank you for joining this session on the energy transition."


def audios(seeds: int) -> dict[str, np.ndarray]:
    from faster_whisper import decode_audio

    rng = np.random.default_rng(0)
    t = np.arange(32000) / 16000
    out = {"silence-1s": np.zeros(16000, np.float32), "silence-3s": np.zeros(48000, np.float32)}
    for amp in (0.005, 0.03, 0.1):
        for k in range(seeds):
            out[f"noise-{amp}-{k}"] = (rng.standard_normal(48000) * amp).astype(np.float32)
    out["hum"] = (0.05 * np.sin(2 * np.pi * 50 * t) + 0.02 * np.sin(2 * np.pi * 150 * t)).astype(
        np.float32
    )
    for clip in ("clip-en-hello-world", "clip-en-counting", "clip-en-quick-brown-fox"):
        audio = decode_audio(str(ROOT / "audio_samples" / f"{clip}.flac"), 16000)
        out[clip] = audio
        out[f"{clip}-0.6s"] = audio[:9600]
        out[f"{clip}-1.2s"] = audio[:19200]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["whisper-base", "whisper-tiny.en"])
    parser.add_argument(
        "--glossary", default=str(ROOT / "audio_samples/talk-energy-en.glossary.csv")
    )
    parser.add_argument("--seeds", type=int, default=3, help="noise signals per level")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    terms = source_terms(load_glossary(args.glossary), "en")
    cases = audios(args.seeds)
    report: dict = {"terms": terms, "models": {}}
    for model in args.models:
        backend = WhisperBackend(model_dir(model))
        rows, hits = [], {"none": 0, "terms": 0, "terms+context": 0}
        for name, audio in cases.items():
            for label, request in (
                ("none", ASRRequest(audio, "en")),
                ("terms", ASRRequest(audio, "en", terms=terms)),
                ("terms+context", ASRRequest(audio, "en", prompt=CONTEXT, terms=terms)),
            ):
                result = backend.transcribe_batch([request])[0]
                text = " ".join(w.word for w in result.words)
                found = [t for t in terms if term_in(t, text)]
                hits[label] += bool(found)
                rows.append(
                    {
                        "audio": name,
                        "prompt": label,
                        "text": text,
                        "terms": found,
                        "no_speech_prob": round(result.no_speech_prob, 3),
                    }
                )
                print(f"{model:16} {name:28} {label:14} {found} | {text[:70]}", flush=True)
        report["models"][model] = {
            "cases": len(cases),
            "passes_with_a_term": hits,
            "words_dropped_by_the_guard": backend.echoes,
            "rows": rows,
        }
        print(model, "passes with a glossary term:", hits, "guard dropped:", backend.echoes)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
