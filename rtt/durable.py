"""Durable file creation: what makes a new or renamed file survive a power cut.

`fsync` on a file makes its bytes durable, not its name: the directory entry of
a file just created (or renamed) lives in the directory, which needs its own
fsync. Used by the server's journal and `rtt batch`'s outputs.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["fsync_dir", "make_dirs"]


def fsync_dir(path: Path) -> None:
    """fsync a directory, so that the names created or renamed in it are on disk."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on a directory; nothing more can be done
        pass
    finally:
        os.close(fd)


def make_dirs(path: Path) -> None:
    """`mkdir -p`, with each newly created directory's name made durable in its parent."""
    missing = []
    p = Path(path)
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            continue
        fsync_dir(d.parent)
