"""Where batches go: the :class:`Exporter` interface and the exporters otel-telemetry ships.

- :class:`OTLPExporter`: OTLP over gRPC or HTTP to a collector (the default).
- :class:`LoggerProviderExporter`: through an app's own OpenTelemetry ``LoggerProvider``.
- :class:`InMemoryExporter`: keeps the decoded records, for tests.
- :class:`SdkExporter`: any OpenTelemetry SDK ``LogRecordExporter``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_names
from .base import OK, Exporter, ExportResult
from .otlp import OTLPExporter

if TYPE_CHECKING:
    from .memory import InMemoryExporter
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

#: Loaded on first use: they import protobuf messages or the OpenTelemetry SDK.
_LAZY = {"InMemoryExporter": ".memory", "LoggerProviderExporter": ".provider", "SdkExporter": ".sdk"}


__getattr__ = lazy_names(__name__, _LAZY)
