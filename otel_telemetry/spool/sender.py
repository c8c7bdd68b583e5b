"""The sender thread: exports what the spool holds and deletes only what the collector accepted.

A transient failure (connection refused, timeout, 429/502/503/504, retryable gRPC codes) keeps
the batch on disk and retries it after ``Retry-After`` / gRPC ``RetryInfo`` when the collector
gave one, else after an exponential backoff with jitter. A permanent rejection (e.g. 400) is
never retried: the batch moves to ``rejected/`` with its reason, counted and logged. At
shutdown the sender stops at the deadline and leaves the rest on disk for the next process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from ..outcome import ExportOutcome
from ..stats import Counters
from .segments import Chunk
from .spool import Spool

logger = logging.getLogger("otel_telemetry")

#: Longest wait honoured from a server's retry hint (a bad header must not stall delivery for days).
MAX_RETRY_AFTER_S = 300.0


class Sender(Protocol):
    """What the sender needs from an exporter."""

    def send(self, prepared: Any, timeout_s: float) -> ExportOutcome: ...

    def close(self) -> None: ...


class SpoolSender:
    """One background thread delivering spooled batches."""

    def __init__(
        self,
        spool: Spool,
        exporter: Sender,
        counters: Counters,
        *,
        batch: int,
        delay_s: float,
        timeout_s: float,
        backoff: Callable[[int], float],
        on_lost: Callable[[int], None] = lambda count: None,
    ) -> None:
        self._spool = spool
        self._exporter = exporter
        self._counters = counters
        self._batch = batch
        self._delay = delay_s
        self._timeout = timeout_s
        self._backoff = backoff
        self._on_lost = on_lost  # tells the pipeline, so a flush() covering these returns False
        self._retry_wake = threading.Event()  # flush: cut our own backoff short
        self._stopping = threading.Event()  # shutdown: cut any wait short
        self._deadline: float | None = None
        self._stop = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="otel-telemetry-spool-sender", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Retry now (flush): cut a backoff wait short."""
        self._retry_wake.set()
        self._spool.notify()

    def stop(self, deadline: float) -> bool:
        """Deliver until ``deadline`` (monotonic), then stop; True if the thread ended in time."""
        self._deadline = deadline
        self._spool.writer_finished()
        self._retry_wake.set()
        self._stopping.set()
        thread = self._thread
        if thread is None:
            return True
        thread.join(max(deadline - time.monotonic(), 0.0))
        if thread.is_alive():
            self._stop = True
            self._exporter.close()  # interrupt an attempt that is still in flight
            self._retry_wake.set()
            thread.join(1.0)
        return not thread.is_alive()

    def _past_deadline(self) -> bool:
        return self._stop or (self._deadline is not None and time.monotonic() >= self._deadline)

    def _run(self) -> None:
        try:
            while not self._past_deadline():
                try:
                    chunk = self._spool.next_chunk(self._batch)
                    if chunk is None:
                        if self._spool.finished:
                            return
                        self._spool.wait_for_work(self._batch, self._delay, 1.0)
                        continue
                    self._deliver(chunk)
                except Exception:  # never let the sender die: that would silently stop delivery
                    logger.exception("otel-telemetry: unexpected error in the spool sender")
                    self._retry_wake.wait(1.0)
                    self._retry_wake.clear()
        finally:
            self._exporter.close()

    def _deliver(self, chunk: Chunk) -> None:
        if chunk.damage:
            self._on_lost(self._spool.report_damage(chunk))
        if not chunk.frames:
            self._spool.ack(chunk)
            return
        records = chunk.records
        try:
            ExportLogsServiceRequest.FromString(chunk.payload)  # sent as it is, once it parses
        except Exception as exc:  # checksums matched, so this is a bug of ours: keep the data
            self._counters.drop("spool_corrupt", records, f"undecodable spooled batch: {exc!r}")
            self._on_lost(records)
            self._spool.reject(chunk, f"undecodable: {exc!r}")
            return
        attempt = 0
        while True:
            outcome = self._exporter.send(chunk.payload, self._timeout)
            if outcome.ok:
                self._counters.exported += records - outcome.rejected
                if outcome.rejected:
                    self._counters.drop("rejected", outcome.rejected, f"partial success: {outcome.error}")
                    self._on_lost(outcome.rejected)
                if attempt:
                    logger.info("otel-telemetry: export recovered after %d retries", attempt)
                self._spool.ack(chunk)
                return
            if not outcome.retryable:
                self._counters.drop(
                    "rejected", records, f"{outcome.error}; the batch was moved to the spool's rejected/"
                )
                self._on_lost(records)
                self._spool.reject(chunk, outcome.error)
                return
            if self._past_deadline():
                return  # stays on disk
            hint = outcome.retry_after_s
            wait = min(hint, MAX_RETRY_AFTER_S) if hint is not None else self._backoff(attempt)
            if self._deadline is not None and time.monotonic() + wait >= self._deadline:
                self._stop = True  # shutting down and the next attempt is past the deadline
                return  # stays on disk
            if attempt == 0:
                logger.warning(
                    "otel-telemetry: export failed (%s); %d spooled event(s) kept, retrying in %.1fs",
                    outcome.error,
                    records,
                    wait,
                )
            attempt += 1
            self._counters.retries += 1
            # the collector said when: a flush() does not hurry it; our own backoff it does
            self._sleep(wait, by_flush=hint is None)
            if self._past_deadline():
                return

    def _sleep(self, seconds: float, by_flush: bool) -> None:
        """Wait ``seconds``; a flush ends our own backoff; a shutdown whose deadline comes first
        ends the wait and the sender (what it holds stays on disk)."""
        end = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            if self._deadline is not None and end >= self._deadline:
                self._stop = True
                return
            if self._stop or now >= end:
                return
            limit = end
            event = self._retry_wake if by_flush else self._stopping
            if event.wait(limit - now):
                event.clear()
                if by_flush:
                    return
