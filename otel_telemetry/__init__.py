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
from .logsetup import install as _install_logging
from .mapping import to_payload
from .ratelimit import ONCE_PER_DAY, RateLimit
from .records import ReceivedRecord
from .settings import (
    BatchSettings,
    CatalogSettings,
    DeliverySettings,
    ExitSettings,
    ExporterSettings,
    PrivacySettings,
    RecordSettings,
    ResourceSettings,
    SpoolSettings,
)
from .stats import TelemetryStats
from .telemetry import Telemetry
from .version import __version__

_install_logging()  # quiet on stderr unless asked (OTEL_TELEMETRY_LOG_LEVEL)

__all__ = [
    "ONCE_PER_DAY",
    "Backoff",
    "BatchSettings",
    "CapturedEvent",
    "CatalogSettings",
    "DeliverySettings",
    "ExitSettings",
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
    "SdkExporter",
    "SpoolSettings",
    "Telemetry",
    "TelemetryError",
    "TelemetryStats",
    "__version__",
    "configure",
    "flush",
    "get_default",
    "send",
    "shutdown",
    "stats",
    "to_payload",
]
