#!/usr/bin/env python3
"""Language-ID curves: what the detection says after each amount of speech, load-independent.

At real-time pace the streaming path's decision depends on how much speech the detection
window holds when a pass runs (which depends on machine load). This script removes the
clock: per corpus item it runs the VAD stage of the live pipeline, takes the speech it
lets through (as `ASRStage` accumulates it while undecided) and, for every amount of
speech on a grid (0.5-6 s in 0.25 s steps, then 1 s steps to 15 s), runs the detection
exactly as the stream does: Whisper's language head over a 30 s-padded window of the
speech so far (`detect_languages`, whisper-base int8). Recorded per window: the raw
probabilities of the supported languages, and for both candidate sets (all supported
languages, plain `auto`; `auto:en,de,es,fr`) the best language, its probability, the
second's, and the true language's. Also the stream time at which that much speech was
heard (seconds after speech start), so a decision at N s of speech maps to a time.

Switch windows (`--switch`): for items whose utterances change language, and the first
English utterances of the English talks (false switches), windows of one utterance alone
(what a re-detection sees: the utterance buffer) and of the other-language utterances
accumulated, from 1 s in 0.5 s steps.

    nice python scripts/langid_curve.py --out out/langid/curves.json
    nice python scripts/langid_curve.py --fixture tests/pipeline/asr/data/langid_curves.json \\
        --from-json out/langid/curves.json   # the small fixture the rule's tests replay
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import numpy as np

from pipeline.asr.language import restrict
from pipeline.config import VADConfig
from pipeline.events import AudioChunk, End, SpeechStart
from pipeline.languages import LANGUAGES
from pipeline.vad.stage import VADStage

RATE = 16000
CANDIDATES = {"auto": tuple(LANGUAGES), "auto:en,de,es,fr": ("en", "de", "es", "fr")}
GRID = [0.5 + 0.25 * i for i in range(23)] + [7.0, 9.0, 11.0, 13.0, 15.0]
COARSE = [0.5 + 0.5 * i for i in range(12)] + [7.0, 9.0, 11.0, 13.0, 15.0]
SWITCH_GRID = [1.0 + 0.5 * i for i in range(19)]  # 1-10 s of an other-language utterance
OWN_GRID = [2.5, 4.0]  # of one in the item's language: where re-detections run


async def speech_of(audio: np.ndarray, stream: str) -> list[tuple[int, float, np.ndarray]]:
    """The VAD's speech: (utterance, stream time, samples) per chunk, in order."""
    vad = VADStage(VADConfig(), stream=stream)
    await vad.start()
    out: list = []
    n = RATE // 10
    for i in range(0, len(audio), n):
        chunk = AudioChunk(stream=stream, start=i / RATE, samples=audio[i : i + n])
        out += [e async for e in vad.process(chunk)]
    out += [e async for e in vad.process(End(stream=stream))]
    await vad.stop()
    return [
        (e.utterance, e.start, e.samples)
        for e in out
        if isinstance(e, AudioChunk) and not isinstance(e, SpeechStart)
    ]


def timeline(chunks) -> tuple[np.ndarray, np.ndarray]:
    """All speech joined, and for each sample the stream time at which it was heard."""
    audio = np.concatenate([c for _, _, c in chunks])
    times = np.concatenate([t + (np.arange(len(c)) + 1) / RATE for _, t, c in chunks])
    return audio, times


def summary(probs, truth: str) -> dict:
    """Best, second and the true language's probability under each candidate set."""
    out = {}
    for name, candidates in CANDIDATES.items():
        ranked = restrict(probs, candidates)
        out[name] = {
            "best": ranked[0][0],
            "p": round(ranked[0][1], 4),
            "second": round(ranked[1][1], 4) if len(ranked) > 1 else 0.0,
            "true": round(dict(ranked).get(truth, 0.0), 4),
        }
    return out


def windows(detect, audio: np.ndarray, grid, truth: str, times=None, start=0.0) -> list[dict]:
    rows = []
    cuts = sorted({int(s * RATE) for s in grid if int(s * RATE) <= len(audio)})
    found = detect([audio[:c] for c in cuts])
    for cut, probs in zip(cuts, found):
        raw = {lang: round(p, 4) for lang, p in probs if lang in LANGUAGES and p >= 5e-4}
        row = {"speech": round(cut / RATE, 2), "raw": raw, **summary(probs, truth)}
        if times is not None:
            row["at"] = round(float(times[cut - 1]) - start, 2)  # seconds after speech start
        rows.append(row)
    return rows


