"""otel-telemetry: product telemetry for Python applications, carried by OpenTelemetry.

``send("didCreateEntry", {"eventProperties": {...}, "userProperties": {...},
"groupProperties": {...}})`` records one event as an OpenTelemetry log record (the event name
in ``LogRecord.event_name``) and exports it over OTLP, in the background.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._default import configure, flush, get_default, send, shutdown, stats
from ._lazy import lazy_names
from .delivery import Backoff
from .errors import TelemetryError
from .event import CapturedEvent, NamedPolicy, Policy
from .exporters.base import Exporter, ExportResult
from .exporters.otlp import OTLPExporter
from .logsetup import install as _install_logging
from .ratelimit import ONCE_PER_DAY, RateLimit
from .settings import (
    BatchSettings,
    CatalogSettings,
    ConsentSettings,
    DefaultProperties,
    DeliverySettings,
    ExitSettings,
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

if TYPE_CHECKING:
    from .exporters.memory import InMemoryExporter
    from .exporters.provider import LoggerProviderExporter
    from .exporters.sdk import SdkExporter
    from .mapping import to_payload
    from .records import ReceivedRecord
    from .serverless import flushing

# ``logging`` is imported here, on the importing thread, although most runs never log: imported
# later by a worker thread it could race a fork() in another thread (its fork handlers would run
# half), which breaks logging in the child. Quiet on stderr unless asked (OTEL_TELEMETRY_LOG_LEVEL).
_install_logging()

__all__ = [
    "ONCE_PER_DAY",
    "Backoff",
    "BatchSettings",
    "CapturedEvent",
    "CatalogSettings",
    "ConsentSettings",
    "DefaultProperties",
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

#: Names loaded on first use: each pulls in protobuf or the OpenTelemetry SDK, which sending
#: does not need at import time (``docs/short-lived.md``: a command-line tool pays for its imports).
_LAZY = {
    "InMemoryExporter": ".exporters.memory",
    "LoggerProviderExporter": ".exporters.provider",
    "SdkExporter": ".exporters.sdk",
    "ReceivedRecord": ".records",
    "to_payload": ".mapping",
    "flushing": ".serverless",  # (asyncio)
    "consent": ".consent",  # the module itself: not on the sending path
}


__getattr__ = lazy_names(__name__, _LAZY)
