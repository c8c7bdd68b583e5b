"""The chDB store's write-ahead journal: acknowledged rows on disk until chDB holds them.

A request's rows are appended as one frame (:mod:`otel_telemetry.spool.frames`: length, record
count, CRC-32) to numbered segment files; the receiver acknowledges the request once the
``write()`` returned, so a crash of the process (``kill -9``) cannot lose it (the kernel keeps
the written pages). A background writer reads the frames back in large batches and inserts
them (:mod:`.chdb`). Positions are logical byte offsets that only grow, across segments and
across restarts; a segment file is named after the position of its first byte.

``checkpoint`` (JSON, rewritten by write + rename) says how far the rows are stored and which
batch is being inserted (its range and the table's row count before it), so that after a crash
the store can tell whether that batch reached the table: see ``ChdbStore``.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._log import logger
from ..spool.frames import HEADER, HEADER_SIZE, Damage, Frame, encode_frame, parse

SUFFIX = ".journal"
CHECKPOINT = "checkpoint"
#: A segment this large is closed and the next one started; stored segments are deleted whole.
SEGMENT_BYTES = 8 * 1024 * 1024


@dataclass
class Batch:
    """Frames read back for one INSERT: positions ``start`` to ``end``, their payloads, and
    the damaged spans met on the way (skipped, counted, logged)."""

    start: int
    end: int
    frames: list[Frame] = field(default_factory=list)
    damage: list[Damage] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Records in the batch's frames."""
        return sum(frame.records for frame in self.frames)

    @property
    def payload(self) -> bytes:
        """The frames' payloads, one row per line."""
        return b"\n".join(frame.payload for frame in self.frames)


@dataclass
class InFlight:
    """A batch whose INSERT began: its range, its rows, and the table's row count before it."""

    start: int
    end: int
    rows: int
    count_before: int


@dataclass
class _Segment:
    start: int
    path: Path
    size: int

    @property
    def end(self) -> int:
        return self.start + self.size


