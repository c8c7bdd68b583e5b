"""The batching pipeline: a bounded queue on the caller's side, one worker thread on the other.

``submit`` is the whole cost ``send()`` pays for delivery: a length check and a deque append.
The worker drains the queue in batches, has the exporter prepare (map + encode) each batch once,
and sends it until the collector accepts it, backing off between attempts. A batch that fails
transiently is kept, not dropped: while the collector is away, the queue fills and new events
are refused (counted), which is the only way the pipeline loses events besides a permanent
rejection or a shutdown deadline, each counted and logged.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from .event import CapturedEvent
from .stats import Counters
from .transport import ExportOutcome

logger = logging.getLogger("otel_telemetry")

P = TypeVar("P")


class BatchExporter(Protocol[P]):
    """What the worker needs from an exporter: prepare once, send (maybe many times)."""

    def prepare(self, batch: Sequence[CapturedEvent]) -> P: ...

    def send(self, prepared: P, timeout_s: float) -> ExportOutcome: ...

    def close(self) -> None: ...

    def after_fork(self) -> None: ...


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter between attempts at one batch."""

    initial_s: float = 1.0
    max_s: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        base = min(self.max_s, self.initial_s * self.multiplier**attempt)
        return base * random.uniform(1.0 - self.jitter, 1.0 + self.jitter)


class _FlushMarker:
    """Queued by ``flush()``: when the worker reaches it, everything before it is done."""

    __slots__ = ("done", "lost_after", "lost_before")

    def __init__(self, lost_before: int) -> None:
        self.done = threading.Event()
        self.lost_before = lost_before
        self.lost_after = lost_before


_live: weakref.WeakSet[BatchPipeline[Any]] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for pipeline in list(_live):
        pipeline._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


