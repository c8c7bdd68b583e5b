"""otel-telemetry: product telemetry for Python applications, carried by OpenTelemetry.

``send("didCreateEntry", {"eventProperties": {...}, "userProperties": {...},
"groupProperties": {...}})`` records one event as an OpenTelemetry log record (the event name
in ``LogRecord.event_name``) and exports it over OTLP, in the background.
"""

from __future__ import annotations

from ._default import configure, flush, get_default, send, shutdown, stats
from .config import ExporterSettings, PipelineSettings
from .errors import TelemetryError
from .exit import ExitSettings
from .logsetup import install as _install_logging
from .mapping import to_payload
from .pipeline import Backoff
from .ratelimit import ONCE_PER_DAY, RateLimit
from .stats import TelemetryStats
from .telemetry import Telemetry
from .version import __version__

_install_logging()  # quiet on stderr unless asked (OTEL_TELEMETRY_LOG_LEVEL)

__all__ = [
    "ONCE_PER_DAY",
    "Backoff",
    "ExitSettings",
    "ExporterSettings",
    "PipelineSettings",
    "RateLimit",
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
