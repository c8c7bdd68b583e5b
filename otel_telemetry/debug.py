"""Debug mode (``OTEL_TELEMETRY_DEBUG=1`` or ``Telemetry(debug=True)``): print, never send.

Each event is printed to standard error as one line, exactly as ``otel-telemetry tail`` prints
it, once the whole sending path has run (validation, rate limits, catalog, mapping, encoding):
what is printed is decoded from the very request a collector would have received. Nothing
leaves the process. The first line printed says that debug mode is on.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from .exporters.base import OK, Exporter, ExportResult

BANNER = "otel-telemetry debug mode is on (OTEL_TELEMETRY_DEBUG): each event is printed here, nothing is sent"


class DebugExporter(Exporter):
    """An exporter that prints each record of a request and reports it exported."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._announced = False
        self._lock = threading.Lock()

    def export(self, request: bytes, timeout_s: float) -> ExportResult:
        """Print the records of one serialised ``ExportLogsServiceRequest``; never fails."""
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

        from .records import iter_records
        from .render import record_line

        lines = [record_line(r) for r in iter_records(ExportLogsServiceRequest.FromString(request), "debug")]
        stream = self._stream or sys.stderr
        with self._lock:
            if not self._announced:
                self._announced = True
                lines.insert(0, BANNER)
            try:
                stream.write("".join(line + "\n" for line in lines))
                stream.flush()
            except (OSError, ValueError):  # a closed stream must not break the app
                pass
        return OK
