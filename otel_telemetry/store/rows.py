"""OTLP log records as store rows: attribute values as JSON with their types (SQLite), or as the
text the ClickHouse exporter's ``Map(String, String)`` columns hold (chDB).

Both stores read an export request through :func:`iter_rows`, which walks the protobuf once
and decodes each attribute set once (a resource and a scope are shared by their records).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from ..receiver import ReceivedRecord, decode_any_value, decode_attributes


def jsonable(value: Any) -> Any:
    """Attribute values as JSON: bytes become ``{"bytesBase64": ...}``, NaN/inf their names as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        return {"bytesBase64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    return value


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def dumps(value: Any) -> str:
    """Compact JSON text of an attribute value or set.

    Most sets are plain JSON already and are encoded directly; bytes or a non-finite double make
    the encoder refuse, and only then is the value converted by :func:`jsonable` first.
    """
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError):
        return _ENCODER.encode(jsonable(value))


def as_text(value: Any) -> str:
    """A value as the text an insight compares and groups by, identical on every engine: strings as
    themselves, ``true``/``false``, integers in decimal, doubles as SQLite prints them (15
    significant digits, always with a point: ``1.0``, ``0.1``, ``1.0e+20``), arrays and maps as
    compact JSON."""
    value = jsonable(value)
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return real_text(value)
    return dumps(value)


def real_text(value: float) -> str:
    """A finite double as SQLite's ``CAST(x AS TEXT)`` prints it (``%!.15g``)."""
    if value == 0:
        return "0.0"
    text = f"{value:.15g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return (mantissa if "." in mantissa else mantissa + ".0") + "e" + exponent
    return text if "." in text else text + ".0"


def text_map(attributes: Mapping[str, Any]) -> dict[str, str]:
    """Attributes as a ``Map(String, String)``: every value as :func:`as_text` (strings, the common
    case, as they are)."""
    return {key: value if type(value) is str else as_text(value) for key, value in attributes.items()}


@dataclass(slots=True)
class Row:
    """One log record, decoded, with the resource and scope it was sent under."""

    timestamp: int
    observed: int
    trace_id: str
    span_id: str
    flags: int
    severity_text: str
    severity_number: int
    event_name: str
    body: Any
    has_body: bool
    resource: dict[str, Any]
    resource_schema_url: str
    scope_schema_url: str
    scope_name: str
    scope_version: str
    scope_attributes: dict[str, Any]
    attributes: dict[str, Any]
    dropped_attributes_count: int

    @property
    def service_name(self) -> str:
        """``service.name`` of the resource when it is a string, else ``''`` (as the exporter)."""
        name = self.resource.get("service.name")
        return name if isinstance(name, str) else ""


def iter_rows(request: ExportLogsServiceRequest, received_ns: int) -> Iterator[Row]:
    """Every record of a request in wire order. A record without a timestamp is filed under its
    observed time (as the exporter does), else under its arrival time."""
    for resource_logs in request.resource_logs:
        resource = decode_attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            scope = scope_logs.scope
            scope_attributes = decode_attributes(scope.attributes)
            for log in scope_logs.log_records:
                has_body = log.HasField("body")
                yield Row(
                    timestamp=log.time_unix_nano or log.observed_time_unix_nano or received_ns,
                    observed=log.observed_time_unix_nano,
                    trace_id=log.trace_id.hex(),
                    span_id=log.span_id.hex(),
                    flags=log.flags,
                    severity_text=log.severity_text,
                    severity_number=int(log.severity_number),
                    event_name=log.event_name,
                    body=decode_any_value(log.body) if has_body else None,
                    has_body=has_body,
                    resource=resource,
                    resource_schema_url=resource_logs.schema_url,
                    scope_schema_url=scope_logs.schema_url,
                    scope_name=scope.name,
                    scope_version=scope.version,
                    scope_attributes=scope_attributes,
                    attributes=decode_attributes(log.attributes),
                    dropped_attributes_count=log.dropped_attributes_count,
                )


def row_of_record(record: ReceivedRecord, received_ns: int) -> Row:
    """A receiver's decoded record as a row (schema URLs are not in it: empty)."""
    return Row(
        timestamp=record.time_unix_nano or record.observed_time_unix_nano or received_ns,
        observed=record.observed_time_unix_nano,
        trace_id=record.trace_id.hex(),
        span_id=record.span_id.hex(),
        flags=record.flags,
        severity_text=record.severity_text,
        severity_number=record.severity_number,
        event_name=record.event_name,
        body=record.body,
        has_body=record.body is not None,
        resource=record.resource,
        resource_schema_url="",
        scope_schema_url="",
        scope_name=record.scope_name,
        scope_version=record.scope_version,
        scope_attributes=record.scope_attributes,
        attributes=record.attributes,
        dropped_attributes_count=record.dropped_attributes_count,
    )
