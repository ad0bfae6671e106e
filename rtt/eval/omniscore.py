"""Score runs with OmniSTEval, the IWSLT 2026 simultaneous-track scorer, beside rtt's own metrics.

Per run and language pair, `omnisteval longform --word_level` re-segments the exported log
(rtt/eval/simuleval.py) to the reference sentences and reports corpus BLEU, chrF and LongYAAL
(plus LongAL/LongLAAL), computation-unaware from `delays` (a simulated-clock run) or -aware from
`elapsed` (a real-clock run). Per item figures come from the same re-segmented instances,
scored by OmniSTEval's own `evaluate_instances` one recording at a time.

OmniSTEval is an optional package (`pip install 'rtt[eval]'`); `--scorer rtt` leaves it out.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from rtt.corpus import CorpusItem

from .metrics import length_adaptive_average_lagging
from .simuleval import export_run

__all__ = [
    "SCORERS",
    "available",
    "bleu_tokenizer",
    "compare",
    "per_document",
    "read_scores",
    "resolve_scorer",
    "run_longform",
    "score_runs",
    "texts_changed",
]

SCORERS = ("rtt", "omnisteval", "both")
INSTALL_HINT = "pip install 'rtt[eval]' (OmniSTEval 0.1.10)"
# OmniSTEval aligns in quadratic pure Python: a 10-minute talk takes seconds to minutes.
TIMEOUT_S = 1800
Log = Callable[[str], None]


def available() -> bool:
    """Whether the omnisteval package can be imported here."""
    return importlib.util.find_spec("omnisteval") is not None


def resolve_scorer(choice: str | None) -> str:
    """`None` (the default): both scorers where OmniSTEval is installed, else rtt's alone."""
    if choice is None:
        return "both" if available() else "rtt"
    if choice not in SCORERS:
        raise ConfigError(f"unknown scorer {choice!r}; choose one of {', '.join(SCORERS)}")
    if choice != "rtt" and not available():
        raise ConfigError(
            f"--scorer {choice} needs OmniSTEval, which is not installed: {INSTALL_HINT}"
        )
    return choice


def bleu_tokenizer(lang: str) -> str:
    """The sacrebleu tokenizer rtt's own BLEU uses for a target language."""
    return "zh" if lang == "zh" else "ja-mecab" if lang == "ja" else "13a"


def _key(name: str) -> str:
    """'LongYAAL (CU)' -> 'longyaal_cu'; 'BLEU' -> 'bleu'."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _raw_key(key: str) -> str:
    """evaluate_instances' keys as scores.tsv names them: 'ca_long_laal' -> 'longlaal_ca'."""
    clock = "ca" if key.startswith("ca_") else "cu"
    base = key.removeprefix("ca_")
    if base == "yaal":
        return f"longyaal_{clock}"
    if base.startswith("long_"):
        return f"long{base.removeprefix('long_')}_{clock}"
    return base


