"""OTLP encoding of a batch: one ``ExportLogsServiceRequest`` with records grouped by resource.

The SDK's encoder rebuilds every key and value of every record; here each distinct
``(key, value)`` attribute is serialised once and its bytes reused (event names, property keys
and most property values repeat), each resource and the scope are encoded once per batch, and
records are written straight to the protobuf wire format, producing the same bytes as building
the messages (``tests`` compare the two) at a third of the cost.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs, SeverityNumber
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as ResourceProto

from .event import Event
from .mapping import USER_HASH, USER_PREFIX, MappedRecord, Mapper
from .resources import ResourceHandle
from .settings import DEFAULT_MAX_REQUEST_BYTES as DEFAULT_MAX_REQUEST_BYTES  # (defined there)
from .unencodable import describe_failure
from .values import INT64_MAX, INT64_MIN, AttrValue, Props

SEVERITY_INFO = SeverityNumber.SEVERITY_NUMBER_INFO
_MAX_CACHED = 65_536
_MAX_MEMO = 4_096


def cache_key(key: str, value: AttrValue) -> tuple[Any, ...]:
    """A key under which the encoding of attribute ``key=value`` may be cached.

    Equal values must encode alike: ``(0, 1) == (False, True)`` and ``0.0 == -0.0`` in Python,
    so tuples also carry their item type (they are homogeneous) and floats their sign.
    """
    kind = type(value)
    if kind is tuple:
        items: tuple[Any, ...] = value  # type: ignore[assignment]
        if items and type(items[0]) is float:
            return (key, kind, tuple(math.copysign(1.0, item) for item in items), items)
        return (key, kind, value, type(items[0]) if items else None)
    if kind is float:
        return (key, kind, value, math.copysign(1.0, value))  # type: ignore[arg-type]
    return (key, kind, value)


_key_values: dict[tuple[Any, ...], bytes] = {}


def key_value_bytes(key: str, value: AttrValue) -> bytes:
    """The serialised ``KeyValue`` of one attribute; cached (resources repeat their attributes)."""
    lookup = cache_key(key, value)
    encoded = _key_values.get(lookup)
    if encoded is None:
        if len(_key_values) >= _MAX_CACHED:
            _key_values.clear()
        encoded = _key_values[lookup] = _key_value(key, value)
    return encoded


def resource_proto(attributes: Mapping[str, AttrValue]) -> ResourceProto:
    """An OTLP ``Resource`` with these attributes (built from cached attribute bytes)."""
    parts: list[bytes] = []
    for key, value in attributes.items():
        encoded = key_value_bytes(key, value)
        parts += (_RESOURCE_ATTRIBUTE, _varint(len(encoded)), encoded)
    resource: ResourceProto = ResourceProto.FromString(b"".join(parts))
    return resource


def _tag(message: Any, field: str, wire_type: int) -> bytes:
    """The wire tag of ``message.field``, its number read from the generated descriptor."""
    return _varint(message.DESCRIPTOR.fields_by_name[field].number << 3 | wire_type)


def _varint(value: int) -> bytes:
    """Protobuf base-128 varint of a non-negative integer."""
    if value < 0x80:
        return _BYTES[value]
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_BYTES = [bytes((i,)) for i in range(0x80)]
_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5
_RESOURCE_ATTRIBUTE = _tag(ResourceProto, "attributes", _LEN)
_REQUEST_RESOURCE_LOGS = _tag(ExportLogsServiceRequest, "resource_logs", _LEN)
_RESOURCE_LOGS_RESOURCE = _tag(ResourceLogs, "resource", _LEN)
_RESOURCE_LOGS_SCOPE_LOGS = _tag(ResourceLogs, "scope_logs", _LEN)
_SCOPE_LOGS_SCOPE = _tag(ScopeLogs, "scope", _LEN)
_SCOPE_LOGS_RECORD = _tag(ScopeLogs, "log_records", _LEN)
_TIME = _tag(LogRecord, "time_unix_nano", _FIXED64)
_OBSERVED_TIME = _tag(LogRecord, "observed_time_unix_nano", _FIXED64)
_BODY = _tag(LogRecord, "body", _LEN)
_ATTRIBUTE = _tag(LogRecord, "attributes", _LEN)
_DROPPED = _tag(LogRecord, "dropped_attributes_count", _VARINT)
_FLAGS = _tag(LogRecord, "flags", _FIXED32)
_TRACE_ID = _tag(LogRecord, "trace_id", _LEN) + _varint(16)
_SPAN_ID = _tag(LogRecord, "span_id", _LEN) + _varint(8)
_EVENT_NAME = _tag(LogRecord, "event_name", _LEN)
#: ``severity_number`` INFO and ``severity_text`` "INFO", the same on every record.
_SEVERITY = LogRecord(severity_number=SEVERITY_INFO, severity_text="INFO").SerializeToString()
_pack_u64 = struct.Struct("<Q").pack
_pack_f64 = struct.Struct("<d").pack
_UINT64 = (1 << 64) - 1  # int64 values are written as their two's complement varint
_KEY_VALUE_KEY = _tag(KeyValue, "key", _LEN)
_KEY_VALUE_VALUE = _tag(KeyValue, "value", _LEN)
_ARRAY_VALUES = _tag(ArrayValue, "values", _LEN)
_ANY_STRING = _tag(AnyValue, "string_value", _LEN)
_ANY_TRUE = _tag(AnyValue, "bool_value", _VARINT) + b"\x01"
_ANY_FALSE = _tag(AnyValue, "bool_value", _VARINT) + b"\x00"
_ANY_INT = _tag(AnyValue, "int_value", _VARINT)
_ANY_DOUBLE = _tag(AnyValue, "double_value", _FIXED64)
_ANY_BYTES = _tag(AnyValue, "bytes_value", _LEN)
_ANY_ARRAY = _tag(AnyValue, "array_value", _LEN)
_pack_u32 = struct.Struct("<I").pack


class EncodedRequest(NamedTuple):
    """One serialised ``ExportLogsServiceRequest`` and the number of records it carries."""

    payload: bytes
    records: int


class EncodedBatch(NamedTuple):
    """A batch made ready to send: its requests, and ``(reason, detail)`` per event left out."""

    requests: list[EncodedRequest]
    dropped: list[tuple[str, str]]


def _group_overhead(resource_size: int, scope_field_size: int) -> int:
    """An upper bound on the bytes one ``ResourceLogs`` adds to a request besides its records:
    its resource and scope, and three tags with length prefixes of at most 5 bytes each."""
    return resource_size + scope_field_size + 3 * 6


def _too_large(record: bytes, overhead: int, limit: int) -> str:
    """The log detail of an event too large for any request: its name and size."""
    try:
        name = ScopeLogs.FromString(record).log_records[0].event_name
    except Exception:  # the detail must not fail
        name = "?"
    return f"event {name!r} is {len(record) + overhead} bytes encoded, over the {limit}-byte request limit"


class BatchEncoder:
    """Encodes batches of events; keeps bounded caches of encoded attributes and names.

    Records are written straight to the protobuf wire format (in field-number order, as the
    protobuf runtime writes them): each distinct attribute is serialised once and its bytes
    reused, where building a ``KeyValue`` message per attribute per record cost ~10x more.
    """

    def __init__(self, scope_name: str, scope_version: str) -> None:
        self._scope = InstrumentationScope(name=scope_name, version=scope_version)
        scope = self._scope.SerializeToString()
        self._scope_field = _SCOPE_LOGS_SCOPE + _varint(len(scope)) + scope
        self._cache: dict[tuple[Any, ...], bytes] = {}
        #: user properties, keyed without their ``user.`` prefix (saves a concatenation)
        self._user_cache: dict[tuple[Any, ...], bytes] = {}
        self._names: dict[str, bytes] = {}
        #: plain events: (event and user properties, user id, their types) -> encoded attributes
        self._memo: dict[tuple[Any, ...], bytes] = {}
        self._memo_mapper: Mapper | None = None

    def _attribute(self, key: str, value: AttrValue) -> bytes:
        if len(self._cache) >= _MAX_CACHED:
            self._cache.clear()
        encoded = self._cache[cache_key(key, value)] = _attribute_field(key, value)
        return encoded

    def _plain_event_attribute(self, key: str, value: Any) -> bytes | None:
        return _plain_attribute(self._cache, key, key, value)

    def _plain_user_attribute(self, key: str, value: Any) -> bytes | None:
        return _plain_attribute(self._user_cache, key, USER_PREFIX + key, value)

    def _event_name(self, name: str) -> bytes:
        if len(self._names) >= _MAX_CACHED:
            self._names.clear()
        raw = name.encode("utf-8")
        encoded = self._names[name] = _EVENT_NAME + _varint(len(raw)) + raw
        return encoded

    @staticmethod
    def _head(time_ns: int, body: str | None) -> list[bytes]:
        """The fields before the attributes: time, severity, body."""
        parts = [_TIME, _pack_u64(time_ns), _SEVERITY] if time_ns else [_SEVERITY]
        if body is not None:
            parts.append(_any_value_field(_BODY, body))
        return parts

    def _finish(
        self,
        parts: list[bytes],
        event_id: bytes | None,
        dropped: int,
        name: str,
        time_ns: int,
        trace_id: int,
        span_id: int,
        trace_flags: int,
    ) -> bytes:
        """Append the fields after the attributes and frame the record as a ``log_records`` entry.

        ``time_ns`` here is the capture time, written as ``observed_time_unix_nano``."""
        if event_id is not None:
            parts.append(event_id)
        if dropped:
            parts.append(_DROPPED + _varint(dropped))
        if trace_id:
            if trace_flags:
                parts.append(_FLAGS + _pack_u32(trace_flags))
            parts.append(_TRACE_ID + trace_id.to_bytes(16, "big"))
            parts.append(_SPAN_ID + span_id.to_bytes(8, "big"))
        if time_ns:
            parts.append(_OBSERVED_TIME)
            parts.append(_pack_u64(time_ns))
        parts.append(self._names.get(name) or self._event_name(name))
        data = b"".join(parts)
        return _SCOPE_LOGS_RECORD + _varint(len(data)) + data

    def _record(self, r: MappedRecord, event_id: bytes | None = None) -> bytes:
        """One mapped record (any attributes)."""
        cache, attribute = self._cache, self._attribute
        parts = self._head(r.time_ns, r.body)
        for key, value in r.attributes.items():
            kind = type(value)
            if kind is str or kind is int or kind is bool or kind is bytes:  # cache_key, inlined
                parts.append(cache.get((key, kind, value)) or attribute(key, value))
            else:
                parts.append(cache.get(cache_key(key, value)) or attribute(key, value))
        return self._finish(
            parts,
            event_id,
            r.dropped_attributes,
            r.name,
            r.observed_time_ns or r.time_ns,
            r.trace_id,
            r.span_id,
            r.trace_flags,
        )

    def _plain(self, event: Event, mapper: Mapper) -> bytes | None:
        """The encoded attributes of a plain event (``None``: not plain).

        The attributes of a plain event depend on its event and user properties and user id
        only, so their bytes are remembered per distinct ``(properties, user id)``. The key
        holds every value's type, as ``True == 1 == 1.0`` in Python; groups holding floats are
        not remembered (``0.0 == -0.0``); unhashable values (containers ``freeze`` deep-copied)
        are never plain.
        """
        _, _, event_properties, user_properties, _, user_id, _, _, _, _, _, _ = event
        types = (*map(type, event_properties or ()), *map(type, user_properties or ()))
        key = (event_properties, user_properties, user_id, types)
        memo = self._memo
        try:
            known = memo.get(key)
        except Exception:  # unhashable, or a value whose __hash__ / __eq__ raises
            return None
        if known is not None:
            return known
        if not mapper.is_plain(event):
            return None
        parts: list[bytes] = []
        if event_properties and not _plain_attributes(
            parts, event_properties, self._cache, self._plain_event_attribute
        ):
            return None
        if user_properties and not _plain_attributes(
            parts, user_properties, self._user_cache, self._plain_user_attribute
        ):
            return None
        if user_id is not None:
            user_hash = mapper.user_hash(user_id)
            parts.append(
                self._cache.get((USER_HASH, str, user_hash)) or self._attribute(USER_HASH, user_hash)
            )
        known = b"".join(parts)
        if float not in types:
            if len(memo) >= _MAX_MEMO:
                memo.clear()
            memo[key] = known
        return known

    def encode_events(
        self, events: Sequence[Event], mapper: Mapper, new_id: Callable[[], str] | None = None
    ) -> bytes:
        """The serialised ``ExportLogsServiceRequest`` of a batch of queued events.

        A plain event (``Mapper.is_plain``, and values that are attribute values already) is
        mapped and encoded in one step; any other goes through a :class:`MappedRecord`. The
        bytes are the same either way (``tests/test_worker_fast_path.py``). With ``new_id``,
        each record also gets an ``otel_telemetry.event.id`` attribute. Raises if any event
        cannot be encoded (:meth:`encode_batch` leaves such events out instead).
        """
        groups = self._records(events, mapper, new_id, None)
        return self._request([(resource.proto, records) for resource, records in groups])

    def encode_batch(
        self,
        events: Sequence[Event],
        mapper: Mapper,
        new_id: Callable[[], str] | None = None,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    ) -> EncodedBatch:
        """Requests carrying every event of the batch that can be sent, and why the others cannot.

        An event that cannot be encoded (text that is not valid Unicode, a value whose own
        methods raise...) is left out with reason ``encode_error`` and its batch-mates are sent.
        The batch is one request unless that would exceed ``max_request_bytes`` (a collector's
        message limit): then it is split, and an event too large to fit any request is left
        out with reason ``too_large``. Only these failure paths cost anything extra.
        """
        failed: list[tuple[Event, Exception]] = []
        groups = self._records(events, mapper, new_id, failed)
        dropped = [("encode_error", describe_failure(event, error)) for event, error in failed]
        count = len(events) - len(failed)
        if not count:
            return EncodedBatch([], dropped)
        protos = [(resource.proto, records) for resource, records in groups]
        payload = self._request(protos)
        if len(payload) <= max_request_bytes:
            return EncodedBatch([EncodedRequest(payload, count)], dropped)
        return EncodedBatch(self._split(protos, max_request_bytes, dropped), dropped)

    def _records(
        self,
        events: Sequence[Event],
        mapper: Mapper,
        new_id: Callable[[], str] | None,
        failed: list[tuple[Event, Exception]] | None,
    ) -> list[tuple[ResourceHandle[Any], list[bytes]]]:
        """Each event encoded as a ``log_records`` field, grouped by resource; an event that
        raises is appended to ``failed`` (re-raised without it). Caches are only written once
        a value has been encoded, so a failure leaves nothing half-done behind."""
        if mapper is not self._memo_mapper:  # remembered attributes hold this mapper's user hashes
            self._memo.clear()
            self._memo_mapper = mapper
        groups: dict[int, tuple[ResourceHandle[Any], list[bytes]]] = {}
        plain, finish, head, resources = self._plain, self._finish, self._head, mapper.resources
        for event in events:
            try:
                event_id = _event_id_field(new_id()) if new_id is not None else None
                name, time_ns, _, _, group_properties, _, trace_id, span_id, flags, body, annotations, ts = (
                    event
                )
                attributes = plain(event, mapper) if annotations is None else None
                if attributes is not None:
                    resource = resources.get(group_properties)
                    parts = head(ts or time_ns, body)
                    parts.append(attributes)
                    record = finish(parts, event_id, 0, name, time_ns, trace_id, span_id, flags)
                else:
                    mapped = mapper.map(event)
                    resource = mapped.resource
                    record = self._record(mapped, event_id)
            except Exception as error:  # costs nothing until raised (Python 3.11+)
                if failed is None:
                    raise
                failed.append((event, error))
                continue
            group = groups.get(id(resource))
            if group is None:
                group = groups[id(resource)] = (resource, [])
            group[1].append(record)
        return list(groups.values())

    def _split(
        self,
        groups: list[tuple[ResourceProto, list[bytes]]],
        limit: int,
        dropped: list[tuple[str, str]],
    ) -> list[EncodedRequest]:
        """Requests of at most ``limit`` bytes each, records in order; a record that cannot fit
        even alone is appended to ``dropped`` (``too_large``)."""
        requests: list[EncodedRequest] = []
        current: list[tuple[ResourceProto, list[bytes]]] = []
        size = count = 0

        def close() -> None:
            nonlocal current, size, count
            if count:
                requests.append(EncodedRequest(self._request(current), count))
            current, size, count = [], 0, 0

        for proto, records in groups:
            overhead = _group_overhead(proto.ByteSize(), len(self._scope_field))
            entry: tuple[ResourceProto, list[bytes]] | None = None
            for record in records:
                if overhead + len(record) > limit:
                    dropped.append(("too_large", _too_large(record, overhead, limit)))
                    continue
                if entry is None or size + len(record) > limit:
                    if size + overhead + len(record) > limit:
                        close()
                    entry = (proto, [])
                    current.append(entry)
                    size += overhead
                entry[1].append(record)
                size += len(record)
                count += 1
        close()
        return requests

    def encode_bytes(self, records: Sequence[MappedRecord]) -> bytes:
        """The serialised ``ExportLogsServiceRequest``; records keep their order within each resource."""
        groups: dict[int, tuple[ResourceHandle[Any], list[bytes]]] = {}
        for record in records:
            group = groups.get(id(record.resource))
            if group is None:
                group = groups[id(record.resource)] = (record.resource, [])
            group[1].append(self._record(record))
        return self._request([(resource.proto, encoded) for resource, encoded in groups.values()])

    def _request(self, groups: list[tuple[ResourceProto, list[bytes]]]) -> bytes:
        """One ``ResourceLogs`` per resource, each with one ``ScopeLogs`` holding its records."""
        out = []
        for proto, records in groups:
            resource = proto.SerializeToString()
            scope_logs = b"".join([self._scope_field, *records])
            resource_logs = b"".join(
                [
                    _RESOURCE_LOGS_RESOURCE,
                    _varint(len(resource)),
                    resource,
                    _RESOURCE_LOGS_SCOPE_LOGS,
                    _varint(len(scope_logs)),
                    scope_logs,
                ]
            )
            out.append(_REQUEST_RESOURCE_LOGS)
            out.append(_varint(len(resource_logs)))
            out.append(resource_logs)
        return b"".join(out)

    def encode(self, records: Sequence[MappedRecord]) -> ExportLogsServiceRequest:
        """One request message; records keep their order within each resource."""
        request: ExportLogsServiceRequest = ExportLogsServiceRequest.FromString(self.encode_bytes(records))
        return request


def _plain_attributes(
    parts: list[bytes],
    props: Props,
    cache: dict[tuple[Any, ...], bytes],
    encode: Callable[[str, Any], bytes | None],
) -> bool:
    """Append the encoded attribute of each property; False at the first value that is not an
    attribute value as it is (the event then takes the general path).

    A hit needs no type checks: ``encode`` caches only values that passed them, under
    ``(key, type, value)``, and only tuples of ``str`` (``freeze`` turns any other sequence
    that could compare equal into a list, which is unhashable).
    """
    half = len(props) >> 1  # a frozen group: keys, then values
    try:
        for key, value in zip(props[:half], props[half:], strict=True):
            encoded = cache.get((key, type(value), value))
            if encoded is None:
                encoded = encode(key, value)
                if encoded is None:
                    return False
            parts.append(encoded)
    except Exception:  # unhashable (a container ``freeze`` deep-copied), or __eq__ raises
        return False
    return True


def _plain_attribute(cache: dict[tuple[Any, ...], bytes], key: str, name: str, value: Any) -> bytes | None:
    """The field of attribute ``name=value`` if ``value`` maps to itself (else ``None``), cached
    under ``(key, type, value)``; finite floats under :func:`cache_key` (``0.0 == -0.0``)."""
    kind = type(value)
    if (
        kind is str
        or kind is bool
        or (kind is int and INT64_MIN <= value <= INT64_MAX)
        or (kind is tuple and value and _STR.issuperset(map(type, value)))
    ):
        if len(cache) >= _MAX_CACHED:
            cache.clear()
        encoded = cache[(key, kind, value)] = _attribute_field(name, value)
        return encoded
    if kind is float and math.isfinite(value):
        lookup = cache_key(key, value)  # with its sign, unlike the lookups above
        cached = cache.get(lookup)
        if cached is None:
            cached = cache[lookup] = _attribute_field(name, value)
        return cached
    return None


def _attribute_field(key: str, value: AttrValue) -> bytes:
    """A record's ``attributes`` field holding ``key=value``."""
    kv = _key_value(key, value)
    return _ATTRIBUTE + _varint(len(kv)) + kv


