"""An exporter that keeps what it is given: for tests (ours and an app's) without sockets.

It sees exactly what a collector would receive (the serialised request) and decodes it the
way the receiver does, so ``records`` are the records with their resource and scope.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from ..processes import fork_safe
from ..records import ReceivedRecord, iter_records
from .base import OK, Exporter, ExportResult


class InMemoryExporter(Exporter):
    """Stores every accepted request; ``results`` scripts the answers of the first exports
    (e.g. ``[ExportResult(False, retryable=True)]`` for one transient failure), then OK."""

    def __init__(self, results: Iterable[ExportResult] = ()) -> None:
        self._results = deque(results)
        self._requests: list[ExportLogsServiceRequest] = []
        self._cond = fork_safe(threading.Condition())
        #: Export calls, accepted or not.
        self.attempts = 0
        self.shut_down = False

    def export(self, request: bytes, timeout_s: float) -> ExportResult:
        decoded = ExportLogsServiceRequest.FromString(request)
        with self._cond:
            self.attempts += 1
            result = self._results.popleft() if self._results else OK
            if result.ok:
                self._requests.append(decoded)
                self._cond.notify_all()
        return result

    @property
    def requests(self) -> list[ExportLogsServiceRequest]:
        """The accepted requests, decoded, in order."""
        with self._cond:
            return list(self._requests)

    @property
    def records(self) -> list[ReceivedRecord]:
        """Every accepted record, decoded, with its resource and scope, in order."""
        return [record for request in self.requests for record in iter_records(request, "memory")]

    def wait_for(self, count: int, timeout_s: float = 5.0) -> bool:
        """Wait until at least ``count`` records were accepted; False on timeout."""
        deadline = time.monotonic() + timeout_s

        def enough() -> bool:
            return (
                sum(
                    len(s.log_records)
                    for r in self._requests
                    for rl in r.resource_logs
                    for s in rl.scope_logs
                )
                >= count
            )

        with self._cond:
            return self._cond.wait_for(enough, max(deadline - time.monotonic(), 0.0))

    def clear(self) -> None:
        """Forget what was received."""
        with self._cond:
            self._requests.clear()

    def shutdown(self) -> None:
        self.shut_down = True
