"""Settings: explicit arguments first, then the standard OpenTelemetry environment variables.

One frozen :class:`ExporterSettings` and one :class:`PipelineSettings` are resolved when a
``Telemetry`` is created, so nothing on the ``send()`` path reads the environment. A malformed
environment value is logged and replaced by its default (it must not crash the host app);
a malformed explicit argument raises :class:`~otel_telemetry.TelemetryError`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from opentelemetry.util.re import parse_env_headers

from .errors import TelemetryError

logger = logging.getLogger("otel_telemetry")

Protocol = Literal["grpc", "http/protobuf", "http/json"]
Compression = Literal["none", "gzip", "deflate"]
PROTOCOLS: tuple[Protocol, ...] = ("grpc", "http/protobuf", "http/json")
COMPRESSIONS: tuple[Compression, ...] = ("none", "gzip", "deflate")

DEFAULT_GRPC_ENDPOINT = "http://localhost:4317"
DEFAULT_HTTP_ENDPOINT = "http://localhost:4318"
LOGS_PATH = "/v1/logs"
DEFAULT_TIMEOUT_S = 10.0

#: Larger than the SDK's 2,048: a burst of 100,000 events must not be evicted.
DEFAULT_MAX_QUEUE_SIZE = 131_072
DEFAULT_MAX_EXPORT_BATCH_SIZE = 512
DEFAULT_SCHEDULE_DELAY_S = 1.0
DEFAULT_EXPORT_TIMEOUT_S = 30.0
DEFAULT_ATTRIBUTE_COUNT_LIMIT = 128
DEFAULT_EXIT_TIMEOUT_S = 5.0

T = TypeVar("T")


def _env(environ: Mapping[str, str], *names: str) -> tuple[str, str] | None:
    """The first of ``names`` that is set to a non-empty value, with its value."""
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return name, value
    return None


def _parsed(
    environ: Mapping[str, str], names: tuple[str, ...], parse: Callable[[str], T], default: T, rule: str
) -> T:
    found = _env(environ, *names)
    if found is None:
        return default
    name, value = found
    try:
        return parse(value)
    except (TypeError, ValueError):
        logger.warning("otel-telemetry: ignoring %s=%r (%s); using %r", name, value, rule, default)
        return default


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError(value)
    return number


def _millis_to_s(value: str) -> float:
    number = float(value)
    if number < 0:
        raise ValueError(value)
    return number / 1000.0


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        value = value.lower()
        if value not in options:
            raise ValueError(value)
        return value

    return parse


@dataclass(frozen=True)
class ExporterSettings:
    """Where and how batches are sent (the ``OTEL_EXPORTER_OTLP_*`` variables, logs first)."""

    protocol: Protocol = "http/protobuf"
    endpoint: str = DEFAULT_HTTP_ENDPOINT + LOGS_PATH
    insecure: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = DEFAULT_TIMEOUT_S
    compression: Compression = "none"
    certificate_file: str | None = None
    client_key_file: str | None = None
    client_certificate_file: str | None = None


@dataclass(frozen=True)
class PipelineSettings:
    """Queue and batching (the ``OTEL_BLRP_*`` variables) plus attribute limits."""

    max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE
    max_export_batch_size: int = DEFAULT_MAX_EXPORT_BATCH_SIZE
    schedule_delay_s: float = DEFAULT_SCHEDULE_DELAY_S
    export_timeout_s: float = DEFAULT_EXPORT_TIMEOUT_S
    attribute_count_limit: int = DEFAULT_ATTRIBUTE_COUNT_LIMIT
    attribute_value_length_limit: int | None = None
    exit_timeout_s: float = DEFAULT_EXIT_TIMEOUT_S


def _signal(environ: Mapping[str, str], suffix: str) -> tuple[str, str] | None:
    return _env(environ, f"OTEL_EXPORTER_OTLP_LOGS_{suffix}", f"OTEL_EXPORTER_OTLP_{suffix}")


def resolve_endpoint(protocol: Protocol, explicit: str | None, environ: Mapping[str, str]) -> str:
    """The URL batches go to.

    For HTTP, ``OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`` is used as-is and a base endpoint
    (``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``endpoint=``) gets ``/v1/logs`` appended, as the
    OTLP exporter specification says. gRPC endpoints are used as given.
    """
    if explicit:
        if protocol == "grpc" or explicit.rstrip("/").endswith(LOGS_PATH):
            return explicit
        return explicit.rstrip("/") + LOGS_PATH
    specific = _env(environ, "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
    if specific:
        return specific[1]
    base = _env(environ, "OTEL_EXPORTER_OTLP_ENDPOINT")
    if protocol == "grpc":
        return base[1] if base else DEFAULT_GRPC_ENDPOINT
    return (base[1] if base else DEFAULT_HTTP_ENDPOINT).rstrip("/") + LOGS_PATH


def resolve_exporter(
    environ: Mapping[str, str],
    *,
    protocol: str | None = None,
    endpoint: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
    compression: str | None = None,
    insecure: bool | None = None,
) -> ExporterSettings:
    """Exporter settings from arguments, then logs-specific, then generic OTLP variables."""
    if protocol is not None and protocol not in PROTOCOLS:
        raise TelemetryError("protocol", f"must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    if compression is not None and compression not in COMPRESSIONS:
        raise TelemetryError("compression", f"must be one of {', '.join(COMPRESSIONS)}, not {compression!r}")
    if timeout_s is not None and not timeout_s > 0:
        raise TelemetryError("timeout_s", "must be > 0")
    chosen: str = protocol or _parsed(
        environ,
        ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"),
        _choice(PROTOCOLS),
        "http/protobuf",
        f"expected one of {', '.join(PROTOCOLS)}",
    )
    proto: Protocol = (
        "grpc" if chosen == "grpc" else "http/json" if chosen == "http/json" else "http/protobuf"
    )
    url = resolve_endpoint(proto, endpoint, environ)
    scheme = urlsplit(url).scheme if "://" in url else ""
    if scheme == "https":
        secure_off = False
    elif scheme == "http":
        secure_off = True
    else:
        secure_off = _parsed(
            environ,
            ("OTEL_EXPORTER_OTLP_LOGS_INSECURE", "OTEL_EXPORTER_OTLP_INSECURE"),
            lambda v: v.lower() == "true",
            False,
            "expected true or false",
        )
    compression_choice: Compression = compression or _parsed(  # type: ignore[assignment]
        environ,
        ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"),
        _choice(COMPRESSIONS),  # type: ignore[arg-type]
        "none",
        "expected none, gzip or deflate",
    )
    env_headers = _signal(environ, "HEADERS")
    merged = (
        {k.lower(): v for k, v in parse_env_headers(env_headers[1], liberal=True).items()}
        if env_headers
        else {}
    )
    merged.update({k.lower(): v for k, v in (headers or {}).items()})
    return ExporterSettings(
        protocol=proto,
        endpoint=url,
        insecure=secure_off if insecure is None else insecure,
        headers=merged,
        timeout_s=timeout_s
        or _parsed(
            environ,
            ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"),
            _millis_to_s,
            DEFAULT_TIMEOUT_S,
            "expected milliseconds >= 0",
        )
        or DEFAULT_TIMEOUT_S,
        compression=compression_choice,
        certificate_file=(_signal(environ, "CERTIFICATE") or (None, None))[1],
        client_key_file=(_signal(environ, "CLIENT_KEY") or (None, None))[1],
        client_certificate_file=(_signal(environ, "CLIENT_CERTIFICATE") or (None, None))[1],
    )


def resolve_pipeline(
    environ: Mapping[str, str],
    *,
    max_queue_size: int | None = None,
    max_export_batch_size: int | None = None,
    schedule_delay_s: float | None = None,
    exit_timeout_s: float | None = None,
) -> PipelineSettings:
    """Queue, batch and limit settings from arguments, then ``OTEL_BLRP_*`` and limit variables."""
    for name, value in (("max_queue_size", max_queue_size), ("max_export_batch_size", max_export_batch_size)):
        if value is not None and value <= 0:
            raise TelemetryError(name, "must be a positive integer")
    queue = max_queue_size or _parsed(
        environ,
        ("OTEL_BLRP_MAX_QUEUE_SIZE",),
        _positive_int,
        DEFAULT_MAX_QUEUE_SIZE,
        "expected a positive integer",
    )
    batch = max_export_batch_size or _parsed(
        environ,
        ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",),
        _positive_int,
        DEFAULT_MAX_EXPORT_BATCH_SIZE,
        "expected a positive integer",
    )
    value_limit = _parsed(
        environ,
        ("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
        _positive_int,
        0,
        "expected a positive integer",
    )
    return PipelineSettings(
        max_queue_size=queue,
        max_export_batch_size=min(batch, queue),
        schedule_delay_s=schedule_delay_s
        if schedule_delay_s is not None
        else _parsed(
            environ,
            ("OTEL_BLRP_SCHEDULE_DELAY",),
            _millis_to_s,
            DEFAULT_SCHEDULE_DELAY_S,
            "expected milliseconds",
        ),
        export_timeout_s=_parsed(
            environ,
            ("OTEL_BLRP_EXPORT_TIMEOUT",),
            _millis_to_s,
            DEFAULT_EXPORT_TIMEOUT_S,
            "expected milliseconds",
        ),
        attribute_count_limit=_parsed(
            environ,
            ("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"),
            int,
            DEFAULT_ATTRIBUTE_COUNT_LIMIT,
            "expected an integer",
        ),
        attribute_value_length_limit=value_limit or None,
        exit_timeout_s=exit_timeout_s
        if exit_timeout_s is not None
        else _parsed(
            environ,
            ("OTEL_TELEMETRY_EXIT_TIMEOUT",),
            _millis_to_s,
            DEFAULT_EXIT_TIMEOUT_S,
            "expected milliseconds",
        ),
    )
