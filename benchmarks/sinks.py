"""Local endpoints the benchmarked systems send to, run in the benchmark's parent process.

* :class:`CountingReceiver`: a lean OTLP logs receiver (gRPC and HTTP/protobuf) that decodes
  every request (``ExportLogsServiceRequest.FromString``) and counts its log records, noting
  when a target count was reached. It does not build per-record Python objects, unlike
  ``otel_telemetry.receiver.OTLPReceiver``; both are measured (see RESULTS.md).
* :class:`HttpSink`: answers every POST with 200 and a JSON body that Segment, PostHog and
  Amplitude all accept, counting requests and bytes.
"""

from __future__ import annotations

import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

_EXPORT = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
_EMPTY_RESPONSE = ExportLogsServiceResponse().SerializeToString()


def count_records(request: ExportLogsServiceRequest) -> int:
    """Log records in one decoded request."""
    return sum(len(scope.log_records) for rl in request.resource_logs for scope in rl.scope_logs)


class _Counter:
    """Records received so far, and when the awaited count was reached (``time.monotonic``)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.records = 0
        self.requests = 0
        self.bytes = 0
        self.target: int | None = None
        self.reached_at: float | None = None
        self.last_at: float | None = None

    def add(self, records: int, size: int) -> None:
        now = time.monotonic()
        with self._cond:
            self.records += records
            self.requests += 1
            self.bytes += size
            self.last_at = now
            if self.target is not None and self.reached_at is None and self.records >= self.target:
                self.reached_at = now
            self._cond.notify_all()

    def reset(self, target: int | None = None) -> None:
        with self._cond:
            self.records = self.requests = self.bytes = 0
            self.target = target
            self.reached_at = self.last_at = None

    def wait(self, count: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.records >= count, timeout)


class _OtlpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _OtlpHttpServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        request = ExportLogsServiceRequest.FromString(body)
        self.server.counter.add(count_records(request), len(body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(_EMPTY_RESPONSE)))
        self.end_headers()
        self.wfile.write(_EMPTY_RESPONSE)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _OtlpHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    counter: _Counter


class CountingReceiver:
    """OTLP logs over gRPC and HTTP/protobuf on free 127.0.0.1 ports; counts decoded records."""

    def __init__(self) -> None:
        self.counter = _Counter()
        self._grpc: Any = None
        self._http: _OtlpHttpServer | None = None
        self._http_thread: threading.Thread | None = None

    def start(self) -> CountingReceiver:
        counter = self.counter

        def export(request: ExportLogsServiceRequest, context: Any) -> ExportLogsServiceResponse:
            counter.add(count_records(request), request.ByteSize())
            return ExportLogsServiceResponse()

        handler = grpc.method_handlers_generic_handler(
            "opentelemetry.proto.collector.logs.v1.LogsService",
            {
                "Export": grpc.unary_unary_rpc_method_handler(
                    export,
                    request_deserializer=ExportLogsServiceRequest.FromString,
                    response_serializer=ExportLogsServiceResponse.SerializeToString,
                )
            },
        )
        self._grpc = grpc.server(
            futures.ThreadPoolExecutor(max_workers=4),
            handlers=[handler],
            options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)],
        )
        self.grpc_port = self._grpc.add_insecure_port("127.0.0.1:0")
        self._grpc.start()
        self._http = _OtlpHttpServer(("127.0.0.1", 0), _OtlpHandler)
        self._http.counter = counter
        self.http_port = self._http.server_address[1]
        self._http_thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._http_thread.start()
        return self

    @property
    def grpc_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def stop(self) -> None:
        if self._grpc is not None:
            self._grpc.stop(0).wait(5)
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()

    def __enter__(self) -> CountingReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_SINK_BODY = b'{"code": 200, "status": 1, "events_ingested": 1}'


class _SinkHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _SinkServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.counter.add(0, len(body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(_SINK_BODY)))
        self.end_headers()
        self.wfile.write(_SINK_BODY)

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _SinkServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    counter: _Counter


class HttpSink:
    """Any POST (or GET) on a free 127.0.0.1 port -> 200 with a small JSON body."""

    def __init__(self) -> None:
        self.counter = _Counter()
        self._server = _SinkServer(("127.0.0.1", 0), _SinkHandler)
        self._server.counter = self.counter
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> HttpSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
