"""otel-telemetry: product telemetry for Python applications, carried by OpenTelemetry.

``send("didCreateEntry", {"eventProperties": {...}, "userProperties": {...},
"groupProperties": {...}})`` records one event as an OpenTelemetry log record (the event name
in ``LogRecord.event_name``) and exports it over OTLP, in the background.

``import otel_telemetry`` loads only ``send()`` (:mod:`otel_telemetry._deferred`); every other
name loads the rest on first use (PEP 562), so a command-line tool that sends an event and exits
pays for little more than that (``docs/short-lived.md``).
"""

from __future__ import annotations

from ._deferred import send
from ._lazy import lazy_names
from .version import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._core import (
        ONCE_PER_DAY,
        Backoff,
        CapturedEvent,
        CatalogSettings,
        DefaultProperties,
        DeliverySettings,
        Exporter,
        ExporterSettings,
        ExportResult,
        HandoffSettings,
        NamedPolicy,
        OTLPExporter,
        Policy,
        PrivacySettings,
        RateLimit,
        RecordSettings,
        ResourceSettings,
        SamplingSettings,
        SpoolSettings,
        Telemetry,
        TelemetryError,
        TelemetryStats,
        configure,
        flush,
        get_default,
        shutdown,
        stats,
    )
    from .exporters.memory import InMemoryExporter
    from .exporters.provider import LoggerProviderExporter
    from .exporters.sdk import SdkExporter
    from .mapping import to_payload
    from .records import ReceivedRecord
    from .serverless import flushing

__all__ = [
    "ONCE_PER_DAY",
    "Backoff",
    "CapturedEvent",
    "CatalogSettings",
    "DefaultProperties",
    "DeliverySettings",
    "ExportResult",
    "Exporter",
    "ExporterSettings",
    "HandoffSettings",
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

#: Names loaded from elsewhere than ``_core`` (each pulls in protobuf, the SDK or asyncio, which
#: sending does not need); ``send`` and ``__version__`` are here already.
_ELSEWHERE = {
    "InMemoryExporter": ".exporters.memory",
    "LoggerProviderExporter": ".exporters.provider",
    "SdkExporter": ".exporters.sdk",
    "ReceivedRecord": ".records",
    "to_payload": ".mapping",
    "flushing": ".serverless",  # (asyncio)
    "consent": ".consent",  # the module itself: not on the sending path
}
#: Where each name is loaded from on first use: the rest of the library (``_core``) unless above.
_LAZY = {name: _ELSEWHERE.get(name, "._core") for name in __all__ if name not in ("send", "__version__")}

__getattr__ = lazy_names(__name__, _LAZY)
