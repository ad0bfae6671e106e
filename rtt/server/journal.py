"""The commit journal: one JSONL file per room channel or plain stream, fsynced per commit.

Every durable frame (commits, errors, `end`) is appended as one line, the exact
JSON text the listeners get, before it is sent to anyone. A listener that comes
back with `since` is served from here, also after a server restart, which is
also why a room's `seq` continues from the last line on disk.

Layout: `<root>/rooms/<room>/<channel>.jsonl` and `<root>/streams/<stream>.jsonl`.
File I/O runs on worker threads; appends to one file are serialised by the
caller (one broadcaster per room).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Journal", "JournalFile", "Retention"]


@dataclass(frozen=True, slots=True)
class Retention:
    max_age: float = 7 * 86400.0  # seconds since a file was last written
    max_bytes: int = 1 << 30  # all journals together; the oldest files go first


class JournalFile:
    """One append-only JSONL file of frames with increasing `seq`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle = None

    def last_seq(self) -> int:
        """The seq of the last whole line, 0 for a new file (blocking: call on a thread)."""
        try:
            with self.path.open("rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - 65536))
                tail = f.read()
        except FileNotFoundError:
            return 0
        for line in reversed(tail.split(b"\n")):
            try:
                return int(json.loads(line)["seq"])
            except (ValueError, KeyError, TypeError):
                continue
        return 0

    def append(self, line: str) -> None:
        """Write one frame and fsync it (blocking: call on a thread)."""
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("a", encoding="utf-8")
        self._handle.write(line + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def read_since(self, seq: int) -> list[tuple[int, str]]:
        """Every whole line with a seq above `seq`, as (seq, text) (blocking)."""
        try:
            data = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        out = []
        for line in data.split("\n"):
            if not line:
                continue
            try:
                line_seq = int(json.loads(line)["seq"])
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash
            if line_seq > seq:
                out.append((line_seq, line))
        return out

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class Journal:
    """The folder of journal files, with retention by age and size."""

    def __init__(self, root: Path, retention: Retention = Retention()) -> None:
        self.root = Path(root)
        self.retention = retention

    def room(self, room: str, channel: str) -> JournalFile:
        return JournalFile(self.root / "rooms" / room / f"{channel}.jsonl")

    def stream(self, stream: str) -> JournalFile:
        return JournalFile(self.root / "streams" / f"{stream}.jsonl")

    async def read_since(self, file: JournalFile, seq: int) -> list[tuple[int, str]]:
        return await asyncio.to_thread(file.read_since, seq)

    def prune(self, *, keep: set[Path] = frozenset(), now: float | None = None) -> list[Path]:
        """Delete files past the age limit, then the oldest until under the size limit.

        Files in `keep` (open rooms) are never deleted. Returns what was deleted.
        """
        now = time.time() if now is None else now
        files = []
        for path in self.root.glob("**/*.jsonl"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            files.append((stat.st_mtime, stat.st_size, path))
        files.sort()
        total = sum(size for _, size, _ in files)
        deleted = []
        for mtime, size, path in files:
            if path in keep:
                continue
            if now - mtime > self.retention.max_age or total > self.retention.max_bytes:
                path.unlink(missing_ok=True)
                total -= size
                deleted.append(path)
        return deleted
