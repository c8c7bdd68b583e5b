"""The one switch the sending path reads for tests: the active capture, or ``None``.

``otel_telemetry.testing.capture()`` sets it; ``Telemetry.send`` then hands each accepted event
to it instead of the queue. It lives apart from ``otel_telemetry.testing`` so the sending path
never imports the testing helpers (a global read costs ``send()`` ~20 ns).
"""

from __future__ import annotations

from typing import Any, Protocol


class Sink(Protocol):
    """What a sender needs from a capture."""

    def record_request(self, request: bytes, base_resource: dict[str, Any]) -> None: ...

    def record_drop(self, reason: str, detail: str) -> None: ...


#: The active capture (set by ``otel_telemetry.testing``), or None.
active: Sink | None = None
