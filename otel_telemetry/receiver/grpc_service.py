"""OTLP/gRPC front end: the generated Logs/Trace/Metrics servicers on a thread-pool ``grpc.server``.

Requests are deserialized leniently so that a payload that is not a valid
protobuf gets ``INVALID_ARGUMENT`` (and a request-log entry) rather than grpc's
generic ``INTERNAL`` "Exception deserializing request!". gzip-compressed
requests are decompressed by grpc itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import grpc
from google.protobuf.any_pb2 import Any as AnyProto
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc import LogsServiceServicer
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2_grpc import MetricsServiceServicer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceServicer

from .core import ReceiverCore, Reply
from .signals import LOGS, METRICS, TRACES, Signal

__all__ = ["GrpcFrontEnd", "retry_trailing_metadata"]

_logger = logging.getLogger(__name__)
PROTOCOL = "grpc"


@dataclass(frozen=True)
class _Malformed:
    """Stands in for a request whose bytes are not a valid protobuf message."""

    reason: str


def _lenient(message_type: type[Message]) -> Callable[[bytes], Message | _Malformed]:
    def deserialize(data: bytes) -> Message | _Malformed:
        try:
            message: Message = message_type.FromString(data)
        except Exception as exc:  # DecodeError, RecursionError, ...
            return _Malformed(f"cannot decode {message_type.__name__}: {exc or type(exc).__name__}")
        return message

    return deserialize


def _serialize(message: Message) -> bytes:
    data: bytes = message.SerializeToString()
    return data


def retry_trailing_metadata(
    code: grpc.StatusCode, message: str, delay_s: float
) -> tuple[tuple[str, bytes], ...]:
    """Trailing metadata carrying ``google.rpc.RetryInfo``.

    The OTLP spec puts RetryInfo in the ``google.rpc.Status`` details sent as
    ``grpc-status-details-bin`` (what Go/Java exporters read); the Python OTLP
    exporter instead reads a bare RetryInfo from ``google.rpc.retryinfo-bin``,
    so both are sent.
    """
    retry_info = error_details_pb2.RetryInfo()
    retry_info.retry_delay.FromNanoseconds(round(delay_s * 1e9))
    detail = AnyProto()
    detail.Pack(retry_info)
    status = status_pb2.Status(code=code.value[0], message=message, details=[detail])
    return (
        ("grpc-status-details-bin", status.SerializeToString()),
        ("google.rpc.retryinfo-bin", retry_info.SerializeToString()),
    )


class _ExportServicer:
    """Shared ``Export`` implementation; mixed into each generated servicer class below."""

    signal: ClassVar[Signal]

    def __init__(self, core: ReceiverCore) -> None:
        self._core = core

    def Export(self, request: Message | _Malformed, context: Any) -> Message:
        at = self._core.now()
        if isinstance(request, _Malformed):
            reply = self._core.reject(
                PROTOCOL, Reply.error(400, grpc.StatusCode.INVALID_ARGUMENT, request.reason), at
            )
        else:
            metadata = {str(k): v for k, v in context.invocation_metadata() if isinstance(v, str)}
            reply = self._core.handle(PROTOCOL, self.signal, request, at, metadata)
        if reply.grpc_code == grpc.StatusCode.OK:
            return self.signal.response(reply.rejected, reply.message)
        if reply.retry_delay_s is not None:
            context.set_trailing_metadata(
                retry_trailing_metadata(reply.grpc_code, reply.message, reply.retry_delay_s)
            )
        context.abort(reply.grpc_code, reply.message)  # raises
        raise AssertionError("unreachable")  # pragma: no cover


class LogsReceiverServicer(_ExportServicer, LogsServiceServicer):
    """``opentelemetry.proto.collector.logs.v1.LogsService``: logs are stored."""

    signal = LOGS


class TraceReceiverServicer(_ExportServicer, TraceServiceServicer):
    """``...trace.v1.TraceService``: accepted and counted only."""

    signal = TRACES


class MetricsReceiverServicer(_ExportServicer, MetricsServiceServicer):
    """``...metrics.v1.MetricsService``: accepted and counted only."""

    signal = METRICS


def _handler(servicer: _ExportServicer) -> Any:
    signal = servicer.signal
    method = grpc.unary_unary_rpc_method_handler(
        servicer.Export, request_deserializer=_lenient(signal.request_type), response_serializer=_serialize
    )
    return grpc.method_handlers_generic_handler(signal.grpc_service, {"Export": method})


class GrpcFrontEnd:
    """Owns the ``grpc.server`` and its thread pool."""

    def __init__(
        self,
        core: ReceiverCore,
        host: str,
        port: int,
        *,
        max_workers: int,
        max_message_bytes: int,
        tls: tuple[str, str] | None = None,
    ) -> None:
        self._core = core
        self._tls = tls
        self._address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="otlp-grpc")
        self._server: Any = grpc.server(
            self._executor,
            options=[
                ("grpc.so_reuseport", 0),  # never share a port with another receiver
                ("grpc.max_receive_message_length", max_message_bytes),
            ],
        )
        servicers = (LogsReceiverServicer(core), TraceReceiverServicer(core), MetricsReceiverServicer(core))
        self._server.add_generic_rpc_handlers(tuple(_handler(s) for s in servicers))
        self.port = 0

    def start(self) -> int:
        """Bind and start serving; returns the bound port."""
        try:
            if self._tls is None:
                port = int(self._server.add_insecure_port(self._address))
            else:
                chain, key = (Path(path).read_bytes() for path in self._tls)
                credentials = grpc.ssl_server_credentials([(key, chain)])
                port = int(self._server.add_secure_port(self._address, credentials))
        except RuntimeError as exc:
            raise OSError(f"cannot bind gRPC receiver to {self._address}: {exc}") from exc
        if port == 0:  # older grpc reports bind failures this way
            raise OSError(f"cannot bind gRPC receiver to {self._address}")
        self._server.start()
        self.port = port
        return port

    def stop(self, timeout: float) -> None:
        """Cancel in-flight RPCs and stop; hanging handlers are woken via ``core.stopping``."""
        done = self._server.stop(grace=None)
        if not done.wait(timeout):
            _logger.warning("gRPC receiver did not stop within %.1fs", timeout)
        self._executor.shutdown(wait=False, cancel_futures=True)
