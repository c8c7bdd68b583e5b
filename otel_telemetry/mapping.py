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

from .event import Event
from .identity import salted_hash
from .resources import ResourceCache, ResourceHandle
from .validation import RESERVED_PREFIXES
from .values import AttrValue, flatten_into, thaw

USER_PREFIX = "user."
USER_HASH = "user.hash"
EVENT_NAME_ATTRIBUTE = "otel.event.name"
#: Strapi's own spelling of a user id inside userProperties; hashed like ``user_id``.
USER_ID_KEYS = ("userId", "user_id")
#: User property keys that do not simply become ``user.<key>`` (``hash`` would clash).
_SPECIAL_USER_KEYS = frozenset({*USER_ID_KEYS, USER_HASH[len(USER_PREFIX) :]})


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
    #: The capture time (``observed_time_unix_nano``); 0: the same as ``time_ns``.
    observed_time_ns: int = 0


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
        #: User property keys already known to map to ``user.<key>`` unchanged.
        self._plain_user_keys: set[str] = set()
        #: Without limits or extra attributes, a plain event's attributes are its properties.
        self._may_be_plain = attribute_value_length_limit is None and not event_name_attribute

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

    def is_plain(self, event: Event) -> bool:
        """True if the attributes of ``event`` are its event properties (keys as they are),
        then its user properties under ``user.``, then ``user.hash`` of its user id: no key is
        reserved, special or clashing, no limit applies, no policy annotated it. Values are not
        checked here: the encoder takes only those that are attribute values already.
        """
        _, _, event_properties, user_properties, _, user_id, _, _, _, _, annotations, _ = event
        if annotations or not self._may_be_plain:
            return False
        count = 0 if user_id is None else 1
        if event_properties:
            half = len(event_properties) >> 1  # a frozen group: keys, then values
            if not self._plain_keys.issuperset(event_properties[:half]):
                return False
            count += half
        if user_properties:
            half = len(user_properties) >> 1
            if not self._plain_user_keys.issuperset(user_properties[:half]):
                return False
            count += half
        return count <= self._count_limit

    def _learn_user_keys(self, props: Mapping[Any, Any]) -> None:
        """Remember the user property keys that map to ``user.<key>`` as they are."""
        if len(self._plain_user_keys) > 65_536:
            self._plain_user_keys.clear()
        self._plain_user_keys.update(
            key for key in props if type(key) is str and key and key not in _SPECIAL_USER_KEYS
        )

    def attributes(self, event: Event) -> tuple[dict[str, AttrValue], int]:
        """The record attributes of one event and how many were dropped by the count limit."""
        name, _, event_properties, user_properties, _, user_id, _, _, _, _, annotations, _ = event
        out: dict[str, AttrValue] = {}
        if event_properties:
            flatten_into(out, "", thaw(event_properties))
            if not self._plain_keys.issuperset(out):
                self._check_reserved(out)
        if user_properties:
            props = thaw(user_properties)
            if not self._plain_user_keys.issuperset(props):
                self._learn_user_keys(props)
            if "userId" in props or "user_id" in props:  # USER_ID_KEYS, spelled out
                for key in USER_ID_KEYS:
                    raw = props.pop(key, None)
                    if raw is not None and user_id is None:
                        user_id = str(raw)
            flatten_into(out, USER_PREFIX, props)
        if user_id is not None:
            out[USER_HASH] = self.user_hash(user_id)
        if self._event_name_attribute:
            out[EVENT_NAME_ATTRIBUTE] = name
        dropped = 0
        if len(out) > self._count_limit:
            dropped = len(out) - self._count_limit
            out = dict(islice(out.items(), self._count_limit))
        if self._length_limit is not None:
            limit = self._length_limit
            out = {key: _truncate(value, limit) for key, value in out.items()}
        if annotations:
            flatten_into(out, "", thaw(annotations))
        return out, dropped

    def map(self, event: Event) -> MappedRecord:
        """One captured event -> one record under the resource of its group properties."""
        attributes, dropped = self.attributes(event)
        name, time_ns, _, _, group_properties, _, trace_id, span_id, trace_flags, body, _, timestamp = event
        return MappedRecord(
            name,
            timestamp or time_ns,
            attributes,
            dropped,
            self.resources.get(group_properties),
            trace_id,
            span_id,
            trace_flags,
            body,
            time_ns,
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
