"""`rtt serve`: the websocket server, its captions page, health and metrics."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import ipaddress
import logging
import os
import signal
import sys
import tomllib
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from pipeline.engine import EngineRegistry
from pipeline.errors import ConfigError
from pipeline.factory import load_engines, resolved
from pipeline.mt.runtime import describe_runtime

from .server import Limits, Retention, RttServer, ServerConfig
from .server.credentials import read_token_file
from .server.quotas import ApiLimits
from .settings import add_pipeline_options, config_from_args, fit_machine

__all__ = ["add_serve_parser", "default_journal", "run_serve"]

EPILOG = """\
examples:
  rtt serve                                   on 127.0.0.1:8765; open http://127.0.0.1:8765/
  rtt serve --host 0.0.0.0 --token-file keys  reachable from the network (a token is then required)
  rtt serve --to de,es --allow-origin https://captions.example.org --trusted-proxy 127.0.0.1
  rtt serve --ray auto                        the same server on a local Ray cluster (rtt[ray])
  rtt serve --ray 10.0.0.5:6379 --replicas 2  on a running Ray cluster (README: "Running on Ray")

Clients: `rtt client`, the page at / (with a token: /#token=T), or any websocket client speaking
docs/protocol.md at /ws; OpenAI clients at /v1 (README: "Use it from OpenAI clients").
Also served: /healthz, /metrics (Prometheus).
SIGTERM or Ctrl-C: every room finishes what was said and sends `end` (--shutdown-timeout), then
clients get 1001 and reconnect to the next server."""

_LIMITS = Limits()
_RETENTION = Retention()
_API = ApiLimits()


def default_journal() -> Path:
    """rtt's state directory: $RTT_STATE, else $XDG_STATE_HOME/rtt, else ~/.local/state/rtt."""
    state = os.environ.get("RTT_STATE") or os.path.join(
        os.environ.get("XDG_STATE_HOME") or "~/.local/state", "rtt"
    )
    return Path(state).expanduser() / "journal"


def add_serve_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve streams, rooms and the captions page over websockets",
        description="Run the websocket server: clients stream audio and get live transcripts and translations; "
        "rooms fan one speaker out to many listeners in several languages. Models load once and are shared.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s = p.add_argument_group("server")
    s.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: %(default)s; any other than loopback needs --token)",
    )
    s.add_argument(
        "--port", type=int, default=8765, help="port (default: %(default)s; 0 picks a free one)"
    )
    s.add_argument(
        "--token",
        help="access token for /ws and /metrics (default: $RTT_TOKEN, else none; on the command "
        "line it shows in `ps`: prefer $RTT_TOKEN or --token-file)",
    )
    s.add_argument(
        "--token-file",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="file of access tokens, one a line, '#' comments (repeatable; with $RTT_TOKEN)",
    )
    s.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="browser origin allowed besides the server's own address, e.g. https://example.org "
        "(needed behind a reverse proxy with a host name); '*' for any (repeatable)",
    )
    s.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDR",
        help="address or network of a reverse proxy whose X-Forwarded-For names the client "
        "(for the per-address limits; repeatable)",
    )
    s.add_argument(
        "--shutdown-timeout",
        type=float,
        default=10.0,
        help="seconds rooms get to finish and send `end` on SIGTERM/Ctrl-C (default: %(default)g)",
    )
    s.add_argument(
        "--journal", type=Path, help=f"folder of the commit journal (default: {default_journal()})"
    )
    s.add_argument(
        "--journal-days",
        type=float,
        default=_RETENTION.max_age / 86400,
        help="delete journal files older than this (default: %(default)g days)",
    )
    s.add_argument(
        "--journal-mb",
        type=float,
        default=_RETENTION.max_bytes / 2**20,
        help="keep the journal under this size, oldest files first (default: %(default)g MiB)",
    )
    c = p.add_argument_group("Ray (the `ray` extra: pip install 'rtt[ray]')")
    c.add_argument(
        "--ray",
        metavar="auto|ADDRESS",
        help="serve on a Ray cluster: each room an actor that Ray restarts from its journal, "
        "the server a Ray Serve deployment (same protocol, page and /v1). auto: start a local "
        "cluster on 127.0.0.1; ADDRESS: join a running one (`ray start --head` prints it). "
        "--journal must then be reachable from every node",
    )
    c.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="with --ray: ingress replicas behind Serve's proxy (default: %(default)s)",
    )
    lim = p.add_argument_group("limits")
    lim.add_argument(
        "--max-sessions",
        type=int,
        default=_LIMITS.max_sessions,
        help="open websocket sessions (default: %(default)s)",
    )
    lim.add_argument(
        "--max-rooms",
        type=int,
        default=_LIMITS.max_rooms,
        help="rooms and plain streams at once (default: %(default)s)",
    )
    lim.add_argument(
        "--max-listeners",
        type=int,
        default=_LIMITS.max_listeners,
        help="listeners per room (default: %(default)s)",
    )
    lim.add_argument(
        "--max-languages",
        type=int,
        default=_LIMITS.max_languages,
        help="translation languages per room (default: %(default)s)",
    )
    lim.add_argument(
        "--outbox",
        type=int,
        default=_LIMITS.outbox,
        help="frames queued per listener before it is served from the journal (default: %(default)s)",
    )
    lim.add_argument(
        "--idle-timeout",
        type=float,
        default=_LIMITS.idle_timeout,
        help="seconds a speaker may send nothing (default: %(default)g)",
    )
    lim.add_argument(
        "--start-timeout",
        type=float,
        default=_LIMITS.start_timeout,
        help="seconds a new connection has to send start or join (default: %(default)g)",
    )
    lim.add_argument(
        "--listener-idle",
        type=float,
        default=_LIMITS.listener_idle,
        help="seconds a listener may wait in a room without a speaker (default: %(default)g)",
    )
    lim.add_argument(
        "--max-per-address",
        type=int,
        default=_LIMITS.per_address,
        help="open sessions per client address (default: %(default)s)",
    )
    lim.add_argument(
        "--rooms-per-address",
        type=int,
        default=_LIMITS.rooms_per_address,
        help="rooms and streams one client address may open (default: %(default)s)",
    )
    lim.add_argument(
        "--max-message",
        type=int,
        default=_LIMITS.max_message,
        help="largest websocket message in bytes (default: %(default)s)",
    )
    api = p.add_argument_group("OpenAI-compatible API (/v1) and per-key limits")
    api.add_argument(
        "--file-jobs",
        type=int,
        default=_API.file_jobs,
        help="uploaded files processed at once; live rooms keep the rest (default: %(default)s)",
    )
    api.add_argument(
        "--max-upload-mb",
        type=float,
        default=_API.max_upload_mb,
        help="largest upload in MiB (default: %(default)g)",
    )
    api.add_argument(
        "--max-upload-seconds",
        type=float,
        default=_API.max_seconds,
        help="longest uploaded audio in seconds (default: %(default)g)",
    )
    api.add_argument(
        "--key-streams",
        type=int,
        default=_API.streams,
        help="streams one key may hold at once: websocket sessions and /v1 requests "
        "(in memory; 0: no limit; default: %(default)s)",
    )
    api.add_argument(
        "--key-audio-per-hour",
        type=float,
        default=_API.audio_per_hour,
        help="seconds of audio one key may send per sliding hour, /v1 files and websocket "
        "speakers together (in memory; 0: no limit; default: %(default)g)",
    )
    add_pipeline_options(p, to_default="the languages each client asks for")
    p.add_argument("-v", "--verbose", action="store_true", help="log connections and errors")
    p.set_defaults(func=run_serve)


