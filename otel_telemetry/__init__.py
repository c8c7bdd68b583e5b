"""otel-telemetry: product telemetry for Python applications, carried by OpenTelemetry.

``send("didCreateEntry", {"eventProperties": {...}, "userProperties": {...},
"groupProperties": {...}})`` records one event as an OpenTelemetry log record (the event name
in ``LogRecord.event_name``) and exports it over OTLP, in the background.
"""

from __future__ import annotations

from ._default import configure, flush, get_default, send, shutdown, stats
from .delivery import Backoff
from .errors import TelemetryError
from .event import CapturedEvent, NamedPolicy, Policy
from .exporters import (
    Exporter,
    ExportResult,
    InMemoryExporter,
    LoggerProviderExporter,
    OTLPExporter,
    SdkExporter,
)
from .mapping import to_payload
from .ratelimit import ONCE_PER_DAY, RateLimit
from .records import ReceivedRecord
from .serverless import flushing
from .settings import (
    BatchSettings,
    CatalogSettings,
    ConsentSettings,
    DefaultProperties,
    DeliverySettings,
    ExporterSettings,
    PrivacySettings,
    RecordSettings,
    ResourceSettings,
    SamplingSettings,
    SpoolSettings,
)
from .stats import TelemetryStats
from .telemetry import Telemetry
from .version import __version__

__all__ = [
    "ONCE_PER_DAY",
    "Backoff",
    "BatchSettings",
    "CapturedEvent",
    "CatalogSettings",
    "ConsentSettings",
    "DefaultProperties",
    "DeliverySettings",
    "ExportResult",
    "Exporter",
    "ExporterSettings",
    "InMemoryExporter",
    "LoggerProviderExporter",
    "NamedPolicy",
    "OTLPExporter",
    "Policy",
    "PrivacySettings",
    "RateLimit",
    "ReceivedRecord",
    "RecordSettings",
    "ResourceSettings",
    "SamplingSettings",
    "SdkExporter",
    "SpoolSettings",
    "Telemetry",
    "TelemetryError",
    "TelemetryStats",
    "__version__",
    "configure",
    "consent",
    "flush",
    "flushing",
    "get_default",
    "send",
    "shutdown",
    "stats",
    "to_payload",
]


def __getattr__(name: str) -> object:
    """``otel_telemetry.consent`` is imported on first use (it is not on the sending path)."""
    if name == "consent":
        import importlib

        return importlib.import_module(".consent", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