def _number(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


def read_scores(path: Path) -> dict[str, float | None]:
    """OmniSTEval's scores.tsv as {key: value}; NaN (nothing to score) becomes None."""
    scores: dict[str, float | None] = {}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        name, _, value = line.partition("\t")
        try:
            scores[_key(name)] = _number(float(value))
        except ValueError:
            continue  # YES/NO flags of the shortform mode
    return scores


def longform_command(folder: Path, lang: str) -> list[str]:
    """The `omnisteval longform` arguments for a folder written by `simuleval.write_pair`."""
    return [
        "longform",
        "--speech_segmentation",
        str(folder / "segments.yaml"),
        "--ref_sentences_file",
        str(folder / "references.txt"),
        "--hypothesis_file",
        str(folder / "instances.log"),
        "--hypothesis_format",
        "jsonl",
        "--lang",
        lang,
        "--bleu_tokenizer",
        bleu_tokenizer(lang),
        "--word_level",
        "--output_folder",
        str(folder / "omnisteval"),
    ]


def run_longform(folder: Path, lang: str) -> dict[str, float | None]:
    """Run OmniSTEval's CLI on one exported folder; its outputs go to `<folder>/omnisteval/`."""
    if lang in ("zh", "ja"):
        raise ConfigError(f"scoring {lang} needs character-level delays, which rtt does not export")
    args = longform_command(folder, lang)
    done = subprocess.run(
        [sys.executable, "-m", "omnisteval.cli", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    (folder / "omnisteval.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"omnisteval exited with {done.returncode}: {tail[0]}")
    return read_scores(folder / "omnisteval" / "scores.tsv")


def per_document(resegmented: Path, lang: str) -> list[dict[str, float | None]]:
    """Scores of each recording (docid order) from OmniSTEval's instances.resegmented.jsonl."""
    from omnisteval.data import Instance
    from omnisteval.scoring import evaluate_instances

    docs: dict[int, list[Any]] = defaultdict(list)
    for line in resegmented.read_text(encoding="utf-8").splitlines():
        raw = json.loads(line)
        docs[raw["docid"]].append(Instance.from_dict(raw, latency_unit="word"))
    quiet = logging.getLogger("omnisteval")
    level, quiet.level = quiet.level, logging.ERROR  # "no CA timestamps" etc. are expected here
    try:
        out = []
        for doc in sorted(docs):
            scores, _, _ = evaluate_instances(
                docs[doc], is_longform=True, bleu_tokenizer=bleu_tokenizer(lang)
            )
            out.append({_raw_key(k): _number(v) for k, v in scores.items()})
        return out
    finally:
        quiet.setLevel(level)


def _instances(resegmented: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in resegmented.read_text(encoding="utf-8").splitlines()]


def yaal_to_audio_end(folder: Path, clock_key: str) -> tuple[float | None, list[float | None]]:
    """LongYAAL (ms; overall and per recording) with words counted until the audio ends.

    OmniSTEval 0.1.10 ends a recording where its last reference segment ends (it reads
    `source_length` from a SimulEval log but does not use it), so words emitted after the
    last sentence's speech are dropped from LongYAAL, and a last sentence translated only
    then is left out. This is its own YAALScorer with the recording's end taken from the log.
    """
    import yaml
    from omnisteval.data import Instance
    from omnisteval.scoring import YAALScorer

    segments = yaml.safe_load((folder / "segments.yaml").read_text(encoding="utf-8"))
    lengths = {
        line["source"]: line["source_length"]
        for line in map(json.loads, (folder / "instances.log").read_text().splitlines())
    }
    docs: dict[int, list[Any]] = defaultdict(list)
    for seg, raw in zip(
        segments, _instances(folder / "omnisteval" / "instances.resegmented.jsonl")
    ):
        raw = {**raw, "time_to_recording_end": lengths[seg["wav"]] - seg["offset"] * 1000}
        docs[raw["docid"]].append(Instance.from_dict(raw, latency_unit="word"))
    scorer = YAALScorer(computation_aware=clock_key == "elapsed", is_longform=True)
    overall = scorer([ins for doc in docs.values() for ins in doc])
    return _number(overall), [_number(scorer(docs[d])) for d in sorted(docs)]


def rtt_laal_on(resegmented: Path, clock_key: str) -> float | None:
    """rtt's LAAL formula (metrics.py) on OmniSTEval's segments, in ms: equal to its LongLAAL when
    the two formulas agree, so any gap left between the scorers is segmentation, not arithmetic."""
    field = "emission_cu" if clock_key == "delays" else "emission_ca"
    values = []
    for raw in _instances(resegmented):
        delays, source = raw.get(field), raw.get("source_length")
        if delays and source:
            laal = length_adaptive_average_lagging(delays, source, len(raw["reference"].split(" ")))
            if laal is not None:
                values.append(laal)
    return round(sum(values) / len(values), 4) if values else None


def _pair_laal(run: Mapping[str, Any], pair: str) -> float | None:
    """rtt's LAAL (s) pooled over the items of one language pair, as the summary pools all pairs."""
    src, tgt = pair.split("-", 1)
    values = [
        v
        for s in run["items"].values()
        if s["lang"] == src and tgt in s["targets"]
        for v in s["targets"][tgt]["values"].get("laal", [])
    ]
    return round(sum(values) / len(values), 3) if values else None


def compare(run: Mapping[str, Any], pair: str, omni: Mapping[str, Any]) -> dict[str, Any]:
    """rtt's figures for the same run and pair, and OmniSTEval's minus rtt's (latency in s)."""
    suffix = "cu" if run["mode"] == "unaware" else "ca"
    ours = {
        "bleu": run["summary"]["bleu"].get(pair),
        "chrf": run["summary"]["chrf"].get(pair),
        "laal_s": _pair_laal(run, pair),
    }
    theirs = {
        "bleu": omni.get("bleu"),
        "chrf": omni.get("chrf"),
        "laal_s": _ms_to_s(omni.get(f"longlaal_{suffix}")),
        "yaal_s": _ms_to_s(omni.get(f"longyaal_{suffix}")),
        "yaal_audio_end_s": _ms_to_s(omni.get(f"longyaal_audio_end_{suffix}")),
    }
    diff = {
        key: round(theirs[key] - ours[key], 3)
        for key in ("bleu", "chrf", "laal_s")
        if theirs[key] is not None and ours[key] is not None
    }
    if theirs["yaal_s"] is not None and ours["laal_s"] is not None:
        diff["yaal_vs_laal_s"] = round(theirs["yaal_s"] - ours["laal_s"], 3)
    return {"rtt": ours, "omnisteval": theirs, "difference": diff}


def texts_changed(run: Mapping[str, Any], pair: str, info: Mapping[str, Any]) -> list[str]:
    """Items whose re-segmented words, joined again, are not rtt's committed text (words that
    OmniSTEval's alignment dropped); empty when both scorers scored the same text."""
    lang = pair.split("-", 1)[1]
    resegmented = Path(info["folder"]) / "omnisteval" / "instances.resegmented.jsonl"
    joined: dict[int, list[str]] = defaultdict(list)
    for raw in _instances(resegmented):
        joined[raw["docid"]] += raw["prediction"].split()
    return [
        item_id
        for doc, item_id in enumerate(info["items"])
        if joined.get(doc, []) != run["items"][item_id]["targets"][lang]["hypothesis"].split()
    ]


def _ms_to_s(value: float | None) -> float | None:
    return None if value is None else round(value / 1000, 3)


def _score_pair(folder: Path, pair: str, info: dict[str, Any]) -> dict[str, Any]:
    lang = pair.split("-", 1)[1]
    scores = run_longform(folder, lang)
    resegmented = folder / "omnisteval" / "instances.resegmented.jsonl"
    docs = per_document(resegmented, lang)
    suffix = "cu" if info["clock_key"] == "delays" else "ca"
    overall, per_doc = yaal_to_audio_end(folder, info["clock_key"])
    scores[f"longyaal_audio_end_{suffix}"] = overall
    for doc, value in zip(docs, per_doc):
        doc[f"longyaal_audio_end_{suffix}"] = value
    return {
        "scores": scores,
        "items": dict(zip(info["items"], docs)),
        "rtt_laal_on_resegmented_ms": rtt_laal_on(resegmented, info["clock_key"]),
        "command": "omnisteval " + " ".join(longform_command(folder, lang)),
    }


def score_runs(
    results: dict[str, Any],
    corpus: Sequence[CorpusItem],
    out: Path,
    scorer: str,
    log: Log = print,
) -> None:
    """Export every run not yet exported and, unless `scorer` is "rtt", score it with OmniSTEval.

    Adds to each run `simuleval` (the files per pair) and `omnisteval` (scores, per item figures,
    the comparison with rtt's, or an `error`). Runs already done are left as they are, so this can
    follow every finished run of a long sweep.
    """
    items = {item.id: item for item in corpus}
    for run in results["runs"]:
        if "simuleval" in run or "events" not in run:
            continue
        folder = out / "simuleval" / f"{run['name']}.{run['mode']}"
        exported = export_run(run, items, results["word_ends"], folder)
        run["simuleval"] = {
            pair: {**info, "folder": str(Path(info["folder"]).relative_to(out))}
            for pair, info in exported.items()
        }
        if scorer == "rtt":
            continue
        run["omnisteval"] = {}
        for pair, info in exported.items():
            try:
                scored = _score_pair(Path(info["folder"]), pair, info)
            except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as exc:
                log(f"  omnisteval {run['name']} [{run['mode']}] {pair}: failed: {exc}")
                run["omnisteval"][pair] = {"error": str(exc)}
                continue
            scored["comparison"] = compare(run, pair, scored["scores"])
            scored["comparison"]["texts_changed"] = texts_changed(run, pair, info)
            run["omnisteval"][pair] = scored
            s, suffix = scored["scores"], "cu" if run["mode"] == "unaware" else "ca"
            log(
                f"  omnisteval {run['name']} [{run['mode']}] {pair}: BLEU {s.get('bleu')}, "
                f"chrF {s.get('chrf')}, LongYAAL ({suffix.upper()}) {s.get('longyaal_' + suffix)} ms"
            )
