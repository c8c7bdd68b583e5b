"""What ``send()`` captures on the calling thread: one immutable, cheap-to-build record."""

from __future__ import annotations

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