def server_config_from_args(args: argparse.Namespace) -> ServerConfig:
    pipeline = config_from_args(args, realtime=True)
    if args.to is None:  # a server translates into what each client asks for
        pipeline = dataclasses.replace(pipeline, mt=dataclasses.replace(pipeline.mt, targets=()))
    for name in (
        "max_sessions",
        "max_rooms",
        "max_listeners",
        "max_languages",
        "max_message",
        "outbox",
        "max_per_address",
        "rooms_per_address",
    ):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("idle_timeout", "start_timeout", "listener_idle", "shutdown_timeout"):
        if not getattr(args, name) > 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be positive")
    for proxy in args.trusted_proxy:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(f"--trusted-proxy {proxy}: not an address or network") from None
    limits = dataclasses.replace(
        _LIMITS,
        max_sessions=args.max_sessions,
        max_rooms=args.max_rooms,
        max_listeners=args.max_listeners,
        max_languages=args.max_languages,
        outbox=args.outbox,
        idle_timeout=args.idle_timeout,
        start_timeout=args.start_timeout,
        listener_idle=args.listener_idle,
        per_address=args.max_per_address,
        rooms_per_address=args.rooms_per_address,
        max_message=args.max_message,
    )
    retention = Retention(max_age=args.journal_days * 86400, max_bytes=int(args.journal_mb * 2**20))
    return ServerConfig(
        journal=args.journal or default_journal(),
        host=args.host,
        port=args.port,
        token=server_token(args),
        tokens=tuple(key for path in args.token_file for key in read_token_file(path)),
        allow_origins=tuple(args.allow_origin),
        trusted_proxies=tuple(args.trusted_proxy),
        shutdown_timeout=args.shutdown_timeout,
        retention=retention,
        limits=limits,
        pipeline=pipeline,
        api=api_limits(args),
    )


