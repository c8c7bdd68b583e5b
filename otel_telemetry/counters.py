"""Self-telemetry: what happened to the events the app sent.

Counts are exact and add up at every moment (:class:`Counters`), and the ``send()`` hot path
increments nothing: ``accepted`` is derived (taken by the worker + evicted + still queued).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from . import _capture_hook
from ._log import logger
from .processes import fork_safe

#: Drop reasons and what they mean (also the ``reason`` keys of :attr:`TelemetryStats.dropped`).
DROP_REASONS = {
    "invalid": "the event or its payload broke a rule (see the log line for the field and rule)",
    "rate_limited": "a rate limit for this event name, or the global cap, was reached",
    "queue_full": "the in-memory queue was full (the exporter is down or too slow); with "
    "overflow='drop_oldest' the oldest queued event was evicted, with 'block' send() waited in vain",
    "spool_full": "the spool directory reached its size cap (see the overflow policy)",
    "spool_error": "the spool could not be written (disk full, I/O error, unusable directory)",
    "spool_corrupt": "a damaged frame in a spool segment was skipped (the rest was delivered)",
    "config_error": "the exporter's configuration cannot work (see the logged configuration error), "
    "so nothing was sent",
    "not_exported": "OTEL_LOGS_EXPORTER=none: events are accepted and not exported (the pytest "
    "plugin sets it for test sessions)",
    "shutdown": "telemetry was shut down before the event could be exported",
    "rejected": "the collector permanently rejected the batch (e.g. HTTP 400)",
    "encode_error": "the event could not be encoded (text that is not valid Unicode, or a value whose own "
    "methods raise); its batch-mates were sent",
    "too_large": "the event alone is larger than a request may be (the collector's message limit)",
    "handoff_error": "at exit, the events could not be written to the hand-off area (docs/short-lived.md)",
    "internal_error": "an unexpected error inside otel-telemetry (please report it)",
    "opted_out": "the app's user turned telemetry off (`telemetry disable`) before the event was sent",
    "catalog": "the event broke the event catalog in enforce mode (counts by violation type: "
    "Telemetry.catalog_policy.violations)",
}


#: ``logging.INFO`` and ``logging.WARNING`` (``logging`` is imported only when a line is logged).
_INFO, _WARNING = 20, 30

#: Drops the app's users asked for: logged at INFO, not as a warning.
EXPECTED_DROPS = frozenset({"opted_out"})


@dataclass(frozen=True)
class TelemetryStats:
    """A snapshot of the counters of one ``Telemetry`` instance."""

    accepted: int
    exported: int
    queued: int
    retries: int
    dropped: dict[str, int] = field(default_factory=dict)
    invalid_properties: int = 0
    #: Events written to the spool (cumulative; 0 without a spool).
    spooled: int = 0
    #: Events in the spool not yet acknowledged by the collector (this process's and adopted).
    spool_pending: int = 0
    #: Bytes of spool segment files held by this process.
    spool_bytes: int = 0
    #: Events found in the spool directories of earlier (dead or stopped) processes, to deliver.
    recovered: int = 0
    #: Bytes of damaged spool data skipped (their events are counted as ``spool_corrupt`` drops).
    spool_corrupt_bytes: int = 0
    #: Events taken from the queue and not yet exported, dropped or written to the spool.
    in_flight: int = 0
    #: Events ``send()`` refused (returned False for); each is also counted in ``dropped``.
    refused: int = 0
    #: Events left out by sampling (``SamplingSettings``), by event name: not drops.
    sampled_out: dict[str, int] = field(default_factory=dict)
    #: Events handed off at exit to a detached sender (``docs/short-lived.md``): settled here.
    handed_off: int = 0

    @property
    def dropped_total(self) -> int:
        """All drops, whatever the reason."""
        return sum(self.dropped.values())


#: Where events were when they were exported or dropped: taken from the queue and not yet
#: settled (``in_flight``), or written to the spool (``spool``). ``None``: neither (refused at
#: ``send()``, or removed from the queue by the caller, which holds :attr:`Counters.lock`).
Source = Literal["in_flight", "spool"] | None


class Counters:
    """Mutable counters behind :class:`TelemetryStats`; logs the first drop of each kind.

    Every event ``send()`` is given is, at every moment, exactly one of: queued, in flight,
    spooled, exported or dropped (``accepted + refused + recovered`` equals their sum). Each
    move between them is one call under :attr:`lock`, and :meth:`snapshot` reads them all
    under it, so ``stats()`` always adds up. The queue is the pipeline's: it pops events
    and calls :meth:`take` holding the lock, and passes the queue's length to the snapshot.
    """

    def __init__(self) -> None:
        #: Held for every move between states, and while the pipeline pops from its queue.
        self.lock = fork_safe(threading.RLock())
        self.dropped: Counter[str] = Counter()
        self.taken = 0
        self.exported = 0
        self.retries = 0
        self.invalid_properties = 0
        self.evicted = 0  # accepted, then dropped before the worker took them (drop_oldest, shutdown)
        self.spooled = 0
        self.recovered = 0
        self.spool_corrupt_bytes = 0
        self.refused = 0
        self.in_flight = 0
        self.spool_pending = 0
        self.handed_off = 0
        #: Set when shutdown gave up on what was in flight (counted dropped): a late result of
        #: an abandoned attempt must not count the same events again.
        self.settled = False
        self._logged: set[str] = set()

    def _leave(self, source: Source, count: int) -> bool:
        """Take ``count`` events out of ``source`` (lock held); False if they no longer count."""
        if source is None:
            return True
        if self.settled:
            return False
        if source == "in_flight":
            self.in_flight -= count
        else:
            self.spool_pending -= count
        return True

    def drop(self, reason: str, count: int = 1, detail: str = "", source: Source = None) -> None:
        """Count ``count`` dropped events (from ``source``); the first drop of each reason is
        logged as a warning."""
        with self.lock:
            if not self._leave(source, count):
                return
            self.dropped[reason] += count
            first = reason not in self._logged
            self._logged.add(reason)
        capture = _capture_hook.active
        if capture is not None:  # a test is capturing: it asserts on refused events too
            capture.record_drop(reason, detail)
        if first and reason != "not_exported":
            logger.log(
                _INFO if reason in EXPECTED_DROPS else _WARNING,
                "otel-telemetry dropped %d event(s): %s (%s)%s; further drops of this kind are counted "
                "in stats() but not logged",
                count,
                reason,
                DROP_REASONS.get(reason, reason),
                f": {detail}" if detail else "",
            )

    def refuse(self, reason: str, count: int = 1, detail: str = "") -> None:
        """``send()`` refused ``count`` events (they were never accepted): counted as dropped too."""
        with self.lock:
            self.refused += count
            self.drop(reason, count, detail)

    def evict(self, count: int = 1) -> None:
        """``count`` accepted events were evicted from the queue to make room (drop_oldest); the
        caller popped them holding :attr:`lock`."""
        self.drop_accepted(
            "queue_full", count, "the oldest queued event was evicted (overflow='drop_oldest')"
        )

    def drop_accepted(self, reason: str, count: int, detail: str) -> None:
        """``count`` accepted events were dropped without reaching the worker: removed from the
        queue (the caller holds :attr:`lock` while it removes them), or never queued
        (``OTEL_LOGS_EXPORTER=none``)."""
        with self.lock:
            self.evicted += count
            self.drop(reason, count, detail)

    def take(self, count: int) -> None:
        """``count`` events left the queue for the worker (the caller popped them holding the lock)."""
        with self.lock:
            self.taken += count
            self.in_flight += count

    def hand_off(self, queued: int, in_flight: int) -> None:
        """At exit, ``queued`` events (the caller popped them holding :attr:`lock`) and
        ``in_flight`` ones went to the hand-off area; an attempt still under way no longer counts."""
        with self.lock:
            self.taken += queued
            if self._leave("in_flight", in_flight):
                self.settled = True
            self.handed_off += queued + in_flight

    def hand_off_late(self, count: int) -> None:
        """``count`` events sent after the exit handler went straight to the hand-off area."""
        with self.lock:
            self.taken += count
            self.handed_off += count

    def hand_off_failed(self, count: int, detail: str) -> None:
        """The hand-off area refused ``count`` events counted handed off: dropped instead."""
        with self.lock:
            self.handed_off -= count
            self.drop("handoff_error", count, detail)

    def export(self, count: int, source: Source) -> None:
        """``count`` events were accepted by the collector."""
        with self.lock:
            if self._leave(source, count):
                self.exported += count

    def spool(self, count: int) -> None:
        """``count`` events in flight were written to the spool."""
        with self.lock:
            if self._leave("in_flight", count):
                self.spooled += count
                self.spool_pending += count

    def recover(self, count: int) -> None:
        """``count`` events found in an earlier process's spool are now this one's to deliver."""
        with self.lock:
            self.recovered += count
            self.spool_pending += count

    def abandon(self, reason: str, detail: str) -> int:
        """Shutdown's deadline passed: what is still in flight is dropped, and results that come
        in later are not counted. Returns the number of events dropped."""
        with self.lock:
            count = self.in_flight
            if count:
                self.drop(reason, count, detail, "in_flight")
            self.settled = True
            return count

    def after_fork(self) -> None:
        """In a child process: start from zero (what the parent held is the parent's). Takes no
        lock: the child has one thread, and a lock held at the fork would never be released."""
        self.__init__()  # type: ignore[misc]

    def invalid_property(self, field_name: str, rule: str) -> None:
        """A property was left out of an accepted event (lenient mode)."""
        with self.lock:
            self.invalid_properties += 1
            first = "property" not in self._logged
            self._logged.add("property")
        if first:
            logger.warning(
                "otel-telemetry left out property %s: %s; further cases are counted in stats()",
                field_name,
                rule,
            )

    def snapshot(
        self, queued: int | Callable[[], int], spool_pending: int | None = None, spool_bytes: int = 0
    ) -> TelemetryStats:
        """The counters now. ``queued`` (the pipeline's queue length, or a function reading it
        under the lock) and ``spool_bytes`` are the pipeline's; ``spool_pending`` defaults to
        the events moved into the spool and not yet settled."""
        with self.lock:
            queued_now = queued() if callable(queued) else queued
            return TelemetryStats(
                accepted=self.taken + self.evicted + queued_now,
                exported=self.exported,
                queued=queued_now,
                retries=self.retries,
                dropped=dict(self.dropped),
                invalid_properties=self.invalid_properties,
                spooled=self.spooled,
                spool_pending=self.spool_pending if spool_pending is None else spool_pending,
                spool_bytes=spool_bytes,
                recovered=self.recovered,
                in_flight=self.in_flight,
                refused=self.refused,
                spool_corrupt_bytes=self.spool_corrupt_bytes,
                handed_off=self.handed_off,
            )
