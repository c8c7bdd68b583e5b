"""The exporter interface: what the delivery loop hands a batch to.

An exporter receives each batch as the serialised OTLP ``ExportLogsServiceRequest``, exactly
the bytes a collector would receive, and answers with an :class:`ExportResult` that tells
the delivery loop what to do: done, retry (maybe after the server's hint), or give up.
Retrying, backoff, deadlines and counting are the delivery loop's (``delivery.py``), not the
exporter's: an exporter makes one attempt per call.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol


class ExportResult(NamedTuple):
    """The result of one export attempt.

    ``rejected`` counts records refused in a partial success (``ok`` is then still True);
    they, and a failure that is not ``retryable``, are counted as dropped under ``drop_reason``.
    """

    ok: bool
    retryable: bool = False
    retry_after_s: float | None = None
    error: str = ""
    rejected: int = 0
    drop_reason: str = "rejected"


OK = ExportResult(True)


class Exporter(Protocol):
    """Sends batches somewhere. Subclass it to inherit the no-op ``force_flush``/``shutdown``.

    ``export`` is called from one thread at a time and must not raise (an exception is taken
    as a retryable failure). ``shutdown`` may be called from another thread while an export
    is in flight, to interrupt it; a later ``export`` may start afresh.
    """

    def export(self, request: bytes, timeout_s: float) -> ExportResult:
        """Send one serialised ``ExportLogsServiceRequest``; one attempt, within ``timeout_s``."""
        ...

    def force_flush(self, timeout_s: float) -> bool:
        """Push out anything the exporter itself buffers; True when done in time."""
        return True

    def shutdown(self) -> None:
        """Release connections (and interrupt an export in flight)."""
        return None
