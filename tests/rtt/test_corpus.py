"""The sample corpus: manifest, audio files and utterance boundaries agree."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import av
import numpy as np
import pytest

from rtt.corpus import DEFAULT_MANIFEST, CorpusItem, corpus_item, load_corpus
from tests.conftest import require_tool

ITEMS = load_corpus()
SAMPLE_RATE = 16_000


@cache
def decode(path: Path) -> tuple[np.ndarray, int, int]:
    """Samples as float32 mono, plus the file's own sample rate and channel count."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate, channels = stream.codec_context.sample_rate, stream.codec_context.channels
        frames = [f.to_ndarray() for f in container.decode(stream)]
    pcm = np.concatenate(frames, axis=1)
    scale = 32768.0 if pcm.dtype == np.int16 else 1.0
    return (pcm.astype(np.float32) / scale).mean(axis=0), rate, channels


def rms_db(audio: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(audio.astype(np.float64) ** 2) + 1e-12))


def test_manifest_has_a_talk_and_a_short_item() -> None:
    styles = {item.style for item in ITEMS}
    assert {"talk", "short"} <= styles
    assert len({item.id for item in ITEMS}) == len(ITEMS)


@pytest.mark.parametrize("item", ITEMS, ids=lambda item: item.id)
def test_audio_is_16k_mono_of_the_stated_duration(item: CorpusItem) -> None:
    assert item.audio.is_absolute() and item.audio.is_file()
    samples, rate, channels = decode(item.audio)
    assert (rate, channels) == (SAMPLE_RATE, 1)
    assert len(samples) / rate == pytest.approx(item.duration, abs=0.05)


@pytest.mark.parametrize("item", ITEMS, ids=lambda item: item.id)
def test_utterances_are_sorted_disjoint_and_inside_the_audio(item: CorpusItem) -> None:
    assert item.utterances
    previous_end = 0.0
    for utt in item.utterances:
        assert previous_end <= utt.start < utt.end <= item.duration
        previous_end = utt.end


def test_corpus_is_big_and_varied_enough_for_evaluation() -> None:
    speech = sum(u.end - u.start for item in ITEMS for u in item.utterances)
    assert speech >= 600  # at least 10 minutes of speech, pauses between utterances not counted
    assert sum(len(item.utterances) for item in ITEMS) >= 30
    talks = [item for item in ITEMS if item.style == "talk" and item.duration >= 120]
    assert len(talks) >= 3
    assert {"en", "de", "es"} <= {item.lang for item in ITEMS}
    assert {"piper-tts", "espeak-ng", "pytest-audioeval"} <= {
        item.provenance["tool"] for item in ITEMS
    }
    assert {"talk-opening-en", "short-workshop-en"} <= {
        item.id for item in ITEMS
    }  # ids other code uses


def reference_languages(item: CorpusItem) -> set[str]:
    """English sources are translated into German and Spanish; every other source into English;
    an item that switches language has a reference in each language it speaks."""
    if len(item.languages) > 1:
        return set(item.languages)
    return {"de", "es"} if item.lang == "en" else {"en"}


@pytest.mark.parametrize("item", ITEMS, ids=lambda item: item.id)
def test_texts_and_translations_line_up(item: CorpusItem) -> None:
    assert item.transcript == " ".join(u.text for u in item.utterances)
    assert set(item.translations) == reference_languages(item)
    for lang in reference_languages(item):
        assert item.translations[lang] == " ".join(u.translations[lang] for u in item.utterances)
        assert all(u.translations[lang].strip() for u in item.utterances)
    assert item.provenance["tool"] and item.licence["text"]


@pytest.mark.parametrize("item", ITEMS, ids=lambda item: item.id)
def test_speech_is_inside_utterances_and_gaps_are_quiet(item: CorpusItem) -> None:
    samples, rate, _ = decode(item.audio)
    edges = [0.0] + [t for u in item.utterances for t in (u.start, u.end)] + [item.duration]
    spans = [samples[int(a * rate) : int(b * rate)] for a, b in zip(edges[::2], edges[1::2])]
    gaps = [g for g in spans if len(g)]
    speech = [samples[int(u.start * rate) : int(u.end * rate)] for u in item.utterances]
    quietest_speech = min(rms_db(s) for s in speech)
    loudest_gap = max(rms_db(g) for g in gaps)
    assert quietest_speech > -35.0
    assert quietest_speech - loudest_gap > 30.0


def test_corpus_item_by_id() -> None:
    first = ITEMS[0]
    assert corpus_item(first.id) == first
    with pytest.raises(KeyError, match="known"):
        corpus_item("no-such-item")


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


