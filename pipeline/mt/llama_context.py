"""A llama.cpp model with a KV cache that remembers what it holds (llama-cpp-python's C API).

`evaluate(sequence, want)` forwards only the part of `sequence` the cache does
not already hold and returns the logits at the positions in `want` alone: llama.cpp
computes the output projection only where a batch asks for logits, which is what
makes verifying a draft cheap (all positions' logits cost 1.77 s against 0.61 s
for CTranslate2 over ~97 tokens of the 1.5B, most of it the 151,936-wide output).

The cache holds a few sequences ("slots", one llama.cpp sequence id each), one per
key the caller gives (the language pair), the least recently used one given up
for a new key. Requests of one pair share their static prompt, so it is read once,
not again on every update, even when two target languages alternate.

Not thread-safe: the backend that owns it serialises the calls.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Hashable, Sequence
from pathlib import Path

import llama_cpp
import numpy as np

from ..errors import ModelError, ModelMissingError

__all__ = ["LlamaContext"]

# llama.cpp logs every load step to stderr; rtt passes on errors only, less one that the
# Qwen2.5 GGUF files raise on every load and that llama.cpp corrects itself.
_GGML_LOG_ERROR = 3
_HARMLESS = (b"load: control-looking token",)


@llama_cpp.llama_log_callback
def _log(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    if level == _GGML_LOG_ERROR and not text.startswith(_HARMLESS):
        sys.stderr.write(text.decode("utf-8", errors="replace"))


llama_cpp.llama_log_set(_log, ctypes.c_void_p(0))  # the module keeps `_log` alive
llama_cpp.llama_backend_init()

_NO_KV_SLOT = 1  # llama_decode: could not find room in the KV cache


def _common(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class LlamaContext:
    """One loaded GGUF model and one llama.cpp context with `slots` cached sequences."""

    def __init__(
        self,
        path: Path,
        *,
        threads: int = 1,
        n_ctx: int = 4096,
        n_batch: int = 512,
        slots: int = 4,
        gpu_layers: int = 0,
    ) -> None:
        self.path = Path(path)
        self._model = self._ctx = self._batch = None
        self._model = _load_model(self.path, gpu_layers)
        self.vocab = llama_cpp.llama_model_get_vocab(self._model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx, params.n_batch, params.n_ubatch = n_ctx, n_batch, n_batch
        params.n_seq_max, params.kv_unified = slots, True
        params.n_threads = params.n_threads_batch = threads
        params.no_perf = True
        self._ctx = llama_cpp.llama_init_from_model(self._model, params)
        if not self._ctx:
            self.close()
            raise ModelError(f"llama.cpp cannot create a context for {self.path} (out of memory?)")
        self.n_ctx = llama_cpp.llama_n_ctx(self._ctx)
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self.n_batch = n_batch
        self._batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self._slots: list[list[int]] = [[] for _ in range(slots)]
        self._used = [0] * slots
        self._keys: dict[Hashable, int] = {}
        self._clock = 0
        self.forwarded = 0  # tokens fed through the model (the cache's misses), for tests

    # -- tokens -----------------------------------------------------------------------
    def tokenize(self, text: str, *, special: bool) -> list[int]:
        """Token ids of `text`, no BOS; `special`: "<|im_start|>" and the like are one token."""
        data = text.encode("utf-8")
        size = len(data) + 8
        buffer = (llama_cpp.llama_token * size)()
        n = llama_cpp.llama_tokenize(self.vocab, data, len(data), buffer, size, False, special)
        if n < 0:
            raise ModelError(f"{self.path.name}: cannot tokenize {len(data)} bytes")
        return list(buffer[:n])

    def detokenize(self, ids: Sequence[int]) -> bytes:
        """The text bytes of `ids`, without special tokens (a token may end mid-character)."""
        out = bytearray()
        buffer = ctypes.create_string_buffer(64)
        for token in ids:
            n = llama_cpp.llama_token_to_piece(self.vocab, token, buffer, 64, 0, False)
            if n < 0:  # the piece needs -n bytes
                big = ctypes.create_string_buffer(-n)
                n = llama_cpp.llama_token_to_piece(self.vocab, token, big, -n, 0, False)
                out += big.raw[: max(n, 0)]
            else:
                out += buffer.raw[:n]
        return bytes(out)

    # -- the model --------------------------------------------------------------------
    def evaluate(
        self, sequence: Sequence[int], want: Sequence[int], *, key: Hashable = None
    ) -> np.ndarray:
        """Logits (len(want) x n_vocab, float32) at positions `want` of `sequence`, each
        predicting the token after it. Only the part after the prefix cached in `key`'s
        slot (and from the first wanted position on) is forwarded."""
        if not sequence or not want:
            raise ValueError("evaluate needs a sequence and positions")
        if len(sequence) > self.n_ctx:
            raise ModelError(
                f"{self.path.name}: a prompt of {len(sequence)} tokens exceeds the context "
                f"of {self.n_ctx}"
            )
        slot = self._slot(key)
        start = min(_common(self._slots[slot], sequence), min(want))
        llama_cpp.llama_memory_seq_rm(self._memory, slot, start, -1)
        self._slots[slot] = list(sequence[:start])
        wanted = sorted(set(want))
        wanted_set = set(wanted)
        rows = np.empty((len(wanted), self.n_vocab), dtype=np.float32)
        row = 0
        for begin in range(start, len(sequence), self.n_batch):
            chunk = sequence[begin : begin + self.n_batch]
            flags = [begin + i in wanted_set for i in range(len(chunk))]
            self._decode(slot, chunk, begin, flags)
            self._slots[slot].extend(chunk)
            for i, flag in enumerate(flags):
                if flag:
                    rows[row] = self._logits(i)
                    row += 1
        index = {p: i for i, p in enumerate(wanted)}
        return rows[[index[p] for p in want]]

    def _slot(self, key: Hashable) -> int:
        """The slot of `key`, else the least recently used one (given up to `key`)."""
        self._clock += 1
        slot = self._keys.get(key)
        if slot is None:
            slot = min(range(len(self._slots)), key=lambda s: self._used[s])
            self._keys = {k: s for k, s in self._keys.items() if s != slot}
            self._keys[key] = slot
        self._used[slot] = self._clock
        return slot

    def _decode(self, slot: int, tokens: Sequence[int], pos: int, flags: list[bool]) -> None:
        batch = self._batch
        for i, token in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = pos + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = slot
            batch.logits[i] = flags[i]
        batch.n_tokens = len(tokens)
        code = llama_cpp.llama_decode(self._ctx, batch)
        if code == _NO_KV_SLOT:  # the other slots fill the cache: drop them and retry once
            for other in range(len(self._slots)):
                if other != slot:
                    llama_cpp.llama_memory_seq_rm(self._memory, other, 0, -1)
                    self._slots[other] = []
            code = llama_cpp.llama_decode(self._ctx, batch)
        if code != 0:
            llama_cpp.llama_memory_seq_rm(self._memory, slot, pos, -1)
            raise ModelError(f"{self.path.name}: llama_decode failed with code {code}")
        self.forwarded += len(tokens)

    def _logits(self, batch_index: int) -> np.ndarray:
        pointer = llama_cpp.llama_get_logits_ith(self._ctx, batch_index)
        if not pointer:
            raise ModelError(f"{self.path.name}: no logits at batch position {batch_index}")
        return np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))

    def clear(self) -> None:
        """Forget every cached sequence."""
        llama_cpp.llama_memory_clear(self._memory, True)
        self._slots = [[] for _ in self._slots]
        self._keys = {}

    def close(self) -> None:
        """Free the context and the model now (idempotent)."""
        if self._batch is not None:
            llama_cpp.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx:
            llama_cpp.llama_free(self._ctx)
        self._ctx = None
        if self._model:
            llama_cpp.llama_model_free(self._model)
        self._model = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # at interpreter exit the bindings may be gone
            pass


def _load_model(path: Path, gpu_layers: int):  # noqa: ANN202 - a ctypes pointer
    if not path.is_file():
        raise ModelMissingError(f"no GGUF file at {path}; is the model provisioned?")
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic != b"GGUF":
        raise ModelError(f"{path} is not a GGUF file (it starts with {magic!r})")
    params = llama_cpp.llama_model_default_params()
    params.n_gpu_layers = gpu_layers
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    if not model:
        raise ModelError(
            f"llama.cpp cannot load {path}: the file is damaged or truncated "
            f"(`rtt models fetch` verifies and reinstalls the pinned models)"
        )
    return model
