"""PNG plots of an evaluation: the latency/quality frontier, per-stage compute, flicker against β."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .report import pareto

__all__ = ["plot_all", "plot_flicker", "plot_frontier", "plot_stages"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _frontier_panel(ax, runs: Sequence[dict[str, Any]], latency: str, quality: str) -> None:
    def value(run: dict[str, Any], key: str) -> float | None:
        s = run["summary"]
        return s["time_to_final"]["p50"] if key == "ttf" else s[key]

    for mode, marker in (("unaware", "o"), ("aware", "^")):
        pts = [(value(r, latency), value(r, quality), r["name"]) for r in runs if r["mode"] == mode]
        pts = [p for p in pts if p[0] is not None and p[1] is not None]
        if not pts:
            continue
        front = pareto([(x, y) for x, y, _ in pts])
        ax.scatter(
            [p[0] for p in pts],
            [p[1] for p in pts],
            marker=marker,
            c=["tab:red" if f else "tab:gray" for f in front],
            label=f"computation-{mode}",
            zorder=3,
        )
        best = sorted((p for p, f in zip(pts, front) if f), key=lambda p: p[0])
        if len(best) > 1:
            ax.plot(
                [p[0] for p in best],
                [p[1] for p in best],
                color="tab:red",
                linewidth=1,
                zorder=2,
                linestyle="-" if mode == "unaware" else ":",
            )
        for x, y, name in pts:
            ax.annotate(name, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel({"laal": "LAAL (s)", "ttf": "time to final p50 (s)"}[latency])
    ax.set_ylabel(
        {"chrf_mean": "chrF (mean over pairs)", "bleu_mean": "BLEU (mean over pairs)"}[quality]
    )
    ax.grid(alpha=0.3)


def plot_frontier(runs: Sequence[dict[str, Any]], path: Path) -> None:
    """Quality against latency, one point per setting; red points are Pareto-optimal."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    for ax, (lat, qual) in zip(
        axes.flat,
        [("laal", "chrf_mean"), ("laal", "bleu_mean"), ("ttf", "chrf_mean"), ("ttf", "bleu_mean")],
    ):
        _frontier_panel(ax, runs, lat, qual)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("latency vs quality (red: Pareto-optimal within a clock)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_stages(runs: Sequence[dict[str, Any]], path: Path) -> None:
    """Left: compute per audio second of each stage (RTF). Right: time to final split into
    ASR (speech end to last source commit) and MT (from there to the final translation), means."""
    plt = _pyplot()
    labels = [f"{r['name']}\n[{r['mode']}]" for r in runs]
    stages = sorted(
        {k for r in runs for k in r["summary"]["rtf"] if k not in ("all_stages", "wall")}
    )
    fig, (left, right) = plt.subplots(1, 2, figsize=(max(9, 1.6 * len(runs) + 4), 4.8))
    bottom = [0.0] * len(runs)
    for stage in stages:
        heights = [r["summary"]["rtf"].get(stage) or 0.0 for r in runs]
        left.bar(labels, heights, bottom=bottom, label=stage)
        bottom = [b + h for b, h in zip(bottom, heights)]
    left.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    left.set_ylabel("compute s per audio s")
    left.set_title("compute per stage (RTF; dashed: real time)", fontsize=10)
    left.legend(fontsize=7)
    asr = [max(r["summary"].get("source_final_mean") or 0.0, 0.0) for r in runs]
    total = [r["summary"].get("time_to_final_mean") or 0.0 for r in runs]
    right.bar(labels, asr, label="ASR: speech end → source final")
    right.bar(
        labels,
        [max(t - a, 0.0) for t, a in zip(total, asr)],
        bottom=asr,
        label="MT: → final translation",
    )
    right.set_ylabel("seconds (mean per utterance)")
    right.set_title("time to final, by stage", fontsize=10)
    right.legend(fontsize=7)
    for ax in (left, right):
        ax.tick_params(axis="x", labelsize=7, rotation=45)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_flicker(runs: Sequence[dict[str, Any]], path: Path) -> None:
    """Target normalized erasure against β for the stable speculative settings."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    clock = "unaware" if any(r["mode"] == "unaware" for r in runs) else "aware"
    # Only settings that change nothing but the speculative mode and β: other knobs move NE too.
    unaware = [
        r
        for r in runs
        if r["mode"] == clock
        and set(r["overrides"]) <= {"mt"}
        and set(r["overrides"].get("mt", {})) <= {"speculative", "beta"}
    ]
    stable = sorted(
        (r["config"]["mt"].get("beta", 0.0), r["summary"]["target_normalized_erasure"], r["name"])
        for r in unaware
        if r["config"]["mt"].get("speculative") == "stable"
        and r["summary"]["target_normalized_erasure"] is not None
    )
    if stable:
        ax.plot([s[0] for s in stable], [s[1] for s in stable], "o-", label="stable")
        for beta, ne, name in stable:
            ax.annotate(name, (beta, ne), fontsize=6, xytext=(3, 3), textcoords="offset points")
    for r in unaware:
        mode = r["config"]["mt"].get("speculative")
        if mode in ("exact", "off") and r["summary"]["target_normalized_erasure"] is not None:
            ax.axhline(
                r["summary"]["target_normalized_erasure"],
                linestyle="--",
                linewidth=0.8,
                label=f"{r['name']} ({mode})",
            )
    ax.set_xlabel("β (stable mode)")
    ax.set_ylabel("target normalized erasure")
    ax.set_title(f"flicker against β (computation-{clock})")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    else:
        ax.text(
            0.5, 0.5, "no stable-mode β settings in this run", ha="center", transform=ax.transAxes
        )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_all(results: dict[str, Any], out: Path) -> list[Path]:
    runs = results["runs"]
    paths = [out / "frontier.png", out / "stages.png", out / "flicker_beta.png"]
    for plot, path in zip((plot_frontier, plot_stages, plot_flicker), paths):
        plot(runs, path)
    return paths
