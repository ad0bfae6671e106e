#!/usr/bin/env python3
"""Plain versus speculative re-translation on the source prefixes the streaming ASR
commits on the sample corpus (tests/fixtures/prefixes.json, made by
scripts/record_prefixes.py).

Each sentence's prefixes are translated in order, as the TranslateStage does: the
speculative backend gets the previous translation of the sentence as its draft.
Every configuration runs on each prefix right after plain decoding of the same
prefix, so load on a shared machine hits them alike. The top-level keys are for
the pipeline's default configuration (MTConfig()); `variants` holds the others.

`exact_ceiling` bounds what a draft can win while the output stays plain greedy
decoding (`exact` mode): an oracle that keeps, at no cost, exactly the tokens each
plain translation shares with the previous one of its sentence still pays one
prefill per update (timed: a one-token generation of the same prompt) and plain's
time per token for the rest. `stable` mode can pass it because it keeps words
that plain re-translation would rewrite.

  .venv/bin/python scripts/bench_retranslation.py --json out/bench_retranslation.json
  .venv/bin/python scripts/bench_retranslation.py --model qwen2.5-coder-0.5b --draft-model none --min-prefixes 20
  .venv/bin/python scripts/bench_retranslation.py --runtime llama.cpp --variants none

With `--runtime llama.cpp` every track gets its own loaded model, hence its own KV
cache (one cache shared by the tracks would hold each prefix for the next track),
and `exact_ceiling` is left out: a prefix's prompt is always partly cached there.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import sacrebleu

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from pipeline.config import ComputeConfig, MTConfig  # noqa: E402
from pipeline.mt.drafts import common_prefix  # noqa: E402
from pipeline.mt.runtime import model_source, open_translator  # noqa: E402
from pipeline.mt.speculative import SpeculativeBackend  # noqa: E402
from pipeline.mt.stage import masked_partial  # noqa: E402
from pipeline.mt.translator import TranslationRequest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "prefixes.json"


def variants(default: MTConfig) -> dict[str, tuple[MTConfig, bool]]:
    """name -> (settings, draft model on); the first is the default configuration."""
    exact = MTConfig(speculative="exact", beta=1.0)
    stable = MTConfig(speculative="stable", beta=0.5, verify_seen="sentence_end")
    return {
        "default": (default, False),
        "exact": (exact, False),
        "exact_min_draft_10": (dataclasses.replace(exact, min_draft=10), False),
        "exact_draft_model": (exact, True),
        "exact_prompt_lookup": (dataclasses.replace(exact, prompt_lookup=True), False),
        "stable_beta_0.5_verify_every": (dataclasses.replace(stable, verify_seen="every"), False),
        "stable_beta_0.5_final_pass": (stable, False),
        "stable_beta_0.2_final_pass": (dataclasses.replace(stable, beta=0.2), False),
        "stable_beta_0": (dataclasses.replace(stable, beta=0.0), False),
        "stable_beta_0_mask_1": (dataclasses.replace(stable, beta=0.0, display_mask=1), False),
        "stable_beta_0.5_mask_1": (dataclasses.replace(stable, display_mask=1), False),
        "stable_beta_0.5_mask_2": (dataclasses.replace(stable, display_mask=2), False),
    }


def select(sentences: list[dict], min_prefixes: int) -> list[dict]:
    chosen, count = [], 0
    for sentence in sentences:
        if count >= min_prefixes:
            break
        chosen.append(sentence)
        count += len(sentence["prefixes"])
    return chosen


class Track:
    """One configuration's outputs and costs over the replay."""

    def __init__(self, backend, display_mask: int = 0) -> None:
        self.backend = backend
        self.display_mask = display_mask
        self.seconds = 0.0
        self.steps = 0
        self.finals: list[str] = []
        self.ids: list[list[int]] = []
        self.erased = 0
        self.final_words = 0
        self._shown: list[str] = []
        self.first_token_seconds = 0.0  # plain track: prefill + first step, timed apart
        self.kept = 0  # plain track: tokens shared with the previous translation of the sentence

    def translate(self, request: TranslationRequest, final: bool) -> str:
        started = time.perf_counter()
        if isinstance(self.backend, SpeculativeBackend):
            ids, steps = self.backend.speculate(request)
            text = self.backend.target.to_translation(request, ids).text
        else:
            ids = self.backend.generate_ids([request])[0]
            steps = len(ids)
            text = self.backend.to_translation(request, ids).text
        self.seconds += time.perf_counter() - started
        self.steps += steps
        self.ids.append(ids)
        self._show(text if final else masked_partial(text, self.display_mask), final)
        return text

    def time_first_token(self, request: TranslationRequest) -> None:
        """Plain track: time a one-token generation of the request (the prefill every update pays)."""
        static, dynamic = self.backend.prompt_ids(request)
        started = time.perf_counter()
        self.backend.greedy(static, dynamic, 1)
        self.first_token_seconds += time.perf_counter() - started

    def _show(self, text: str, final: bool) -> None:
        words = text.split()
        self.erased += len(self._shown) - common_prefix(self._shown, words)
        self._shown = words
        if final:
            self.finals.append(text)
            self.final_words += len(words)
            self._shown = []


