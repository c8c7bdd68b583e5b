"""The mapping contract between a Strapi payload and an OpenTelemetry log record.

Forward (:class:`Mapper`, on the background thread): event name -> ``LogRecord.event_name``;
``eventProperties`` -> attributes, keys as given; ``userProperties`` -> attributes under
``user.``; a user id -> ``user.hash`` (salted SHA-256, never the raw id); ``groupProperties`` ->
resource attributes. Backward (:func:`to_payload`): a received record -> the Strapi payload.
``docs/mapping.md`` is the prose version of this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import islice
from typing import Any, NamedTuple

from .event import CapturedEvent
from .identity import salted_hash
from .resources import ResourceCache, ResourceHandle
from .validation import RESERVED_PREFIXES
from .values import AttrValue, flatten_into

USER_PREFIX = "user."
USER_HASH = "user.hash"
EVENT_NAME_ATTRIBUTE = "otel.event.name"
#: Strapi's own spelling of a user id inside userProperties; hashed like ``user_id``.
USER_ID_KEYS = ("userId", "user_id")


class MappedRecord(NamedTuple):
    """A record ready to encode: attributes are final (limits applied)."""

    name: str
    time_ns: int
    attributes: dict[str, AttrValue]
    dropped_attributes: int
    resource: ResourceHandle[Any]
    trace_id: int
    span_id: int
    trace_flags: int
    body: str | None


def _truncate(value: AttrValue, limit: int) -> AttrValue:
    if isinstance(value, (str, bytes)):
        return value[:limit]
    if isinstance(value, tuple) and value and isinstance(value[0], str):
        return tuple(str(item)[:limit] for item in value)
    return value


class Mapper:
    """Turns captured events into mapped records; one per pipeline, used by its worker only."""

    def __init__(
        self,
        resources: ResourceCache[Any],
        project_id: str,
        *,
        attribute_count_limit: int = 128,
        attribute_value_length_limit: int | None = None,
        event_name_attribute: bool = False,
        on_invalid_property: Callable[[str, str], None] | None = None,
    ) -> None:
        self.resources = resources
        self._salt = project_id
        self._count_limit = attribute_count_limit
        self._length_limit = attribute_value_length_limit
        self._event_name_attribute = event_name_attribute
        self._on_invalid = on_invalid_property
        self._hashes: dict[str, str] = {}
        #: Event property keys already known not to use a reserved prefix (keys repeat).
        self._plain_keys: set[str] = set()

    def user_hash(self, user_id: str) -> str:
        """``user.hash``: the id salted with the project id; cached (ids repeat)."""
        digest = self._hashes.get(user_id)
        if digest is None:
            if len(self._hashes) > 65_536:
                self._hashes.clear()
            digest = self._hashes[user_id] = salted_hash(user_id, self._salt)
        return digest

    def _check_reserved(self, out: dict[str, AttrValue]) -> None:
        """Drop (and report) event property keys under a reserved prefix; remember the others."""
        reserved = [key for key in out if key.startswith(RESERVED_PREFIXES)]
        for key in reserved:
            del out[key]
            if self._on_invalid is not None:
                self._on_invalid(
                    f"eventProperties.{key}", f"keys may not start with {', '.join(RESERVED_PREFIXES)}"
                )
        if len(self._plain_keys) > 65_536:
            self._plain_keys.clear()
        self._plain_keys.update(out)

    def attributes(self, event: CapturedEvent) -> tuple[dict[str, AttrValue], int]:
        """The record attributes of one event and how many were dropped by the count limit."""
        out: dict[str, AttrValue] = {}
        if event.event_properties:
            flatten_into(out, "", event.event_properties)
            if not self._plain_keys.issuperset(out):
                self._check_reserved(out)
        user_id = event.user_id
        if event.user_properties:
            props = event.user_properties
            if "userId" in props or "user_id" in props:  # USER_ID_KEYS, spelled out: a hot path
                props = dict(props)
                for key in USER_ID_KEYS:
                    raw = props.pop(key, None)
                    if raw is not None and user_id is None:
                        user_id = str(raw)
            flatten_into(out, USER_PREFIX, props)
        if user_id is not None:
            out[USER_HASH] = self.user_hash(user_id)
        if self._event_name_attribute:
            out[EVENT_NAME_ATTRIBUTE] = event.name
        dropped = 0
        if len(out) > self._count_limit:
            dropped = len(out) - self._count_limit
            out = dict(islice(out.items(), self._count_limit))
        if self._length_limit is not None:
            limit = self._length_limit
            out = {key: _truncate(value, limit) for key, value in out.items()}
        if event.annotations:
            flatten_into(out, "", event.annotations)
        return out, dropped

    def map(self, event: CapturedEvent) -> MappedRecord:
        """One captured event -> one record under the resource of its group properties."""
        attributes, dropped = self.attributes(event)
        return MappedRecord(
            event.name,
            event.time_ns,
            attributes,
            dropped,
            self.resources.get(event.group_properties),
            event.trace_id,
            event.span_id,
            event.trace_flags,
            event.body,
        )


def to_payload(
    event_name: str,
    attributes: Mapping[str, Any],
    resource: Mapping[str, Any],
    base_resource: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Strapi payload ``{event, eventProperties, userProperties, groupProperties}`` of a record.

    Keys stay flat (dotted), as they travel. Resource attributes that equal those of
    ``base_resource`` (the sender's base) are left out of ``groupProperties``; without it every
    resource attribute is a group property, as Strapi's anonymous environment facts are.
    Attributes of otel-telemetry itself (``otel.*``, ``otel_telemetry.*``) are not properties.
    """
    event_properties: dict[str, Any] = {}
    user_properties: dict[str, Any] = {}
    for key, value in attributes.items():
        if key.startswith(USER_PREFIX):
            user_properties[key[len(USER_PREFIX) :]] = value
        elif not key.startswith(("otel.", "otel_telemetry.")):
            event_properties[key] = value
    base = base_resource or {}
    group_properties = {k: v for k, v in resource.items() if k not in base or base[k] != v}
    return {
        "event": event_name,
        "eventProperties": event_properties,
        "userProperties": user_properties,
        "groupProperties": group_properties,
    }
