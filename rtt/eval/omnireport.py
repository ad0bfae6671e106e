"""The OmniSTEval section of report.md: the field's scorer beside rtt's own figures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["TOLERANCE", "omnisteval_lines"]

# rtt rounds BLEU and chrF to 2 decimals and LAAL to 4 (s); a gap below these is rounding.
TOLERANCE = {"bleu": 0.01, "chrf": 0.01, "laal_s": 0.001, "yaal_vs_laal_s": 0.001}
_NAMES = {
    "bleu": "BLEU",
    "chrf": "chrF",
    "laal_s": "LongLAAL−LAAL",
    "yaal_vs_laal_s": "LongYAAL−LAAL",
}


def _fmt(value: Any, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _seconds(ms: float | None) -> str:
    return "–" if ms is None else f"{ms / 1000:.2f}"


def _gaps(difference: dict[str, float]) -> str:
    """The differences beyond rounding, signed (OmniSTEval minus rtt), or 'none'."""
    out = [
        f"{_NAMES[k]} {v:+.2f}" + (" s" if k.endswith("_s") else "")
        for k, v in difference.items()
        if abs(v) > TOLERANCE[k]
    ]
    return ", ".join(out) or "none beyond rounding"


def _row(run: dict[str, Any], pair: str, scored: dict[str, Any], both: bool) -> str:
    clock = "CU" if run["mode"] == "unaware" else "CA"
    suffix = clock.lower()
    if "error" in scored:
        return f"| {run['name']} | {clock} | {pair} | failed: {scored['error']} |"
    s = scored["scores"]
    cells = [
        run["name"],
        clock,
        pair,
        str(len(scored["items"])),
        _fmt(s.get("bleu")),
        _fmt(s.get("chrf")),
        _seconds(s.get(f"longyaal_{suffix}")),
        _seconds(s.get(f"longyaal_audio_end_{suffix}")),
        _seconds(s.get(f"longlaal_{suffix}")),
        _seconds(s.get(f"longal_{suffix}")),
    ]
    if both:
        c = scored["comparison"]
        cells += [
            _fmt(c["rtt"]["bleu"]),
            _fmt(c["rtt"]["chrf"]),
            _fmt(c["rtt"]["laal_s"]),
            _gaps(c["difference"])
            + (
                f"; words dropped by its alignment in {', '.join(c['texts_changed'])}"
                if c.get("texts_changed")
                else ""
            ),
        ]
    return "| " + " | ".join(cells) + " |"


def omnisteval_lines(results: dict[str, Any]) -> list[str]:
    """A table of OmniSTEval's figures per run and language pair (empty when it did not run)."""
    runs: Sequence[dict[str, Any]] = [r for r in results["runs"] if r.get("omnisteval")]
    if not runs:
        return []
    both = results["meta"].get("scorer") == "both"
    head = ["setting", "clock", "pair", "items", "BLEU", "chrF", "LongYAAL s"]
    head += ["LongYAAL to audio end s", "LongLAAL s", "LongAL s"]
    if both:
        head += ["rtt BLEU", "rtt chrF", "rtt LAAL s", "OmniSTEval − rtt"]
    lines = [
        "## OmniSTEval (the IWSLT 2026 scorer)",
        "",
        "`omnisteval longform --word_level` on each run's SimulEval log (`simuleval/<setting>.<clock>/"
        "<pair>/`): the committed words re-segmented to the reference sentences, corpus BLEU/chrF "
        "over them; latency per sentence from its speech offset, CU = computation-unaware "
        "(simulated clock, `delays`), CA = computation-aware (real clock, `elapsed`). Why its "
        "figures differ from rtt's: docs/eval/README.md (OmniSTEval). LongYAAL to audio end: "
        "OmniSTEval's YAAL scorer counting words until the audio ends, where OmniSTEval 0.1.10 "
        "stops at the end of the last reference sentence's speech.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for run in runs:
        lines += [_row(run, pair, scored, both) for pair, scored in run["omnisteval"].items()]
    return lines + [""]
