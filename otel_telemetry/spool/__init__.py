"""Durable delivery: a disk spool between the queue and the collector (``docs/delivery.md``).

Its settings are :class:`otel_telemetry.SpoolSettings` (in ``DeliverySettings.spool``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .spool import Spool

__all__ = ["Spool"]


def __getattr__(name: str) -> Any:
    """``Spool`` on first use: importing a submodule (``segments`` at exit) must not load it all."""
    if name != "Spool":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .spool import Spool

    return Spool
