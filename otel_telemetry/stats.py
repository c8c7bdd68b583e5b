"""Self-telemetry: what happened to the events the app sent.

Counts are exact and the ``send()`` hot path increments nothing: ``accepted`` is derived
(taken by the worker + evicted + still queued). Drops and evictions are counted under a lock
(rare paths, from any thread); ``taken`` only by the thread draining the queue (the worker, or
a ``spool_sync`` caller holding the drain lock); ``exported``, ``retries`` and ``spooled`` by
the one thread that delivers (the worker, or the spool's sender thread).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from . import _capture_hook
from ._log import logger

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
    "encode_error": "the batch could not be encoded",
    "handoff_error": "at exit, the events could not be written to the hand-off area (docs/short-lived.md)",
    "internal_error": "an unexpected error inside otel-telemetry (please report it)",
    "catalog": "the event broke the event catalog in enforce mode (counts by violation type: "
    "Telemetry.catalog_policy.violations)",
}


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
    #: Events handed off at exit to a detached sender (``docs/short-lived.md``).
    handed_off: int = 0

    @property
    def dropped_total(self) -> int:
        """All drops, whatever the reason."""
        return sum(self.dropped.values())


class Counters:
    """Mutable counters behind :class:`TelemetryStats`; logs the first drop of each kind."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.dropped: Counter[str] = Counter()
        self.taken = 0
        self.exported = 0
        self.retries = 0
        self.invalid_properties = 0
        self.evicted = 0  # accepted, then evicted from the queue by overflow="drop_oldest"
        self.spooled = 0
        self.recovered = 0
        self.handed_off = 0
        self.spool_corrupt_bytes = 0
        self._logged: set[str] = set()

    def drop(self, reason: str, count: int = 1, detail: str = "") -> None:
        """Count ``count`` dropped events; the first drop of each reason is logged as a warning."""
        with self._lock:
            self.dropped[reason] += count
            first = reason not in self._logged
            self._logged.add(reason)
        capture = _capture_hook.active
        if capture is not None:  # a test is capturing: it asserts on refused events too
            capture.record_drop(reason, detail)
        if first and reason != "not_exported":
            logger.warning(
                "otel-telemetry dropped %d event(s): %s (%s)%s; further drops of this kind are counted "
                "in stats() but not logged",
                count,
                reason,
                DROP_REASONS.get(reason, reason),
                f": {detail}" if detail else "",
            )

    def evict(self, count: int = 1) -> None:
        """``count`` accepted events were evicted from the queue to make room (drop_oldest)."""
        with self._lock:
            self.evicted += count
        self.drop("queue_full", count, "the oldest queued event was evicted (overflow='drop_oldest')")

    def invalid_property(self, field_name: str, rule: str) -> None:
        """A property was left out of an accepted event (lenient mode)."""
        with self._lock:
            self.invalid_properties += 1
            first = "property" not in self._logged
            self._logged.add("property")
        if first:
            logger.warning(
                "otel-telemetry left out property %s: %s; further cases are counted in stats()",
                field_name,
                rule,
            )

    def snapshot(self, queued: int, spool_pending: int = 0, spool_bytes: int = 0) -> TelemetryStats:
        """The counters now (``queued`` and the spool figures are the pipeline's)."""
        with self._lock:
            dropped = dict(self.dropped)
            evicted = self.evicted
        return TelemetryStats(
            accepted=self.taken + evicted + queued,
            exported=self.exported,
            queued=queued,
            retries=self.retries,
            dropped=dropped,
            invalid_properties=self.invalid_properties,
            spooled=self.spooled,
            spool_pending=spool_pending,
            spool_bytes=spool_bytes,
            recovered=self.recovered,
            spool_corrupt_bytes=self.spool_corrupt_bytes,
            handed_off=self.handed_off,
        )
