"""What ``send()`` captures on the calling thread: one immutable, cheap-to-build record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple


class CapturedEvent(NamedTuple):
    """An accepted event, before mapping. Property dicts are private copies (see ``snapshot``).

    The trace context is read here, on the caller's thread, because it lives in contextvars.
    """

    name: str
    time_ns: int
    event_properties: dict[str, Any] | None
    user_properties: dict[str, Any] | None
    group_properties: dict[str, Any] | None
    user_id: str | None
    trace_id: int
    span_id: int
    trace_flags: int
    body: str | None
    #: Attributes added by policies (e.g. ``otel_telemetry.violations``); set after limits.
    annotations: dict[str, Any] | None = None


#: A step between capture and the queue (the event catalog is one): returns the event to send
#: (possibly replaced, e.g. with PII hashed or annotations added), ``None`` to drop it (counted
#: under the policy's ``drop_reason`` attribute, default ``"policy"``), or raises
#: ``TelemetryError`` for bad input (raised to the caller in strict mode, else counted).
Policy = Callable[[CapturedEvent], "CapturedEvent | None"]
