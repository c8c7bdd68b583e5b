"""One spool directory: numbered segment files of frames, an acknowledgement cursor, a lock.

Each process writes its own directory (``<spool_dir>/<pid>-<random>/``) and holds an exclusive
``flock`` on its ``lock`` file while it lives. The kernel drops that lock when the process dies,
however it dies (SIGKILL included), so another process can tell an orphan from a live sibling
and take it over (``adopt``). A directory is created under a dot-name and renamed into place
with its lock already held, so nobody adopts a directory that is still being set up.

The ``ack`` file holds ``<segment> <offset>``: everything before it was acknowledged by the
collector. It is rewritten (write + rename) after each acknowledged batch; losing the latest
rewrite only means a batch is sent again (at least once, never lost). Methods are called with
the owning :class:`~otel_telemetry.spool.Spool`'s lock held.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .._log import logger
from ..encoding import DEFAULT_MAX_REQUEST_BYTES
from .frames import HEADER, HEADER_SIZE, MAGIC, Damage, Frame, parse
from .lockdir import LOCK_NAME as LOCK_NAME  # re-exported: the spool and the hand-off sender use it
from .lockdir import create_locked, fsync_dir, try_lock

ACK_NAME = "ack"
SUFFIX = ".seg"
#: Names of spool directories (``<pid>-<12 hex>``) and of ones being created (``.<name>.new``).
DIR_NAME = re.compile(r"\d+-[0-9a-f]{12}")
STAGING_NAME = re.compile(r"\.\d+-[0-9a-f]{12}\.new")
#: How much of a segment one read pulls in (grown when a single frame is larger).
READ_BUDGET = 1024 * 1024
#: A fully delivered active segment this large is replaced by a fresh one (its space returned).
RECYCLE_BYTES = 256 * 1024


@dataclass
class Segment:
    """A segment file: its number, size on disk (committed bytes) and records written to it."""

    seq: int
    path: Path
    size: int
    records: int


@dataclass
class Chunk:
    """Frames read for one export attempt, all from one segment, and the damage met on the way."""

    directory: SpoolDir
    seq: int
    start: int
    end: int
    frames: list[Frame] = field(default_factory=list)
    damage: list[Damage] = field(default_factory=list)

    @property
    def records(self) -> int:
        """Records in the frames of this chunk."""
        return sum(frame.records for frame in self.frames)

    @property
    def payload(self) -> bytes:
        """The frames' payloads joined: one valid ``ExportLogsServiceRequest``."""
        return b"".join(frame.payload for frame in self.frames)


def segment_name(seq: int) -> str:
    """File name of segment ``seq`` (zero-padded so names sort in order)."""
    return f"{seq:012d}{SUFFIX}"


def count_records(path: Path, start: int = 0) -> int:
    """Records in a segment from ``start``, by walking frame headers (no checksums: an estimate)."""
    total = 0
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            while True:
                header = handle.read(HEADER_SIZE)
                if len(header) < HEADER_SIZE:
                    return total
                magic, length, records, _ = HEADER.unpack(header)
                if magic != MAGIC:
                    return total
                total += records
                handle.seek(length, os.SEEK_CUR)
    except OSError:
        return total