def replay(
    sentences: list[dict],
    lang: str,
    plain: Track,
    tracks: dict[str, Track],
    done=lambda n: None,
    first_token: bool = True,
) -> None:
    """Translate every prefix with every configuration; `done(n)` after each sentence."""
    for s_index, sentence in enumerate(sentences):
        drafts: dict[str, str | None] = {name: None for name in tracks}
        prefixes = sentence["prefixes"]
        for p_index, source in enumerate(prefixes):
            final = p_index == len(prefixes) - 1
            request = TranslationRequest(source, "en", lang)
            plain.translate(request, final)
            if first_token:
                plain.time_first_token(request)  # apart from plain.seconds
            if p_index:  # tokens plain kept from the previous translation of this sentence
                plain.kept += common_prefix(plain.ids[-2], plain.ids[-1])
            for name, track in tracks.items():
                drafts[name] = track.translate(
                    TranslationRequest(source, "en", lang, draft=drafts[name]), final
                )
        print(
            f"sentence {s_index + 1}/{len(sentences)}: {plain.finals[-1]!r}",
            file=sys.stderr,
            flush=True,
        )
        done(s_index + 1)


def chrf(finals: list[str], sentences: list[dict]) -> float:
    pairs = [(hyp, s["reference"]) for hyp, s in zip(finals, sentences) if s["reference"]]
    hyp, ref = " ".join(p[0] for p in pairs), " ".join(p[1] for p in pairs)
    return round(sacrebleu.corpus_chrf([hyp], [[ref]]).score, 2)


def agreement(a: list[list[int]], b: list[list[int]]) -> float:
    same = sum(sum(x == y for x, y in zip(p, q)) for p, q in zip(a, b))
    total = sum(max(len(p), len(q)) for p, q in zip(a, b))
    return round(same / total, 4) if total else 1.0


def exact_ceiling(plain: Track) -> dict:
    """The oracle bound of `exact` mode described in the module docstring."""
    decoding = plain.seconds - plain.first_token_seconds
    per_token = decoding / plain.steps if plain.steps else 0.0
    oracle_steps = plain.steps - plain.kept
    oracle_seconds = plain.first_token_seconds + oracle_steps * per_token
    return {
        "updates": len(plain.ids),
        "first_token_seconds": round(plain.first_token_seconds, 2),
        "plain_seconds_per_token": round(per_token, 4),
        "oracle_steps": oracle_steps,
        "oracle_seconds": round(oracle_seconds, 2),
        "speedup_ceiling": round(plain.seconds / oracle_seconds, 3) if oracle_seconds else None,
    }


def summary(
    plain: Track, track: Track, sentences: list[dict], config: MTConfig, draft: bool
) -> dict:
    stats = track.backend.stats
    spent = (
        stats.verify_seconds + stats.continue_seconds + stats.draft_seconds + stats.tokenize_seconds
    )
    return {
        "plain_seconds": round(plain.seconds, 2),
        "speculative_seconds": round(track.seconds, 2),
        "speedup": round(plain.seconds / track.seconds, 3) if track.seconds else None,
        "plain_steps": plain.steps,
        "speculative_steps": track.steps,
        "acceptance_rate": round(stats.acceptance_rate, 4),
        "token_agreement": agreement(plain.ids, track.ids),
        "ne_plain": round(plain.erased / max(plain.final_words, 1), 4),
        "ne_speculative": round(track.erased / max(track.final_words, 1), 4),
        "chrf_plain": chrf(plain.finals, sentences),
        "chrf_speculative": chrf(track.finals, sentences),
        "settings": {**dataclasses.asdict(config), "draft_model": draft},
        "time_split_seconds": {
            "verification_passes": round(stats.verify_seconds, 2),
            "continuation": round(stats.continue_seconds, 2),
            "draft_model": round(stats.draft_seconds, 2),
            "tokenisation": round(stats.tokenize_seconds, 3),
            "python_and_detokenisation": round(track.seconds - spent, 2),
        },
        "counts": {
            "verify_passes": stats.verify_passes,
            "proposed": stats.proposed,
            "accepted": stats.accepted,
            "continued_tokens": stats.generated,
            "draft_model_steps": stats.draft_steps,
        },
        "finals": track.finals,
    }


