"""otel-telemetry: product telemetry for Python applications, carried by OpenTelemetry.

``send("didCreateEntry", {"eventProperties": {...}, "userProperties": {...},
"groupProperties": {...}})`` records one event as an OpenTelemetry log record (the event name
in ``LogRecord.event_name``) and exports it over OTLP, in the background.
"""

from __future__ import annotations

# The two modules with fork hooks that take a lock before a fork, imported first, on the
# importing thread, although most runs need neither at once:
# - before ``processes`` registers its own hooks: Python runs the before-fork hooks last
#   registered, first, so ours (wait while the export thread imports) runs before theirs (take
#   their lock); else a fork waits on an import that waits on a lock the forking thread holds
#   (logging's, taken by getLogger at import: a 10 s stall per fork);
# - never by the export thread: a fork waiting for it would run the hooks it registered
#   meanwhile only half (Python snapshots the before-fork hooks): the child's logging lock
#   stays held, and the parent prints "release unlocked lock" (concurrent.futures.thread,
#   which the SDK's resource detection loads).
import concurrent.futures.thread  # noqa: F401  (isort: skip)
import logging  # noqa: F401  (isort: skip)
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
    CatalogSettings,
    DefaultProperties,
    DeliverySettings,
    ExporterSettings,
    HandoffSettings,
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

# quiet on stderr unless asked (OTEL_TELEMETRY_LOG_LEVEL)
_install_logging()

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