class BatchPipeline(Generic[P]):
    """Queue + worker thread + retry loop for one exporter."""

    def __init__(
        self,
        exporter: BatchExporter[P],
        counters: Counters,
        *,
        max_queue_size: int,
        max_export_batch_size: int,
        schedule_delay_s: float,
        export_timeout_s: float,
        backoff: Backoff | None = None,
    ) -> None:
        self._exporter = exporter
        self._counters = counters
        self._max_queue = max_queue_size
        self._batch = max_export_batch_size
        self._delay = schedule_delay_s
        self._timeout = export_timeout_s
        self._backoff = backoff or Backoff()
        self._lost = 0
        self._init_threading()
        _live.add(self)

    def _init_threading(self) -> None:
        self._queue: deque[CapturedEvent | _FlushMarker] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._retry_wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._draining_deadline: float | None = None

    # -- caller side -------------------------------------------------------------------------

    def submit(self, event: CapturedEvent) -> bool:
        """Queue one event; False when the queue is full or the pipeline is shut down."""
        queue = self._queue
        if len(queue) >= self._max_queue or self._closed:
            return False
        queue.append(event)
        if self._thread is None:
            self._start()
        elif len(queue) % self._batch == 0:
            self._wake.set()
        return True

    @property
    def exporter(self) -> BatchExporter[P]:
        """The exporter this pipeline feeds."""
        return self._exporter

    @property
    def closed(self) -> bool:
        """True once ``shutdown()`` has begun."""
        return self._closed

    @property
    def queued(self) -> int:
        """Events waiting in the queue (not counting a batch being sent)."""
        return sum(1 for item in list(self._queue) if type(item) is not _FlushMarker)

    @property
    def lost(self) -> int:
        """Events accepted and then lost (rejected, encode error, shutdown deadline)."""
        return self._lost

    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._closed:
                thread = threading.Thread(target=self._run, name="otel-telemetry-export", daemon=True)
                thread.start()
                self._thread = thread

    def flush(self, timeout_s: float) -> bool:
        """Wait until everything submitted before this call is exported; False on timeout or loss."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return not any(type(item) is not _FlushMarker for item in list(self._queue))
        marker = _FlushMarker(self._lost)
        self._queue.append(marker)
        self._wake.set()
        self._retry_wake.set()
        if not marker.done.wait(max(timeout_s, 0.0)):
            return False
        return marker.lost_after == marker.lost_before

    def shutdown(self, timeout_s: float) -> bool:
        """Stop accepting, export what is queued within ``timeout_s``, then stop the worker.

        Returns True when everything accepted was exported. What the deadline cuts off is
        counted as dropped (``shutdown``) and logged.
        """
        deadline = time.monotonic() + max(timeout_s, 0.0)
        with self._lock:
            if self._closed:
                return True
            self._closed = True
            self._draining_deadline = deadline
            thread = self._thread
        lost_before = self._lost
        if thread is not None:
            self._wake.set()
            thread.join(max(deadline - time.monotonic(), 0.0))
            if thread.is_alive():
                self._exporter.close()  # interrupt an attempt that is still in flight
                thread.join(1.0)
        else:
            self._exporter.close()
        left = sum(1 for item in list(self._queue) if type(item) is not _FlushMarker)
        self._queue.clear()
        if left:
            self._lost += left
            self._counters.drop("shutdown", left, f"{left} event(s) still queued at the shutdown deadline")
        return self._lost == lost_before and not (thread is not None and thread.is_alive())

    # -- worker side -------------------------------------------------------------------------

    def _run(self) -> None:
        queue = self._queue
        while True:
            self._wake.wait(self._delay)
            self._wake.clear()
            try:
                self._drain(queue)
            except Exception:  # never let the worker die: that would silently stop delivery
                logger.exception("otel-telemetry: unexpected error in the export worker")
            if self._closed and not queue:
                self._exporter.close()
                return

    def _drain(self, queue: deque[CapturedEvent | _FlushMarker]) -> None:
        while queue:
            batch: list[CapturedEvent] = []
            marker: _FlushMarker | None = None
            while queue and len(batch) < self._batch:
                item = queue.popleft()
                if type(item) is _FlushMarker:
                    marker = item
                    break
                batch.append(item)  # type: ignore[arg-type]
            self._counters.taken += len(batch)
            if batch:
                self._export(batch)
            if marker is not None:
                marker.lost_after = self._lost
                marker.done.set()

    def _lose(self, count: int, reason: str, detail: str) -> None:
        self._lost += count
        self._counters.drop(reason, count, detail)

    def _export(self, batch: list[CapturedEvent]) -> None:
        try:
            prepared = self._exporter.prepare(batch)
        except Exception as exc:
            logger.exception("otel-telemetry: could not encode a batch")
            self._lose(len(batch), "encode_error", repr(exc))
            return
        attempt = 0
        while True:
            outcome = self._exporter.send(prepared, self._timeout)
            if outcome.ok:
                self._counters.exported += len(batch) - outcome.rejected
                if outcome.rejected:
                    self._lose(outcome.rejected, "rejected", f"partial success: {outcome.error}")
                if attempt:
                    logger.info("otel-telemetry: export recovered after %d retries", attempt)
                return
            if not outcome.retryable:
                self._lose(len(batch), "rejected", outcome.error)
                return
            deadline = self._draining_deadline
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                self._lose(len(batch), "shutdown", f"exporter unavailable at shutdown: {outcome.error}")
                return
            wait = (
                outcome.retry_after_s if outcome.retry_after_s is not None else self._backoff.delay(attempt)
            )
            if deadline is not None:
                wait = min(wait, max(deadline - now, 0.0))
            if attempt == 0:
                logger.warning(
                    "otel-telemetry: export failed (%s); keeping the batch of %d and retrying in %.1fs",
                    outcome.error,
                    len(batch),
                    wait,
                )
            attempt += 1
            self._counters.retries += 1
            self._retry_wake.wait(wait)
            self._retry_wake.clear()

    # -- fork --------------------------------------------------------------------------------

    def _after_fork_in_child(self) -> None:
        """The child starts empty: queued events belong to the parent, which exports them."""
        closed = self._closed
        self._init_threading()
        self._closed = closed
        self._lost = 0
        self._exporter.after_fork()
