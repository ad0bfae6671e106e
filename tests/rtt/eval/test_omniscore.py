"""OmniSTEval on hand-made logs: its figures against hand computation, and rtt's formulas against its."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from rtt.eval import omniscore
from rtt.eval.omnireport import omnisteval_lines
from tests.conftest import require_module

INSTALL = "pip install 'rtt[eval]'"


@pytest.fixture(autouse=True)
def _omnisteval() -> None:
    require_module("omnisteval", INSTALL)


def _write(folder: Path, delays: list[float], key: str = "delays") -> Path:
    """One recording of 7 s; two reference sentences: 1-3 s and 4-6 s."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "segments.yaml").write_text(
        '- {wav: "talk.flac", offset: 1.000, duration: 2.000}\n'
        '- {wav: "talk.flac", offset: 4.000, duration: 2.000}\n'
    )
    (folder / "references.txt").write_text("Hello my dear world.\nGood night, moon.\n")
    line = {
        "source": "talk.flac",
        "prediction": "Hello my dear world. Good night, sun.",
        key: delays,
        "source_length": 7000.0,
    }
    (folder / "instances.log").write_text(json.dumps(line) + "\n")
    return folder


DELAYS = [2000.0, 2500.0, 3000.0, 3500.0, 5000.0, 5500.0, 6500.0]


def test_two_sentences_score_as_computed_by_hand(tmp_path: Path) -> None:
    scores = omniscore.run_longform(_write(tmp_path / "en-de", DELAYS), "de")
    # BLEU (13a): sentence 1 exact (5 tokens: 5/4/3/2 n-gram matches); sentence 2
    # "Good night , sun ." vs "... moon .": 4/5, 2/4, 1/3, 0/2. Summed: 9/10, 6/8, 4/6, 2/4;
    # equal lengths, so no brevity penalty.
    bleu = 100 * (9 / 10 * 6 / 8 * 4 / 6 * 2 / 4) ** (1 / 4)
    assert scores["bleu"] == pytest.approx(bleu, abs=1e-3)  # 68.87
    # LongYAAL: delays from each sentence's offset; gamma = max(|hyp|, |ref|) / duration.
    # Sentence 1: 1000, 1500, 2000, 2500 ms, ideal step 2000/4 = 500 -> all lag 1000.
    # Sentence 2: 1000, 1500, 2500 ms; the recording ends 2000 ms after its offset (the end of
    # the last segment), so the third word is not counted: (1000 + (1500 - 2000/3)) / 2.
    first = 1000.0
    second = (1000 + (1500 - 2000 / 3)) / 2
    assert scores["longyaal_cu"] == pytest.approx((first + second) / 2, abs=1e-3)  # 958.33
    # LongLAAL (SimulEval's LAAL): stops at the first word at or after the sentence's end.
    laal_1 = (1000 + 1000 + 1000) / 3
    laal_2 = (1000 + (1500 - 2000 / 3) + (2500 - 2 * 2000 / 3)) / 3
    assert scores["longlaal_cu"] == pytest.approx((laal_1 + laal_2) / 2, abs=1e-3)
    assert "longyaal_ca" not in scores


def test_rtt_laal_equals_omnistevals_on_its_segments(tmp_path: Path) -> None:
    folder = _write(tmp_path / "en-de", [1900.0, 2950.0, 3100.0, 3300.0, 4200.0, 6100.0, 6600.0])
    scores = omniscore.run_longform(folder, "de")
    resegmented = folder / "omnisteval" / "instances.resegmented.jsonl"
    assert omniscore.rtt_laal_on(resegmented, "delays") == pytest.approx(scores["longlaal_cu"])


def test_per_item_figures_and_the_audio_end_variant(tmp_path: Path) -> None:
    folder = _write(tmp_path / "en-de", DELAYS, key="elapsed")
    info = {"items": ["talk"], "clock_key": "elapsed"}
    scored = omniscore._score_pair(folder, "en-de", info)
    whole = scored["scores"]
    assert scored["items"]["talk"]["bleu"] == pytest.approx(whole["bleu"])
    assert scored["items"]["talk"]["longyaal_ca"] == pytest.approx(whole["longyaal_ca"])
    # Counted until the audio ends (7 s): sentence 2's third word (2500 ms) counts too.
    second = (1000 + (1500 - 2000 / 3) + (2500 - 2 * 2000 / 3)) / 3
    assert whole["longyaal_audio_end_ca"] == pytest.approx((1000 + second) / 2, abs=1e-3)
    assert scored["command"].startswith("omnisteval longform --speech_segmentation ")
    said = "Hello my dear world. Good night, sun."
    run = {"items": {"talk": {"targets": {"de": {"hypothesis": said}}}}}
    info = {**info, "folder": str(folder)}
    assert omniscore.texts_changed(run, "en-de", info) == []  # both scorers score the same text
    run["items"]["talk"]["targets"]["de"]["hypothesis"] = said + " Extra."
    assert omniscore.texts_changed(run, "en-de", info) == ["talk"]


def test_comparison_and_report_say_how_far_apart_the_scorers_are() -> None:
    run = {
        "name": "default",
        "mode": "unaware",
        "summary": {"bleu": {"en-de": 70.0}, "chrf": {"en-de": 80.0}},
        "items": {"talk": {"lang": "en", "targets": {"de": {"values": {"laal": [0.9, 1.1]}}}}},
    }
    omni = {"bleu": 68.872, "chrf": 80.004, "longlaal_cu": 1000.0, "longyaal_cu": 958.33}
    c = omniscore.compare(run, "en-de", omni)
    assert c["difference"] == {
        "bleu": -1.128,
        "chrf": 0.004,
        "laal_s": 0.0,
        "yaal_vs_laal_s": -0.042,
    }
    run["omnisteval"] = {"en-de": {"scores": omni, "items": {"talk": {}}, "comparison": c}}
    table = "\n".join(omnisteval_lines({"meta": {"scorer": "both"}, "runs": [run]}))
    assert "| BLEU -1.13, LongYAAL−LAAL -0.04 s |" in table  # chrF +0.004 is rounding
    assert omnisteval_lines({"meta": {"scorer": "rtt"}, "runs": [{"name": "x"}]}) == []


def test_scorer_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    assert omniscore.resolve_scorer(None) == "both"
    monkeypatch.setattr(omniscore, "available", lambda: False)
    assert omniscore.resolve_scorer(None) == "rtt"
    assert omniscore.resolve_scorer("rtt") == "rtt"
    with pytest.raises(ConfigError, match="rtt\\[eval\\]"):
        omniscore.resolve_scorer("both")


def test_nothing_to_score_is_none_not_nan(tmp_path: Path) -> None:
    path = tmp_path / "scores.tsv"
    path.write_text("metric\tvalue\nBLEU\t12.5\nLongYAAL (CA)\tnan\n")
    assert omniscore.read_scores(path) == {"bleu": 12.5, "longyaal_ca": None}
    assert not any(
        isinstance(v, float) and math.isnan(v) for v in omniscore.read_scores(path).values()
    )
