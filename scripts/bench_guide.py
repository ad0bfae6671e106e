#!/usr/bin/env python3
"""What the guided prompt (glossary terms, the last final, register: issue 18) costs in prefill.

Replays one corpus item's sentences as a live translator sees them: each sentence grows word
by word (one re-translation per word, the worst case) and ends with its final; the previous
sentence's reference translation stands in for its final (no decoding: prefill only). For
every request, with and without the guide, in the same process and interleaved, it records
the prompt length, the tokens llama.cpp actually forwards (what its KV cache did not hold:
computation-unaware) and the wall time of that prefill (noisy on a shared machine).

    python scripts/bench_guide.py --model qwen2.5-coder-0.5b --item talk-energy-en --json out/guide.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.glossary import load_glossary  # noqa: E402
from pipeline.models.cache import find_gguf, model_dir  # noqa: E402
from pipeline.mt.guide import Guidance  # noqa: E402
from pipeline.mt.llama_backend import LlamaCppBackend  # noqa: E402
from pipeline.mt.translator import TranslationRequest  # noqa: E402
from rtt.corpus import corpus_item  # noqa: E402


def prefill(
    backend: LlamaCppBackend, request: TranslationRequest, key: str
) -> tuple[int, int, float]:
    static, dynamic = backend.prompt_ids(request)
    context = backend.context
    before = context.forwarded
    sequence = [*static, *dynamic]
    t0 = time.perf_counter()
    context.evaluate(sequence, [len(sequence) - 1], key=(key, *static))
    return len(dynamic), context.forwarded - before, time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--item", default="talk-energy-en")
    parser.add_argument("--to", default="de")
    parser.add_argument("--context", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    item = corpus_item(args.item)
    backend = LlamaCppBackend(find_gguf(model_dir(args.model)), threads=1)
    glossary = load_glossary(item.glossary) if item.glossary else None
    guidance = Guidance(glossary, register="formal", context=args.context)
    totals = {
        m: {"requests": 0, "prompt": 0, "forwarded": 0, "seconds": 0.0} for m in ("plain", "guided")
    }
    for utterance in item.utterances:
        words = utterance.text.split()
        for n in range(1, len(words) + 1):
            source = " ".join(words[:n])
            guide = guidance.guide(source, item.lang, args.to)
            for mode, g in (("plain", None), ("guided", guide)):
                request = TranslationRequest(source, item.lang, args.to, guide=g)
                prompt, forwarded, seconds = prefill(backend, request, mode)
                t = totals[mode]
                t["requests"] += 1
                t["prompt"] += prompt
                t["forwarded"] += forwarded
                t["seconds"] += seconds
        guidance.record(args.to, utterance.text, utterance.translations[args.to])
    plain, guided = totals["plain"], totals["guided"]
    result = {
        "model": args.model,
        "item": args.item,
        "target": args.to,
        "context": args.context,
        "register": "formal",
        "glossary_terms": len(glossary) if glossary else 0,
        "runtime": "llama.cpp, 1 thread, prefill only (KV cache per mode)",
        "machine": "shared 2-core CPU: seconds are noisy, the token counts are exact",
        "totals": totals,
        "ratio_prompt_tokens": round(guided["prompt"] / plain["prompt"], 3),
        "ratio_forwarded_tokens": round(guided["forwarded"] / plain["forwarded"], 3),
        "ratio_prefill_seconds": round(guided["seconds"] / plain["seconds"], 3),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
