"""Exporting into an app's own OpenTelemetry ``LoggerProvider``.

An app that already configured OTel keeps its pipeline: each record is emitted through its
provider's processors and exporters, under the resource of its group properties (the
provider's resource is the base resource, see ``Telemetry``).
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry._logs import Logger
from opentelemetry.sdk._logs import LoggerProvider, ReadWriteLogRecord

from .base import OK, Exporter, ExportResult
from .sdk import sdk_records


class LoggerProviderExporter(Exporter):
    """Emits every record through ``provider``; flushing flushes the provider."""

    def __init__(self, provider: LoggerProvider) -> None:
        self.provider = provider
        self._loggers: dict[tuple[str, str | None], Logger] = {}

    def export(self, request: bytes, timeout_s: float) -> ExportResult:
        loggers = self._loggers
        for record, resource, scope in sdk_records(request):
            key = (scope.name, scope.version)
            logger = loggers.get(key)
            if logger is None:
                logger = loggers[key] = self.provider.get_logger(scope.name, scope.version)
            emit: Any = logger.emit
            emit(ReadWriteLogRecord(record, resource=resource, instrumentation_scope=scope))
        return OK

    def force_flush(self, timeout_s: float) -> bool:
        """The provider's ``force_flush``, bounded: the SDK's may ignore its timeout."""
        result: list[bool] = []
        thread = threading.Thread(
            target=lambda: result.append(bool(self.provider.force_flush(int(timeout_s * 1000)))),
            name="otel-telemetry-provider-flush",
            daemon=True,
        )
        thread.start()
        thread.join(timeout_s)
        return bool(result and result[0])

    def shutdown(self) -> None:
        """The provider belongs to the app: it is not shut down here."""

    def __repr__(self) -> str:
        return f"LoggerProviderExporter({self.provider!r})"
