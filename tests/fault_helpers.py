"""The accounting identity of ``stats()``, checked by the fault tests at any moment."""

from __future__ import annotations

from otel_telemetry import TelemetryStats


def unaccounted(stats: TelemetryStats) -> int:
    """Events given to ``send()`` (or adopted from an earlier run's spool) minus those known to
    be queued, in flight, in the spool, exported or dropped: 0 when ``stats()`` adds up."""
    given = stats.accepted + stats.refused + stats.recovered
    where = stats.queued + stats.in_flight + stats.spool_pending + stats.exported + stats.dropped_total
    return given - where


def assert_balanced(stats: TelemetryStats) -> None:
    """Every event is exactly one of queued, in flight, spooled, exported or dropped."""
    assert unaccounted(stats) == 0, f"stats() does not add up ({unaccounted(stats):+d}): {stats}"