class Journal:
    """Append-only segments of frames in ``directory``, with a checkpoint of what is stored.

    :meth:`append` may be called from any thread; reading (:meth:`read_batch`) and the
    checkpoint (:meth:`begin`, :meth:`commit`) belong to one writer thread.
    """

    def __init__(self, directory: Path, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        state = self._read_checkpoint()
        self.journal_id: str = state.get("journal") or uuid.uuid4().hex
        self.stored: int = int(state.get("stored", 0))
        flight = state.get("in_flight")
        self.in_flight: InFlight | None = InFlight(**flight) if flight else None
        self._segments = self._load_segments()
        self.end = self._segments[-1].end if self._segments else self.stored
        if self._segments and self.stored < self._segments[0].start:
            logger.error(
                "otel-telemetry: the chDB journal in %s starts at %d, after its checkpoint %d: "
                "segments were removed by hand; continuing from the first one",
                directory,
                self._segments[0].start,
                self.stored,
            )
            self.stored = self._segments[0].start
            self.in_flight = None
        if self.stored > self.end:  # the segments went missing: start afresh where the checkpoint is
            self.end = self.stored
        self._fd: int | None = None
        self._write_checkpoint()

    # -- opening ---------------------------------------------------------------------------------

    def _read_checkpoint(self) -> dict[str, Any]:
        try:
            state = json.loads((self.directory / CHECKPOINT).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            logger.error(
                "otel-telemetry: unreadable chDB journal checkpoint in %s: %s", self.directory, error
            )
            return {}
        return state if isinstance(state, dict) else {}

    def _load_segments(self) -> list[_Segment]:
        segments = []
        for entry in os.scandir(self.directory):
            stem = entry.name[: -len(SUFFIX)]
            if entry.name.endswith(SUFFIX) and stem.isdigit():
                segments.append(_Segment(int(stem), Path(entry.path), entry.stat().st_size))
        segments.sort(key=lambda segment: segment.start)
        kept = []
        for segment in segments:
            if segment.size == 0 or segment.end <= self.stored:
                segment.path.unlink(missing_ok=True)  # empty, or stored before the last run ended
            else:
                kept.append(segment)
        if kept:
            self._cut_torn_tail(kept[-1])
        return kept

    @staticmethod
    def _cut_torn_tail(segment: _Segment) -> None:
        """A frame cut off by a crash at the end of the last segment was never acknowledged (the
        append had not returned): remove it, so new frames follow the last whole one."""
        data = segment.path.read_bytes()
        good = 0
        for item in parse(data, 0, complete=True):
            if isinstance(item, Frame):
                good = item.end
        if good < len(data):
            logger.warning(
                "otel-telemetry: removing %d bytes of an unfinished write at the end of %s",
                len(data) - good,
                segment.path,
            )
            os.truncate(segment.path, good)
            segment.size = good

    # -- appending (any thread) --------------------------------------------------------------------

    @property
    def pending_bytes(self) -> int:
        """Journaled bytes not yet stored."""
        return self.end - self.stored

    def append(self, payload: bytes, records: int) -> int:
        """Write one frame; returns the journal's end after it. Raises OSError (nothing written)."""
        frame = encode_frame(payload, records)
        with self._lock:
            active = self._segments[-1] if self._segments else None
            if self._fd is None or active is None or active.size >= self.segment_bytes:
                active = self._roll()
            assert self._fd is not None
            try:
                written = os.write(self._fd, frame)
                if written != len(frame):
                    raise OSError(f"short write to {active.path} ({written} of {len(frame)} bytes)")
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, active.size)
                raise
            active.size += len(frame)
            self.end += len(frame)
            return self.end

    def _roll(self) -> _Segment:
        """Append to the last segment if it has room, else start one at the journal's end."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        last = self._segments[-1] if self._segments else None
        if last is None or last.size >= self.segment_bytes:
            last = _Segment(self.end, self.directory / f"{self.end:020d}{SUFFIX}", 0)
            self._segments.append(last)
        self._fd = os.open(last.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        return last

    # -- reading and the checkpoint (the writer thread) --------------------------------------------

    def read_batch(self, max_rows: int, max_bytes: int, until: int | None = None) -> Batch | None:
        """The frames after the stored position (at least one, then up to ``max_rows`` records and
        ``max_bytes`` of payload, within one segment, before ``until``); None when everything is
        stored."""
        with self._lock:
            segment = next((s for s in self._segments if s.start <= self.stored < s.end), None)
            end = self.end
        start = self.stored
        if segment is None:
            if start >= end:
                return None
            # a hole (segments removed by hand): skip it, reported as damage
            after = next((s.start for s in self._segments if s.start > start), end)
            return Batch(start, after, damage=[Damage(start, after, "segment missing")])
        batch = Batch(start, start)
        limit = min(segment.end, end, end if until is None else until)
        with open(segment.path, "rb") as handle:
            handle.seek(start - segment.start)
            header = handle.read(HEADER_SIZE)
            first = HEADER_SIZE + HEADER.unpack(header)[1] if len(header) == HEADER_SIZE else 0
            handle.seek(start - segment.start)
            data = handle.read(min(limit - start, max(max_bytes, first)))
        size = 0
        for item in parse(data, start, complete=start + len(data) >= limit):
            if isinstance(item, Damage):
                batch.damage.append(item)
                batch.end = item.end
                continue
            full = batch.rows + item.records > max_rows or size + len(item.payload) > max_bytes
            if batch.frames and full:
                break
            batch.frames.append(item)
            size += len(item.payload)
            batch.end = item.end
        if batch.end == start:  # a frame longer than we read: cannot happen, we read the first whole
            batch.end = limit
            batch.damage.append(Damage(start, limit, "unreadable"))
        return batch

    def begin(self, batch: Batch, count_before: int) -> None:
        """Record that ``batch``'s INSERT starts, before it starts."""
        self.in_flight = InFlight(batch.start, batch.end, batch.rows, count_before)
        self._write_checkpoint()

    def commit(self, end: int) -> None:
        """Everything before ``end`` is stored: move the checkpoint, delete stored segments."""
        self.in_flight = None
        self.stored = max(self.stored, end)
        self._write_checkpoint()
        with self._lock:
            while len(self._segments) > 1 and self._segments[0].end <= self.stored:
                self._segments.pop(0).path.unlink(missing_ok=True)
            last = self._segments[-1] if self._segments else None
            if last is not None and last.end <= self.stored and last.size >= self.segment_bytes:
                # the active segment is full and stored: the next append starts a new one
                if self._fd is not None:
                    os.close(self._fd)
                    self._fd = None
                self._segments.pop().path.unlink(missing_ok=True)

    def _write_checkpoint(self) -> None:
        state: dict[str, Any] = {"journal": self.journal_id, "stored": self.stored}
        if self.in_flight is not None:
            state["in_flight"] = vars(self.in_flight)
        tmp = self.directory / f".{CHECKPOINT}.tmp"
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, self.directory / CHECKPOINT)

    def token(self, start: int, end: int) -> str:
        """The INSERT's deduplication token for positions ``start`` to ``end`` (unique per journal)."""
        return f"otel-journal-{self.journal_id}-{start}-{end}"

    def close(self) -> None:
        """Close the active segment; delete the segments when everything is stored."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            if self.stored >= self.end:
                for segment in self._segments:
                    segment.path.unlink(missing_ok=True)
                self._segments = []
