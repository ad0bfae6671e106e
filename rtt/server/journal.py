"""The commit journal: one JSONL file per room channel or plain stream, fsynced per commit.

Every durable frame (commits, errors, `end`) is appended as one line, the exact
JSON text the listeners get, before it is sent to anyone. A listener that comes
back with `since` is served from here, also after a server restart, which is
also why a room's `seq` continues from the last line on disk.

Each file has an epoch (`journal_epoch`, on every line): a new file gets a new
one, so a client whose `since` came from a file that is gone (pruned, another
`--journal`, a lost volume) can be told, instead of waiting for seqs that will
never come again.

- A crash can leave a torn last line (also one cut inside a UTF-8 character):
  opening a file truncates it to its last whole line; a failed append is cut
  back the same way. New files and folders are fsynced into their directory.
- Replay reads in pages: the first line after a seq is found by binary search
  over byte offsets (seqs increase along the file), so memory stays bounded
  whatever the file's size.
- Any OS error (a full disk, no file descriptors left, an unwritable folder)
  is a `JournalError`, which ends the room's stream, never the server.

Layout: `<root>/rooms/<room>/<channel>.jsonl` and `<root>/streams/<stream>.jsonl`.
File I/O runs on worker threads; appends to one file are serialised by the
caller (one broadcaster per room).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import RttError

from ..durable import fsync_dir, make_dirs

__all__ = ["PAGE_BYTES", "Journal", "JournalError", "JournalFile", "Retention"]

PAGE_BYTES = 1 << 18  # what one replay read returns at most (a line longer than this: that line)
_TAIL = 1 << 16  # how far back from the end the last whole line is looked for first
_SCAN = 1 << 16  # below this window, the binary search turns into a forward scan


class JournalError(RttError):
    """The journal cannot be read or written (full disk, no file descriptors, permissions)."""

    code = "journal_failed"


@dataclass(frozen=True, slots=True)
class Retention:
    max_age: float = 7 * 86400.0  # seconds since a file was last written
    max_bytes: int = 1 << 30  # all journals together; the oldest files go first


def _seq_of(line: bytes) -> int | None:
    try:
        return int(json.loads(line)["seq"])
    except (ValueError, KeyError, TypeError, RecursionError):
        return None  # a torn or foreign line


class JournalFile:
    """One append-only JSONL file of frames with increasing `seq`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.epoch = ""  # set by open()
        self._fd: int | None = None

    # -- opening -----------------------------------------------------------------------
    def open(self) -> int:
        """Repair a torn tail; the seq of the last line (0: none) and set `epoch` (blocking)."""
        try:
            with self.path.open("r+b") as f:
                last = self._recover(f)
        except FileNotFoundError:
            last = None
        except OSError as exc:
            raise JournalError(f"cannot open the journal {self.path}: {exc}") from exc
        self.epoch = _epoch_of(last) or secrets.token_hex(4)
        return (_seq_of(last) or 0) if last else 0

    last_seq = open  # the name it had before epochs

    def _recover(self, f) -> bytes | None:
        """Truncate after the last newline; the last whole line, if any."""
        size = f.seek(0, os.SEEK_END)
        start = size
        while start > 0:
            start = max(0, start - _TAIL)
            f.seek(start)
            chunk = f.read(size - start)
            cut = chunk.rfind(b"\n")
            if cut < 0:
                continue
            end = start + cut + 1
            if end < size:
                f.truncate(end)  # a torn last line: its frame was never sent to anyone
                os.fsync(f.fileno())
            prev = chunk.rfind(b"\n", 0, cut)
            if prev >= 0 or start == 0:
                return chunk[prev + 1 : cut]
            f.seek(0)
            return f.read(end - 1).rsplit(b"\n", 1)[-1]  # one very long last line
        if size:
            f.truncate(0)
            os.fsync(f.fileno())
        return None

    # -- appending -----------------------------------------------------------------------
    def append(self, line: str) -> None:
        """Write one frame and fsync it (blocking: call on a thread); JournalError on failure."""
        data = (line + "\n").encode("utf-8")
        try:
            if self._fd is None:
                self._create()
            size = os.fstat(self._fd).st_size
            try:
                self._write_all(data)
                os.fsync(self._fd)
            except OSError:
                os.ftruncate(self._fd, size)  # no torn line left behind (best effort)
                raise
        except OSError as exc:
            raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc

    def _create(self) -> None:
        make_dirs(self.path.parent)
        existed = self.path.exists()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if not existed:
            fsync_dir(self.path.parent)

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    # -- reading ---------------------------------------------------------------------------
    def read_since(self, seq: int, max_bytes: int = PAGE_BYTES) -> list[tuple[int, str]]:
        """The whole lines with a seq above `seq`, as (seq, text), up to about `max_bytes`
        (blocking). Call again from the last seq returned for the next page."""
        try:
            with self.path.open("rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(_find(f, size, seq))
                return _page(f, seq, max_bytes)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise JournalError(f"cannot read the journal {self.path}: {exc}") from exc

    def close(self) -> None:
        """Never raises: every line was fsynced when it was written."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError:
                pass


def _epoch_of(line: bytes | None) -> str | None:
    if not line:
        return None
    try:
        epoch = json.loads(line).get("journal_epoch")
    except (ValueError, AttributeError, RecursionError):
        return None
    return epoch if isinstance(epoch, str) and epoch else None


def _line_at(f, offset: int) -> tuple[int, bytes] | None:
    """The first whole line starting at or after `offset`: (its start, its bytes)."""
    f.seek(offset)
    if offset > 0:
        f.seek(offset - 1)
        f.readline()  # the rest of the line `offset` falls in
    start = f.tell()
    line = f.readline()
    return (start, line) if line.endswith(b"\n") else None


def _find(f, size: int, seq: int) -> int:
    """A line start at or before the first line with a seq above `seq` (binary search)."""
    lo, hi = 0, size  # lines before lo have seq <= `seq`; the first above it starts <= hi
    while hi - lo > _SCAN:
        found = _line_at(f, (lo + hi) // 2)
        if found is None or found[0] >= hi:
            break
        start, line = found
        line_seq = _seq_of(line)
        if line_seq is None:
            break  # a foreign line: scan from lo
        if line_seq <= seq:
            lo = start + len(line)
        else:
            hi = start
    return lo


def _page(f, seq: int, max_bytes: int) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    used = 0
    for line in f:
        if not line.endswith(b"\n"):
            break  # being written right now
        line_seq = _seq_of(line)
        if line_seq is None or line_seq <= seq:
            continue
        try:
            out.append((line_seq, line[:-1].decode("utf-8")))
        except UnicodeDecodeError:
            continue
        used += len(line)
        if used >= max_bytes:
            break
    return out


class Journal:
    """The folder of journal files, with retention by age and size, and its health."""

    def __init__(self, root: Path, retention: Retention = Retention()) -> None:
        self.root = Path(root)
        self.retention = retention
        self.failure: str | None = None  # the last error, until a write succeeds again
        self.last_failure: tuple[float, str] | None = None  # (time.time(), error), kept
        self.failures = 0

    def room(self, room: str, channel: str) -> JournalFile:
        return JournalFile(self.root / "rooms" / room / f"{channel}.jsonl")

    def stream(self, stream: str) -> JournalFile:
        return JournalFile(self.root / "streams" / f"{stream}.jsonl")

    async def open(self, file: JournalFile) -> int:
        return await self._watch(asyncio.to_thread(file.open))

    async def append(self, file: JournalFile, line: str) -> None:
        await self._watch(asyncio.to_thread(file.append, line))
        self.failure = None

    async def read_since(self, file: JournalFile, seq: int) -> list[tuple[int, str]]:
        return await self._watch(asyncio.to_thread(file.read_since, seq))

    async def _watch(self, work):
        try:
            return await work
        except JournalError as exc:
            self.failure, self.failures = str(exc), self.failures + 1
            self.last_failure = (time.time(), str(exc))
            raise

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
