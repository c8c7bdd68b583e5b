"""The detached sender: delivers one hand-off area, then exits; never outlives its lifetime.

Started by :func:`otel_telemetry.handoff.spawn_sender` as ``python -m otel_telemetry.handoff_sender``
with its job in the environment. It holds the area's ``sender.lock`` (a second sender exits at
once), then repeatedly: drops what is older than the maximum age or over the size cap (counted
in ``sender.log``), adopts each directory whose ``lock`` it can take (so no directory is ever
read by two processes), encodes its ``events.raw`` into spool segments (user ids hashed; the raw
file is deleted), and delivers the segments, acknowledging as the collector accepts. A
collector that refuses or hangs is retried with a short backoff until the lifetime ends; what
is left stays on disk for the next sender. ``SIGALRM`` is armed as a hard stop a few seconds
past the lifetime, whatever the sender is doing.
"""

from __future__ import annotations

import ast
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .handoff import JOB_ENV, RAW_NAME, SENDER_LOCK, Prepared, has_work, log_line, read
from .spool.frames import encode_frame
from .spool.lockdir import try_lock
from .spool.segments import DIR_NAME, LOCK_NAME, SUFFIX, SpoolDir, segment_name

if TYPE_CHECKING:
    from .delivery import Delivery
    from .encoding import EncodedBatch
    from .exporters.base import Exporter

logger = logging.getLogger("otel_telemetry")

#: The hard stop comes this long after the lifetime (an export attempt in flight ends there).
HARD_STOP_MARGIN_S = 5
#: How often directories still locked by a live program are looked at again.
RESCAN_S = 0.2
BATCH = 512

Encoder = Callable[[Sequence[Any]], "EncodedBatch"]


class _AreaLog(logging.Handler):
    """The sender's own warnings go to the area's ``sender.log`` (it has no terminal)."""

    def __init__(self, area_dir: Path) -> None:
        super().__init__(logging.WARNING)
        self._area = area_dir

    def emit(self, record: logging.LogRecord) -> None:
        log_line(self._area, self.format(record))


