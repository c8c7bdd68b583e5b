"""OpenTelemetry SDK log records from a serialised OTLP request, and the adapter that hands them
to any SDK ``LogRecordExporter`` (``opentelemetry-exporter-otlp``'s, a vendor's, the console's).
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from ..processes import fork_safe
from ..records import decode_any_value, decode_attributes
from .base import OK, Exporter, ExportResult


def sdk_records(request: bytes) -> list[tuple[LogRecord, Resource, InstrumentationScope]]:
    """Each record of ``request`` as an SDK ``LogRecord``, with its resource and scope."""
    decoded = ExportLogsServiceRequest.FromString(request)
    out: list[tuple[LogRecord, Resource, InstrumentationScope]] = []
    for resource_logs in decoded.resource_logs:
        resource = Resource(decode_attributes(resource_logs.resource.attributes))
        for scope_logs in resource_logs.scope_logs:
            scope = InstrumentationScope(scope_logs.scope.name, scope_logs.scope.version or None)
            for log in scope_logs.log_records:
                context: Any = None
                if log.trace_id:
                    span = SpanContext(
                        int.from_bytes(log.trace_id, "big"),
                        int.from_bytes(log.span_id, "big"),
                        is_remote=False,
                        trace_flags=TraceFlags(log.flags & 0xFF),
                    )
                    context = set_span_in_context(NonRecordingSpan(span))
                record = LogRecord(
                    timestamp=log.time_unix_nano or None,
                    observed_timestamp=log.observed_time_unix_nano or None,
                    context=context,
                    severity_number=SeverityNumber(log.severity_number),
                    severity_text=log.severity_text or None,
                    body=decode_any_value(log.body) if log.HasField("body") else None,
                    attributes=decode_attributes(log.attributes),
                    event_name=log.event_name or None,
                )
                out.append((record, resource, scope))
    return out


class SdkExporter(Exporter):
    """Adapts any OpenTelemetry SDK ``LogRecordExporter``.

    The SDK exporter retries inside its own ``export`` and then answers only success or
    failure, so a failure is taken as retryable: the batch is kept and tried again after our
    backoff (until the shutdown deadline), never dropped on the first refusal.
    """

    def __init__(self, exporter: LogRecordExporter) -> None:
        self.exporter = exporter
        self._lock = fork_safe(threading.Lock())

    def export(self, request: bytes, timeout_s: float) -> ExportResult:
        try:
            batch = [
                ReadableLogRecord(record, resource=resource, instrumentation_scope=scope)
                for record, resource, scope in sdk_records(request)
            ]
            with self._lock:
                result = self.exporter.export(batch)
        except Exception as error:  # the exporter is not ours: it must not stop delivery
            return ExportResult(False, retryable=True, error=f"{type(self.exporter).__name__}: {error!r}")
        if result == LogRecordExportResult.SUCCESS:
            return OK
        return ExportResult(
            False, retryable=True, error=f"{type(self.exporter).__name__} answered {result.name}"
        )

    def force_flush(self, timeout_s: float) -> bool:
        return bool(self.exporter.force_flush(int(timeout_s * 1000)))

    def shutdown(self) -> None:
        self.exporter.shutdown()  # type: ignore[no-untyped-call]

    def __repr__(self) -> str:
        return f"SdkExporter({self.exporter!r})"
