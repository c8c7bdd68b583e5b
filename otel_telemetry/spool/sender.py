"""The sender thread: exports what the spool holds and deletes only what the collector accepted.

Each spooled batch goes through :class:`~otel_telemetry.delivery.Delivery` (retries, backoff,
the server's hints, counting). A permanent rejection (e.g. 400) moves the batch to
``rejected/`` with its reason. At shutdown the sender stops at the deadline and leaves the
rest on disk for the next process.
"""

from __future__ import annotations

import threading
import time

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from .._log import logger
from ..delivery import Delivery
from ..encoding import DEFAULT_MAX_REQUEST_BYTES
from ..threads import background_thread
from .segments import Chunk
from .spool import Spool


class SpoolSender:
    """One background thread delivering spooled batches."""

    def __init__(
        self,
        spool: Spool,
        delivery: Delivery,
        *,
        batch: int,
        delay_s: float,
        max_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    ) -> None:
        self._spool = spool
        self._delivery = delivery
        self._batch = batch
        self._max_bytes = max_bytes  # frames read together become one request: the collector's limit
        self._delay = delay_s
        self._idle = threading.Event()  # woken by flush() while waiting after an unexpected error
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = background_thread(self._run, "otel-telemetry-spool-sender")
            self._thread.start()

    def wake(self) -> None:
        """Retry now (flush): cut a backoff wait short."""
        self._delivery.wake()
        self._idle.set()
        self._spool.notify()

    def stop(self, deadline: float) -> bool:
        """Deliver until ``deadline`` (monotonic), then stop; True if the thread ended in time."""
        self._delivery.stop(deadline)
        self._spool.writer_finished()
        self._idle.set()
        thread = self._thread
        if thread is None:
            return True
        thread.join(max(deadline - time.monotonic(), 0.0))
        if thread.is_alive():
            # an attempt still in flight: gRPC cancels it, an HTTP request ends by its timeout;
            # either way its batch stays on disk (not acknowledged) and shutdown goes on now
            self._delivery.interrupt()
        return not thread.is_alive()

    def _run(self) -> None:
        delivery = self._delivery
        try:
            while not delivery.past_deadline():
                try:
                    chunk = self._spool.next_chunk(self._batch, self._max_bytes)
                    if chunk is None:
                        if self._spool.finished:
                            return
                        self._spool.wait_for_work(self._batch, self._delay, 1.0)
                        continue
                    if self._deliver(chunk) == "stopped":
                        return  # the rest stays on disk
                except Exception:  # never let the sender die: that would silently stop delivery
                    logger.exception("otel-telemetry: unexpected error in the spool sender")
                    self._idle.wait(1.0)
                    self._idle.clear()
        finally:
            delivery.close()

    def _deliver(self, chunk: Chunk) -> str:
        delivery = self._delivery
        if chunk.damage:
            lost = self._spool.report_damage(chunk)
            delivery.lose(lost, "spool_corrupt", "damaged spool data skipped (see the error above)")
        if not chunk.frames:
            self._spool.ack(chunk)
            return "exported"
        records = chunk.records
        try:
            ExportLogsServiceRequest.FromString(chunk.payload)  # sent as it is, once it parses
        except Exception as exc:  # checksums matched, so this is a bug of ours: keep the data
            delivery.lose(records, "spool_corrupt", f"undecodable spooled batch: {exc!r}")
            self._spool.reject(chunk, f"undecodable: {exc!r}")
            return "rejected"
        done = delivery.deliver(
            chunk.payload, records, rejected_note="; the batch was moved to the spool's rejected/"
        )
        if done == "exported" and not delivery.interrupted:  # given up: the next process sends it
            self._spool.ack(chunk)
        elif done == "rejected":
            self._spool.reject(chunk, delivery.last_error)
        return done
