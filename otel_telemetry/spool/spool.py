"""The spool: this process's directory, the orphans it adopts, and the ``rejected/`` area.

Write side (the pipeline's worker thread): :meth:`Spool.append` a frame per encoded batch,
applying the size cap and the overflow policy, then :meth:`Spool.commit` (fsync per policy).
Read side (the sender thread): :meth:`Spool.next_chunk`, export it, then :meth:`Spool.ack` or
:meth:`Spool.reject`. One condition variable ties the two: the sender sleeps until there is
enough to send, the writer (in ``block`` mode) until acknowledgements free space, ``flush()``
until the sender has passed a position.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from .._log import logger
from ..counters import Counters
from ..encoding import DEFAULT_MAX_REQUEST_BYTES
from ..settings import Overflow, SpoolSettings
from .frames import encode_frame
from .segments import DIR_NAME, LOCK_NAME, STAGING_NAME, Chunk, SpoolDir

REJECTED_DIR = "rejected"
#: Files kept in ``rejected/`` (each one batch and its reason); older ones are deleted.
MAX_REJECTED_FILES = 100
#: How often the sender looks for directories left by dead processes.
ADOPT_SCAN_S = 5.0
#: A half-created directory older than this was left by a process that died creating it.
STALE_STAGING_S = 60.0

Position = tuple[int, int]


#: ``interval``: at most one fsync per this many seconds (and at every segment roll and close).
FSYNC_INTERVAL_S = 1.0
#: How often the writer moves queued events to disk in ``async`` mode (the window a crash loses).
SPOOL_WRITE_DELAY_S = 0.1


class Spool:
    """Durable storage of encoded batches between the worker and the sender."""

    def __init__(
        self,
        settings: SpoolSettings,
        counters: Counters,
        overflow: Overflow,
        on_lost: Callable[[int], None] = lambda count: None,
    ) -> None:
        self.settings = settings
        self._counters = counters
        self._on_lost = on_lost
        self._overflow = overflow
        self._cond = threading.Condition()
        self._own: SpoolDir | None = None
        self._adopted: SpoolDir | None = None
        self._failed = False
        self._closing = False
        self._writer_done = False
        self._flush_requested = 0
        self._last_fsync = 0.0
        self._dirty = False
        self._next_scan = 0.0
        self._first_unsent_at: float | None = None
        self._logged_write_error = False

    # -- lifecycle ------------------------------------------------------------------------------

    def open(self) -> bool:
        """Create this process's directory (on the worker thread); False if the disk refuses."""
        with self._cond:
            if self._own is not None:
                return True
            if self._failed:
                return False
            try:
                self._own = SpoolDir.create(self.settings.directory, self.settings.fsync != "never")
            except OSError as exc:
                self._failed = True
                logger.error(
                    "otel-telemetry: cannot use spool directory %s (%s); delivering from memory only",
                    self.settings.directory,
                    exc,
                )
                return False
            self._next_scan = 0.0
            self._cond.notify_all()
            return True

    @property
    def path(self) -> Path | None:
        """This process's own spool directory, once opened."""
        own = self._own
        return own.path if own is not None else None

    def begin_close(self) -> None:
        """Shutdown started: send partial batches at once, stop waiting for space, stop adopting."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()

    def writer_finished(self) -> None:
        """The worker wrote its last batch: once the sender has read everything, it may stop."""
        with self._cond:
            self._closing = self._writer_done = True
            self._cond.notify_all()

    def close(self) -> None:
        """Release directories; what was not delivered stays on disk for the next process."""
        with self._cond:
            self._closing = self._writer_done = True
            for spool_dir in (self._own, self._adopted):
                if spool_dir is not None:
                    with contextlib.suppress(OSError):
                        if spool_dir.owned and self.settings.fsync != "never":
                            spool_dir.sync()
                    spool_dir.release()
            left = self._own.pending_records if self._own is not None else 0
            self._own = self._adopted = None
            self._cond.notify_all()
        if left:
            logger.info(
                "otel-telemetry: %d event(s) stay in the spool %s; the next process using it delivers them",
                left,
                self.settings.directory,
            )

    def after_fork(self) -> None:
        """In a child: the parent's directory is not ours; open a fresh one when needed."""
        for spool_dir in (self._own, self._adopted):
            if spool_dir is not None:
                spool_dir.forget_after_fork()
        self._cond = threading.Condition()
        self._own = self._adopted = None
        self._closing = self._writer_done = False
        self._flush_requested = 0
        self._first_unsent_at = None

    # -- write side -----------------------------------------------------------------------------

    def append(self, payload: bytes, records: int, block_timeout_s: float) -> tuple[str, str] | None:
        """Store one encoded batch; None on success, else ``(drop reason, detail)``."""
        frame = encode_frame(payload, records)
        with self._cond:
            own = self._own
            if own is None:
                return ("spool_error", "the spool is not open")
            if not self._make_room(own, len(frame), block_timeout_s):
                return (
                    "spool_full",
                    f"spool {own.path} reached its cap of {self.settings.max_bytes} bytes",
                )
            try:
                own.append(frame, records, self.settings.segment_bytes, self.settings.fsync != "never")
            except OSError as exc:
                return ("spool_error", f"cannot write to {own.path}: {exc}")
            self._dirty = True
            self._counters.spool(records)  # in flight -> spooled, under our lock with the write
            if self._first_unsent_at is None:
                self._first_unsent_at = time.monotonic()
            self._cond.notify_all()
        return None

    def _make_room(self, own: SpoolDir, size: int, block_timeout_s: float) -> bool:
        cap = self.settings.max_bytes
        if own.size + size <= cap:
            return True
        if self._overflow == "drop_oldest":
            while own.size + size > cap:
                evicted = own.evict_oldest()
                if evicted is None:
                    return False
                if evicted.records:
                    self._on_lost(evicted.records)
                    self._counters.drop(
                        "spool_full",
                        evicted.records,
                        f"oldest spooled events evicted from {own.path}",
                        "spool",
                    )
            return True
        if self._overflow == "block":
            deadline = time.monotonic() + block_timeout_s
            while own.size + size > cap and not self._closing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return own.size + size <= cap
        return False

    def commit(self) -> None:
        """Make appended frames durable as the fsync policy says (group commit: one per cycle)."""
        policy = self.settings.fsync
        if policy == "never":
            return
        with self._cond:
            own = self._own
            if own is None or not self._dirty:
                return
            now = time.monotonic()
            if policy == "interval" and now - self._last_fsync < FSYNC_INTERVAL_S:
                return
            try:
                own.sync()
            except OSError as exc:
                if not self._logged_write_error:
                    self._logged_write_error = True
                    logger.error("otel-telemetry: fsync of the spool failed: %s", exc)
            self._dirty = False
            self._last_fsync = now

    def write_position(self) -> Position:
        """Where the next frame of this process will go: a flush waits until delivery passes it."""
        with self._cond:
            own = self._own
            if own is None or not own.segments:
                return (0, 0)
            last = own.segments[-1]
            return (last.seq, last.size)

    # -- read side ------------------------------------------------------------------------------

    def _delivered(self, position: Position) -> bool:
        own = self._own
        if own is None:
            return True
        if not own.segments:
            return True
        first = own.segments[0]
        ack: Position = (own.ack_seq, own.ack_offset) if first.seq == own.ack_seq else (first.seq, 0)
        return ack >= position or (own.pending_records == 0 and own.drained)

    def wait_delivered(self, position: Position, timeout_s: float) -> bool:
        """Wait until everything before ``position`` was acknowledged (or dropped)."""
        deadline = time.monotonic() + max(timeout_s, 0.0)
        with self._cond:
            self._flush_requested += 1
            self._cond.notify_all()
            try:
                while not self._delivered(position):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._own is None:
                        return self._delivered(position)
                    self._cond.wait(remaining)
                return True
            finally:
                self._flush_requested -= 1

    def wait_for_work(self, batch: int, delay_s: float, timeout_s: float) -> None:
        """Sender: sleep until a full batch, an old enough partial one, a flush, or closing."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                now = time.monotonic()
                if self._ready(batch, delay_s, now) or now >= deadline:
                    return
                wait = deadline - now
                if self._first_unsent_at is not None:
                    wait = min(wait, max(self._first_unsent_at + delay_s - now, 0.001))
                self._cond.wait(wait)

    def _ready(self, batch: int, delay_s: float, now: float) -> bool:
        if self._adopted is not None or (now >= self._next_scan and not self._closing):
            return True
        own = self._own
        if own is None or own.pending_records <= 0:
            return self._writer_done
        return (
            self._closing
            or self._flush_requested > 0
            or own.pending_records >= batch
            or (self._first_unsent_at is not None and now - self._first_unsent_at >= delay_s)
        )

    def next_chunk(self, max_records: int, max_bytes: int = DEFAULT_MAX_REQUEST_BYTES) -> Chunk | None:
        """The next frames to export: from an adopted orphan first, then our own."""
        with self._cond:
            if self._adopted is None and time.monotonic() >= self._next_scan and not self._closing:
                self._next_scan = time.monotonic() + ADOPT_SCAN_S
                self._adopted = self._find_orphan()
            for source in (self._adopted, self._own):
                if source is None:
                    continue
                try:
                    chunk = source.read_chunk(max_records, max_bytes)
                except OSError as exc:
                    logger.error("otel-telemetry: cannot read spool segment in %s: %s", source.path, exc)
                    chunk = None
                    if source is self._adopted:
                        self._finish_adopted()
                    continue
                if chunk is not None:
                    return chunk
                if source is self._adopted:
                    self._finish_adopted()
                else:  # everything written so far is acknowledged
                    source.pending_records = 0
                    self._first_unsent_at = None
            return None

    def ack(self, chunk: Chunk) -> None:
        """The collector accepted ``chunk`` (or it was set aside): never send it again."""
        with self._cond:
            chunk.directory.ack(chunk)
            own = self._own
            if chunk.directory is own and own is not None:
                self._first_unsent_at = time.monotonic() if own.pending_records > 0 else None
            self._cond.notify_all()

    def report_damage(self, chunk: Chunk) -> int:
        """Log the unreadable spans of a chunk (they are skipped) and count their bytes; returns
        the events lost (the caller counts them as dropped)."""
        for damage in chunk.damage:
            self._counters.spool_corrupt_bytes += damage.end - damage.start
            logger.error(
                "otel-telemetry: skipping %d damaged byte(s) at offset %d of spool segment %s/%012d (%s); "
                "the events in them are lost, the rest is delivered",
                damage.end - damage.start,
                damage.start,
                chunk.directory.path,
                chunk.seq,
                damage.reason,
            )
        return sum(damage.records for damage in chunk.damage)

    def reject(self, chunk: Chunk, reason: str) -> None:
        """Move a permanently rejected batch into ``rejected/`` with its reason, then ack it."""
        area = self.settings.directory / REJECTED_DIR
        try:
            area.mkdir(parents=True, exist_ok=True)
            stem = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}"
            (area / f"{stem}.otlp").write_bytes(chunk.payload)
            (area / f"{stem}.txt").write_text(
                f"records: {chunk.records}\nreason: {reason}\nfrom: {chunk.directory.path}\n",
                encoding="utf-8",
            )
            kept = sorted(p for p in area.iterdir() if p.suffix == ".otlp")
            for old in kept[:-MAX_REJECTED_FILES]:
                old.unlink(missing_ok=True)
                old.with_suffix(".txt").unlink(missing_ok=True)
        except OSError as exc:
            logger.error("otel-telemetry: cannot keep a rejected batch in %s: %s", area, exc)
        self.ack(chunk)

    # -- orphans --------------------------------------------------------------------------------

    def _find_orphan(self) -> SpoolDir | None:
        own = self._own
        try:
            entries = list(os.scandir(self.settings.directory))
        except OSError:
            return None
        for entry in sorted(entries, key=lambda e: e.name):
            if not entry.is_dir() or entry.name == REJECTED_DIR:
                continue
            path = Path(entry.path)
            if own is not None and path == own.path:
                continue
            if STAGING_NAME.fullmatch(entry.name):
                self._remove_stale_staging(path)
                continue
            if not DIR_NAME.fullmatch(entry.name):
                continue  # not ours: never touched
            adopted = SpoolDir.adopt(path)
            if adopted is None:
                continue
            if adopted.pending_records or not adopted.drained:
                logger.info(
                    "otel-telemetry: delivering %d spooled event(s) left by a previous process in %s",
                    adopted.pending_records,
                    path,
                )
                self._counters.recover(adopted.pending_records)
                return adopted
            adopted.release()
        return None

    @staticmethod
    def _remove_stale_staging(path: Path) -> None:
        """A ``.name.new`` directory whose creator died before renaming it (it holds no events)."""
        try:
            if time.time() - path.stat().st_mtime < STALE_STAGING_S:
                return  # its creator may be between mkdir and flock
        except OSError:
            return
        if not (path / LOCK_NAME).exists():  # died between mkdir and creating the lock
            with contextlib.suppress(OSError):
                path.rmdir()
            return
        staged = SpoolDir.adopt(path)
        if staged is not None and not staged.segments:
            staged.release()

    def _finish_adopted(self) -> None:
        adopted, self._adopted = self._adopted, None
        if adopted is not None:
            adopted.release()
            self._next_scan = 0.0  # there may be more

    # -- numbers --------------------------------------------------------------------------------

    def pending(self) -> tuple[int, int]:
        """(events on disk not yet acknowledged, bytes of segment files), own and adopted."""
        with self._cond:
            records = sum(max(d.pending_records, 0) for d in (self._own, self._adopted) if d is not None)
            size = sum(d.size for d in (self._own, self._adopted) if d is not None)
            return records, size

    @property
    def finished(self) -> bool:
        """True once shutdown began and the writer is done: nothing new will arrive."""
        return self._writer_done

    def notify(self) -> None:
        """Wake the sender (used by flush and shutdown)."""
        with self._cond:
            self._cond.notify_all()


__all__ = ["LOCK_NAME", "Position", "Spool"]
