#!/usr/bin/env python3
"""The long-form talk: latency over its length and memory, with a plot.

Runs `rtt eval --sweep rtt/eval/sweeps/longform.toml` (the 10-minute talk, unsegmented)
in this process while a thread samples its resident memory once a second, then reads
what the run wrote and answers: does time to final drift as the talk goes on?

    scripts/longform.py --out out/longform [--clock aware] [--targets de] [-- EVAL OPTIONS]
    scripts/longform.py --out out/longform --plot-only     # again from a finished run

Writes OUT/longform.json (per-utterance time to final against talk time, its linear
trend in seconds per minute of talk, thirds, memory) and OUT/longform.png.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rtt.corpus import corpus_item  # noqa: E402

SWEEP = ROOT / "rtt" / "eval" / "sweeps" / "longform.toml"
ITEM = "longform-water-en"


class MemorySampler(threading.Thread):
    """(seconds since start, RSS in MiB) of this process, once per `every` seconds."""

    def __init__(self, every: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.every, self.samples = every, []
        self._halt = threading.Event()  # not _stop: Thread has a method of that name
        self._process, self._t0 = psutil.Process(), time.monotonic()

    def run(self) -> None:
        while not self._halt.is_set():
            rss = self._process.memory_info().rss / 2**20
            self.samples.append((round(time.monotonic() - self._t0, 1), round(rss, 1)))
            self._halt.wait(self.every)

    def stop(self) -> list[tuple[float, float]]:
        self._halt.set()
        self.join()
        return self.samples


def trend(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of ys against xs (None with fewer than 2 points)."""
    if len(xs) < 2:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else None


def ttf_over_time(run: dict[str, Any], lang: str) -> list[tuple[float, float]]:
    """(utterance end in s of talk, time to final in s) for every translated utterance."""
    item = corpus_item(ITEM)
    values = run["items"][ITEM]["targets"][lang]["values"]
    missing = set(values.get("missing_utterances", []))
    ends = [u.end for i, u in enumerate(item.utterances) if i not in missing]
    return list(zip(ends, values["time_to_final"]))


def summarize(points: list[tuple[float, float]]) -> dict[str, Any]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    third = max(1, len(ys) // 3)
    slope = trend(xs, ys)
    return {
        "utterances": len(points),
        "ttf_s": {"median": statistics.median(ys), "max": max(ys)} if ys else None,
        "trend_s_per_min": None if slope is None else round(slope * 60, 3),
        "median_first_third_s": statistics.median(ys[:third]) if ys else None,
        "median_last_third_s": statistics.median(ys[-third:]) if ys else None,
    }


def plot(out: Path, series: dict[str, list[tuple[float, float]]], memory: list) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.5))
    for label, points in series.items():
        top.plot([x / 60 for x, _ in points], [y for _, y in points], "o-", ms=3, label=label)
    top.set(xlabel="end of the utterance in the talk (min)", ylabel="time to final (s)")
    top.set_title(f"{ITEM}: time to final over the talk")
    top.grid(alpha=0.3)
    top.legend()
    if memory:
        bottom.plot([t / 60 for t, _ in memory], [m for _, m in memory])
    bottom.set(xlabel="wall time since the run started (min)", ylabel="RSS of the process (MiB)")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    path = out / "longform.png"
    fig.savefig(path, dpi=110)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("out/longform"))
    p.add_argument("--clock", choices=["aware", "unaware"], default="aware")
    p.add_argument("--targets", default="de", help="target languages (default: %(default)s)")
    p.add_argument("--plot-only", action="store_true", help="read a finished run in --out")
    p.add_argument("eval_args", nargs="*", help="more `rtt eval` options, after --")
    args = p.parse_args(argv)
    memory: list = []
    if not args.plot_only:
        from rtt.cli import main as rtt_main

        sampler = MemorySampler()
        sampler.start()
        started = time.monotonic()
        argv_eval = ["eval", "--sweep", str(SWEEP), "--clock", args.clock, "--targets"]
        code = rtt_main([*argv_eval, args.targets, "--out", str(args.out), *args.eval_args])
        memory = sampler.stop()
        (args.out / "memory.json").write_text(
            json.dumps({"wall_s": round(time.monotonic() - started, 1), "rss_mib": memory})
        )
        if code:
            return code
    else:
        saved = args.out / "memory.json"
        memory = json.loads(saved.read_text())["rss_mib"] if saved.exists() else []
    results = json.loads((args.out / "results.json").read_text())
    summary: dict[str, Any] = {"item": ITEM, "runs": {}}
    series = {}
    for run in results["runs"]:
        for lang in run["items"][ITEM]["targets"]:
            points = ttf_over_time(run, lang)
            label = f"{run['name']} {run['mode']} en-{lang}"
            series[label] = points
            summary["runs"][label] = {**summarize(points), "points": points}
            omni = run.get("omnisteval", {}).get(f"en-{lang}", {}).get("scores")
            summary["runs"][label]["omnisteval"] = omni
    rss = [m for _, m in memory]
    summary["memory_mib"] = {"start": rss[0], "peak": max(rss), "end": rss[-1]} if rss else None
    (args.out / "longform.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(
        json.dumps(
            {
                k: {kk: vv for kk, vv in v.items() if kk != "points"}
                for k, v in summary["runs"].items()
            },
            indent=1,
        )
    )
    print("memory (MiB):", summary["memory_mib"], "plot:", plot(args.out, series, memory))
    return 0


if __name__ == "__main__":
    sys.exit(main())