def api_limits(args: argparse.Namespace) -> ApiLimits:
    if args.file_jobs < 1 or args.max_upload_mb <= 0 or args.max_upload_seconds <= 0:
        raise ConfigError("--file-jobs, --max-upload-mb and --max-upload-seconds must be positive")
    if args.key_streams < 0 or args.key_audio_per_hour < 0:
        raise ConfigError("--key-streams and --key-audio-per-hour must be 0 (no limit) or more")
    return dataclasses.replace(
        _API,
        file_jobs=args.file_jobs,
        max_upload_mb=args.max_upload_mb,
        max_seconds=args.max_upload_seconds,
        streams=args.key_streams,
        audio_per_hour=args.key_audio_per_hour,
    )


def server_token(args: argparse.Namespace) -> str | None:
    """--token (with a warning: `ps` shows it), else $RTT_TOKEN."""
    if args.token:
        print(
            "rtt serve: warning: a token on the command line is visible to other users (ps); "
            "use $RTT_TOKEN or --token-file",
            file=sys.stderr,
        )
        return args.token
    return os.environ.get("RTT_TOKEN") or None


def run_serve(args: argparse.Namespace) -> int:
    config = server_config_from_args(args)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(message)s",
    )
    if args.ray:
        return _serve_on_ray(config, args.ray, args.replicas, getattr(args, "config", None))
    return asyncio.run(_serve(config))


def _serve_on_ray(
    config: ServerConfig, address: str, replicas: int, config_file: Path | None
) -> int:
    """The server on Ray; a clear error without the extra. The engines' deployments come
    from the `[cluster.asr]`/`[cluster.mt]` tables of --config (docs/cluster.md)."""
    try:
        from .cluster.engines import ClusterConfig
        from .cluster.serve import serve_on_ray
    except ImportError as exc:
        raise ConfigError(
            f"rtt serve --ray needs the ray extra ({exc.name or exc} is missing): "
            "pip install 'rtt[ray]'"
        ) from None
    RttServer(config, EngineRegistry())  # checks the token rule before Ray starts
    console = Console(file=sys.stderr)
    fitted, choice = fit_machine(
        config.pipeline, lambda line: console.print(f"[dim]{escape(line)}[/]")
    )
    console.print(f"[dim]{escape(choice.line())}[/]")
    table = tomllib.loads(Path(config_file).read_text()).get("cluster", {}) if config_file else {}
    return serve_on_ray(
        dataclasses.replace(config, pipeline=fitted),
        address,
        replicas=replicas,
        cluster=ClusterConfig.from_mapping(table),
    )


async def _serve(config: ServerConfig, registry: EngineRegistry | None = None) -> int:
    """Serve until SIGTERM or SIGINT, then shut down within `config.shutdown_timeout`."""
    console = Console(file=sys.stderr)
    registry = registry or EngineRegistry()
    try:
        RttServer(config, registry)  # checks the token rule before any model is read

        def say(line: str) -> None:
            console.print(f"[dim]{escape(line)}[/]", highlight=False, soft_wrap=True)

        say("loading models…")
        fitted, choice = await asyncio.to_thread(fit_machine, config.pipeline, say)
        config = dataclasses.replace(config, pipeline=fitted)
        server = RttServer(config, registry)
        await asyncio.to_thread(load_engines, registry, config.pipeline)
        pipeline = resolved(config.pipeline)
        say(describe_runtime(pipeline.mt, pipeline.compute))
        say(choice.line())
        async with server:
            address = f"{config.host}:{server.port}"
            console.print(
                f"rtt serving on [bold]http://{address}/[/] (websocket: ws://{address}/ws; OpenAI API: http://{address}/v1; journal: {config.journal})"
            )
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
            console.print(
                f"[dim]shutting down: rooms finish (at most {config.shutdown_timeout:g} s)…[/]"
            )
        return 0
    finally:
        await asyncio.to_thread(registry.close)
