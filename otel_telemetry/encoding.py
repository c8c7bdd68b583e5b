"""OTLP encoding of a batch: one ``ExportLogsServiceRequest`` with records grouped by resource.

The SDK's encoder rebuilds every key and value of every record; here each distinct
``(key, value)`` attribute is built once and reused (event names, property keys and most
property values repeat), and each resource and the scope are encoded once per batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import SeverityNumber
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as ResourceProto

from .mapping import MappedRecord
from .values import AttrValue

SEVERITY_INFO = SeverityNumber.SEVERITY_NUMBER_INFO
_MAX_CACHED = 65_536


def any_value(value: AttrValue) -> AnyValue:
    """The OTLP ``AnyValue`` of one attribute value."""
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    return AnyValue(array_value=ArrayValue(values=[any_value(item) for item in value]))


def resource_proto(attributes: Mapping[str, AttrValue]) -> ResourceProto:
    """An OTLP ``Resource`` with these attributes."""
    return ResourceProto(attributes=[KeyValue(key=k, value=any_value(v)) for k, v in attributes.items()])


class BatchEncoder:
    """Encodes batches of mapped records; keeps a bounded cache of encoded attributes."""

    def __init__(self, scope_name: str, scope_version: str) -> None:
        self._scope = InstrumentationScope(name=scope_name, version=scope_version)
        self._cache: dict[tuple[Any, ...], KeyValue] = {}

    def _key_value(self, key: str, value: AttrValue) -> KeyValue:
        cache_key = (key, type(value), value)
        kv = self._cache.get(cache_key)
        if kv is None:
            if len(self._cache) >= _MAX_CACHED:
                self._cache.clear()
            kv = self._cache[cache_key] = KeyValue(key=key, value=any_value(value))
        return kv

    def encode(self, records: Sequence[MappedRecord]) -> ExportLogsServiceRequest:
        """One request; records keep their order within each resource."""
        by_resource: dict[int, list[MappedRecord]] = {}
        for record in records:
            by_resource.setdefault(id(record.resource), []).append(record)
        request = ExportLogsServiceRequest()
        kv = self._key_value
        for group in by_resource.values():
            resource_logs = request.resource_logs.add()
            resource_logs.resource.CopyFrom(group[0].resource.proto)
            scope_logs = resource_logs.scope_logs.add()
            scope_logs.scope.CopyFrom(self._scope)
            add = scope_logs.log_records.add
            for r in group:
                log = add(
                    time_unix_nano=r.time_ns,
                    observed_time_unix_nano=r.time_ns,
                    severity_number=SEVERITY_INFO,
                    severity_text="INFO",
                    event_name=r.name,
                    dropped_attributes_count=r.dropped_attributes,
                )
                log.attributes.extend([kv(k, v) for k, v in r.attributes.items()])
                if r.trace_id:
                    log.trace_id = r.trace_id.to_bytes(16, "big")
                    log.span_id = r.span_id.to_bytes(8, "big")
                    log.flags = r.trace_flags
                if r.body is not None:
                    log.body.string_value = r.body
        return request