def parse() -> argparse.Namespace:
    default = MTConfig()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--fixture",
        type=Path,
        default=FIXTURE,
        help="recorded prefixes (default: tests/fixtures/prefixes.json)",
    )
    parser.add_argument(
        "--model", default=default.model, help=f"target model (default: {default.model})"
    )
    parser.add_argument(
        "--draft-model",
        default=default.draft_model or "qwen2.5-coder-0.5b",
        help="draft model for the draft-model variants; 'none' to skip them",
    )
    parser.add_argument(
        "--compute-type", default="int8", help="CTranslate2 compute type (default: int8)"
    )
    parser.add_argument(
        "--runtime",
        choices=["ctranslate2", "llama.cpp"],
        default="ctranslate2",
        help="translation runtime (default: ctranslate2, as the published figures)",
    )
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 2, help="CPU threads (default: all cores)"
    )
    parser.add_argument(
        "--min-prefixes",
        type=int,
        default=50,
        help="replay whole sentences until this many prefixes (default: 50)",
    )
    parser.add_argument(
        "--variants", help="comma-separated variant names to run besides the default (default: all)"
    )
    return parser.parse_args()


def main() -> None:
    args = parse()
    data = json.loads(args.fixture.read_text())
    sentences = select(data["sentences"], args.min_prefixes)
    mt = MTConfig()
    default = mt
    chosen = variants(default)
    chosen = {
        k: v for k, v in chosen.items() if k == "default" or v != (default, False)
    }  # no duplicate
    if args.variants:
        keep = {"default", *args.variants.split(",")}
        chosen = {k: v for k, v in chosen.items() if k in keep}
    if args.draft_model.lower() == "none":
        chosen = {k: v for k, v in chosen.items() if not v[1]}

    def load(name):
        source = model_source(name, args.runtime, ComputeConfig(device="cpu"))
        return open_translator(source, compute_type=args.compute_type, threads=args.threads)

    llama = args.runtime == "llama.cpp"
    target = load(args.model)
    draft = load(args.draft_model) if any(d for _, d in chosen.values()) else None
    plain = Track(target)
    tracks = {
        name: Track(
            SpeculativeBackend(
                load(args.model) if llama else target, cfg, draft=draft if use else None
            ),
            cfg.display_mask if cfg.speculative == "stable" else 0,
        )
        for name, (cfg, use) in chosen.items()
    }
    uptime_before = _uptime()
    started = time.perf_counter()

    def write(done: int) -> dict:
        """The results so far (written after every sentence, so a cut run still reports)."""
        replayed = sentences[:done]
        results = {name: summary(plain, t, replayed, *chosen[name]) for name, t in tracks.items()}
        out = results.pop("default")
        out["variants"] = results
        out["exact_ceiling"] = None if llama else exact_ceiling(plain)
        out["plain_finals"] = plain.finals
        out["machine"] = {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "uptime_before_and_after": [uptime_before, _uptime()],
            "device": "cpu",
            "compute_type": args.compute_type,
            "runtime": args.runtime,
            "threads": args.threads,
        }
        out["setup"] = {
            "model": args.model,
            "draft_model": args.draft_model,
            "sentences": done,
            "prefixes": sum(len(s["prefixes"]) for s in replayed),
            "complete": done == len(sentences),
            "wall_seconds": round(time.perf_counter() - started, 1),
            "fixture": _shown_path(args.fixture),
        }
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
        return out

    replay(sentences, data["target_lang"], plain, tracks, write, first_token=not llama)
    out = write(len(sentences))
    print(
        json.dumps(
            {k: v for k, v in out.items() if k not in ("variants", "plain_finals", "finals")},
            indent=1,
        )
    )
    for name, v in out["variants"].items():
        print(
            name,
            {
                k: v[k]
                for k in (
                    "speedup",
                    "acceptance_rate",
                    "token_agreement",
                    "ne_speculative",
                    "chrf_speculative",
                )
            },
        )
    target.close()
    if draft is not None:
        draft.close()


def _shown_path(path: Path) -> str:
    """A path inside the repository as a relative one, so results do not name this machine's folders."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _uptime() -> str:
    try:
        return subprocess.run(
            ["uptime"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return ""


if __name__ == "__main__":
    main()
