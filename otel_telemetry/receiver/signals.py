"""The three OTLP signals the receiver answers: their message types, HTTP path and gRPC service.

Only logs are stored; traces and metrics are accepted and counted so that an app
with a misconfigured exporter gets a success instead of an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

__all__ = ["LOGS", "METRICS", "SIGNALS", "TRACES", "Signal"]


@dataclass(frozen=True)
class Signal:
    """Static description of one OTLP export endpoint."""

    name: str  # "logs" | "traces" | "metrics"
    http_path: str
    grpc_service: str  # fully qualified service name, e.g. opentelemetry.proto.collector.logs.v1.LogsService
    request_type: type[Message]
    response_type: type[Message]
    partial_success_type: type[Message]
    rejected_field: str  # name of the "rejected_*" counter in the partial-success message

    def response(self, rejected: int = 0, error_message: str = "") -> Message:
        """Build an export response; non-zero ``rejected`` or a message makes it a partial success."""
        response = self.response_type()
        if rejected or error_message:
            partial = self.partial_success_type(
                **{self.rejected_field: rejected, "error_message": error_message}
            )
            response.partial_success.CopyFrom(partial)
        return response


def _service_name(module: Any, service: str) -> str:
    return str(module.DESCRIPTOR.services_by_name[service].full_name)


LOGS = Signal(
    name="logs",
    http_path="/v1/logs",
    grpc_service=_service_name(logs_service_pb2, "LogsService"),
    request_type=logs_service_pb2.ExportLogsServiceRequest,
    response_type=logs_service_pb2.ExportLogsServiceResponse,
    partial_success_type=logs_service_pb2.ExportLogsPartialSuccess,
    rejected_field="rejected_log_records",
)
TRACES = Signal(
    name="traces",
    http_path="/v1/traces",
    grpc_service=_service_name(trace_service_pb2, "TraceService"),
    request_type=trace_service_pb2.ExportTraceServiceRequest,
    response_type=trace_service_pb2.ExportTraceServiceResponse,
    partial_success_type=trace_service_pb2.ExportTracePartialSuccess,
    rejected_field="rejected_spans",
)
METRICS = Signal(
    name="metrics",
    http_path="/v1/metrics",
    grpc_service=_service_name(metrics_service_pb2, "MetricsService"),
    request_type=metrics_service_pb2.ExportMetricsServiceRequest,
    response_type=metrics_service_pb2.ExportMetricsServiceResponse,
    partial_success_type=metrics_service_pb2.ExportMetricsPartialSuccess,
    rejected_field="rejected_data_points",
)
SIGNALS: tuple[Signal, ...] = (LOGS, TRACES, METRICS)