class SpoolDir:
    """A directory of segments: appended to by its owner, read and acknowledged by the sender."""

    def __init__(self, path: Path, lock_fd: int, *, owned: bool) -> None:
        self.path = path
        self.owned = owned  # written by this process (else adopted from a dead one: read only)
        self._lock_fd: int | None = lock_fd
        self.segments: list[Segment] = []
        self.ack_seq = 1
        self.ack_offset = 0
        self._fd: int | None = None  # the active segment, owner only
        self._write_failed = False
        self.pending_records = 0

    # -- creation and adoption -----------------------------------------------------------------

    @classmethod
    def create(cls, parent: Path, fsync: bool) -> SpoolDir:
        """A new, locked directory of this process under ``parent``."""
        path, fd = create_locked(parent, fsync)
        return cls(path, fd, owned=True)

    @classmethod
    def adopt(cls, path: Path) -> SpoolDir | None:
        """Lock and load the directory of a dead process; None if its owner (or an adopter) lives."""
        fd = try_lock(path / LOCK_NAME)  # no lock file: not a directory of ours
        if fd is None:
            return None
        spool_dir = cls(path, fd, owned=False)
        try:
            spool_dir._load()
        except OSError as exc:
            logger.error("otel-telemetry: cannot read spool directory %s: %s", path, exc)
            spool_dir.release()
            return None
        return spool_dir

    def reload(self) -> None:
        """Read the directory again (after its holder rewrote it, e.g. a hand-off converted)."""
        self._load()

    def _load(self) -> None:
        found: list[Segment] = []
        for entry in os.scandir(self.path):
            if entry.name.endswith(SUFFIX) and entry.name[: -len(SUFFIX)].isdigit():
                seq = int(entry.name[: -len(SUFFIX)])
                found.append(Segment(seq, Path(entry.path), entry.stat().st_size, 0))
        found.sort(key=lambda segment: segment.seq)
        try:
            seq_text, offset_text = (self.path / ACK_NAME).read_text(encoding="ascii").split()
            ack_seq, ack_offset = int(seq_text), int(offset_text)
        except (OSError, ValueError):
            ack_seq, ack_offset = (found[0].seq if found else 1), 0
        kept = []
        for segment in found:
            if segment.seq < ack_seq or (segment.seq == ack_seq and ack_offset >= segment.size):
                segment.path.unlink(missing_ok=True)  # acknowledged before the owner died
            else:
                kept.append(segment)
        self.segments = kept
        if kept and kept[0].seq == ack_seq:
            self.ack_seq, self.ack_offset = ack_seq, ack_offset
        elif kept:
            self.ack_seq, self.ack_offset = kept[0].seq, 0
        for segment in kept:
            start = self.ack_offset if segment.seq == self.ack_seq else 0
            segment.records = count_records(segment.path, start)
        self.pending_records = sum(segment.records for segment in kept)

    # -- writing (owner) ------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Bytes of all segment files (what counts against the cap)."""
        return sum(segment.size for segment in self.segments)

    @property
    def active(self) -> Segment | None:
        """The segment being appended to (owner only)."""
        return self.segments[-1] if self._fd is not None and self.segments else None

    def roll(self, fsync: bool) -> None:
        """Close the active segment (it becomes readable to its end) and start the next one."""
        self.close_active(fsync)
        seq = self.segments[-1].seq + 1 if self.segments else max(self.ack_seq, 1)
        path = self.path / segment_name(seq)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self.segments.append(Segment(seq, path, 0, 0))
        if not self.segments[:-1]:
            self.ack_seq, self.ack_offset = seq, 0
        if fsync:
            fsync_dir(self.path)

    def append(self, frame: bytes, records: int, segment_bytes: int, fsync_on_roll: bool) -> None:
        """Write one frame to the active segment (rolling first if it is full); raises OSError.

        A failed write is cut back off the file, so the segment never holds half a frame that
        its owner knows of.
        """
        active = self.active
        if (
            active is not None
            and len(self.segments) == 1
            and self._delivered_to_end(active)
            and (active.size >= RECYCLE_BYTES or self._write_failed)
        ):
            # all delivered: give the space back now (a full disk needs it) and start afresh
            self.roll(fsync_on_roll)
            self._drop_first()
            active = self.active
        if active is None or active.size >= segment_bytes:
            self.roll(fsync_on_roll)
            active = self.active
        assert active is not None and self._fd is not None
        try:
            written = os.write(self._fd, frame)
            if written != len(frame):
                raise OSError(f"short write ({written} of {len(frame)} bytes)")
        except OSError:
            self._write_failed = True
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, active.size)
            raise
        self._write_failed = False
        active.size += len(frame)
        active.records += records
        self.pending_records += records

    def _delivered_to_end(self, segment: Segment) -> bool:
        return segment.size > 0 and self.ack_seq == segment.seq and self.ack_offset >= segment.size

    def sync(self) -> None:
        """fsync the active segment."""
        if self._fd is not None:
            os.fsync(self._fd)

    def close_active(self, fsync: bool) -> None:
        """Stop appending to the active segment."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                if fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)

    def evict_oldest(self) -> Segment | None:
        """Delete the oldest segment that is neither being read nor written; returns it."""
        for segment in self.segments:
            if segment.seq == self.ack_seq:
                continue
            if segment is self.active:
                return None
            self.segments.remove(segment)
            segment.path.unlink(missing_ok=True)
            self.pending_records -= segment.records
            return segment
        return None

    # -- reading and acknowledging --------------------------------------------------------------

    def read_chunk(self, max_records: int, max_bytes: int = DEFAULT_MAX_REQUEST_BYTES) -> Chunk | None:
        """The next frames after the ack cursor (at least one, up to ``max_records`` records
        and ``max_bytes`` of payload: joined, they are one request, which a collector limits).

        Returns None when nothing is ready. Raises OSError if the segment cannot be read.
        """
        while self.segments:
            segment = self.segments[0]
            if segment.seq != self.ack_seq:
                self.ack_seq, self.ack_offset = segment.seq, 0
            sealed = segment is not self.active
            if self.ack_offset >= segment.size:
                if not sealed:
                    return None
                self._drop_first()
                continue
            budget = READ_BUDGET
            while True:
                length = min(segment.size - self.ack_offset, budget)
                with open(segment.path, "rb") as handle:
                    handle.seek(self.ack_offset)
                    data = handle.read(length)
                at_end = self.ack_offset + len(data) >= segment.size
                if len(data) < length and sealed:  # the file shrank: treat the rest as damage
                    at_end = True
                chunk = Chunk(self, segment.seq, self.ack_offset, self.ack_offset)
                size = 0
                for item in parse(data, self.ack_offset, complete=at_end):
                    if isinstance(item, Damage):
                        chunk.damage.append(item)
                        chunk.end = item.end
                        continue
                    if chunk.frames and (
                        chunk.records + item.records > max_records or size + len(item.payload) > max_bytes
                    ):
                        break
                    size += len(item.payload)
                    chunk.frames.append(item)
                    chunk.end = item.end
                    if chunk.records >= max_records:
                        break
                if chunk.end > chunk.start:
                    return chunk
                if at_end:  # nothing parsable up to the end of the segment
                    chunk.end = segment.size
                    chunk.damage.append(Damage(chunk.start, segment.size, "unreadable"))
                    return chunk
                budget *= 4  # one frame larger than the budget

        return None

    def ack(self, chunk: Chunk) -> None:
        """Everything up to ``chunk.end`` is done: move the cursor, delete finished segments."""
        if not self.segments or self.segments[0].seq != chunk.seq:
            return  # its segment was evicted meanwhile
        self.ack_offset = max(self.ack_offset, chunk.end)
        segment = self.segments[0]
        done = chunk.records
        segment.records -= done
        self.pending_records -= done
        if self.ack_offset >= segment.size and segment is not self.active:
            self._drop_first()
        self._write_ack()

    def _drop_first(self) -> None:
        segment = self.segments.pop(0)
        segment.path.unlink(missing_ok=True)
        self.pending_records -= max(segment.records, 0)
        if self.segments:
            self.ack_seq, self.ack_offset = self.segments[0].seq, 0
        else:
            self.ack_seq, self.ack_offset = segment.seq + 1, 0

    def _write_ack(self) -> None:
        tmp = self.path / f".{ACK_NAME}.tmp"
        try:
            tmp.write_text(f"{self.ack_seq} {self.ack_offset}\n", encoding="ascii")
            os.replace(tmp, self.path / ACK_NAME)
        except OSError as exc:  # only costs a resend of acknowledged batches after a restart
            logger.debug("otel-telemetry: cannot record spool progress in %s: %s", self.path, exc)

    @property
    def drained(self) -> bool:
        """True when every segment was read to its end and acknowledged."""
        return all(
            segment.size <= (self.ack_offset if segment.seq == self.ack_seq else 0)
            for segment in self.segments
        )

    # -- the end --------------------------------------------------------------------------------

    def release(self, remove_if_drained: bool = True) -> None:
        """Close files; delete the directory if nothing is left in it; then drop the lock.

        Only the spool's own files are deleted: a directory holding anything else stays.
        """
        self.close_active(fsync=False)
        if remove_if_drained and self.drained:
            for segment in self.segments:
                segment.path.unlink(missing_ok=True)
            for name in (ACK_NAME, f".{ACK_NAME}.tmp", LOCK_NAME):
                (self.path / name).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                self.path.rmdir()
        if self._lock_fd is not None:
            fd, self._lock_fd = self._lock_fd, None
            os.close(fd)

    def forget_after_fork(self) -> None:
        """In a forked child: close inherited descriptors without touching the parent's lock."""
        for fd in (self._fd, self._lock_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fd = self._lock_fd = None
