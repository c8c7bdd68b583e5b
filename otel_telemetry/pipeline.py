"""The batching pipeline: a bounded queue on the caller's side, one worker thread on the other.

``submit`` is the whole cost ``send()`` pays for delivery: a length check and a deque append.
The worker drains the queue in batches and encodes each batch once (``encode``, the mapping
and encoding modules). Then, without a spool, it hands the batch to
:class:`~otel_telemetry.delivery.Delivery`, which sends it until the exporter accepts it: a
batch that fails transiently is kept, not dropped, and while the collector is away the queue
fills and its overflow policy decides (``drop_newest`` refuses new events, ``drop_oldest``
evicts the oldest queued one, ``block`` makes ``send()`` wait up to ``block_timeout_s``).
With a spool, the worker writes each encoded batch to disk instead and a second thread
(:class:`~otel_telemetry.spool.sender.SpoolSender`) delivers from there, through its own
``Delivery``. Every loss (overflow, permanent rejection, shutdown deadline, disk trouble) is
counted and logged.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from . import processes  # first: its fork hooks run before ours in the child
from ._log import logger
from .counters import Counters, TelemetryStats
from .delivery import Delivery
from .event import Event
from .exporters.base import Exporter
from .settings import DeliverySettings
from .threads import background_thread

if TYPE_CHECKING:  # the spool is imported only by a pipeline that has one
    from .encoding import EncodedBatch
    from .spool.sender import SpoolSender
    from .spool.spool import Position, Spool


#: Encodes a batch: the requests to send, each with its number of events, and ``(reason,
#: detail)`` for each event left out (one that cannot be encoded costs only itself). The second
#: argument, if given, makes each record's ``otel_telemetry.event.id``.
Encode = Callable[[Sequence[Event], "Callable[[], str] | None"], "EncodedBatch"]


class EventIds:
    """Unique record ids: 64 random bits per process + a 64-bit counter, as 32 hex digits.

    Assigned when a batch is prepared (on the worker thread, so ``send()`` pays nothing) as
    the ``otel_telemetry.event.id`` attribute; the id then travels with the encoded record,
    through the spool and every retry, unchanged (duplicates after a crash share it).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """A new random prefix (after ``fork()``, parent and child must not share ids)."""
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count()

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


_ids = EventIds()


class _FlushMarker:
    """Queued by ``flush()``: when the worker reaches it, everything before it is done."""

    __slots__ = ("done", "lost_after", "lost_before", "position")

    def __init__(self, lost_before: int) -> None:
        self.done = threading.Event()
        self.lost_before = lost_before
        self.lost_after = lost_before
        self.position: Position | None = None  # with a spool: delivery must pass this point


_live: weakref.WeakSet[BatchPipeline] = weakref.WeakSet()


def _reset_after_fork() -> None:
    _ids.reset()
    for pipeline in list(_live):
        pipeline._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def live_pipelines() -> list[BatchPipeline]:
    """Every pipeline of this process (for the exit and signal paths of ``processes``)."""
    return list(_live)


