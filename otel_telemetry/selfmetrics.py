"""Self-telemetry as OpenTelemetry metrics: the ``stats()`` counters, observed at collection time.

``Telemetry(self_metrics=True)`` uses the global ``MeterProvider``; ``self_metrics=provider``
uses that one. Nothing is computed on the ``send()`` path: the callbacks read one
:meth:`~otel_telemetry.Telemetry.stats` snapshot when the app's metric reader collects.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from .counters import TelemetryStats
from .version import __version__

if TYPE_CHECKING:
    from .telemetry import Telemetry

METER_NAME = "otel_telemetry"
#: Snapshots are reused for this long, so the callbacks of one collection share one.
_SNAPSHOT_TTL_S = 0.5


class SelfMetrics:
    """Observable instruments over the counters of one ``Telemetry`` (held weakly)."""

    def __init__(self, telemetry: Telemetry, provider: metrics.MeterProvider) -> None:
        self._telemetry = weakref.ref(telemetry)
        self._snapshot: TelemetryStats | None = None
        self._taken_at = 0.0
        meter = provider.get_meter(METER_NAME, __version__)
        counter = meter.create_observable_counter
        gauge = meter.create_observable_gauge
        counter(
            "otel_telemetry.events.accepted",
            [self._one(lambda s: s.accepted)],
            "{event}",
            "Events accepted by send()",
        )
        counter(
            "otel_telemetry.events.exported",
            [self._one(lambda s: s.exported)],
            "{event}",
            "Events the collector acknowledged",
        )
        counter(
            "otel_telemetry.events.dropped",
            [self._dropped],
            "{event}",
            "Events dropped, by reason (attribute otel_telemetry.reason)",
        )
        counter(
            "otel_telemetry.export.retries",
            [self._one(lambda s: s.retries)],
            "{attempt}",
            "Export attempts that failed transiently and were retried",
        )
        counter(
            "otel_telemetry.events.spooled",
            [self._one(lambda s: s.spooled)],
            "{event}",
            "Events written to the disk spool",
        )
        gauge(
            "otel_telemetry.queue.size",
            [self._one(lambda s: s.queued)],
            "{event}",
            "Events waiting in memory",
        )
        gauge(
            "otel_telemetry.spool.pending",
            [self._one(lambda s: s.spool_pending)],
            "{event}",
            "Events in the spool not yet acknowledged",
        )
        gauge(
            "otel_telemetry.spool.size",
            [self._one(lambda s: s.spool_bytes)],
            "By",
            "Bytes of spool segment files",
        )

    def _stats(self) -> TelemetryStats | None:
        now = time.monotonic()
        if self._snapshot is None or now - self._taken_at > _SNAPSHOT_TTL_S:
            telemetry = self._telemetry()
            if telemetry is None:
                return None
            self._snapshot, self._taken_at = telemetry.stats(), now
        return self._snapshot

    def _one(
        self, pick: Callable[[TelemetryStats], int]
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            stats = self._stats()
            return [] if stats is None else [Observation(pick(stats))]

        return callback

    def _dropped(self, options: CallbackOptions) -> Iterable[Observation]:
        stats = self._stats()
        if stats is None:
            return []
        return [
            Observation(count, {"otel_telemetry.reason": reason}) for reason, count in stats.dropped.items()
        ]


def register_self_metrics(telemetry: Telemetry, provider: metrics.MeterProvider | bool) -> SelfMetrics:
    """Instruments on ``provider``, or on the global ``MeterProvider`` for ``True``."""
    chosen = provider if isinstance(provider, metrics.MeterProvider) else metrics.get_meter_provider()
    return SelfMetrics(telemetry, chosen)
