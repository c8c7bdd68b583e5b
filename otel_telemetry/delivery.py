"""Delivering one batch: attempt, back off, honour the server's hint, stop at the deadline, count.

Used by both senders: the in-memory queue's worker (``pipeline.py``) and the spool's sender
thread (``spool/sender.py``). A transient failure (connection refused, timeout, 429/502/503/
504, retryable gRPC codes) keeps the batch and retries it after ``Retry-After`` / gRPC
``RetryInfo`` when the server gave one (capped at :data:`MAX_RETRY_AFTER_S`), else after an
exponential backoff with jitter. A permanent failure is counted as dropped and logged. At
shutdown, delivery stops at the deadline; the caller decides what that costs (the memory
queue counts the batch as dropped, the spool keeps it on disk for the next process).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

from ._log import logger
from .counters import Counters, Source
from .exporters.base import Exporter, ExportResult
from .settings import Backoff

__all__ = ["MAX_RETRY_AFTER_S", "Backoff", "Delivered", "Delivery"]


#: Longest wait honoured from a server's retry hint (a bad header must not stall delivery for days).
MAX_RETRY_AFTER_S = 300.0

Delivered = Literal["exported", "rejected", "stopped"]


class Delivery:
    """Sends batches through one exporter until each is accepted, refused, or time is up.

    ``on_lost`` hears of every event lost here (so a ``flush()`` covering it returns False).
    ``keep_at_deadline``: the spool's mode, where a batch that cannot be sent before the
    deadline stays on disk, so no last attempt is made at the deadline itself.
    """

    def __init__(
        self,
        exporter: Exporter,
        counters: Counters,
        *,
        timeout_s: float,
        backoff: Backoff,
        on_lost: Callable[[int], None],
        keep_at_deadline: bool = False,
    ) -> None:
        self._exporter = exporter
        self._counters = counters
        self._timeout = timeout_s
        self._backoff = backoff
        self._on_lost = on_lost
        self._keep = keep_at_deadline
        #: Where the events delivered here are counted until they are settled.
        self._source: Source = "spool" if keep_at_deadline else "in_flight"
        self.reset()

    def reset(self) -> None:
        """Fresh wake-ups and no deadline (a new instance, or a child after ``fork()``)."""
        self._retry_wake = threading.Event()  # flush(): cut our own backoff short
        self._stopping = threading.Event()  # shutdown(): re-check the deadline now
        self._deadline: float | None = None
        self._interrupted = False
        #: The error of the last permanent failure (the spool writes it next to the batch).
        self.last_error = ""

    # -- control, from other threads ---------------------------------------------------------

    def wake(self) -> None:
        """``flush()``: retry now if waiting on our own backoff (a server's hint is kept)."""
        self._retry_wake.set()

    def stop(self, deadline: float) -> None:
        """``shutdown()``: deliver until ``deadline`` (monotonic), then give up."""
        self._deadline = deadline
        self._stopping.set()
        self._retry_wake.set()

    def interrupt(self) -> None:
        """The deadline passed with an attempt in flight: end it (the exporter's ``shutdown``)."""
        self._interrupted = True
        self._stopping.set()
        self._retry_wake.set()
        self._exporter.shutdown()

    def close(self) -> None:
        """Delivery is over (the sending thread ends): release the exporter's connections."""
        self._exporter.shutdown()

    @property
    def deadline(self) -> float | None:
        """The shutdown deadline, once shutdown began."""
        return self._deadline

    @property
    def interrupted(self) -> bool:
        """True once shutdown gave up on this delivery at its deadline."""
        return self._interrupted

    def past_deadline(self) -> bool:
        """True once interrupted or past the shutdown deadline."""
        deadline = self._deadline
        return self._interrupted or (deadline is not None and time.monotonic() >= deadline)

    # -- the loop ----------------------------------------------------------------------------

    def _attempt(self, request: bytes, timeout_s: float) -> ExportResult:
        try:
            return self._exporter.export(request, timeout_s)
        except Exception as error:  # an exporter must not stop delivery
            return ExportResult(False, retryable=True, error=f"{type(error).__name__}: {error}")

    def lose(self, count: int, reason: str, detail: str) -> None:
        """Count ``count`` events as dropped for ``reason`` (and tell ``on_lost``)."""
        self._counters.drop(reason, count, detail, self._source)
        self._on_lost(count)

    def deliver(self, request: bytes, count: int, *, rejected_note: str = "") -> Delivered:
        """Send one serialised batch of ``count`` records until done; returns what became of it.

        ``exported``: accepted (records refused in a partial success are counted dropped);
        ``rejected``: refused for good, counted dropped (``rejected_note`` is added to the log);
        ``stopped``: the deadline came first, nothing counted (the caller decides).
        """
        attempt = 0
        while True:
            timeout = self._timeout
            deadline = self._deadline
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._interrupted:
                    return "stopped"
                timeout = min(timeout, remaining)
            result = self._attempt(request, timeout)
            if result.ok:
                rejected = min(max(result.rejected, 0), count)  # a server's count cannot exceed ours
                self._counters.export(count - rejected, self._source)
                if rejected:
                    self.lose(rejected, result.drop_reason, f"partial success: {result.error}")
                if attempt:
                    logger.info("otel-telemetry: export recovered after %d retries", attempt)
                return "exported"
            if not result.retryable:
                self.last_error = result.error
                self.lose(count, result.drop_reason, f"{result.error}{rejected_note}")
                return "rejected"
            if self.past_deadline():
                return "stopped"
            hint = result.retry_after_s
            wait = min(hint, MAX_RETRY_AFTER_S) if hint is not None else self._backoff.delay(attempt)
            if self._keep and not self._wait_fits(wait):
                return "stopped"
            if attempt == 0:
                logger.warning(
                    "otel-telemetry: export failed (%s); keeping the %d event(s) and retrying in %.1fs",
                    result.error,
                    count,
                    wait,
                )
            attempt += 1
            self._counters.retries += 1
            # the collector said when: a flush() does not hurry it; our own backoff it does
            if not self._sleep(wait, by_flush=hint is None):
                return "stopped"

    def _wait_fits(self, wait: float) -> bool:
        deadline = self._deadline
        return deadline is None or time.monotonic() + wait < deadline

    def _sleep(self, seconds: float, by_flush: bool) -> bool:
        """Wait ``seconds`` (never past the deadline); a flush ends our own backoff. False when
        delivery should stop instead (interrupted, or a deadline that keeps the batch came)."""
        end = time.monotonic() + seconds
        while True:
            if self._interrupted or (self._keep and not self._wait_fits(end - time.monotonic())):
                return False
            now = time.monotonic()
            deadline = self._deadline
            limit = end if deadline is None else min(end, deadline)
            if now >= limit:
                return True
            event = self._retry_wake if by_flush else self._stopping
            if event.wait(limit - now):
                event.clear()
                if by_flush:
                    return True