class BatchPipeline:
    """Queue + worker thread for one exporter, optionally through a disk spool."""

    def __init__(
        self,
        encode: Encode,
        exporter: Exporter,
        counters: Counters,
        delivery: DeliverySettings,
    ) -> None:
        self._encode = encode
        self._exporter = exporter
        self._counters = counters
        self._max_queue = delivery.max_queue_size
        self._batch = delivery.max_export_batch_size
        self._delay = delivery.schedule_delay_s
        self._overflow = delivery.overflow
        self._block_timeout = delivery.block_timeout_s
        self._max_request_bytes = delivery.max_request_bytes
        self._settings = delivery
        self._event_ids = delivery.with_event_ids
        self._spool_settings = delivery.spool
        self._sync = delivery.spool is not None and delivery.spool.sync == "sync"
        self._lost = 0
        self._delivery = self._new_delivery(keep_at_deadline=False)
        self._init_threading()
        _live.add(self)

    def _new_delivery(self, keep_at_deadline: bool) -> Delivery:
        return Delivery(
            self._exporter,
            self._counters,
            timeout_s=self._settings.export_timeout_s,
            backoff=self._settings.backoff,
            on_lost=self._count_lost,
            keep_at_deadline=keep_at_deadline,
        )

    def _init_threading(self) -> None:
        self._queue: deque[Event | _FlushMarker] = deque()
        self._markers = 0  # flush markers in the queue (changed under the counters' lock)
        self._lock = threading.Lock()
        self._lost_lock = threading.Lock()
        self._drain_lock = threading.Lock()  # one drainer at a time: the worker or a sync caller
        self._wake = threading.Event()
        self._space = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._draining_deadline: float | None = None
        self._stopped = threading.Event()  # set when shutdown() has returned
        self._inflight: list[Event] | None = None  # the batch being exported (a hand-off takes it)
        self._handed_off = False
        #: After the exit handler: where ``submit`` sends events (``exit.late_send``).
        self.late_sink: Callable[[Event], bool] | None = None
        # spool mode: the spool, its sender, and sync-mode bookkeeping (appended vs written)
        self._spool: Spool | None = None
        self._sender: SpoolSender | None = None
        self._spool_open = False
        self._sync_cond = threading.Condition()
        self._appended = 0
        self._written = 0
        if self._spool_settings is not None:
            from .spool.spool import Spool

            self._spool = Spool(self._spool_settings, self._counters, self._overflow, self._count_lost)

    # -- caller side -------------------------------------------------------------------------

    def submit(self, event: Event) -> bool:
        """Queue one event; False when it was refused (queue full per policy, or shut down)."""
        queue = self._queue
        if (len(queue) >= self._max_queue or self._closed) and not self._make_room():
            sink = self.late_sink
            return sink(event) if sink is not None and self._closed else False
        if self._sync:
            return self._submit_sync(event)
        queue.append(event)
        if self._thread is None:
            self._start()
        elif len(queue) % self._batch == 0:
            self._wake.set()
        return True

    def _make_room(self) -> bool:
        """Apply the overflow policy to a full queue; True if the event may now be queued."""
        if self._closed:
            return False
        queue = self._queue
        if self._overflow == "drop_oldest" and not self._sync:
            with self._counters.lock:  # popped and counted at once: stats() never sees it nowhere
                try:
                    oldest = queue.popleft()
                except IndexError:
                    return True
                if type(oldest) is _FlushMarker:
                    queue.appendleft(oldest)  # a flush is waiting on it: refuse the new event instead
                    return False
                self._count_lost(1)
                self._counters.evict(1)
            return True
        if self._overflow == "block":
            deadline = time.monotonic() + self._block_timeout
            self._wake.set()
            while len(queue) >= self._max_queue:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    return False
                self._space.clear()
                if len(queue) < self._max_queue:
                    break
                self._space.wait(min(remaining, 0.05))
            return not self._closed
        return False

    def _submit_sync(self, event: Event) -> bool:
        """``spool_sync="sync"``: return once the event is written to the spool (or on timeout)."""
        with self._sync_cond:
            self._queue.append(event)
            self._appended += 1
            target = self._appended
        if self._thread is None:
            self._start()
        if self._spool_open and self._drain_lock.acquire(blocking=False):
            # group commit on the caller's thread: write everything queued, ours included,
            # instead of waiting for the worker to wake up (a thread hand-off costs ~150 µs)
            try:
                self._drain(self._queue, until=target)
            except Exception:  # never raise into the app; the worker will retry
                logger.exception("otel-telemetry: unexpected error writing to the spool")
            finally:
                self._drain_lock.release()
            if self._queue:
                self._wake.set()  # what others queued meanwhile is the worker's
        else:
            self._wake.set()
        with self._sync_cond:
            self._sync_cond.wait_for(lambda: self._written >= target or self._closed, self._block_timeout)
        return True

    @property
    def exporter(self) -> Exporter:
        """The exporter this pipeline feeds."""
        return self._exporter

    @property
    def closed(self) -> bool:
        """True once ``shutdown()`` has begun."""
        return self._closed

    @property
    def queued(self) -> int:
        """Events waiting in the queue (not counting a batch being sent)."""
        with self._counters.lock:
            return self._queued()

    def _queued(self) -> int:
        """Events in the queue; the caller holds the counters' lock (markers move under it)."""
        return len(self._queue) - self._markers

    @property
    def lost(self) -> int:
        """Events accepted and then lost (rejected, encode error, shutdown deadline, overflow)."""
        return self._lost

    @property
    def spool_path(self) -> str | None:
        """This process's spool directory, once the worker has opened it."""
        path = self._spool.path if self._spool is not None else None
        return str(path) if path is not None else None

    def stats(self) -> TelemetryStats:
        """The counters, with the queue and spool figures of this pipeline, read at one moment."""
        size = self._spool.pending()[1] if self._spool is not None else 0
        return self._counters.snapshot(self._queued, spool_bytes=size)

    def start_background(self) -> None:
        """Start the worker now (a spool has events of earlier runs to deliver without a send)."""
        if self._thread is None:
            self._start()

    def wake(self) -> None:
        """Cut every wait short now (the worker's, a retry backoff, the spool sender's): the
        user turned telemetry off, and what is held should be discarded at once."""
        self._wake.set()
        self._delivery.wake()
        if self._sender is not None:
            self._sender.wake()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            thread = background_thread(self._run, "otel-telemetry-export")
            thread.start()
            self._thread = thread
        processes.on_sender_started()  # this process's exit (worker, SIGTERM) must deliver

    def _count_lost(self, count: int) -> None:
        with self._lost_lock:
            self._lost += count

    def flush(self, timeout_s: float) -> bool:
        """Wait until everything submitted before this call is exported; False on timeout or loss."""
        deadline = time.monotonic() + max(timeout_s, 0.0)
        thread = self._thread
        if thread is None or not thread.is_alive():
            return not any(type(item) is not _FlushMarker for item in list(self._queue))
        marker = _FlushMarker(self._lost)
        with self._counters.lock:
            self._queue.append(marker)
            self._markers += 1
        self._wake.set()
        self._delivery.wake()
        if self._sender is not None:
            self._sender.wake()
        if not marker.done.wait(max(timeout_s, 0.0)):
            return False
        if marker.position is not None and self._spool is not None:
            if not self._spool.wait_delivered(marker.position, deadline - time.monotonic()):
                return False
            marker.lost_after = self._lost
        return marker.lost_after == marker.lost_before

    @property
    def idle(self) -> bool:
        """Closed, nothing queued, and the worker (if any) has ended."""
        thread = self._thread
        return self._closed and not self._queue and (thread is None or not thread.is_alive())

    def count_lost(self, count: int) -> None:
        """``count`` accepted events were lost outside the pipeline (e.g. a failed hand-off)."""
        self._count_lost(count)

    def take_pending(self, wait_s: float = 0.02) -> list[Event]:
        """Close, and return every event not yet exported (queued and in flight), for a hand-off.

        The worker stops at once; a batch it is still sending (to a hanging collector) is
        returned too, so it may arrive twice (at least once, never lost). Its events are no
        longer counted by this pipeline: they left it.
        """
        with self._lock:
            if self._handed_off:
                return []
            self._closed = self._handed_off = True  # (a shutdown may be under way: it stops now)
            self._draining_deadline = time.monotonic()
        self._delivery.stop(time.monotonic())  # a send under way gives up at its next wait
        idle = self._drain_lock.acquire(timeout=wait_s)
        try:
            with self._counters.lock:  # queued/in flight -> handed off at once: stats() adds up
                taken: list[Event] = [] if idle else list(self._inflight or ())
                in_flight = len(taken)
                while self._queue:
                    item = self._queue.popleft()
                    if type(item) is _FlushMarker:
                        self._markers -= 1
                        item.done.set()
                    else:
                        taken.append(item)  # type: ignore[arg-type]
                self._counters.hand_off(len(taken) - in_flight, in_flight)
        finally:
            if idle:
                self._drain_lock.release()
        self._wake.set()
        return taken

    def shutdown(self, timeout_s: float) -> bool:
        """Stop accepting, export what is queued within ``timeout_s``, then stop the worker.

        Returns True when everything accepted was exported, and always by the deadline (plus
        the time to count): what is still queued or in flight then is counted at once, as
        dropped (``shutdown``) and logged, and an attempt in flight is interrupted where the
        transport allows (gRPC), else abandoned to end by its own timeout. With a spool, what
        is on disk stays there for the next process (not a loss); only what never reached the
        disk is dropped.
        """
        deadline = time.monotonic() + max(timeout_s, 0.0)
        with self._lock:
            if self._closed:  # another thread's shutdown is under way: it finishes the job
                return self.wait_stopped()
            self._closed = True
            self._draining_deadline = deadline
            thread = self._thread
        try:
            return self._shut_down(thread, deadline, timeout_s)
        finally:
            self._stopped.set()

    def _shut_down(self, thread: threading.Thread | None, deadline: float, timeout_s: float) -> bool:
        lost_before = self._lost
        if self._spool is not None:
            self._spool.begin_close()  # the sender stops waiting for full batches
        self._delivery.stop(deadline)  # retry waits and attempts end at the deadline
        self._space.set()
        with self._sync_cond:
            self._sync_cond.notify_all()
        if thread is not None:
            self._wake.set()
            thread.join(max(deadline - time.monotonic(), 0.0))
        sender = self._sender
        sender_done = sender.stop(deadline) if sender is not None else True
        with self._counters.lock:  # what the deadline cut off, counted at one moment
            left = self._queued()
            self._queue.clear()
            self._markers = 0
            if left:
                self._count_lost(left)
                self._counters.drop_accepted(
                    "shutdown", left, f"{left} event(s) still queued at the shutdown deadline"
                )
            abandoned = self._counters.abandon(
                "shutdown", "exporter unavailable at shutdown (in flight at the deadline)"
            )
            self._count_lost(abandoned)
        worker_done = thread is None or not thread.is_alive()
        if sender is None and not worker_done:
            self._delivery.interrupt()  # gRPC cancels the call; an HTTP request ends by its timeout
        elif thread is None and sender is None:
            self._exporter.shutdown()
        if left or abandoned:
            logger.warning(
                "otel-telemetry: shutdown(%.1f) gave up on %d event(s) at its deadline (%d queued, %d in "
                "flight); they are counted as dropped (shutdown)",
                timeout_s,
                left + abandoned,
                left,
                abandoned,
            )
        delivered = True
        if self._spool is not None:
            delivered = self._spool.pending()[0] == 0
            self._spool.close()
        return self._lost == lost_before and delivered and worker_done and sender_done

    def wait_stopped(self, margin_s: float = 1.0) -> bool:
        """Once ``shutdown()`` began (maybe on another thread): wait until it has returned, at
        most until its deadline plus ``margin_s``; True if it had."""
        deadline = self._draining_deadline
        if deadline is None:
            return self._stopped.is_set()
        return self._stopped.wait(max(deadline + margin_s - time.monotonic(), 0.0))

    # -- worker side -------------------------------------------------------------------------

    def _run(self) -> None:
        queue = self._queue
        delay = self._delay
        if self._spool is not None:
            self._open_spool()
            if self._spool_open:
                from .spool.spool import SPOOL_WRITE_DELAY_S

                delay = min(delay, SPOOL_WRITE_DELAY_S)
        while True:
            self._wake.wait(delay)
            self._wake.clear()
            try:
                with self._drain_lock:
                    self._drain(queue)
            except Exception:  # never let the worker die: that would silently stop delivery
                logger.exception("otel-telemetry: unexpected error in the export worker")
            if self._closed and (not queue or self._past_deadline()):
                if self._sender is None:
                    self._exporter.shutdown()
                return

    def _open_spool(self) -> None:
        spool = self._spool
        assert spool is not None
        if not spool.open():
            return
        self._spool_open = True
        with processes.fork_waits():  # a first import on the export thread (see processes)
            from .spool.sender import SpoolSender

        self._sender = SpoolSender(
            spool,
            self._new_delivery(keep_at_deadline=True),
            batch=self._batch,
            delay_s=self._delay,
            max_bytes=self._max_request_bytes,
        )
        self._sender.start()

    def _drain(self, queue: deque[Event | _FlushMarker], until: int | None = None) -> None:
        """Export (or spool) what is queued; a sync caller stops once ``until`` events are written."""
        while queue and (until is None or self._written < until):
            if self._past_deadline():
                return  # shutdown() counts what is left; encoding it to fail at once helps nobody
            batch: list[Event] = []
            marker: _FlushMarker | None = None
            with self._counters.lock:  # queued -> in flight at once: stats() counts each event once
                while queue and len(batch) < self._batch:
                    item = queue.popleft()
                    if type(item) is _FlushMarker:
                        marker = item
                        self._markers -= 1
                        break
                    batch.append(item)  # type: ignore[arg-type]
                self._counters.take(len(batch))
            self._space.set()
            if batch:
                self._inflight = batch
                self._export(batch)
                self._inflight = None
            if self._spool_open:
                assert self._spool is not None
                self._spool.commit()
            if self._sync:
                with self._sync_cond:
                    self._written += len(batch)
                    self._sync_cond.notify_all()
            if marker is not None:
                if self._spool_open:
                    assert self._spool is not None
                    marker.position = self._spool.write_position()
                marker.lost_after = self._lost
                marker.done.set()

    def _past_deadline(self) -> bool:
        """True once a memory-only pipeline's shutdown deadline has passed (a spool keeps going)."""
        deadline = self._draining_deadline
        return deadline is not None and self._spool is None and time.monotonic() >= deadline

    def _lose(self, count: int, reason: str, detail: str) -> None:
        """``count`` events in flight are dropped."""
        if self._handed_off and reason == "shutdown":
            return  # the batch was handed off at exit: not lost
        self._count_lost(count)
        self._counters.drop(reason, count, detail, "in_flight")

    def _export(self, batch: list[Event]) -> None:
        try:
            requests, left_out = self._encode(batch, _ids if self._event_ids else None)
        except Exception as exc:
            logger.exception("otel-telemetry: could not encode a batch")
            self._lose(len(batch), "encode_error", repr(exc))
            return
        if left_out:
            self._count_left_out(left_out)
        for request, count in requests:
            if self._spool_open:
                self._spool_write(request, count)
                continue
            try:
                done = self._delivery.deliver(request, count)
            except Exception as exc:  # a bug of ours: the batch is counted, not silently lost
                logger.exception("otel-telemetry: unexpected error delivering a batch")
                self._lose(count, "internal_error", repr(exc))
                continue
            if done == "stopped":
                self._lose(
                    count,
                    "shutdown",
                    "exporter unavailable at shutdown (the batch was not accepted before the deadline)",
                )

    def _count_left_out(self, left_out: Sequence[tuple[str, str]]) -> None:
        """Count the events the encoder left out, by reason; each reason logged with its first case."""
        by_reason: dict[str, list[str]] = {}
        for reason, detail in left_out:
            by_reason.setdefault(reason, []).append(detail)
        for reason, details in by_reason.items():
            self._lose(len(details), reason, details[0])
            for detail in details:
                logger.debug("otel-telemetry: left an event out of its batch (%s): %s", reason, detail)

    def _spool_write(self, payload: bytes, count: int) -> None:
        spool = self._spool
        assert spool is not None
        timeout = 0.0 if self._closed else self._block_timeout
        failed = spool.append(payload, count, timeout)
        if failed is not None:
            reason, detail = failed
            self._lose(count, reason, detail)

    # -- fork --------------------------------------------------------------------------------

    def _after_fork_in_child(self) -> None:
        """The child starts empty: queued events belong to the parent, which exports them."""
        closed = self._closed
        if self._spool is not None:
            self._spool.after_fork()
        self._init_threading()
        self._delivery.reset()
        self._counters.after_fork()
        self._closed = closed
        if closed:
            self._stopped.set()  # shut down before the fork: nothing to wait for in the child
        self._lost = 0
