"""Hand-off at exit: pending events go to disk and a detached sender process delivers them.

A short-lived program (a command-line tool) must not wait for the collector when it exits. The
exit handler (:mod:`otel_telemetry.exit`) takes the events still pending, writes them with
:func:`write` into a new directory of the *hand-off area* and, unless a sender is already at
work there, starts :mod:`otel_telemetry.handoff_sender` as a detached process (its own session,
no terminal, standard streams on ``/dev/null``) with :func:`spawn_sender`. The program then
exits at once; the sender encodes, delivers and deletes, within a bounded lifetime.

Layout of the area ``<state dir>/handoff/<destination key>/`` (one area per destination, so a
sender never sends an event somewhere else than its program would have)::

    sender.lock            flock held by the live sender (at most one sender per area)
    sender.log             what senders dropped and why (bounded)
    <pid>-<12 hex>/        one per exiting program, the spool's directory format:
        lock               flock held while the directory is written or delivered
        events.raw         the events as queued, with the settings to encode them
        000000000001.seg   ... once a sender encoded them (user ids hashed), then ``ack``

Only the standard library is imported here: this runs in the exit path of every program.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import time
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: The job of a detached sender, as JSON in its environment (never on disk: it holds headers).
JOB_ENV = "OTEL_TELEMETRY_HANDOFF_JOB"
RAW_NAME = "events.raw"
SENDER_LOCK = "sender.lock"
SENDER_LOG = "sender.log"
HANDOFF_DIR = "handoff"
#: Version of ``events.raw``: ``(FORMAT, settings, events, requests)``.
FORMAT = 1

#: A prepared request handed off with its record count (a batch that was in flight at exit).
Prepared = tuple[bytes, int]


def destination_key(exporter: Mapping[str, Any]) -> str:
    """A short stable name for where events go (endpoint, protocol, headers, TLS files)."""
    identity = {
        key: exporter.get(key)
        for key in (
            "protocol",
            "endpoint",
            "headers",
            "insecure",
            "certificate_file",
            "client_key_file",
            "client_certificate_file",
        )
    }
    data = repr(
        sorted(
            (key, repr(sorted(value.items()) if isinstance(value, dict) else value))
            for key, value in identity.items()
        )
    ).encode()
    # two checksums (64 bits): a hash module would cost this exit path milliseconds to import
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


def area(root: Path, exporter: Mapping[str, Any]) -> Path:
    """The hand-off area of one destination under ``root`` (``<state dir>/handoff``)."""
    return root / destination_key(exporter)


def portable(value: Any) -> Any:
    """``value`` if ``marshal`` can store it, else its attribute form (as the mapper would make it)."""
    try:
        marshal.dumps(value)
        return value
    except ValueError:
        pass
    from .values import flatten_into, thaw

    if isinstance(value, tuple):  # a frozen property group: (*keys, *values)
        flat: dict[str, Any] = {}
        flatten_into(flat, "", thaw(value))
        return (*flat, *flat.values())
    return str(value)


def portable_event(event: Sequence[Any]) -> tuple[Any, ...]:
    """One queued event in a form ``marshal`` accepts (arbitrary objects become attributes)."""
    try:
        marshal.dumps(tuple(event))
        return tuple(event)
    except ValueError:
        return tuple(portable(field) for field in event)


def write(
    area_dir: Path,
    settings: Mapping[str, Any],
    events: Sequence[Sequence[Any]],
    prepared: Sequence[Prepared] = (),
) -> Path:
    """Store ``events`` (and already encoded requests) in a new directory of ``area_dir``.

    The directory is created locked and renamed into place complete, so a sender never reads a
    half-written one; the lock is released on return. Raises OSError if the disk refuses.
    """
    from .spool.lockdir import LOCK_NAME, create_locked

    data = marshal.dumps((FORMAT, dict(settings), [portable_event(e) for e in events], list(prepared)))
    path, lock = create_locked(area_dir, fsync=False)
    try:
        fd = os.open(path / RAW_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    except OSError:
        for name in (RAW_NAME, LOCK_NAME):
            with contextlib.suppress(OSError):
                os.unlink(path / name)
        with contextlib.suppress(OSError):
            os.rmdir(path)
        raise
    finally:
        os.close(lock)  # the directory is complete: a sender may take it
    return path


def read(path: Path) -> tuple[dict[str, Any], list[tuple[Any, ...]], list[Prepared]]:
    """The settings, events and prepared requests of an ``events.raw`` file (ValueError if damaged)."""
    data = path.read_bytes()
    try:
        version, settings, events, prepared = marshal.loads(data)
    except (EOFError, TypeError, ValueError) as exc:
        raise ValueError(f"unreadable hand-off file {path}: {exc}") from exc
    if version != FORMAT:
        raise ValueError(f"hand-off file {path} has format {version}, expected {FORMAT}")
    return settings, events, prepared


def sender_running(area_dir: Path) -> bool:
    """True if a detached sender holds this area's lock (it will pick up new directories)."""
    from .spool.lockdir import try_lock

    if not area_dir.is_dir():
        return False
    fd = try_lock(area_dir / SENDER_LOCK, create=True)
    if fd is None:
        return True
    os.close(fd)  # closing drops the lock we took
    return False


def live_senders(root: Path) -> list[int]:
    """Pids of the senders at work in the areas under ``root`` (each writes its pid in its lock)."""
    pids = []
    for lock in sorted(root.glob(f"*/{SENDER_LOCK}")):
        if sender_running(lock.parent):
            with contextlib.suppress(OSError, ValueError):
                pids.append(int(lock.read_text().strip()))
    return pids


def has_work(area_dir: Path) -> bool:
    """True if the area holds directories of events (left by earlier programs or just written)."""
    try:
        with os.scandir(area_dir) as entries:
            return any(
                entry.name[:1].isdigit() and os.path.exists(os.path.join(entry.path, "lock"))
                for entry in entries
            )
    except OSError:
        return False


def spawn_sender(job: Mapping[str, Any]) -> int | None:
    """Start a detached sender for ``job`` (:func:`._procfacts.spawn_python`); its pid, or None."""
    from ._procfacts import spawn_python

    env = dict(os.environ)
    env[JOB_ENV] = repr(dict(job))  # plain literals, read back with ast.literal_eval
    return spawn_python("otel_telemetry.handoff_sender", env)


def log_line(area_dir: Path, message: str, max_bytes: int = 64 * 1024) -> None:
    """Append ``message`` to the area's ``sender.log``, keeping its newest half when it grows large."""
    path = area_dir / SENDER_LOG
    line = f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')} pid={os.getpid()} {message}\n"
    with contextlib.suppress(OSError):
        if path.exists() and path.stat().st_size > max_bytes:
            tail = path.read_bytes()[-max_bytes // 2 :]
            path.write_bytes(tail[tail.find(b"\n") + 1 :])
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line)
