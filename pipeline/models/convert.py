"""GGUF → CTranslate2 int8, in a child interpreter.

transformers dequantises the GGUF into a float32 model, which is saved as a
temporary Hugging Face folder and converted by CTranslate2's
`TransformersConverter`. The runtime tokenises with the `tokenizers` library
only, so the fast tokenizer's `tokenizer.json` is copied next to the model.

The work runs in `python -m pipeline.models.convert GGUF OUT` so that torch and
transformers never load into the caller and their several GB of memory go back
to the OS. Only the child (`main`) imports them. It speaks to the parent through
stdout lines: `@@step DONE TOTAL LABEL` and `@@missing MOD,MOD`.
"""

from __future__ import annotations

import argparse
import errno
import gc
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

from ..errors import ProvisioningError

__all__ = [
    "CONVERT_MODULES",
    "INSTALL_HINT",
    "StepFn",
    "SubprocessConverter",
    "main",
    "missing_modules",
]

CONVERT_MODULES = ("torch", "transformers", "gguf", "accelerate", "ctranslate2")
INSTALL_HINT = "pip install 'rtt[convert]'"
# Small files the runtime or a reader may want beside the model (chat template, special tokens).
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "generation_config.json",
)
_MISSING_EXIT = 3
_STEPS = 4

StepFn = Callable[[int, int, str], None]


def missing_modules(modules: tuple[str, ...] = CONVERT_MODULES) -> list[str]:
    """Modules that cannot be imported; found without importing them (torch takes seconds)."""
    return [name for name in modules if find_spec(name) is None]


def _missing_error(missing: list[str]) -> ProvisioningError:
    return ProvisioningError(
        f"converting a GGUF model needs {', '.join(missing)}, which is not installed: run {INSTALL_HINT}"
    )


class SubprocessConverter:
    """Converts a GGUF file to a CTranslate2 folder by running this module as a child process."""

    def __init__(self, quantization: str = "int8", python: str = sys.executable) -> None:
        self.quantization = quantization
        self.python = python

    def check(self) -> None:
        """Fail before any download when the conversion could not run."""
        missing = missing_modules()
        if missing:
            raise _missing_error(missing)

    def convert(self, gguf: Path, out: Path, on_step: StepFn) -> None:
        log = gguf.with_suffix(".convert.log")
        cmd = [
            self.python,
            "-m",
            __name__,
            str(gguf),
            str(out),
            "--quantization",
            self.quantization,
        ]
        missing: list[str] = []
        with open(log, "wb") as err:  # a file, not a pipe: a full stderr pipe would block the child
            proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=_child_env()
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                fields = line.split(maxsplit=3)
                if fields[:1] == ["@@step"] and len(fields) == 4:
                    on_step(int(fields[1]), int(fields[2]), fields[3].strip())
                elif fields[:1] == ["@@missing"] and len(fields) > 1:
                    missing = fields[1].split(",")
            code = proc.wait()
        if code == _MISSING_EXIT and missing:
            raise _missing_error(missing)
        if code != 0:
            raise _failure(code, log.read_text(errors="replace"), gguf)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # so `-m pipeline...` resolves from any cwd
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error", TQDM_DISABLE="1")
    return env


def _failure(code: int, log: str, gguf: Path) -> Exception:
    if "No space left on device" in log:  # let the caller report it like any other ENOSPC
        return OSError(errno.ENOSPC, "No space left on device (while converting)")
    if code < 0:
        gib = 1 + 9 * gguf.stat().st_size / 2**30  # measured: 9.7 GB peak for the 1.1 GB 1.5B file
        return ProvisioningError(
            f"converting {gguf.name} was killed by signal {-code}; most likely out of memory: "
            f"it needs about {gib:.0f} GiB of RAM. Close other programs and retry"
        )
    lines = [line for line in log.splitlines() if line.strip()]
    last = lines[-1] if lines else f"exit status {code}"
    return ProvisioningError(f"converting {gguf.name} to CTranslate2 failed: {last}")


# --- the child ------------------------------------------------------------------------


def _step(done: int, label: str) -> None:
    print(f"@@step {done} {_STEPS} {label}", flush=True)


def _load(gguf: Path):  # noqa: ANN202 - torch types exist only in the child
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:  # transformers 5.x: ask for a plain dense model up front
        from transformers import GgufConfig

        extra = {"quantization_config": GgufConfig(dequantize=True)}
    except ImportError:  # 4.x always dequantises GGUF
        extra = {}
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32, **extra
    )
    _clear_quantizer(model)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    return model, tokenizer


def _clear_quantizer(model) -> None:  # noqa: ANN001
    """Drop transformers 5.x's "quantized" flag, which makes `save_pretrained` refuse.

    Architectures outside transformers' packed-GGUF path (qwen2, llama) are
    dequantised by the legacy loader but still keep `hf_quantizer` (a
    `GgufHfQuantizer`, never serialisable), `is_quantized` and
    `config.quantization_config`. The weights are dense float32 then, so clearing
    those is all `save_pretrained` needs.
    """
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is None:
        return
    packed = [
        name for name, module in model.named_modules() if type(module).__name__ == "GgufLinear"
    ]
    if packed:
        raise RuntimeError(
            f"GGUF weights stayed packed ({packed[0]}, ...); cannot save a dense copy"
        )
    quantizer.remove_quantization_config(model)  # hf_quantizer, quantization_config, is_quantized
    for module in model.modules():
        config = getattr(module, "config", None)
        if config is not None and hasattr(config, "_is_quantized"):
            del config._is_quantized


def convert(gguf: Path, out: Path, quantization: str = "int8") -> None:
    """Write a CTranslate2 model and `tokenizer.json` into `out` (run in the child only)."""
    import ctranslate2

    hf_dir = gguf.parent / f"{gguf.stem}.hf"
    try:
        _step(1, "loading GGUF")
        model, tokenizer = _load(gguf)
        _step(2, "saving float32 copy")
        model.save_pretrained(hf_dir)
        tokenizer.save_pretrained(hf_dir)
        del model
        gc.collect()
        _step(3, f"converting to {quantization}")
        ctranslate2.converters.TransformersConverter(str(hf_dir)).convert(
            str(out), quantization=quantization, force=True
        )
        for name in _TOKENIZER_FILES:
            if (hf_dir / name).is_file():
                shutil.copyfile(hf_dir / name, out / name)
        _step(4, "done")
    finally:
        shutil.rmtree(hf_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.models.convert", description=__doc__)
    parser.add_argument("gguf", type=Path, help="the .gguf file")
    parser.add_argument("out", type=Path, help="the CTranslate2 model folder to write")
    parser.add_argument("--quantization", default="int8")
    args = parser.parse_args(argv)
    missing = missing_modules()
    if missing:
        print(f"@@missing {','.join(missing)}", flush=True)
        return _MISSING_EXIT
    convert(args.gguf, args.out, args.quantization)
    if not (args.out / "tokenizer.json").is_file():
        print("error: the GGUF carried no fast tokenizer (tokenizer.json)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
