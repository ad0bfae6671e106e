"""Prometheus metrics of one server, in its own registry (several servers can share a process)."""

from __future__ import annotations

import platform
from importlib import metadata

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from pipeline.events import Event, SourceCommit, TargetCommit
from pipeline.stats import PipelineStats

__all__ = ["CONTENT_TYPE_LATEST", "ServerMetrics"]

_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0)


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(
            registry=r
        )  # process_cpu_seconds_total, process_resident_memory_bytes, fds
        PlatformCollector(registry=r)  # python_info
        Gauge(
            "rtt_build_info",
            "the running rtt: version and Python",
            ["version", "python"],
            registry=r,
        ).labels(_version(), platform.python_version()).set(1)
        self.sessions = Gauge(
            "rtt_sessions", "open websocket sessions by role", ["role"], registry=r
        )
        self.rooms = Gauge("rtt_rooms", "rooms held in memory", registry=r)
        self.listeners = Gauge("rtt_listeners", "listeners joined to rooms", registry=r)
        self.audio_seconds = Counter("rtt_audio_seconds", "seconds of audio received", registry=r)
        self.audio_messages = Counter(
            "rtt_audio_messages", "binary audio messages received", registry=r
        )
        self.journal_failures = Counter(
            "rtt_journal_failures",
            "streams ended because their journal could not be written",
            registry=r,
        )
        self.journal_ok = Gauge(
            "rtt_journal_healthy", "1 while the last journal write succeeded, else 0", registry=r
        )
        self.journal_ok.set(1)
        self.events = Counter(
            "rtt_events", "events sent out of room pipelines", ["type"], registry=r
        )
        self.coalesced = Counter(
            "rtt_coalesced_partials",
            "stale partials replaced or dropped in listener queues",
            registry=r,
        )
        self.overflows = Counter(
            "rtt_listener_catchups",
            "slow listeners switched to catching up from the journal",
            registry=r,
        )
        self.errors = Counter("rtt_errors", "errors sent to clients, by code", ["code"], registry=r)
        self.latency = Histogram(
            "rtt_stage_latency_seconds",
            "stream time from the end of the source audio an event covers to its emission, by stage",
            ["stage", "kind"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.busy = Counter(
            "rtt_stage_busy_seconds",
            "compute time spent in each pipeline stage",
            ["stage"],
            registry=r,
        )

    def observe(self, event: Event) -> None:
        """An event leaving a room's pipeline."""
        name = type(event).__name__
        self.events.labels(name).inc()
        if event.emitted is None:
            return
        if isinstance(event, SourceCommit):
            self.latency.labels("asr", "commit").observe(max(0.0, event.emitted - event.end))
        elif isinstance(event, TargetCommit):
            self.latency.labels("mt", "commit").observe(max(0.0, event.emitted - event.end))

    def add_stats(self, stats: PipelineStats) -> None:
        """A room's pipeline has ended: count its compute time per stage."""
        for stage, seconds in stats.busy.items():
            self.busy.labels(stage).inc(seconds)

    def render(self, journal_healthy: bool = True) -> bytes:
        self.journal_ok.set(1 if journal_healthy else 0)
        return generate_latest(self.registry)


def _version() -> str:
    try:
        return metadata.version("rtt")
    except metadata.PackageNotFoundError:
        return "unknown"
