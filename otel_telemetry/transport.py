"""OTLP transports: send one serialised request, and say whether and when to retry.

The SDK's exporters retry internally and then drop the batch; the pipeline needs the decision
instead (retryable or permanent, and the server's ``Retry-After`` / gRPC ``RetryInfo``), so
that it can keep the batch and retry without losing it. Transports are created lazily on the
worker thread (a disabled app opens no connection) and recreated after ``fork()``.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import time
import zlib
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import grpc
import requests
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from .exporters.base import OK, ExportResult
from .processes import fork_waits
from .settings import ExporterSettings

USER_AGENT = "otel-telemetry"
RETRYABLE_HTTP = frozenset({429, 502, 503, 504})
#: The OTLP specification's retryable gRPC codes (RESOURCE_EXHAUSTED only with RetryInfo).
RETRYABLE_GRPC = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


class Transport(Protocol):
    """Sends one request, already serialised (the encoder writes wire bytes); never raises."""

    def send(self, request: bytes, timeout_s: float) -> ExportResult: ...

    def close(self) -> None: ...


def _partial(response: ExportLogsServiceResponse) -> ExportResult:
    partial = response.partial_success
    if partial.rejected_log_records:
        return ExportResult(True, error=partial.error_message, rejected=partial.rejected_log_records)
    return OK


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: delay-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def to_otlp_json(request: ExportLogsServiceRequest) -> bytes:
    """OTLP/JSON: the protobuf JSON mapping, but trace and span ids as hex, enums as integers."""
    data: dict[str, Any] = json_format.MessageToDict(request, use_integers_for_enums=True)
    for resource_logs in data.get("resourceLogs", ()):
        for scope_logs in resource_logs.get("scopeLogs", ()):
            for record in scope_logs.get("logRecords", ()):
                for key in ("traceId", "spanId"):
                    if key in record:
                        record[key] = base64.b64decode(record[key]).hex()
    return json.dumps(data, separators=(",", ":")).encode()


class HttpTransport:
    """OTLP/HTTP (binary protobuf or JSON) over a keep-alive ``requests`` session."""

    def __init__(self, settings: ExporterSettings) -> None:
        self._settings = settings
        self._json = settings.protocol == "http/json"
        self._session = requests.Session()
        # requests imports netrc on a session's first request: here instead, while a fork waits
        # (on the export thread, a fork in the middle of it leaves the child a broken module)
        import netrc  # noqa: F401

        self._session.headers.update(
            {
                "Content-Type": "application/json" if self._json else "application/x-protobuf",
                "User-Agent": USER_AGENT,
                **settings.headers,
            }
        )
        if settings.compression != "none":
            self._session.headers["Content-Encoding"] = settings.compression
        # Passed on every request: requests lets REQUESTS_CA_BUNDLE override a session's verify.
        self._verify: str | bool = settings.certificate_file or True
        if settings.client_certificate_file and settings.client_key_file:
            self._session.cert = (settings.client_certificate_file, settings.client_key_file)

    def _body(self, request: bytes) -> bytes:
        data = to_otlp_json(ExportLogsServiceRequest.FromString(request)) if self._json else request
        if self._settings.compression == "gzip":
            return gzip.compress(data, compresslevel=6)
        if self._settings.compression == "deflate":
            return zlib.compress(data)
        return data

    def send(self, request: bytes, timeout_s: float) -> ExportResult:
        try:
            response = self._session.post(
                self._settings.endpoint, data=self._body(request), timeout=timeout_s, verify=self._verify
            )
        except requests.RequestException as exc:
            return ExportResult(False, retryable=True, error=f"{type(exc).__name__}: {exc}")
        status = response.status_code
        if 200 <= status < 300:
            try:
                if self._json:
                    parsed = json_format.Parse(response.content or b"{}", ExportLogsServiceResponse())
                else:
                    parsed = ExportLogsServiceResponse.FromString(response.content)
            except Exception:  # an empty or non-OTLP 2xx body still means accepted
                return OK
            return _partial(parsed)
        error = f"HTTP {status}: {response.text[:200]}"
        if status in RETRYABLE_HTTP:
            return ExportResult(False, True, retry_after_seconds(response.headers.get("Retry-After")), error)
        return ExportResult(False, retryable=False, error=error)

    def close(self) -> None:
        self._session.close()


def _retry_info(error: grpc.RpcError) -> float | None:
    try:
        trailers = error.trailing_metadata() or ()
    except Exception:
        return None
    for key, value in trailers:
        if key != "grpc-status-details-bin":
            continue
        try:
            status = status_pb2.Status.FromString(value)
        except Exception:
            return None
        for detail in status.details:
            if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info = error_details_pb2.RetryInfo()
                detail.Unpack(info)
                return float(info.retry_delay.seconds) + float(info.retry_delay.nanos) / 1e9
    return None


#: ``/opentelemetry.proto.collector.logs.v1.LogsService/Export``, from the descriptor.
EXPORT_METHOD = f"/{logs_service_pb2.DESCRIPTOR.services_by_name['LogsService'].full_name}/Export"


def grpc_target(endpoint: str) -> str:
    """``host:port`` of a gRPC endpoint given as a URL or as ``host:port``."""
    if "://" in endpoint:
        return endpoint.split("://", 1)[1].rstrip("/")
    return endpoint


class GrpcTransport:
    """OTLP/gRPC through ``LogsService/Export`` on one channel."""

    def __init__(self, settings: ExporterSettings) -> None:
        self._settings = settings
        target = grpc_target(settings.endpoint)
        options = [
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
            # gRPC's own reconnect backoff grows to 120 s, so after a long outage the channel
            # would stay down long after the collector is back; our retry loop paces attempts.
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.min_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2000),
        ]
        if not settings.secure:
            self._channel = grpc.insecure_channel(target, options=options)
        else:
            self._channel = grpc.secure_channel(target, self._credentials(), options=options)
        # The request is sent as the encoder wrote it: no message object, no serialiser.
        self._export = self._channel.unary_unary(
            EXPORT_METHOD, request_serializer=None, response_deserializer=ExportLogsServiceResponse.FromString
        )
        self._metadata = tuple((k, v) for k, v in settings.headers.items())
        self._compression = grpc.Compression.Gzip if settings.compression == "gzip" else None

    def _credentials(self) -> grpc.ChannelCredentials:
        def read(path: str | None) -> bytes | None:
            if not path:
                return None
            with open(path, "rb") as handle:
                return handle.read()

        s = self._settings
        return grpc.ssl_channel_credentials(
            root_certificates=read(s.certificate_file),
            private_key=read(s.client_key_file),
            certificate_chain=read(s.client_certificate_file),
        )

    def send(self, request: bytes, timeout_s: float) -> ExportResult:
        try:
            with fork_waits():  # gRPC is fork-safe only with no call in flight
                response = self._export(
                    request, timeout=timeout_s, metadata=self._metadata, compression=self._compression
                )
        except grpc.RpcError as error:
            code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
            details = error.details() if hasattr(error, "details") else ""
            retry_after = _retry_info(error)
            retryable = code in RETRYABLE_GRPC or (
                code == grpc.StatusCode.RESOURCE_EXHAUSTED and retry_after is not None
            )
            return ExportResult(False, retryable, retry_after, f"gRPC {code.name}: {details}")
        except Exception as exc:  # a broken channel must not kill the worker
            return ExportResult(False, retryable=True, error=f"{type(exc).__name__}: {exc}")
        return _partial(response)

    def close(self) -> None:
        self._channel.close()


def make_transport(settings: ExporterSettings) -> Transport:
    """The transport for ``settings.protocol``."""
    if settings.protocol == "grpc":
        return GrpcTransport(settings)
    return HttpTransport(settings)
