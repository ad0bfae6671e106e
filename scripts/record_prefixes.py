#!/usr/bin/env python3
"""Record the source prefixes that the streaming ASR commits, per sentence, for the
re-translation benchmark (scripts/bench_retranslation.py) and the speculative tests.

Runs the real pipeline (factory `build_pipeline`, simulated clock) on corpus items
with a stand-in translator that echoes its source: every `target_partial` then
carries the open-sentence text the TranslateStage translated, and every
`target_commit` the finished sentence. Each sentence is matched to the corpus's
reference sentence where the match is clean (similarity >= --min-similarity).

  .venv/bin/python scripts/record_prefixes.py --out tests/fixtures/prefixes.json
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import difflib
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.audio import open_source  # noqa: E402
from pipeline.config import ASRConfig, ComputeConfig, MTConfig, PipelineConfig, SourceConfig  # noqa: E402
from pipeline.engine import EngineRegistry  # noqa: E402
from pipeline.events import TargetCommit, TargetPartial  # noqa: E402
from pipeline.factory import build_pipeline  # noqa: E402
from pipeline.mt.translator import Translation, TranslationRequest  # noqa: E402
from rtt.corpus import corpus_item  # noqa: E402

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class EchoTranslator:
    """Returns the source as its 'translation': the events then show what was translated."""

    def __init__(self, model_path: Path, **_: object) -> None:
        self.name = f"echo:{Path(model_path).name}"

    def translate_batch(self, requests: Sequence[TranslationRequest]) -> list[Translation]:
        return [Translation(r.source, 0, 0) for r in requests]


def reference_sentences(item, lang: str) -> list[tuple[str, str]]:
    """(source, reference translation) per sentence, where an utterance splits cleanly."""
    pairs = []
    for utt in item.utterances:
        src, tgt = (
            _SENTENCE_END.split(utt.text.strip()),
            _SENTENCE_END.split(utt.translations[lang].strip()),
        )
        if len(src) == len(tgt):
            pairs.extend(zip(src, tgt))
    return pairs


def best_reference(text: str, references: list[tuple[str, str]], threshold: float) -> str | None:
    def score(ref: str) -> float:
        return difflib.SequenceMatcher(None, _norm(text), _norm(ref)).ratio()

    ranked = sorted(references, key=lambda pair: score(pair[0]), reverse=True)
    return ranked[0][1] if ranked and score(ranked[0][0]) >= threshold else None


def _norm(text: str) -> str:
    return re.sub(r"[^\w ]", "", text.lower())


async def record_item(item, config: PipelineConfig, lang: str, threshold: float) -> list[dict]:
    registry = EngineRegistry(mt_backend=EchoTranslator)
    try:
        source = open_source(str(item.audio), stream=config.stream, config=config.source)
        events = [e async for e in build_pipeline(config, source, registry).run()]
    finally:
        registry.close()
    prefixes: dict[int, list[str]] = {}
    finals: dict[int, str] = {}
    for event in events:
        if isinstance(event, TargetPartial):
            seq = prefixes.setdefault(event.sentence, [])
            if not seq or seq[-1] != event.text:
                seq.append(event.text)
        elif isinstance(event, TargetCommit):
            finals[event.sentence] = event.text
    references = reference_sentences(item, lang)
    sentences = []
    for index in sorted(finals):
        seq = [p for p in prefixes.get(index, []) if p != finals[index]] + [finals[index]]
        reference = best_reference(finals[index], references, threshold)
        sentences.append(
            {"item": item.id, "sentence": index, "prefixes": seq, "reference": reference}
        )
    return sentences


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--items",
        default="talk-opening-en,short-workshop-en",
        help="corpus item ids, comma-separated",
    )
    parser.add_argument(
        "--asr-model", default="whisper-base", help="streaming ASR model (default: whisper-base)"
    )
    parser.add_argument(
        "--to", default="de", help="target language of the references (default: de)"
    )
    parser.add_argument(
        "--min-similarity",
        type=float,
        default=0.8,
        help="source match needed to keep a reference (default: 0.8)",
    )
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/prefixes.json"))
    args = parser.parse_args()
    config = PipelineConfig(
        source=SourceConfig(realtime=False),
        asr=ASRConfig(model=args.asr_model, language="en"),
        mt=MTConfig(fast_model=None, draft_model=None, targets=(args.to,)),
        compute=ComputeConfig(device="cpu"),
    )
    sentences = []
    for item_id in args.items.split(","):
        sentences += asyncio.run(
            record_item(corpus_item(item_id), config, args.to, args.min_similarity)
        )
    data = {
        "recorded_with": {
            "asr": args.asr_model,
            "clock": "simulated",
            "mt_config": dataclasses.asdict(config.mt),
        },
        "target_lang": args.to,
        "prefix_count": sum(len(s["prefixes"]) for s in sentences),
        "sentences": sentences,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n")
    print(f"{len(sentences)} sentences, {data['prefix_count']} prefixes -> {args.out}")


if __name__ == "__main__":
    main()
