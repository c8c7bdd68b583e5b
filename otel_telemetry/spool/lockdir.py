"""Creating a locked spool directory: the one step a program's exit takes (so: standard library only).

A directory is created under a dot-name, its ``lock`` file locked, then renamed into place, so
nobody adopts (reads) a directory that is still being set up.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "lock"


def create_locked(parent: Path, fsync: bool) -> tuple[Path, int]:
    """A new directory ``<parent>/<pid>-<12 hex>``, and the descriptor holding its lock."""
    parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        name = f"{os.getpid()}-{os.urandom(6).hex()}"
        staging = parent / f".{name}.new"
        staging.mkdir()
        try:
            fd = os.open(staging / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:  # swept away as stale by another process: try a new name
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            final = parent / name
            os.rename(staging, final)
        except OSError:
            os.close(fd)
            if attempt == 2:
                raise
            continue
        if fsync:
            fsync_dir(parent)
        return final, fd
    raise OSError(f"could not create a spool directory in {parent}")


def try_lock(path: Path, *, create: bool = False) -> int | None:
    """The descriptor of ``path`` with an exclusive ``flock`` taken, or None if another process
    holds it (or the file cannot be opened). Closing the descriptor releases the lock."""
    flags = os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