def _key_value(key: str, value: AttrValue) -> bytes:
    """The serialised ``KeyValue`` of ``key=value``, written by hand (tests compare it with the
    message's own serialisation)."""
    kv = _any_value_field(_KEY_VALUE_VALUE, value)
    if key:  # proto3: an empty string is not written
        raw = key.encode("utf-8")
        kv = _KEY_VALUE_KEY + _varint(len(raw)) + raw + kv
    return kv


def _any_value_field(tag: bytes, value: AttrValue) -> bytes:
    """Field ``tag`` holding the ``AnyValue`` of ``value``, written by hand (an attribute in 0.6
    µs against 1.0 through the messages): values that never repeat (counters, ids) pay it."""
    if isinstance(value, str):
        raw = value.encode("utf-8")
        inner = _ANY_STRING + _varint(len(raw)) + raw
    elif isinstance(value, bool):  # before int: a bool is an int
        inner = _ANY_TRUE if value else _ANY_FALSE
    elif isinstance(value, int):
        inner = _ANY_INT + _varint(value & _UINT64)
    elif isinstance(value, float):
        inner = _ANY_DOUBLE + _pack_f64(value)
    elif isinstance(value, bytes):
        inner = _ANY_BYTES + _varint(len(value)) + value
    else:
        items = b"".join([_any_value_field(_ARRAY_VALUES, item) for item in value])
        inner = _ANY_ARRAY + _varint(len(items)) + items
    return tag + _varint(len(inner)) + inner


_STR = frozenset({str})
#: The event id attribute, as a record field, up to its 32-hex-digit value.
EVENT_ID_ATTRIBUTE = "otel_telemetry.event.id"
_EVENT_ID_LENGTH = 32
_EVENT_ID_PREFIX = _attribute_field(EVENT_ID_ATTRIBUTE, "0" * _EVENT_ID_LENGTH)[:-_EVENT_ID_LENGTH]


def _event_id_field(event_id: str) -> bytes:
    """The ``attributes`` field of one record's ``otel_telemetry.event.id``."""
    raw = event_id.encode("ascii")
    if len(raw) != _EVENT_ID_LENGTH:
        return _attribute_field(EVENT_ID_ATTRIBUTE, event_id)
    return _EVENT_ID_PREFIX + raw
