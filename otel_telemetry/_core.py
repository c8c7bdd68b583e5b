"""The rest of otel-telemetry, loaded on first use of any name but ``send`` (``__init__.py``).

A program that only calls the module-level ``send()`` and exits soon never loads this
(:mod:`otel_telemetry._deferred`); everything else does, once, on the thread that first needs it.
"""

from __future__ import annotations

from ._default import configure, flush, get_default, shutdown, stats
from .counters import TelemetryStats
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
from .telemetry import Telemetry

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
    "NamedPolicy",
    "OTLPExporter",
    "Policy",
    "PrivacySettings",
    "RateLimit",
    "RecordSettings",
    "ResourceSettings",
    "SamplingSettings",
    "SpoolSettings",
    "Telemetry",
    "TelemetryError",
    "TelemetryStats",
    "configure",
    "flush",
    "get_default",
    "shutdown",
    "stats",
]
