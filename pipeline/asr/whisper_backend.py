"""Whisper on CTranslate2 with a window sized to the buffer.

faster-whisper's `transcribe()` pads every call to a 30 s window, which costs
about a second per pass on a 2-core CPU however short the audio. CTranslate2's
Whisper accepts shorter feature windows, so each pass encodes only the buffer
plus `padding` seconds of silence: several times faster for streaming. We reuse
faster-whisper's feature extractor, tokenizer and word alignment, and call the
CTranslate2 model directly. Greedy, no temperature fallback (a fallback can turn
a half-second pass into several seconds).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..audio_format import RATE
from ..events import Word
from ..words import word_from_piece
from .backend import ASRRequest, ASRResult, ClipsRequest, LanguageProbs, LanguageRequest
from .terms_prompt import echo_mask, render

__all__ = ["WhisperBackend", "cut_loop", "detect_languages"]

_PROMPT_TOKENS = 200  # the previous-text prompt: glossary terms, then committed context
_PAST_AUDIO = 0.02  # seconds: a word starting this close to the end of the audio is not in it
# Whisper's own silence rule (offline): a window it is unsure about and thinks silent is dropped.
_NO_SPEECH = 0.6
_LOW_LOGPROB = -1.0


class WhisperBackend:
    def __init__(
        self,
        model_path: Path,
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        threads: int = 1,
        padding: float = 1.0,
        beam_size: int = 1,
        no_speech_threshold: float = 0.6,
    ) -> None:
        from faster_whisper import WhisperModel  # heavy import, only when a model is loaded

        self.name = Path(model_path).name
        self._fw = WhisperModel(
            str(model_path), device=device, compute_type=compute_type, cpu_threads=threads
        )
        self._model = self._fw.model
        self.multilingual = self._model.is_multilingual
        self.padding = padding
        self.beam_size = beam_size
        self.no_speech_threshold = no_speech_threshold
        self._tokenizers: dict[str, object] = {}
        self.echoes = 0  # words dropped as glossary terms read out of the prompt

    @property
    def whisper_model(self):
        """The loaded faster-whisper `WhisperModel`: the offline batched path decodes with it, so a
        process that runs both paths holds one copy of the weights."""
        return self._fw

    # -- helpers ----------------------------------------------------------------
    def _tokenizer(self, language: str):
        from faster_whisper.tokenizer import Tokenizer

        if language not in self._tokenizers:
            lang = language if self.multilingual else None
            task = "transcribe" if self.multilingual else None
            self._tokenizers[language] = Tokenizer(
                self._fw.hf_tokenizer, self.multilingual, task=task, language=lang
            )
        return self._tokenizers[language]

    def _features(self, audios: Sequence[np.ndarray]):
        """One batch of log-mel features, every item padded to the longest + `padding`."""
        length = max(len(a) for a in audios) + int(self.padding * RATE)
        feats = [
            self._fw.feature_extractor(np.pad(a, (0, length - len(a))), padding=0) for a in audios
        ]
        frames = min(f.shape[-1] for f in feats) // 2 * 2  # the encoder halves the frame count
        batch = np.ascontiguousarray(np.stack([f[:, :frames] for f in feats]), dtype=np.float32)
        return batch, frames

    def _probs(self, encoded) -> list[LanguageProbs]:
        return _language_probs(self._model, encoded)

    def count_tokens(self, text: str) -> int:
        return len(self._fw.hf_tokenizer.encode(text, add_special_tokens=False).ids)

    def detect_batch(self, requests: Sequence[LanguageRequest]) -> list[LanguageProbs]:
        return detect_languages(self._fw, [r.audio for r in requests])

    # -- protocol ---------------------------------------------------------------
    def transcribe_batch(self, requests: Sequence[ASRRequest]) -> list[ASRResult]:
        """Decode a batch; requests in one batch share the language (the engine groups them)."""
        if not requests:
            return []
        import ctranslate2

        # the StorageView borrows the array's memory: keep `features` alive until encoded
        features, _ = self._features([r.audio for r in requests])
        encoded = self._model.encode(ctranslate2.StorageView.from_array(features), to_cpu=False)
        probs = self._probs(encoded)
        language = requests[0].language or probs[0][0][0]
        if not self.multilingual:
            language = "en"
        tokenizer = self._tokenizer(language)
        prompts = self._prompts(tokenizer, requests)
        results = self._model.generate(
            encoded,
            prompts,
            beam_size=self.beam_size,
            max_length=self._max_length(requests, prompts),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=[-1],
            max_initial_timestamp_index=0,
        )
        tokens = [[t for t in r.sequences_ids[0] if t < tokenizer.eot] for r in results]
        frames = [max(2, len(r.audio) // 160) for r in requests]
        aligned = self._align(tokenizer, tokens, encoded, frames)
        out = []
        for request, result, words, pass_probs in zip(requests, results, aligned, probs):
            words = [] if self._is_hallucination(result, words) else cut_loop(words)
            if request.terms and words:
                keep = echo_mask([w.word for w in words], request.terms, result.no_speech_prob)
                self.echoes += keep.count(False)
                words = [w for w, k in zip(words, keep) if k]
            out.append(ASRResult(tuple(words), language, result.no_speech_prob, pass_probs))
        return out

    def transcribe_clips(self, request: ClipsRequest) -> list[Word]:
        """One batch of a whole file's windows (the offline path) through faster-whisper's
        `BatchedInferencePipeline` on the same loaded model: beam search, word timestamps."""
        from faster_whisper import BatchedInferencePipeline

        segments, _ = BatchedInferencePipeline(self._fw).transcribe(
            request.audio,
            language=request.language,
            clip_timestamps=[{"start": s, "end": e} for s, e in request.clips],
            batch_size=max(1, len(request.clips)),
            beam_size=request.beam_size,
            word_timestamps=True,
            without_timestamps=True,
            log_progress=False,
            # the glossary's terms, as the stream encodes them
            initial_prompt=" " + render(request.terms) if request.terms else None,
        )
        words: list[Word] = []
        for segment in segments:  # each item decodes lazily: this runs on the engine's thread
            if not (segment.no_speech_prob > _NO_SPEECH and segment.avg_logprob < _LOW_LOGPROB):
                heard = cut_loop(_segment_words(segment.words or ()))
                keep = echo_mask([w.word for w in heard], request.terms, segment.no_speech_prob)
                words.extend(w for w, k in zip(heard, keep, strict=True) if k)
        return words

    def _max_length(self, requests: Sequence[ASRRequest], prompts: list[list[int]]) -> int:
        """Room for a fast speaker and no more: a decoding loop stops early instead of running on."""
        seconds = max(len(r.audio) for r in requests) / RATE
        return min(448, len(prompts[0]) + int(8 * seconds) + 16)

    def _prompts(self, tokenizer, requests: Sequence[ASRRequest]) -> list[list[int]]:
        """Previous-text prompts: the glossary terms, then as much committed context as the
        rest of `_PROMPT_TOKENS` holds. Cut to one length (CTranslate2 needs the start token
        aligned in a batch), context first: the terms were chosen to fit."""
        parts = []
        for r in requests:
            terms = tokenizer.encode(" " + render(r.terms))[:_PROMPT_TOKENS] if r.terms else []
            room = _PROMPT_TOKENS - len(terms)
            context = r.prompt.strip()
            parts.append(
                (terms, tokenizer.encode(" " + context)[-room:] if context and room else [])
            )
        keep = min(len(t) + len(c) for t, c in parts)
        start = list(tokenizer.sot_sequence) + [tokenizer.no_timestamps]
        if keep == 0:
            return [start for _ in parts]
        out = []
        for terms, context in parts:
            cut = len(terms) + len(context) - keep
            from_context = min(cut, len(context))
            out.append(
                [tokenizer.sot_prev] + terms[cut - from_context :] + context[from_context:] + start
            )
        return out

    def _align(
        self, tokenizer, tokens: list[list[int]], encoded, frames: list[int]
    ) -> list[list[Word]]:
        from faster_whisper.transcribe import merge_punctuations

        words: list[list[Word]] = [[] for _ in tokens]
        todo = [i for i, t in enumerate(tokens) if t]
        if not todo:
            return words
        # align() takes one encoder batch; select the rows with text
        sub = encoded if len(todo) == len(tokens) else _rows(encoded, todo)
        alignments = self._fw.find_alignment(
            tokenizer, [tokens[i] for i in todo], sub, [frames[i] for i in todo]
        )
        for i, alignment in zip(todo, alignments):
            merge_punctuations(alignment, "\"'“¿([{-", "\"'.。,，!！?？:：”)]}、")
            limit = frames[i] / 100
            for a in alignment:
                # a word that starts where the audio ends was read into the padding: Whisper
                # repeating its prompt there (seen: a whole committed sentence again at the end)
                if float(a["start"]) >= limit - _PAST_AUDIO:
                    continue
                start = min(float(a["start"]), limit)
                end = max(start, min(float(a["end"]), limit))
                word = word_from_piece(
                    a["word"], round(start, 2), round(end, 2), first=not words[i]
                )
                if word is not None:
                    words[i].append(word)
        return words

    def _is_hallucination(self, result, words: list[Word]) -> bool:
        """Silence: Whisper's own rule (no speech and unsure), plus a stricter one for short windows."""
        n = max(1, len(words))
        avg_logprob = result.scores[0] * n / (n + 1)
        if result.no_speech_prob > self.no_speech_threshold and avg_logprob < -0.5:
            return True
        return result.no_speech_prob > 0.9


