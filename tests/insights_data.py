"""Datasets for the insights tests: events as OTLP export requests, stored through the real stores."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from telemetry_helpers import reference_any_value

#: (time, event name, log attributes, resource attributes)
Event = tuple[int, str, dict[str, Any], dict[str, Any]]


def ns(iso: str) -> int:
    when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000


def _kvs(attributes: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=reference_any_value(v)) for k, v in attributes.items()]


def requests_for(events: Iterable[Event], batch: int = 50) -> list[ExportLogsServiceRequest]:
    """Export requests as an SDK would send them: consecutive events of one resource share it."""
    out: list[ExportLogsServiceRequest] = []
    pending: list[Event] = list(events)
    for start in range(0, len(pending), batch):
        request = ExportLogsServiceRequest()
        current: ResourceLogs | None = None
        current_resource: dict[str, Any] | None = None
        for time_ns, name, attributes, resource in pending[start : start + batch]:
            if current is None or resource != current_resource:
                current = request.resource_logs.add()
                current.CopyFrom(
                    ResourceLogs(
                        resource=Resource(attributes=_kvs(resource)),
                        scope_logs=[ScopeLogs()],
                    )
                )
                current.scope_logs[0].scope.name = "otel_telemetry"
                current_resource = resource
            current.scope_logs[0].log_records.append(
                LogRecord(event_name=name, time_unix_nano=time_ns, attributes=_kvs(attributes))
            )
        out.append(request)
    return out


def install(iid: str, version: str, database: str) -> dict[str, Any]:
    return {
        "service.name": "shop",
        "service.version": version,
        "app.installation.id": iid,
        "database": database,
    }


A10 = install("A", "1.0", "postgres")
A11 = install("A", "1.1", "postgres")
B10 = install("B", "1.0", "sqlite")
C11 = install("C", "1.1", "postgres")

#: The fixed dataset (2026-11-02 is a Monday); docs of the expected answers are in the tests.
FIXED: Sequence[Event] = (
    (ns("2026-11-02T10:00:00Z"), "didStart", {}, A10),
    (
        ns("2026-11-02T11:00:00Z"),
        "didCreateEntry",
        {"model": "article", "user.hash": "u1", "user.role": "admin"},
        A10,
    ),
    (ns("2026-11-03T09:00:00Z"), "didStart", {}, B10),
    (ns("2026-11-03T09:30:00Z"), "didCreateEntry", {"model": "page", "user.hash": "u2"}, B10),
    (ns("2026-11-03T10:00:00Z"), "didPublish", {"model": "page", "user.hash": "u2"}, B10),
    (ns("2026-11-04T12:00:00Z"), "didStart", {}, C11),
    (ns("2026-11-05T00:00:00Z"), "didPing", {"otel_telemetry.sample_rate": 0.25}, C11),
    (ns("2026-11-09T08:00:00Z"), "didStart", {}, A11),
    (ns("2026-11-09T09:00:00Z"), "didCreateEntry", {"model": "article", "user.hash": "u1"}, A11),
    (ns("2026-11-10T10:00:00Z"), "didPublish", {"model": "article", "user.hash": "u1"}, A11),
    (ns("2026-11-11T10:00:00Z"), "didCreateEntry", {"model": "article", "user.hash": "u3", "count": 3}, C11),
    (ns("2026-11-17T10:00:00Z"), "didStart", {}, B10),
    (ns("2026-11-18T10:00:00Z"), "didCreateEntry", {"model": "article", "user.hash": "u2"}, B10),
)
