"""Decode OTLP log protobufs into plain Python values.

A receiver test wants to assert on ``event_name`` and a dict of attributes, not
walk nested ``AnyValue`` messages, so every received log record is flattened
into a :class:`ReceivedRecord` (keeping the original protobuf alongside).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

__all__ = ["ReceivedRecord", "decode_any_value", "decode_attributes", "iter_records"]


def decode_any_value(value: AnyValue) -> Any:
    """Convert an OTLP ``AnyValue`` to str/bool/int/float/bytes/list/dict, or None when empty.

    ``kvlist_value`` becomes a dict (a repeated key keeps its last value), ``array_value``
    a list. ``string_value_strindex`` (only meaningful inside profiles, which carry the
    string table) is returned as its raw int index.
    """
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [decode_any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return decode_attributes(value.kvlist_value.values)
    return getattr(value, kind)


def decode_attributes(attributes: Iterable[KeyValue]) -> dict[str, Any]:
    """Convert repeated ``KeyValue`` (attributes, kvlists) to a dict; a repeated key keeps its last value."""
    return {kv.key: decode_any_value(kv.value) for kv in attributes}


@dataclass(frozen=True)
class ReceivedRecord:
    """One received OTLP log record, decoded, with its resource and scope flattened in.

    ``proto`` and ``resource_proto`` are the original messages (excluded from ``==``
    so two records compare by their decoded content). Treat them as read-only.
    """

    event_name: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope_name: str
    scope_version: str
    time_unix_nano: int
    observed_time_unix_nano: int
    severity_number: int
    severity_text: str
    body: Any
    trace_id: bytes
    span_id: bytes
    flags: int
    dropped_attributes_count: int
    protocol: str
    scope_attributes: dict[str, Any] = field(default_factory=dict)
    proto: LogRecord = field(default_factory=LogRecord, repr=False, compare=False)
    resource_proto: Resource = field(default_factory=Resource, repr=False, compare=False)


def iter_records(request: ExportLogsServiceRequest, protocol: str) -> Iterator[ReceivedRecord]:
    """Yield every log record of an export request, in wire order, tagged with ``protocol``."""
    for resource_logs in request.resource_logs:
        resource = decode_attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            scope = scope_logs.scope
            scope_attributes = decode_attributes(scope.attributes)
            for log in scope_logs.log_records:
                yield ReceivedRecord(
                    event_name=log.event_name,
                    attributes=decode_attributes(log.attributes),
                    resource=dict(resource),
                    scope_name=scope.name,
                    scope_version=scope.version,
                    time_unix_nano=log.time_unix_nano,
                    observed_time_unix_nano=log.observed_time_unix_nano,
                    severity_number=int(log.severity_number),
                    severity_text=log.severity_text,
                    body=decode_any_value(log.body) if log.HasField("body") else None,
                    trace_id=log.trace_id,
                    span_id=log.span_id,
                    flags=log.flags,
                    dropped_attributes_count=log.dropped_attributes_count,
                    protocol=protocol,
                    scope_attributes=dict(scope_attributes),
                    proto=log,
                    resource_proto=resource_logs.resource,
                )
