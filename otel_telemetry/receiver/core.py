"""Protocol-neutral heart of the receiver: what to answer, and what was received.

The gRPC and HTTP front ends decode a request, then ask :class:`ReceiverCore`
for a :class:`Reply`; the core applies the scripted fault, calls ``on_request``,
stores records and keeps the request log. Keeping this in one place means both
protocols behave identically under faults.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import grpc
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from .faults import Fault, FaultQueue
from .records import ReceivedRecord, iter_records
from .signals import LOGS, Signal

__all__ = ["OnRequest", "ReceiverCore", "Reply", "RequestLogEntry"]

_logger = logging.getLogger(__name__)

OnRequest = Callable[[str, ExportLogsServiceRequest], None]


class RequestLogEntry(NamedTuple):
    """One answered request: ``(protocol, outcome, at)``.

    ``outcome`` is what went on the wire: the HTTP status as a string (``"200"``,
    ``"503"``) or the gRPC code name (``"OK"``, ``"UNAVAILABLE"``); ``"hang"`` for a
    request held by a hang fault. ``at`` is ``time.monotonic()`` when the request
    had been read, so gaps between entries show the client's backoff.
    """

    protocol: str
    outcome: str
    at: float


@dataclass(frozen=True)
class Reply:
    """The answer to one request, for a front end to render in its protocol."""

    http_status: int = 200
    grpc_code: grpc.StatusCode = grpc.StatusCode.OK
    message: str = ""
    retry_after: str | None = None  # HTTP Retry-After header
    retry_delay_s: float | None = None  # gRPC google.rpc.RetryInfo
    rejected: int = 0  # partial success
    abandoned: bool = False  # the receiver stopped mid-hang: send nothing, drop the request

    @property
    def ok(self) -> bool:
        """True for a (possibly partial) success."""
        return self.http_status == 200

    @classmethod
    def error(cls, http_status: int, grpc_code: grpc.StatusCode, message: str) -> Reply:
        """A rejection without retry hints."""
        return cls(http_status=http_status, grpc_code=grpc_code, message=message)

    @classmethod
    def from_fault(cls, fault: Fault) -> Reply:
        """The rejection (or partial success) that ``fault`` scripts."""
        status = fault.effective_http_status()
        code = fault.effective_grpc_code()
        if status is None or code is None:
            return cls(rejected=fault.rejected, message=fault.message)
        return cls(
            http_status=status,
            grpc_code=code,
            message=fault.effective_message(),
            retry_after=fault.effective_retry_after(),
            retry_delay_s=fault.effective_retry_delay_s(),
        )


def _outcome(protocol: str, reply: Reply) -> str:
    return str(reply.grpc_code.name) if protocol == "grpc" else str(reply.http_status)


class ReceiverCore:
    """Thread-safe store of what arrived, plus the request-handling policy shared by both protocols."""

    def __init__(self, on_request: OnRequest | None = None, *, keep: bool = True) -> None:
        """``keep=False`` keeps nothing in memory (records, requests, request log) for long-running
        use where ``on_request`` is the consumer; counts and the ``wait_for*`` methods still work."""
        self.faults = FaultQueue()
        self.stopping = threading.Event()  # set by stop(): wakes hanging requests
        self._on_request = on_request
        self._keep = keep
        self._changed = threading.Condition()
        self._records: list[ReceivedRecord] = []
        self._requests: list[ExportLogsServiceRequest] = []
        self._log: list[RequestLogEntry] = []
        self._headers: list[dict[str, str]] = []
        self._counts: Counter[str] = Counter()
        self._record_total = 0  # records accepted since the last clear(), kept or not
        self._answer_total = 0  # request-log entries since the last clear(), kept or not

    # -- what arrived (snapshots) -------------------------------------------------
    @property
    def records(self) -> list[ReceivedRecord]:
        with self._changed:
            return list(self._records)

    @property
    def requests(self) -> list[ExportLogsServiceRequest]:
        with self._changed:
            return list(self._requests)

    @property
    def request_log(self) -> list[RequestLogEntry]:
        with self._changed:
            return list(self._log)

    @property
    def request_headers(self) -> list[dict[str, str]]:
        with self._changed:
            return list(self._headers)

    @property
    def signal_counts(self) -> dict[str, int]:
        with self._changed:
            return dict(self._counts)

    def wait_for(self, count: int, timeout: float) -> bool:
        """Block until at least ``count`` records arrived; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._record_total >= count, timeout)

    def wait_for_requests(self, count: int, timeout: float) -> bool:
        """Block until at least ``count`` request-log entries exist; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._answer_total >= count, timeout)

    def clear(self) -> None:
        """Forget records, requests, the request log and counts (faults are kept)."""
        with self._changed:
            self._records.clear()
            self._requests.clear()
            self._log.clear()
            self._headers.clear()
            self._counts.clear()
            self._record_total = self._answer_total = 0

    # -- handling -----------------------------------------------------------------
    def log(self, protocol: str, outcome: str, at: float) -> None:
        """Append to the request log and wake waiters."""
        with self._changed:
            if self._keep:
                self._log.append(RequestLogEntry(protocol, outcome, at))
            self._answer_total += 1
            self._changed.notify_all()

    def reject(self, protocol: str, reply: Reply, at: float) -> Reply:
        """Log a request that was refused before reaching :meth:`handle` (bad body, path, ...)."""
        self.log(protocol, _outcome(protocol, reply), at)
        return reply

    def handle(
        self,
        protocol: str,
        signal: Signal,
        request: Message,
        at: float,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Decide the answer to a decoded export request, storing it if accepted.

        Faults apply to logs only; traces and metrics are always accepted and counted.
        ``headers`` (HTTP headers or gRPC metadata, lower-cased) are kept for logs requests.
        """
        if signal is not LOGS:
            with self._changed:
                self._counts[signal.name] += 1
            return self.reject(protocol, Reply(), at)
        assert isinstance(request, ExportLogsServiceRequest)
        if self._keep:
            with self._changed:
                self._headers.append({k.lower(): v for k, v in (headers or {}).items()})
        fault = self.faults.next()
        reply = Reply() if fault is None else Reply.from_fault(fault)
        logged = False
        if fault is not None and fault.hang_s > 0:
            self.log(protocol, "hang", at)
            logged = True
            if self.stopping.wait(fault.hang_s):
                return Reply(
                    http_status=503,
                    grpc_code=grpc.StatusCode.UNAVAILABLE,
                    message="receiver stopping",
                    abandoned=True,
                )
        if reply.ok:
            reply = self._accept(protocol, request, reply)
        if not logged:
            self.log(protocol, _outcome(protocol, reply), at)
        return reply

    def _accept(self, protocol: str, request: ExportLogsServiceRequest, reply: Reply) -> Reply:
        """Run ``on_request`` then store the records.

        A failing callback (the store's disk is full or locked) answers 503 / UNAVAILABLE with a
        retry hint, so OTLP senders keep the batch and retry instead of dropping it.
        """
        if self._on_request is not None:
            try:
                self._on_request(protocol, request)
            except Exception as exc:
                _logger.exception("otel-telemetry receiver: on_request callback failed")
                return Reply(
                    http_status=503,
                    grpc_code=grpc.StatusCode.UNAVAILABLE,
                    message=f"receiver callback failed: {exc!r}",
                    retry_after="1",
                    retry_delay_s=1.0,
                )
        records = list(iter_records(request, protocol)) if self._keep else []
        count = sum(
            len(scope.log_records) for resource in request.resource_logs for scope in resource.scope_logs
        )
        with self._changed:
            if self._keep:
                self._records.extend(records)
                self._requests.append(request)
            self._record_total += count
            self._counts[LOGS.name] += 1
            self._changed.notify_all()
        return reply

    @staticmethod
    def now() -> float:
        """The clock used for request-log times."""
        return time.monotonic()
