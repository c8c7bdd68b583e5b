"""``OTLPReceiver``: one object that runs the gRPC and HTTP front ends over a shared core.

Tests send through real OTLP exporters into it; the ``serve`` command builds on
``on_request``; delivery tests script failures through ``faults``.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import TypeVar

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from .core import OnRequest, ReceiverCore, RequestLogEntry
from .faults import Fault, FaultQueue
from .grpc_service import GrpcFrontEnd
from .http_service import HttpFrontEnd
from .records import ReceivedRecord

__all__ = ["OTLPReceiver"]

_logger = logging.getLogger(__name__)
_R = TypeVar("_R", bound="OTLPReceiver")

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class OTLPReceiver:
    """An in-process OTLP collector stand-in that decodes and keeps every log record it receives.

    ``grpc_port`` / ``http_port``: 0 picks a free port, None disables that protocol.
    ``on_request(protocol, request)`` runs for every accepted logs request before
    its records are stored; if it raises, the request is answered 503 / UNAVAILABLE (retryable)
    and not stored. ``keep_records=False`` keeps nothing in memory (``records``,
    ``requests`` and ``request_log`` stay empty; ``wait_for*`` and ``signal_counts``
    still work) for long-running use where ``on_request`` is the consumer.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        grpc_port: int | None = 0,
        http_port: int | None = 0,
        on_request: OnRequest | None = None,
        *,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        grpc_workers: int = 16,
        keep_records: bool = True,
        tls: tuple[str, str] | None = None,
    ) -> None:
        if grpc_port is None and http_port is None:
            raise ValueError("enable at least one protocol (grpc_port or http_port)")
        self.tls = tls  # (certificate chain file, private key file): serve https / TLS gRPC
        self.host = host
        self._grpc_port_wanted = grpc_port
        self._http_port_wanted = http_port
        self._max_message_bytes = max_message_bytes
        self._grpc_workers = grpc_workers
        self._core = ReceiverCore(on_request, keep=keep_records)
        self._grpc: GrpcFrontEnd | None = None
        self._http: HttpFrontEnd | None = None
        self._state = "new"  # new -> running -> stopped
        self._lock = threading.Lock()

    # -- lifecycle --------------------------------------------------------------------
    def start(self: _R) -> _R:
        """Bind and start the enabled protocols; returns self. A receiver starts once."""
        with self._lock:
            if self._state != "new":
                raise RuntimeError(f"OTLPReceiver already {self._state}; create a new one")
            self._state = "running"
        try:
            if self._grpc_port_wanted is not None:
                self._grpc = GrpcFrontEnd(
                    self._core,
                    self.host,
                    self._grpc_port_wanted,
                    max_workers=self._grpc_workers,
                    max_message_bytes=self._max_message_bytes,
                    tls=self.tls,
                )
                self._grpc.start()
            if self._http_port_wanted is not None:
                self._http = HttpFrontEnd(
                    self._core,
                    self.host,
                    self._http_port_wanted,
                    max_body_bytes=self._max_message_bytes,
                    tls=self.tls,
                )
                self._http.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop both protocols promptly: hanging requests are cut, open connections closed. Idempotent."""
        with self._lock:
            if self._state == "stopped":
                return
            self._state = "stopped"
        self._core.stopping.set()
        for front_end in (self._http, self._grpc):
            if front_end is not None:
                try:
                    front_end.stop(timeout)
                except Exception:
                    _logger.exception("error while stopping the OTLP receiver")

    def __enter__(self: _R) -> _R:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def grpc_enabled(self) -> bool:
        """True when gRPC was asked for (``grpc_port`` not None)."""
        return self._grpc_port_wanted is not None

    @property
    def http_enabled(self) -> bool:
        """True when HTTP was asked for (``http_port`` not None)."""
        return self._http_port_wanted is not None

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return self._state == "running"

    # -- addresses ----------------------------------------------------------------------
    @property
    def grpc_port(self) -> int:
        """Bound gRPC port (RuntimeError if gRPC is disabled or not started)."""
        if self._grpc is None or not self._grpc.port:
            raise RuntimeError("gRPC receiver is not running")
        return self._grpc.port

    @property
    def http_port(self) -> int:
        """Bound HTTP port (RuntimeError if HTTP is disabled or not started)."""
        if self._http is None:
            raise RuntimeError("HTTP receiver is not running")
        return self._http.port

    def _url(self, port: int) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    @property
    def grpc_endpoint(self) -> str:
        """``http://host:port`` for ``OTLPLogExporter(endpoint=..., insecure=True)`` (gRPC)."""
        return self._url(self.grpc_port)

    @property
    def http_endpoint(self) -> str:
        """Base URL of the OTLP/HTTP receiver; logs go to ``http_endpoint + "/v1/logs"``."""
        return self._url(self.http_port)

    @property
    def http_logs_url(self) -> str:
        """Full OTLP/HTTP logs URL (``http_endpoint + "/v1/logs"``)."""
        return self.http_endpoint + "/v1/logs"

    # -- what arrived --------------------------------------------------------------------
    @property
    def records(self) -> list[ReceivedRecord]:
        """Snapshot of all stored log records, in arrival order."""
        return self._core.records

    @property
    def requests(self) -> list[ExportLogsServiceRequest]:
        """Snapshot of accepted logs export requests (decoded), in arrival order."""
        return self._core.requests

    @property
    def request_log(self) -> list[RequestLogEntry]:
        """Snapshot of answered requests as ``(protocol, outcome, monotonic_time)``; see RequestLogEntry."""
        return self._core.request_log

    @property
    def request_headers(self) -> list[dict[str, str]]:
        """HTTP headers or gRPC metadata (keys lower-cased) of each logs request, in arrival order."""
        return self._core.request_headers

    @property
    def signal_counts(self) -> dict[str, int]:
        """Accepted requests per signal, e.g. ``{"logs": 3, "traces": 1}``."""
        return self._core.signal_counts

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Block until at least ``count`` records arrived; False on timeout."""
        return self._core.wait_for(count, timeout)

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> bool:
        """Block until at least ``count`` requests were answered (any outcome); False on timeout."""
        return self._core.wait_for_requests(count, timeout)

    def clear(self) -> None:
        """Forget records, requests, the request log and counts (faults stay queued)."""
        self._core.clear()

    # -- fault injection -----------------------------------------------------------------
    @property
    def faults(self) -> FaultQueue:
        """Queue of scripted answers, one consumed per logs request."""
        return self._core.faults

    def set_default_fault(self, fault: Fault | None) -> None:
        """Answer every logs request with ``fault`` once the queue is empty (None = accept)."""
        self._core.faults.set_default(fault)