def detect_languages(whisper_model, audios: Sequence[np.ndarray]) -> list[LanguageProbs]:
    """Language probabilities over Whisper's full 30 s window (what its language head was
    trained on): the first 30 s of each audio, padded with silence. `whisper_model` is a
    faster-whisper `WhisperModel` (the streaming and the batch path share this)."""
    if not len(audios):
        return []
    import ctranslate2

    extractor = whisper_model.feature_extractor
    feats = [extractor(a[: extractor.n_samples], padding=extractor.n_samples) for a in audios]
    frames = extractor.nb_max_frames
    batch = np.ascontiguousarray(np.stack([f[:, :frames] for f in feats]), dtype=np.float32)
    model = whisper_model.model
    encoded = model.encode(ctranslate2.StorageView.from_array(batch), to_cpu=False)
    return _language_probs(model, encoded)


def _language_probs(model, encoded) -> list[LanguageProbs]:
    """The language head on an encoded batch: every language's probability, best first."""
    if not model.is_multilingual:
        return [(("en", 1.0),)] * encoded.shape[0]
    found = model.detect_language(encoded)
    return [tuple((token.strip("<|>"), float(p)) for token, p in pairs) for pairs in found]


def _segment_words(raw) -> list[Word]:
    """Whisper's words, with fragments glued back on: a word without a leading space
    continues the previous one ("10" + ":15" is "10:15", not "10 :15")."""
    out: list[Word] = []
    for w in raw:
        text = w.word.strip()
        if not text:
            continue
        if out and not w.word[:1].isspace():
            last = out[-1]
            out[-1] = Word(last.word + text, last.start, max(last.end, float(w.end)))
        else:
            out.append(Word(text, float(w.start), float(w.end)))
    return out


def cut_loop(words: list[Word], min_repeats: int = 2) -> list[Word]:
    """Cut a repetition loop (Whisper repeating a phrase after the speech ends) after its first copy.

    A block of at least 3 words repeated back to back, or of 1-2 words repeated
    three times, is a loop; the words before the repeats are kept.
    """
    keys = [w.word.lower().strip(".,!?") for w in words]  # pieces count as words here
    n = len(keys)
    for i in range(n):
        for p in range(1, (n - i) // 2 + 1):
            repeats = 3 if p < 3 else min_repeats
            if i + p * repeats <= n and all(
                keys[i + k] == keys[i + k % p] for k in range(p, p * repeats)
            ):
                return words[: i + p]
    return words


def _rows(encoded, rows: list[int]):
    import ctranslate2

    on_cpu = encoded if encoded.device == "cpu" else encoded.to_device(ctranslate2.Device.cpu)
    array = np.ascontiguousarray(np.asarray(on_cpu)[rows])
    # to_device copies, so the result owns its memory (from_array alone would borrow `array`)
    view = ctranslate2.StorageView.from_array(array)
    return view.to_device(
        ctranslate2.Device.cpu if encoded.device == "cpu" else ctranslate2.Device.cuda
    )
