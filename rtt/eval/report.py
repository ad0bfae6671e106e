"""Write an evaluation's results: results.json, events/, report.md and PNG plots."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .omnireport import omnisteval_lines

__all__ = ["pareto", "write_report", "write_results"]

PLOTS = ("frontier.png", "stages.png", "flicker_beta.png")


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def pareto(points: Sequence[tuple[float, float]]) -> list[bool]:
    """Which (latency, quality) points no other point beats on both (lower latency, higher quality)."""

    def beaten(p: tuple[float, float]) -> bool:
        return any(q[0] <= p[0] and q[1] >= p[1] and q != p for q in points)

    return [not beaten(p) for p in points]


def write_results(results: dict[str, Any], out: Path) -> Path:
    """results.json holds every number; each run's events go to events/<setting>.<mode>.jsonl."""
    out.mkdir(parents=True, exist_ok=True)
    events_dir = out / "events"
    events_dir.mkdir(exist_ok=True)
    runs = []
    for run in results["runs"]:
        run = dict(run)
        path = events_dir / f"{run['name']}.{run['mode']}.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for events in run.pop("events").values():
                for event in events:
                    f.write(json.dumps(event, ensure_ascii=False) + "\n")
        run["events_file"] = str(path.relative_to(out))
        runs.append(run)
    path = out / "results.json"
    path.write_text(
        json.dumps({**results, "runs": runs}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return path


def _headline_table(runs: Sequence[dict[str, Any]]) -> list[str]:
    rows = [r for r in runs if r["headline"]]
    pairs = sorted({p for r in rows for p in r["summary"]["chrf"]})
    head = [
        "setting",
        "clock",
        "WER",
        *[f"BLEU {p}" for p in pairs],
        *[f"chrF {p}" for p in pairs],
        "commit p50/p90 s",
        "TTF p50/p90 s",
        "AL s",
        "LAAL s",
        "StartOffset s",
        "EndOffset s",
        "NE src",
        "NE tgt",
        "RTF",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        s = r["summary"]
        cells = [
            r["name"],
            "computation-aware" if r["mode"] == "aware" else "computation-unaware",
            _fmt(s["wer"], 3),
            *[_fmt(s["bleu"].get(p)) for p in pairs],
            *[_fmt(s["chrf"].get(p)) for p in pairs],
            f"{_fmt(s['commit_latency']['p50'])} / {_fmt(s['commit_latency']['p90'])}",
            f"{_fmt(s['time_to_final']['p50'])} / {_fmt(s['time_to_final']['p90'])}",
            _fmt(s["al"]),
            _fmt(s["laal"]),
            _fmt(s["start_offset"]),
            _fmt(s["end_offset"]),
            _fmt(s["source_normalized_erasure"], 3),
            _fmt(s["target_normalized_erasure"], 3),
            _fmt(s["rtf"]["all_stages"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _sweep_table(runs: Sequence[dict[str, Any]]) -> list[str]:
    head = [
        "setting",
        "clock",
        "changes",
        "items",
        "WER",
        "BLEU (mean)",
        "chrF (mean)",
        "LAAL s",
        "LAAL 1st-appearance s",
        "TTF p50/p90 s",
        "NE tgt",
        "revisions/sentence",
        "RTF",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in sorted(runs, key=lambda r: r["mode"] != "unaware"):
        s = r["summary"]
        changes = (
            ", ".join(f"{sec}.{k}={v}" for sec, kv in r["overrides"].items() for k, v in kv.items())
            or "–"
        )
        lines.append(
            "| "
            + " | ".join(
                [
                    r["name"],
                    r["mode"],
                    changes,
                    str(s["items"]),
                    _fmt(s["wer"], 3),
                    _fmt(s["bleu_mean"]),
                    _fmt(s["chrf_mean"]),
                    _fmt(s["laal"]),
                    _fmt(s["laal_first_appearance"]),
                    f"{_fmt(s['time_to_final']['p50'])} / {_fmt(s['time_to_final']['p90'])}",
                    _fmt(s["target_normalized_erasure"], 3),
                    _fmt(s["revisions_per_sentence"]),
                    _fmt(s["rtf"]["all_stages"]),
                ]
            )
            + " |"
        )
    return lines


def _items_table(run: dict[str, Any]) -> list[str]:
    lines = ["| item | lang | WER | BLEU | chrF | NE tgt |", "|---|---|---|---|---|---|"]
    for item_id, s in run["items"].items():
        targets = s["targets"]
        lid = s.get("language_id", {})
        detected = (  # language ID (settings with language auto): detected, probability, decided at
            f" (detected {lid['detected']} {_fmt(lid['probability'])}, {_fmt(lid['decide_s'])} s)"
            if lid.get("detected")
            else ""
        )
        lines.append(
            f"| {item_id} | {s['lang']}→{','.join(targets)}{detected} | {_fmt(s['wer'], 3)} | "
            + " / ".join(_fmt(t["bleu"]) for t in targets.values())
            + " | "
            + " / ".join(_fmt(t["chrf"]) for t in targets.values())
            + " | "
            + " / ".join(_fmt(t["normalized_erasure"], 3) for t in targets.values())
            + " |"
        )
    return lines


def write_report(results: dict[str, Any], out: Path, plots: Sequence[str] = PLOTS) -> Path:
    """report.md: the headline table, the sweep table, per-item figures and the plots."""
    meta, runs = results["meta"], results["runs"]
    m = meta["machine"]
    lines = [
        "# rtt evaluation report",
        "",
        f"- date: {meta['date']}; rtt {meta['rtt_version']}; sweep: `{meta['sweep']}`",
        f"- machine: {m['cpu']} ({m['cores']} cores), {m['system']}",
        f"- items: {len(meta['items'])} ({meta['audio_s']} s of audio): {', '.join(meta['items'])}",
        f"- target languages: {meta['targets']}",
        f"- reference word end times: {meta['word_times']}",
        "- definitions: docs/metrics.md (AL/LAAL per reference utterance, delays from its start; TTF from its end; "
        "NE = erased tokens / final tokens; RTF = compute seconds / audio seconds, all stages summed).",
        "",
        "## Headline",
        "",
        *_headline_table(runs),
        "",
        *omnisteval_lines(results),
        "## All runs (the sweep: unaware = simulated clock, aware = real-time pace)",
        "",
        *_sweep_table(runs),
        "",
    ]
    for run in runs:
        models = run["models"]
        lines.append(
            f"- `{run['name']}` [{run['mode']}]: ASR {models['asr']}, MT {models['mt']} (fast {models['fast_mt']}, "
            f"draft {models['draft_mt']}), {models['device']} {models.get('compute_type') or ''}, "
            f"threads {models['asr_threads']}+{models['mt_threads']}"
            + (
                f"; skipped (language not supported or no chosen target): {', '.join(run['skipped_items'])}"
                if run["skipped_items"]
                else ""
            )
            + (f"; warnings: {'; '.join(run['warnings'])}" if run["warnings"] else "")
        )
    headline = next((r for r in runs if r["headline"] and r["mode"] == "unaware"), runs[0])
    lines += [
        "",
        f"## Per item (`{headline['name']}`, {headline['mode']})",
        "",
        *_items_table(headline),
        "",
    ]
    lines += ["## Plots", ""] + [f"![{p}]({p})" for p in plots if (out / p).exists()] + [""]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
