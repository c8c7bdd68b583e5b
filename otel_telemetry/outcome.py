"""What one export attempt came to: the transport's answer that the retry loop acts on.

Kept apart from ``transport`` so that importing otel-telemetry does not import gRPC and
requests: the transport (and its library) is loaded on the worker thread, on first export.
"""

from __future__ import annotations

from typing import NamedTuple


class ExportOutcome(NamedTuple):
    """The result of one attempt. ``rejected`` counts records refused in a partial success."""

    ok: bool
    retryable: bool = False
    retry_after_s: float | None = None
    error: str = ""
    rejected: int = 0


OK = ExportOutcome(True)