class AreaSender:
    """Delivers every directory of one area until it is empty or the deadline passes."""

    def __init__(self, job: dict[str, Any], deadline: float) -> None:
        self.job = job
        self.area = Path(job["area"])
        self.deadline = deadline
        self.max_age_s = float(job["max_age_s"])
        self.max_bytes = int(job["max_bytes"])
        self.initial_backoff_s = float(job.get("initial_backoff_s", 0.5))
        self.max_backoff_s = float(job.get("max_backoff_s", 5.0))
        self.spool_dir: str | None = job.get("spool_dir")
        self.owner_pid = int(job.get("owner_pid", 0))
        self._exporter: Exporter | None = None
        self._delivery: Delivery | None = None
        self._encoders: dict[str, Encoder] = {}
        self.delivered = 0

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> int:
        """Deliver until nothing is left or the deadline; returns how many directories it took."""
        adopted = 0
        while time.monotonic() < self.deadline:
            self.enforce_bounds()
            waiting = False
            for path in [*self._directories(self.area), *self._spool_directories()]:
                done = self.deliver_directory(path)
                if done is None:
                    # held: by a program still writing it, or by the program that started us,
                    # whose spool directory is ours once it has exited; look again soon
                    waiting = waiting or self._worth_waiting_for(path)
                    continue
                adopted += 1
                if not done:
                    return adopted  # the deadline came first; the rest stays on disk
            if not waiting:
                break
            time.sleep(RESCAN_S)
        return adopted

    def _worth_waiting_for(self, path: Path) -> bool:
        return path.parent == self.area or path.name.startswith(f"{self.owner_pid}-")

    def _spool_directories(self) -> list[Path]:
        """The spool directory of the program that started us (its own, once it has exited)."""
        return self._directories(Path(self.spool_dir)) if self.spool_dir else []

    @staticmethod
    def _directories(parent: Path) -> list[Path]:
        try:
            with os.scandir(parent) as entries:
                found = [Path(e.path) for e in entries if DIR_NAME.fullmatch(e.name)]
        except OSError:
            return []
        found = [path for path in found if (path / LOCK_NAME).exists()]
        return sorted(found, key=_created)

    # -- bounds -----------------------------------------------------------------------------

    def enforce_bounds(self) -> None:
        """Drop directories older than the maximum age, then the oldest ones over the size cap."""
        now = time.time()
        kept: list[tuple[Path, int]] = []
        for path in self._directories(self.area):
            size = _size(path)
            if now - _created(path) > self.max_age_s:
                self._drop(path, f"older than the maximum age of {self.max_age_s:.0f}s")
            else:
                kept.append((path, size))
        total = sum(size for _, size in kept)
        for path, size in kept:  # oldest first
            if total <= self.max_bytes:
                break
            if self._drop(path, f"the hand-off area is over its cap of {self.max_bytes} bytes"):
                total -= size

    def _drop(self, path: Path, why: str) -> bool:
        held = SpoolDir.adopt(path)
        if held is None:
            return False  # a live program or sender holds it
        count = held.pending_records
        raw = path / RAW_NAME
        if raw.exists():
            try:
                _, events, prepared = read(raw)
                count += len(events) + sum(records for _, records in prepared)
            except (OSError, ValueError):
                pass
            raw.unlink(missing_ok=True)
        for segment in held.segments:
            segment.path.unlink(missing_ok=True)
        held.segments = []
        held.release()
        logger.warning("otel-telemetry: dropped %d handed-off event(s) from %s: %s", count, path.name, why)
        return True

    # -- one directory ----------------------------------------------------------------------

    def deliver_directory(self, path: Path) -> bool | None:
        """Deliver one directory: True when done, False at the deadline, None if it is held."""
        held = SpoolDir.adopt(path)
        if held is None:
            return None
        try:
            raw = path / RAW_NAME
            if raw.exists() and not self._convert(held, raw):
                return True
            while True:
                chunk = held.read_chunk(BATCH)
                if chunk is None:
                    return True
                if chunk.damage:
                    lost = sum(d.records for d in chunk.damage)
                    logger.warning(
                        "otel-telemetry: %d handed-off event(s) lost to damaged data in %s", lost, path.name
                    )
                if chunk.frames:
                    outcome = self.deliver(chunk.payload, chunk.records)
                    if outcome == "stopped":
                        return False
                held.ack(chunk)
        finally:
            held.release()

    def _convert(self, held: SpoolDir, raw: Path) -> bool:
        """Encode ``events.raw`` into a segment, then delete it; False if it was unreadable."""
        try:
            settings, events, prepared = read(raw)
        except (OSError, ValueError) as exc:
            logger.warning("otel-telemetry: dropped an unreadable hand-off file: %s", exc)
            raw.unlink(missing_ok=True)
            return False
        for segment in held.segments:  # left by a conversion interrupted before the delete
            segment.path.unlink(missing_ok=True)
        requests: list[Prepared] = list(prepared)
        encode = self._encoder(settings)
        for start in range(0, len(events), BATCH):
            requests.extend(self._encode(encode, events[start : start + BATCH]))
        data = b"".join(encode_frame(request, records) for request, records in requests)
        with open(held.path / segment_name(1), "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        (held.path / "ack").unlink(missing_ok=True)
        raw.unlink()
        held.reload()
        return True

    def _encode(self, encode: Encoder, batch: Sequence[Any]) -> list[Prepared]:
        """The requests of ``batch``; an event that cannot be encoded costs only itself (logged)."""
        try:
            encoded = encode(batch)
        except Exception:
            logger.warning(
                "otel-telemetry: dropped %d handed-off event(s) that cannot be encoded",
                len(batch),
                exc_info=True,
            )
            return []
        for reason, detail in encoded.dropped:
            logger.warning("otel-telemetry: dropped a handed-off event (%s): %s", reason, detail)
        return [(request.payload, request.records) for request in encoded.requests]

    def _encoder(self, settings: dict[str, Any]) -> Encoder:
        key = json.dumps(settings, sort_keys=True, default=str)
        encoder = self._encoders.get(key)
        if encoder is None:
            from .exit import encoder_for

            encoder = self._encoders[key] = encoder_for(settings)
        return encoder

    # -- the network ------------------------------------------------------------------------

    def deliver(self, request: bytes, records: int) -> str:
        """Send until accepted ("exported"), refused for good ("rejected") or the deadline ("stopped")."""
        delivery = self._delivery
        if delivery is None:
            from .counters import Counters
            from .delivery import Delivery
            from .exit import exporter_for
            from .settings import Backoff

            self._exporter = exporter_for(self.job["exporter"])
            delivery = self._delivery = Delivery(
                self._exporter,
                Counters(),  # drops are logged (to sender.log): this process has no stats() reader
                timeout_s=float(self.job["timeout_s"]),
                backoff=Backoff(initial_s=self.initial_backoff_s, max_s=self.max_backoff_s),
                on_lost=lambda count: None,
                keep_at_deadline=True,  # what cannot be sent in time stays on disk
            )
            delivery.stop(self.deadline)
        outcome = delivery.deliver(request, records, rejected_note=" (handed-off events)")
        if outcome == "exported":
            self.delivered += records
        return outcome

    def close(self) -> None:
        if self._exporter is not None:
            self._exporter.shutdown()


def _created(path: Path) -> float:
    """When a hand-off directory was written: its lock file is created then and never modified."""
    try:
        return (path / LOCK_NAME).stat().st_mtime
    except OSError:
        return 0.0


def _size(path: Path) -> int:
    total = 0
    with contextlib.suppress(OSError), os.scandir(path) as entries:
        for entry in entries:
            if entry.name == RAW_NAME or entry.name.endswith(SUFFIX):
                with contextlib.suppress(OSError):
                    total += entry.stat().st_size
    return total


def _lock(area_dir: Path) -> int | None:
    fd = try_lock(area_dir / SENDER_LOCK, create=True)  # an area deleted meanwhile: nothing to do
    if fd is None:
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def main() -> int:
    """Run the job in ``$OTEL_TELEMETRY_HANDOFF_JOB``; exit status 0 unless it is missing."""
    text = os.environ.pop(JOB_ENV, "")
    if not text:
        print("otel-telemetry hand-off sender: no job (started by otel-telemetry at exit)", file=sys.stderr)
        return 2
    job = ast.literal_eval(text)
    with contextlib.suppress(OSError):
        os.nice(10)  # background work: the user's own programs come first
    started = time.monotonic()
    lifetime = float(job["lifetime_s"])
    signal.alarm(int(lifetime) + HARD_STOP_MARGIN_S)  # default action: the process ends
    area_dir = Path(job["area"])
    log = logging.getLogger("otel_telemetry")
    log.addHandler(_AreaLog(area_dir))
    log.propagate = False
    fd = _lock(area_dir)
    if fd is None:
        return 0  # another sender is at work; it picks up new directories before it stops
    sender = AreaSender(job, started + lifetime)
    try:
        while True:
            adopted = sender.run()
            os.close(fd)  # then look once more: a program may have exited just now
            if not adopted or time.monotonic() >= sender.deadline or not has_work(area_dir):
                break
            fd = _lock(area_dir)
            if fd is None:
                break  # a newer sender took over
    finally:
        sender.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
