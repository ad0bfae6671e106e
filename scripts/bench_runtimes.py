#!/usr/bin/env python3
"""The translation runtimes side by side: CTranslate2 int8 against llama.cpp Q4_K_M, per model
and thread count, on rtt's own prompt (en -> de), through the backends the pipeline runs.

For each (runtime, model, threads), the median over `--repeats` of:
- `decode_tokens_per_s`: sequential greedy decoding after the first token
  (tokens after the first / time after the first);
- `prefill_static_s`: the static prompt (system turn + example) forwarded from an
  empty cache, up to its first token;
- `prefill_request_s`: one request's own tokens after a cached static prompt, up to
  the first token (what every re-translation pays before decoding);
- `prefill_tokens_per_s`: the static prompt's tokens / `prefill_static_s`, and
  `prefill_s_per_100`: seconds per 100 prompt tokens;
- `verify_s`: scoring a draft (the previous translation cut to `--draft-tokens`, N = 20
  by default: a typical sentence's translation) in one forward pass
  with logits at its N + 1 positions: CTranslate2's `forward_batch` recomputes the whole
  prompt and gives logits everywhere; llama.cpp reads only what its cache lacks
  (`verify_s`, prompt cached: the pipeline's case) or the whole prompt from an empty
  cache (`verify_uncached_s`), with logits at the N + 1 positions only.

Wall-clock figures: on a shared machine compare within one run only. Usage (the JSON
records the load average before and after, so a busy run can be told apart):

  .venv/bin/python scripts/bench_runtimes.py --json docs/bench/runtimes-cpu.json
  nice -n 19 .venv/bin/python scripts/bench_runtimes.py --models qwen2.5-coder-0.5b \
      --repeats 1 --json out/runtimes-0.5b.json   # quick: the 0.5B, both runtimes, 1 and 2 threads
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from pipeline.models.cache import find_gguf, is_ct2_model, resolve_model  # noqa: E402
from pipeline.mt.ct2_backend import CT2GeneratorBackend  # noqa: E402
from pipeline.mt.llama_backend import LlamaCppBackend  # noqa: E402
from pipeline.mt.translator import TranslationRequest  # noqa: E402

SOURCE = (
    "Finally, please remember that the dinner on Wednesday evening requires a ticket, "
    "which you can collect at the registration desk until Tuesday at noon."
)
REQUEST = TranslationRequest(SOURCE, "en", "de")


def open_backend(runtime: str, model: str, threads: int):
    folder = resolve_model(model)
    if runtime == "llama.cpp":
        gguf = find_gguf(folder)
        if gguf is None:
            raise SystemExit(f"{model} has no GGUF: rtt models fetch --format gguf {model}")
        return LlamaCppBackend(gguf, threads=threads, max_new_tokens=64)
    if not is_ct2_model(folder):
        raise SystemExit(f"{model} has no CTranslate2 form: rtt models fetch --format ctranslate2")
    return CT2GeneratorBackend(folder, threads=threads, max_new_tokens=64)


def timed_greedy(backend, static, prefix, max_new: int) -> tuple[list[int], list[float]]:
    """Greedy tokens and the time each arrived (seconds from the call)."""
    stamps: list[float] = []
    start = time.perf_counter()

    def stop(token: int) -> bool:
        stamps.append(time.perf_counter() - start)
        return False

    return backend.greedy(static, prefix, max_new, stop), stamps


def fresh_cache(backend) -> None:
    """Empty llama.cpp's KV cache. (CTranslate2 caches only a given `static_prompt`.)"""
    if isinstance(backend, LlamaCppBackend):
        backend.context.clear()


def measure_once(
    backend, static: list[int], dynamic: list[int], draft_tokens: int
) -> dict[str, float]:
    fresh_cache(backend)
    t0 = time.perf_counter()
    backend.greedy([], static, 1)  # the static prompt from an empty cache, to its first token
    prefill_static = time.perf_counter() - t0
    backend.greedy(static, dynamic[:1], 1)  # now the static prompt is cached
    t0 = time.perf_counter()
    backend.greedy(static, dynamic, 1)
    prefill_request = time.perf_counter() - t0
    ids, stamps = timed_greedy(backend, static, dynamic, 48)
    decode = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")
    draft = [t for t in ids if t not in backend.end_ids][:draft_tokens]
    t0 = time.perf_counter()
    backend.scores(static, dynamic + draft, len(dynamic))
    verify = time.perf_counter() - t0
    row = {
        "decode_tokens_per_s": decode,
        "decoded_tokens": len(stamps),
        "prefill_static_s": prefill_static,
        "prefill_tokens_per_s": len(static) / prefill_static,
        "prefill_s_per_100": 100 * prefill_static / len(static),
        "prefill_request_s": prefill_request,
        "verify_s": verify,
        "verify_positions": len(draft) + 1,
    }
    if isinstance(backend, LlamaCppBackend):
        fresh_cache(backend)
        t0 = time.perf_counter()
        backend.scores(static, dynamic + draft, len(dynamic))
        row["verify_uncached_s"] = time.perf_counter() - t0
    return row


def measure(runtime: str, model: str, threads: int, repeats: int, draft_tokens: int) -> dict:
    t0 = time.perf_counter()
    backend = open_backend(runtime, model, threads)
    load = time.perf_counter() - t0
    try:
        static, dynamic = backend.prompt_ids(REQUEST)
        backend.greedy(static, dynamic, 2)  # warm up
        runs = [measure_once(backend, static, dynamic, draft_tokens) for _ in range(repeats)]
    finally:
        backend.close()
    row = {
        key: statistics.median(run[key] for run in runs)
        for key in runs[0]
        if not key.endswith(("tokens", "positions"))
    }
    row["decoded_tokens"] = runs[0]["decoded_tokens"]
    row["verify_positions"] = runs[0]["verify_positions"]
    row.update(
        runtime=runtime,
        model=model,
        threads=threads,
        static_tokens=len(static),
        request_tokens=len(dynamic),
        load_s=load,
    )
    return row


def table(rows: list[dict]) -> str:
    head = "| model | runtime | threads | decode tok/s | prefill tok/s | static prefill s | request prefill s | verify s (N) | verify uncached s |"
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        uncached = f"{r['verify_uncached_s']:.2f}" if "verify_uncached_s" in r else "-"
        lines.append(
            f"| {r['model']} | {r['runtime']} | {r['threads']} | {r['decode_tokens_per_s']:.1f} | "
            f"{r['prefill_tokens_per_s']:.0f} | "
            f"{r['prefill_static_s']:.2f} | {r['prefill_request_s']:.2f} | "
            f"{r['verify_s']:.2f} ({r['verify_positions']}) | {uncached} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"])
    parser.add_argument("--runtimes", nargs="+", default=["ctranslate2", "llama.cpp"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--draft-tokens", type=int, default=20, help="tokens of the draft a verify pass scores"
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    started = time.time()
    load_before = os.getloadavg()
    rows = []
    for model in args.models:
        for threads in args.threads:
            for runtime in args.runtimes:
                rows.append(measure(runtime, model, threads, args.repeats, args.draft_tokens))
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    result = {
        "source": SOURCE,
        "repeats": args.repeats,
        "draft_tokens": args.draft_tokens,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
        },
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": time.time() - started,
        "results": rows,
    }
    print(table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
