"""Where batches go: the :class:`Exporter` interface and the exporters otel-telemetry ships.

- :class:`OTLPExporter`: OTLP over gRPC or HTTP to a collector (the default).
- :class:`LoggerProviderExporter`: through an app's own OpenTelemetry ``LoggerProvider``.
- :class:`InMemoryExporter`: keeps the decoded records, for tests.
- :class:`SdkExporter`: any OpenTelemetry SDK ``LogRecordExporter``.
"""

from .base import OK, Exporter, ExportResult
from .memory import InMemoryExporter
from .otlp import OTLPExporter
from .provider import LoggerProviderExporter
from .sdk import SdkExporter

__all__ = [
    "OK",
    "ExportResult",
    "Exporter",
    "InMemoryExporter",
    "LoggerProviderExporter",
    "OTLPExporter",
    "SdkExporter",
]