@pytest.mark.parametrize(
    "mutate",
    [
        lambda m: "{not json",
        lambda m: {**m, "version": 2},
        lambda m: {"version": 1},
        lambda m: {**m, "items": [{k: v for k, v in m["items"][0].items() if k != "audio"}]},
        lambda m: {**m, "items": [{**m["items"][0], "duration": "long"}]},
        lambda m: {
            **m,
            "items": [
                {
                    **m["items"][0],
                    "utterances": [
                        {"start": 2, "end": 1, "text": "x", "translations": {"de": "x"}}
                    ],
                }
            ],
        },
        lambda m: {**m, "items": [m["items"][0], m["items"][0]]},
        lambda m: {
            **m,
            "items": [
                {
                    **m["items"][0],
                    "utterances": [{**m["items"][0]["utterances"][0], "lang": 7}],
                }
            ],
        },
    ],
    ids=[
        "json",
        "version",
        "no-items",
        "no-audio",
        "duration-type",
        "reversed-span",
        "duplicate-id",
        "utterance-lang-type",
    ],
)
def test_malformed_manifest_raises_value_error(tmp_path: Path, mutate) -> None:
    good = json.loads(DEFAULT_MANIFEST.read_text(encoding="utf-8"))
    with pytest.raises(ValueError):
        load_corpus(_write(tmp_path, mutate(good)))


def test_loader_resolves_audio_next_to_the_manifest(tmp_path: Path) -> None:
    good = json.loads(DEFAULT_MANIFEST.read_text(encoding="utf-8"))
    (item,) = load_corpus(_write(tmp_path, {**good, "items": good["items"][:1]}))
    assert item.audio == (tmp_path / good["items"][0]["audio"]).resolve()


def _make_samples():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_samples", DEFAULT_MANIFEST.parent.parent / "scripts" / "make_samples.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_espeak_item_rebuilds_byte_identical(tmp_path: Path) -> None:
    require_tool("espeak-ng", "apt-get install espeak-ng")
    good = json.loads(DEFAULT_MANIFEST.read_text(encoding="utf-8"))
    (item,) = [i for i in good["items"] if i["id"] == "short-station-fr"]
    manifest = _write(tmp_path, {**good, "items": [item]})
    assert _make_samples().main(["--manifest", str(manifest), "--only", item["id"]]) == 0
    assert (tmp_path / item["audio"]).read_bytes() == (
        DEFAULT_MANIFEST.parent / item["audio"]
    ).read_bytes()
    rebuilt = json.loads(manifest.read_text(encoding="utf-8"))["items"][0]
    assert (
        rebuilt["utterances"] == item["utterances"] and rebuilt["provenance"] == item["provenance"]
    )


def test_a_long_form_talk_of_ten_minutes_is_evaluated_only_when_named() -> None:
    from rtt.eval.evaluate import select_items
    from rtt.eval.sweep import DEFAULT_SWEEP, QUICK_SWEEP, SWEEPS, load_sweep

    (talk,) = [item for item in ITEMS if item.style == "longform"]
    assert talk.duration >= 600 and reference_languages(talk) == {"de", "es"}
    gaps = [b.start - a.end for a, b in zip(talk.utterances, talk.utterances[1:])]
    assert max(gaps) < 2.0  # one continuous talk, not clips glued together
    assert talk.id not in {i.id for i in select_items(load_sweep(DEFAULT_SWEEP), ITEMS)}
    assert talk.id not in load_sweep(QUICK_SWEEP).items
    longform = load_sweep(SWEEPS / "longform.toml")
    assert [i.id for i in select_items(longform, ITEMS)] == [talk.id]


def test_a_talk_with_a_question_in_another_language() -> None:
    """Code-switching (issue 14): an English talk, a German question, an English answer; each
    part's reference in its own language is its transcript, in the other its translation."""
    item = corpus_item("talk-question-en-de")
    assert item.languages == ("en", "de") and item.lang == "en"
    spoken = [u.lang for u in item.utterances]
    assert spoken[0] == spoken[-1] == "en" and "de" in spoken
    first, last = spoken.index("de"), len(spoken) - 1 - spoken[::-1].index("de")
    assert set(spoken[first : last + 1]) == {"de"}  # one question, then English again
    assert sum(u.end - u.start for u in item.utterances if u.lang == "de") >= 8.0
    for u in item.utterances:
        assert u.translations[u.lang] == u.text
        (other,) = set(item.languages) - {u.lang}
        assert u.translations[other] != u.text
    assert item.provenance["tool"] == "mixed" and item.provenance["voices"] == {"de": "de"}
    assert 60 <= item.duration <= 90


def test_utterances_without_a_language_speak_the_items() -> None:
    assert all(u.lang == "de" for u in corpus_item("short-weather-de").utterances)
    assert corpus_item("short-weather-de").languages == ("de",)


@pytest.mark.parametrize("item", [i for i in ITEMS if i.glossary], ids=lambda i: i.id)
def test_an_items_glossary_reads_and_its_terms_are_in_the_transcript_and_references(
    item: CorpusItem,
) -> None:
    from pipeline.glossary import load_glossary, term_count

    glossary = load_glossary(item.glossary)
    for term in glossary.terms:
        source = term.form(item.lang)
        said = term_count(source, item.transcript)
        assert said, f"{item.id}: {source!r} is not said"
        for lang, reference in item.translations.items():
            agreed = term.target(item.lang, lang)
            assert term_count(agreed, reference) >= said, f"{item.id}: {agreed!r} in {lang}"


def test_the_english_talks_have_glossaries() -> None:
    talks = {i.id for i in ITEMS if i.glossary}
    assert {"talk-energy-en", "talk-opening-en", "talk-keynote-en", "talk-trees-en"} <= talks
