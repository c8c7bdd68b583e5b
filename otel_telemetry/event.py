"""What ``send()`` captures on the calling thread: one immutable, cheap-to-build record.

The queue holds it as an :data:`Event`: a plain tuple whose property groups are frozen into
flat tuples (:data:`~otel_telemetry.values.Props`). Policies see the same fields as a
:class:`CapturedEvent`, with dicts. Why not queue that: Python's garbage collector stops
tracking a plain tuple of scalars and such tuples, but never a NamedTuple nor anything holding
a dict. A burst of 100,000 queued events that it tracks makes its full passes cost more than
encoding the events (``benchmarks/README.md``); a NamedTuple also costs ~150 ns more to build.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol, runtime_checkable

from .values import Props, freeze, thaw


class CapturedEvent(NamedTuple):
    """An accepted event as policies see it. Property dicts are private copies.

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
    #: When the event happened (``send(timestamp=...)``), ns since the epoch; 0: at ``time_ns``,
    #: the capture time (which is always the record's ``observed_time_unix_nano``).
    timestamp_ns: int = 0


#: An event as queued: the fields of :class:`CapturedEvent`, in order, in a plain tuple, with
#: the property groups (and annotations) frozen.
Event = tuple[
    str,
    int,
    "Props | None",
    "Props | None",
    "Props | None",
    "str | None",
    int,
    int,
    int,
    "str | None",
    "Props | None",
    int,
]


def _thawed(props: Props | None) -> dict[str, Any] | None:
    return None if props is None else thaw(props)


def _frozen(props: Mapping[str, Any] | None) -> Props | None:
    return freeze(props) if props else None


def as_captured(event: Event) -> CapturedEvent:
    """The policies' view of a queued event (new dicts: a policy may change them)."""
    name, time_ns, ep, up, gp, user_id, trace_id, span_id, flags, body, annotations, timestamp_ns = event
    return CapturedEvent(
        name,
        time_ns,
        _thawed(ep),
        _thawed(up),
        _thawed(gp),
        user_id,
        trace_id,
        span_id,
        flags,
        body,
        _thawed(annotations),
        timestamp_ns,
    )


def as_queued(event: CapturedEvent, queued: Event, view: CapturedEvent) -> Event:
    """A policy's result, frozen for the queue. ``queued`` is the event before the policies and
    ``view`` what they were given: a group they left as it was keeps its frozen copy."""
    name, time_ns, ep, up, gp, user_id, trace_id, span_id, flags, body, annotations, timestamp_ns = event
    return (
        name,
        time_ns,
        queued[2] if ep is view.event_properties else _frozen(ep),
        queued[3] if up is view.user_properties else _frozen(up),
        queued[4] if gp is view.group_properties else _frozen(gp),
        user_id,
        trace_id,
        span_id,
        int(flags),
        body,
        queued[10] if annotations is view.annotations else _frozen(annotations),
        int(timestamp_ns),
    )


class Policy(Protocol):
    """A step between capture and the queue (the event catalog is one).

    Returns the event to send (possibly replaced, e.g. with PII hashed or annotations added),
    ``None`` to drop it (counted under its ``drop_reason``, see :class:`NamedPolicy`, else
    ``"policy"``), or raises ``TelemetryError`` for bad input (raised to the caller in strict
    mode, else counted). To change a property group, return ``event._replace(...)`` with a new
    dict: the dicts a policy is given are not read back (a group returned as the same dict
    keeps its frozen copy). A plain function is a policy.
    """

    def __call__(self, event: CapturedEvent, /) -> CapturedEvent | None: ...


@runtime_checkable
class NamedPolicy(Policy, Protocol):
    """A policy that names the reason its drops are counted under in ``stats().dropped``."""

    drop_reason: str


def drop_reason_of(policy: Policy) -> str:
    """The reason ``policy``'s drops are counted under: its ``drop_reason``, else ``"policy"``."""
    if isinstance(policy, NamedPolicy) and isinstance(policy.drop_reason, str) and policy.drop_reason:
        return policy.drop_reason
    return "policy"
