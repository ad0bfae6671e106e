"""Translation of whole sentences through the shared MT engine, many per generate call.

Every sentence of a file is submitted at once. The engine's worker batches requests
of one language pair (up to its `max_batch` per generate call), and the CTranslate2
backend splits a batch where prompt lengths differ; submitting in order of length
keeps the sentences of a batch alike, so most of a batch runs as one call.
With a `Guidance`, each request carries its sentence's glossary terms and the register
(no earlier-sentence context: the sentences are translated at once, not in order); a
translation that broke the register is asked for once more, as in the stream.
`priority` is the engine's (`BACKGROUND` for a server's file jobs: live rooms first).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence

from ..engine import LIVE, MTEngine
from ..mt.guide import Guidance
from ..mt.sentences import Sentence
from ..mt.translator import TranslationRequest

__all__ = ["translate_sentences"]


async def translate_sentences(
    engine: MTEngine,
    sentences: Sequence[Sentence],
    source_lang: str,
    targets: Sequence[str],
    on_done: Callable[[int, int], None] | None = None,
    guidance: Guidance | None = None,
    *,
    priority: int = LIVE,
) -> dict[str, tuple[str, ...]]:
    """{target language: one translation per sentence}; `on_done(done, total)` as they finish."""
    out = {lang: [""] * len(sentences) for lang in targets}
    jobs = [(lang, i) for lang in targets if lang != source_lang for i in range(len(sentences))]
    for lang in targets:
        if lang == source_lang:  # nothing to translate: the transcript is the text
            out[lang] = [s.text for s in sentences]
    jobs.sort(key=lambda job: (job[0], len(sentences[job[1]].text)))
    done = 0

    async def one(lang: str, i: int) -> None:
        nonlocal done
        text = sentences[i].text
        guide = guidance.guide(text, source_lang, lang) if guidance is not None else None
        request = TranslationRequest(text, source_lang, lang, guide=guide)
        result = await engine.translate(request, priority)
        insist = guidance.repair(guide, result.text, source_lang, lang) if guidance else None
        if insist is not None:  # broke the register: asked once more, insisting
            result = await engine.translate(dataclasses.replace(request, guide=insist), priority)
        out[lang][i] = result.text
        done += 1
        if on_done is not None:
            on_done(done, len(jobs))

    await asyncio.gather(*(one(lang, i) for lang, i in jobs))
    return {lang: tuple(texts) for lang, texts in out.items()}
