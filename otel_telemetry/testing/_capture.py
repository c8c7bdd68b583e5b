"""``Capture``: every event the senders of this process export, kept in memory for assertions.

While a capture is active every :class:`~otel_telemetry.Telemetry` (the module-level default
and any other, existing or created later) hands each accepted event to it at ``send()``, after
the whole capture path has run (validation, policies such as the event catalog, rate limits),
mapped and encoded by the sender's own code; nothing is queued and nothing leaves the process.
"""

from __future__ import annotations

import difflib
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from ..records import iter_records
from ._events import SentEvent

#: How many near misses a failed assertion shows.
SHOWN = 5


class TelemetryAssertionError(AssertionError):
    """An expectation about sent events did not hold; the message shows the closest events."""


class Capture:
    """The events captured so far, with assertion helpers. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[SentEvent] = []
        #: Catalog violations seen (``"event: rule"``), whatever the catalog mode.
        self.violations: list[str] = []
        #: Events ``send()`` refused, as ``(reason, detail)`` (invalid input, catalog, rate limit...).
        self.dropped: list[tuple[str, str]] = []

    # -- recording (called by the senders) -----------------------------------------------------

    def record_request(self, request: bytes, base_resource: dict[str, Any]) -> None:
        """Keep every record of one serialised export request (what a collector would receive)."""
        decoded = ExportLogsServiceRequest.FromString(request)
        for record in iter_records(decoded, "capture"):
            self.record(SentEvent(record, base_resource))

    def record(self, event: SentEvent) -> None:
        """Keep one exported event (and the catalog violations it is annotated with)."""
        violations = event.attributes.get("otel_telemetry.violations")
        with self._lock:
            self._events.append(event)
            if violations:
                items = violations if isinstance(violations, list) else [violations]
                self.violations.extend(f"{event.name}: {item}" for item in items)

    def record_drop(self, reason: str, detail: str) -> None:
        """Keep one refused event's reason (``send()`` returned False or raised in strict mode)."""
        with self._lock:
            self.dropped.append((reason, detail))
            if reason == "catalog":  # enforce mode refused it; the detail is the event name
                self.violations.append(f"{detail}: refused by the event catalog (enforce mode)")

    def clear(self) -> None:
        """Forget everything captured so far."""
        with self._lock:
            self._events.clear()
            self.violations.clear()
            self.dropped.clear()

    # -- reading -------------------------------------------------------------------------------

    def events(self, name: str | None = None, /, **properties: Any) -> list[SentEvent]:
        """The captured events, oldest first; only those named ``name`` with these properties."""
        with self._lock:
            events = list(self._events)
        if name is None and not properties:
            return events
        return [event for event in events if event.matches(name, properties)]

    def count(self, name: str | None = None, /, **properties: Any) -> int:
        """How many captured events match."""
        return len(self.events(name, **properties))

    def names(self) -> Counter[str]:
        """How many events were captured per name."""
        return Counter(event.name for event in self.events())

    def __iter__(self) -> Iterator[SentEvent]:
        return iter(self.events())

    def __len__(self) -> int:
        return len(self.events())

    def snapshot(self) -> list[dict[str, Any]]:
        """A stable JSON-ready list of the captured payloads, for snapshot tests.

        Keys are sorted, event ids left out, user hashes replaced by ``<user N>``; the sender's
        base resource (host facts, installation id) is not part of ``groupProperties``.
        """
        users: dict[str, str] = {}
        return [event.snapshot(users) for event in self.events()]

    # -- assertions ----------------------------------------------------------------------------

    def assert_sent(
        self,
        name: str,
        properties: Mapping[str, Any] | None = None,
        /,
        *,
        times: int | None = None,
        **kw: Any,
    ) -> SentEvent:
        """Assert an event ``name`` with these properties was sent (exactly ``times`` if given).

        Properties are given as keywords (``model="article"``) or, for dotted keys, as a mapping
        (``{"user.role": "editor"}``); each is looked up in the record's attributes, then its
        resource. Returns the last matching event.
        """
        expected = {**(properties or {}), **kw}
        found = self.events(name, **expected)
        if found and (times is None or len(found) == times):
            return found[-1]
        if found:
            raise TelemetryAssertionError(
                f"expected {times} {_call(name, expected)} event(s), got {len(found)}:\n"
                + "\n".join(f"  {event.describe()}" for event in found[:SHOWN])
            )
        closest = self._closest(name, expected)
        raise TelemetryAssertionError(f"no {_call(name, expected)} event was sent.\n{closest}")

    def assert_not_sent(self, name: str, properties: Mapping[str, Any] | None = None, /, **kw: Any) -> None:
        """Assert no event ``name`` with these properties (any, if none given) was sent."""
        expected = {**(properties or {}), **kw}
        found = self.events(name, **expected)
        if found:
            raise TelemetryAssertionError(
                f"{_call(name, expected)} was sent {len(found)} time(s), expected never:\n"
                + "\n".join(f"  {event.describe()}" for event in found[:SHOWN])
            )

    def assert_count(self, expected: int, name: str | None = None, /, **properties: Any) -> None:
        """Assert exactly ``expected`` events (named ``name``, with these properties) were sent."""
        got = self.count(name, **properties)
        if got != expected:
            what = _call(name, properties) if name is not None else "event"
            raise TelemetryAssertionError(
                f"expected {expected} {what}(s), got {got}. Sent: {_names(self.names())}"
            )

    def _closest(self, name: str, expected: Mapping[str, Any]) -> str:
        """The near misses: same-named events with their differing properties, or similar names."""
        same = self.events(name)
        if same:
            ranked = sorted(same, key=lambda event: len(event.differences(expected)))
            lines = [f"{len(same)} {name} event(s) were sent; the closest:"]
            for event in ranked[:SHOWN]:
                diff = ", ".join(f"{k}={v!r}" for k, v in event.differences(expected).items())
                lines.append(f"  {event.describe()}  (differs: {diff})")
            return "\n".join(lines)
        names = self.names()
        if not names:
            return "No event was sent at all."
        similar = difflib.get_close_matches(name, list(names), n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(repr(s) for s in similar)}?" if similar else ""
        return f"No {name} event was sent; sent: {_names(names)}.{hint}"


def _call(name: str | None, properties: Mapping[str, Any]) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in properties.items())
    return f"{name}({args})" if args else str(name)


def _names(names: Counter[str]) -> str:
    return ", ".join(f"{name} x{count}" for name, count in names.most_common()) or "nothing"
