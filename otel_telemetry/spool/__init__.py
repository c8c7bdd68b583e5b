"""Durable delivery: a disk spool between the queue and the collector (``docs/delivery.md``).

Its settings are :class:`otel_telemetry.SpoolSettings` (in ``DeliverySettings.spool``).
"""

from .spool import Spool

__all__ = ["Spool"]
