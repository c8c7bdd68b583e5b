"""What a test sees of one sent event: the OpenTelemetry record and the Strapi payload.

A :class:`SentEvent` is built from the exact bytes a collector would receive (the request is
encoded by the sender's own mapping and encoder, then decoded), so an assertion on it is an
assertion on the wire. Properties are looked up as the insights do: the record's attributes
first (event properties, ``user.*``), then its resource (group properties, service facts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..mapping import USER_HASH, to_payload
from ..records import ReceivedRecord

#: Attributes whose values change from run to run; the snapshot form replaces or drops them.
VOLATILE_ATTRIBUTES = frozenset({"otel_telemetry.event.id"})

_MISSING = object()


@dataclass(frozen=True)
class SentEvent:
    """One event as exported: ``name``, ``attributes``, ``resource`` and its ``payload``."""

    record: ReceivedRecord
    #: The sender's base resource (its defaults): what is not a group property of this event.
    base_resource: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        """``LogRecord.event_name``."""
        return self.record.event_name

    @property
    def attributes(self) -> dict[str, Any]:
        """The log record's attributes (event properties, ``user.*``, ``otel_telemetry.*``)."""
        return self.record.attributes

    @property
    def resource(self) -> dict[str, Any]:
        """The resource attributes (group properties merged over the sender's base resource)."""
        return self.record.resource

    @property
    def time_unix_nano(self) -> int:
        """``LogRecord.time_unix_nano``."""
        return self.record.time_unix_nano

    def to_payload(self) -> dict[str, Any]:
        """The Strapi payload ``{event, eventProperties, userProperties, groupProperties}``."""
        return to_payload(self.name, self.attributes, self.resource, self.base_resource)

    @property
    def payload(self) -> dict[str, Any]:
        """Same as :meth:`to_payload`."""
        return self.to_payload()

    def get(self, key: str, default: Any = None) -> Any:
        """A property by key: the record's attributes first, then its resource."""
        value = self.attributes.get(key, _MISSING)
        if value is _MISSING:
            value = self.resource.get(key, default)
        return value

    def matches(self, name: str | None, properties: Mapping[str, Any]) -> bool:
        """True when the name matches (or is None) and every property has the given value."""
        if name is not None and self.name != name:
            return False
        return all(_equal(self.get(key, _MISSING), value) for key, value in properties.items())

    def differences(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        """``{key: value seen}`` for each expected property this event does not have as given."""
        seen: dict[str, Any] = {}
        for key, value in properties.items():
            actual = self.get(key, _MISSING)
            if not _equal(actual, value):
                seen[key] = "<absent>" if actual is _MISSING else actual
        return seen

    def snapshot(self, users: dict[str, str]) -> dict[str, Any]:
        """A stable, JSON-ready form: the payload with volatile values replaced.

        ``users`` maps each ``user.hash`` seen to ``<user N>`` in order of first appearance, so
        snapshots do not depend on the project id that salts the hashes.
        """
        payload = self.to_payload()
        user_properties = dict(payload["userProperties"])
        hashed = self.attributes.get(USER_HASH)
        if isinstance(hashed, str):
            user_properties["hash"] = users.setdefault(hashed, f"<user {len(users) + 1}>")
        return {
            "event": payload["event"],
            "eventProperties": _sorted(payload["eventProperties"]),
            "userProperties": _sorted(user_properties),
            "groupProperties": _sorted(payload["groupProperties"]),
        }

    def describe(self) -> str:
        """One line for failure messages: the name and its properties."""
        payload = self.to_payload()
        parts = [f"{k}={v!r}" for k, v in payload["eventProperties"].items()]
        parts += [f"user.{k}={v!r}" for k, v in payload["userProperties"].items()]
        parts += [f"{k}={v!r}" for k, v in payload["groupProperties"].items()]
        return f"{self.name}({', '.join(parts)})"


def _equal(actual: Any, expected: Any) -> bool:
    """Equality as a test author means it: a tuple expected matches a list sent; bools are not ints."""
    if actual is _MISSING:
        return False
    if isinstance(expected, tuple):
        expected = list(expected)
    if isinstance(actual, bool) is not isinstance(expected, bool):
        return False
    return bool(actual == expected)


def _sorted(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: values[key] for key in sorted(values) if key not in VOLATILE_ATTRIBUTES}
