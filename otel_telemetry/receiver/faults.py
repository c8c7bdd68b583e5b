"""Scripted failure responses ("faults") for delivery tests.

A :class:`Fault` says how the receiver should answer one export request instead
of accepting it: an HTTP status / gRPC code (each derived from the other when
only one is given, so one fault script works for both protocols), a retry hint,
a hang, or a partial success. The :class:`FaultQueue` hands out one queued fault
per logs request, then falls back to an optional default fault.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus

import grpc

__all__ = ["Fault", "FaultQueue", "grpc_code_for_http", "http_status_for_grpc"]

_GRPC_FOR_HTTP: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.UNIMPLEMENTED,
    408: grpc.StatusCode.DEADLINE_EXCEEDED,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    499: grpc.StatusCode.CANCELLED,
    500: grpc.StatusCode.INTERNAL,
    501: grpc.StatusCode.UNIMPLEMENTED,
    502: grpc.StatusCode.UNAVAILABLE,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}

_HTTP_FOR_GRPC: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}


def grpc_code_for_http(status: int) -> grpc.StatusCode:
    """The gRPC code a gRPC collector would use where an HTTP one answers ``status``."""
    if status in _GRPC_FOR_HTTP:
        return _GRPC_FOR_HTTP[status]
    if 400 <= status < 500:
        return grpc.StatusCode.INVALID_ARGUMENT
    if 200 <= status < 300:
        return grpc.StatusCode.OK
    return grpc.StatusCode.UNKNOWN


def http_status_for_grpc(code: grpc.StatusCode) -> int:
    """The HTTP status an HTTP collector would use where a gRPC one answers ``code`` (else 500)."""
    return _HTTP_FOR_GRPC.get(code, 500)


@dataclass(frozen=True)
class Fault:
    """How to answer one request instead of accepting it.

    - ``http_status`` / ``grpc_code``: reject with this status (HTTP error statuses
      are 400-599). Give one and the other protocol gets the equivalent.
    - ``retry_after``: HTTP ``Retry-After`` header value, sent verbatim (e.g. ``"2"``).
    - ``retry_delay_s``: gRPC ``google.rpc.RetryInfo.retry_delay``. Each defaults from
      the other (a delay becomes ``Retry-After`` rounded up to whole seconds).
    - ``hang_s``: hold the request this long before answering (the receiver's
      ``stop()`` cuts it short: the HTTP connection is closed without an answer,
      the gRPC call ends UNAVAILABLE). After the hang, the status above is sent, or
      the request is accepted if there is none: a hang shorter than the client's
      timeout is a slow collector.
    - ``rejected`` / ``message``: with no status, accept the request but report a
      partial success with this many rejected items; with a status, ``message``
      is the error message.
    """

    http_status: int | None = None
    grpc_code: grpc.StatusCode | None = None
    retry_after: str | None = None
    retry_delay_s: float | None = None
    hang_s: float = 0.0
    message: str = ""
    rejected: int = 0

    def __post_init__(self) -> None:
        if self.http_status is not None and not 400 <= self.http_status <= 599:
            raise ValueError(f"http_status must be an error status 400-599, got {self.http_status}")
        if self.grpc_code is not None and (
            not isinstance(self.grpc_code, grpc.StatusCode) or self.grpc_code is grpc.StatusCode.OK
        ):
            raise ValueError(f"grpc_code must be a non-OK grpc.StatusCode, got {self.grpc_code!r}")
        if self.retry_delay_s is not None and not (
            math.isfinite(self.retry_delay_s) and self.retry_delay_s >= 0
        ):
            raise ValueError(f"retry_delay_s must be a finite number >= 0, got {self.retry_delay_s}")
        if not (math.isfinite(self.hang_s) and self.hang_s >= 0):
            raise ValueError(f"hang_s must be a finite number >= 0, got {self.hang_s}")
        if self.rejected < 0:
            raise ValueError(f"rejected must be >= 0, got {self.rejected}")

    @property
    def is_error(self) -> bool:
        """True when this fault rejects the request (as opposed to only delaying or partially accepting)."""
        return self.http_status is not None or self.grpc_code is not None

    def effective_http_status(self) -> int | None:
        """HTTP status to answer with, derived from ``grpc_code`` if needed; None = accept."""
        if self.http_status is not None:
            return self.http_status
        return None if self.grpc_code is None else http_status_for_grpc(self.grpc_code)

    def effective_grpc_code(self) -> grpc.StatusCode | None:
        """gRPC code to answer with, derived from ``http_status`` if needed; None = accept."""
        if self.grpc_code is not None:
            return self.grpc_code
        return None if self.http_status is None else grpc_code_for_http(self.http_status)

    def effective_retry_after(self) -> str | None:
        """``Retry-After`` header value, derived from ``retry_delay_s`` (rounded up) if needed."""
        if self.retry_after is not None:
            return self.retry_after
        return None if self.retry_delay_s is None else str(math.ceil(self.retry_delay_s))

    def effective_retry_delay_s(self) -> float | None:
        """RetryInfo delay in seconds, derived from a numeric ``retry_after`` if needed."""
        if self.retry_delay_s is not None:
            return self.retry_delay_s
        if self.retry_after is None:
            return None
        try:
            delay = float(self.retry_after)
        except ValueError:
            return None  # an HTTP-date: no gRPC equivalent
        return delay if math.isfinite(delay) and delay >= 0 else None

    def effective_message(self) -> str:
        """Error message: ``message`` or the HTTP reason phrase of the status."""
        if self.message:
            return self.message
        status = self.effective_http_status()
        if status is None:
            return ""
        try:
            return HTTPStatus(status).phrase
        except ValueError:
            return f"HTTP {status}"


class FaultQueue:
    """Thread-safe queue of faults consumed one per logs request, then an optional default fault."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()
        self._default: Fault | None = None

    def push(self, fault: Fault, times: int = 1) -> None:
        """Answer the next ``times`` requests (after those already queued) with ``fault``."""
        if not isinstance(fault, Fault):
            raise TypeError(f"expected a Fault, got {type(fault).__name__}")
        with self._lock:
            self._queue.extend([fault] * times)

    def extend(self, faults: Iterable[Fault]) -> None:
        """Queue several faults, in order."""
        for fault in faults:
            self.push(fault)

    def set_default(self, fault: Fault | None) -> None:
        """Fault applied to every request once the queue is empty (None = accept normally)."""
        with self._lock:
            self._default = fault

    @property
    def default(self) -> Fault | None:
        """The current default fault, if any."""
        with self._lock:
            return self._default

    @property
    def pending(self) -> list[Fault]:
        """Snapshot of the faults still queued."""
        with self._lock:
            return list(self._queue)

    def next(self) -> Fault | None:
        """Take the fault for the next request: the oldest queued one, else the default."""
        with self._lock:
            return self._queue.popleft() if self._queue else self._default

    def clear(self) -> None:
        """Drop queued faults (the default fault is kept; use ``set_default(None)``)."""
        with self._lock:
            self._queue.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue)