def switch_windows(detect, item, chunks, own_before: int = 3) -> dict:
    """Re-detection windows: each utterance alone, and another language's utterances joined."""
    spans = [(u.start, u.end, u.lang) for u in item.utterances]

    def lang_of(t: float) -> str:
        return next((lang for s, e, lang in spans if s - 0.5 <= t <= e + 0.5), item.lang)

    by_utt: dict[int, list] = {}
    for utt, t, c in chunks:
        by_utt.setdefault(utt, []).append((t, c))
    out: dict = {"utterances": []}
    others: list[np.ndarray] = []
    own = after = 0
    for utt, parts in sorted(by_utt.items()):
        lang = lang_of(parts[len(parts) // 2][0])
        if lang == item.lang:
            own, after = own + 1, after + bool(others)
            if utt == 1 or (own > own_before and not others) or after > 1:
                continue  # the first decides (above); a few of the item's own language suffice
        audio = np.concatenate([c for _, c in parts])
        grid = OWN_GRID if lang == item.lang else SWITCH_GRID
        out["utterances"].append(
            {
                "utterance": utt,
                "lang": lang,
                "start": round(parts[0][0], 2),
                "seconds": round(len(audio) / RATE, 2),
                "windows": windows(detect, audio, grid + [len(audio) / RATE], lang),
            }
        )
        if lang != item.lang:
            others.append(audio)
    if len(others) > 1:
        lang = next(u["lang"] for u in out["utterances"] if u["lang"] != item.lang)
        joined = np.concatenate(others)
        grid = [1.0 + i for i in range(int(len(joined) / RATE))]
        out["joined"] = {"lang": lang, "windows": windows(detect, joined, grid, lang)}
    return out


def fixture(curves: dict) -> dict:
    """The small part the rule's tests replay: per item its language, and per window the speech
    seconds, the seconds after speech start, and the raw probabilities (>= 0.002, 3 digits);
    per switch utterance (item#n, item#joined) the same without times."""

    def compact(ws) -> list:
        return [
            [w["speech"], w.get("at"), {k: round(v, 3) for k, v in w["raw"].items() if v >= 0.002}]
            for w in ws
        ]

    out: dict = {"items": {}, "switch": {}}
    for item, data in curves["items"].items():
        out["items"][item] = {
            "lang": data["lang"],
            "duration": data["duration"],
            "windows": compact(data["windows"]),
        }
        switch = data.get("switch") or {}
        for u in switch.get("utterances", []):
            out["switch"][f"{item}#{u['utterance']}"] = {
                "lang": u["lang"],
                "windows": compact(u["windows"]),
            }
        if switch.get("joined"):
            joined = switch["joined"]
            out["switch"][f"{item}#joined"] = {
                "lang": joined["lang"],
                "windows": compact(joined["windows"]),
            }
    return out


def merge(paths) -> dict:
    """Curves from several runs (e.g. a later, coarser grid) joined per item, by speech."""
    curves: dict = {"items": {}}
    for path in paths:
        for item, data in json.loads(Path(path).read_text())["items"].items():
            if item not in curves["items"]:
                curves["items"][item] = data
                continue
            known = curves["items"][item]
            seen = {w["speech"] for w in known["windows"]}
            known["windows"] += [w for w in data["windows"] if w["speech"] not in seen]
            known["windows"].sort(key=lambda w: w["speech"])
            if data.get("switch"):
                known.setdefault("switch", data["switch"])
    return curves


def decide(windows: list, candidates, policy, start: float, every: float):
    """Replay the core at a cadence (the first detection at `start` s of speech, then one every
    `every` s, or half that after a promising one), on the recorded window at or below each
    point: (language, probability, speech, seconds after speech start) or None."""
    from pipeline.asr.language import LanguageID

    lid = LanguageID(candidates, policy)
    speech = start
    while speech <= windows[-1][0] + 1e-6:
        at, seen, probs = max((w for w in windows if w[0] <= speech + 1e-6), key=lambda w: w[0])
        if lid.observe(list(probs.items()), at):
            return lid.language, lid.probability, at, seen
        speech += every / 2 if lid.needs_detection(at + every / 2) else every
    return None


def table(data: dict, policies: dict) -> str:
    """Markdown: per item and candidate set, each policy's decision at the simulated cadence
    (0.5 s, then every 1 s) and the wrong decisions over 24 cadences (start 0.5-2 s, every
    1-3 s: a loaded machine detects later and further apart)."""
    cadences = [(a, b) for a in (0.5, 1.0, 1.5, 2.0) for b in (1.0, 1.25, 1.5, 2.0, 2.5, 3.0)]
    head = ["item", "lang", "set"] + [f"{n}: decided (p, speech s)" for n in policies]
    head += [f"{n}: wrong cadences" for n in policies]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for item, d in data["items"].items():
        for name, candidates in CANDIDATES.items():
            cells, wrongs = [], []
            for policy in policies.values():
                found = decide(d["windows"], candidates, policy, 0.5, 1.0)
                cells.append(f"{found[0]} ({found[1]}, {found[2]})" if found else "-")
                bad = [decide(d["windows"], candidates, policy, a, b) for a, b in cadences]
                bad = [f for f in bad if f and f[0] != d["lang"]]
                worst = max(bad, key=lambda f: f[1]) if bad else None
                wrongs.append(f"{len(bad)}/24" + (f" ({worst[0]} {worst[1]})" if worst else ""))
            out.append("| " + " | ".join([item, d["lang"], name, *cells, *wrongs]) + " |")
    return "\n".join(out)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", nargs="*", help="corpus item ids (default: all)")
    parser.add_argument("--switch", nargs="*", default=None, help="items to take switch windows of")
    parser.add_argument("--grid", help="start:stop:step seconds of speech (default: GRID)")
    parser.add_argument("--own-before", type=int, default=3, help="switch: own-language utterances")
    parser.add_argument(
        "--coarse", action="store_true", help="0.5 s steps (English talks: to 6 s): a loaded CPU"
    )
    parser.add_argument("--out", type=Path, default=Path("out/langid/curves.json"))
    parser.add_argument("--fixture", type=Path, help="also write the tests' small fixture here")
    parser.add_argument(
        "--from-json", nargs="+", type=Path, help="only write the fixture from these curves"
    )
    parser.add_argument("--table", type=Path, help="print the decision table of this fixture")
    args = parser.parse_args()
    if args.table:
        from pipeline.asr.language import LanguagePolicy

        before = LanguagePolicy(bars=((1.5, 0.95),), alone=0.0, soon=2.0)  # main before
        print(
            table(json.loads(args.table.read_text()), {"before": before, "after": LanguagePolicy()})
        )
        return
    if args.from_json:
        curves = merge(args.from_json)
        args.fixture.write_text(json.dumps(fixture(curves), separators=(",", ":")) + "\n")
        return
    from faster_whisper import decode_audio

    from pipeline.asr.whisper_backend import WhisperBackend, detect_languages
    from pipeline.models.cache import resolve_model
    from rtt.corpus import load_corpus

    backend = WhisperBackend(resolve_model("whisper-base"), threads=2)

    def detect(audios):
        found = []
        for i in range(0, len(audios), 4):
            found += detect_languages(backend._fw, audios[i : i + 4])
        return found

    switch = set(args.switch or [])
    curves: dict = {"model": "whisper-base", "grid": GRID, "items": {}}
    items = [i for i in load_corpus() if not args.items or i.id in args.items]
    # the items a wrong language could pass on first (the English talks are sure at once)
    items.sort(key=lambda i: (i.id not in switch, i.lang == "en", i.duration < 10))
    if args.out.exists():  # resume: keep the items already measured
        curves["items"] = json.loads(args.out.read_text())["items"]
    for item in items:
        if item.id in curves["items"]:
            continue
        grid = COARSE if args.coarse else GRID
        if args.grid:
            a, b, step = (float(x) for x in args.grid.split(":"))
            grid = [a + step * i for i in range(int(round((b - a) / step)) + 1)]
        if args.coarse and item.lang == "en" and item.duration >= 10:
            grid = [s for s in grid if s <= 6]
        audio = decode_audio(str(item.audio), sampling_rate=RATE)[: 90 * RATE]
        chunks = await speech_of(audio, item.id)
        speech, times = timeline(chunks)
        start = item.utterances[0].start  # the manifest's speech start (as bench_langid)
        data = {
            "lang": item.lang,
            "duration": item.duration,
            "speech_start": round(start, 2),
            "vad_start": round(chunks[0][1], 2),
            "windows": windows(detect, speech[: 30 * RATE], grid, item.lang, times, start),
        }
        if item.id in switch:
            data["switch"] = switch_windows(detect, item, chunks, args.own_before)
        curves["items"][item.id] = data
        first = data["windows"][0]["auto"]
        print(item.id, len(data["windows"]), "windows; at 0.5 s:", first, flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(curves, ensure_ascii=False))  # partial results survive
    if args.fixture:
        args.fixture.write_text(json.dumps(fixture(curves), separators=(",", ":")) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    asyncio.run(main())
