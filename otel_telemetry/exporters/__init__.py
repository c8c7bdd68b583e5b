"""Where batches go: the :class:`Exporter` interface and the exporters otel-telemetry ships.

- :class:`OTLPExporter`: OTLP over gRPC or HTTP to a collector (the default).
- :class:`LoggerProviderExporter`: through an app's own OpenTelemetry ``LoggerProvider``.
- :class:`InMemoryExporter`: keeps the decoded records, for tests.
- :class:`SdkExporter`: any OpenTelemetry SDK ``LogRecordExporter``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
