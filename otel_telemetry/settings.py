"""Settings: small frozen objects a user can build, read and pass to ``Telemetry(...)``.

Each group has ``from_env(environ=None)``, and every environment variable otel-telemetry reads
is read in this module, except the few that the module-level ``send()`` reads before it loads
anything else (``docs/short-lived.md``): :mod:`otel_telemetry._deferred` (whether events may
wait: ``OTEL_TELEMETRY_DEFER``, the exit mode, the settings that make it load at once),
:mod:`otel_telemetry._procfacts` (the state and hand-off directories; :func:`state_dir` uses it)
and :mod:`otel_telemetry.signals` (``OTEL_TELEMETRY_SIGTERM``). The rules, everywhere:

- A value given in code is checked when the object is built: a bad one raises
  :class:`~otel_telemetry.TelemetryError` naming the field and the rule.
- A value from the environment is checked where it is read: a bad one is logged (once, by
  this read) and its default is used, so a typo never crashes the host application.
- A configuration from the environment that cannot work and has no safe default (an endpoint
  without a scheme, a header with CR/LF, a certificate file that does not exist) is logged as
  a configuration error; the exporter then refuses every batch at once (counted as
  ``config_error``) instead of retrying it until shutdown. ``otel-telemetry doctor`` shows it.

An object given in code is complete: the environment is not consulted for its fields. To keep
the environment's values for the fields you do not set, build it with ``X.from_env(field=...)``
(the five objects ``Telemetry`` takes): the fields given there win over the environment and are
checked as values given in code. The opt-out variables are the exception: they are honoured
whatever the code says.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from ._log import logger
from .errors import TelemetryError
from .ratelimit import RateLimit
from .resources import DEFAULT_MAX_RESOURCES

if TYPE_CHECKING:
    from .catalog.model import Catalog


Protocol = Literal["grpc", "http/protobuf", "http/json"]
Compression = Literal["none", "gzip", "deflate"]
Overflow = Literal["drop_newest", "drop_oldest", "block"]
Fsync = Literal["always", "interval", "never"]
SyncMode = Literal["async", "sync"]
CatalogMode = Literal["enforce", "warn", "off"]
ExitMode = Literal["auto", "handoff", "flush"]
PROTOCOLS: tuple[Protocol, ...] = ("grpc", "http/protobuf", "http/json")
COMPRESSIONS: tuple[Compression, ...] = ("none", "gzip", "deflate")
OVERFLOWS: tuple[Overflow, ...] = ("drop_newest", "drop_oldest", "block")
FSYNCS: tuple[Fsync, ...] = ("always", "interval", "never")
SYNC_MODES: tuple[SyncMode, ...] = ("async", "sync")
CATALOG_MODES: tuple[CatalogMode, ...] = ("enforce", "warn", "off")
EXIT_MODES: tuple[ExitMode, ...] = ("auto", "handoff", "flush")

DEFAULT_GRPC_ENDPOINT = "http://localhost:4317"
DEFAULT_HTTP_ENDPOINT = "http://localhost:4318"
LOGS_PATH = "/v1/logs"
DEFAULT_TIMEOUT_S = 10.0
#: Larger than the SDK's 2,048: a burst of 100,000 events must not be evicted.
DEFAULT_MAX_QUEUE_SIZE = 131_072
DEFAULT_MAX_EXPORT_BATCH_SIZE = 512
DEFAULT_SCHEDULE_DELAY_S = 1.0
#: A shorter schedule delay would wake the worker so often that it spins a core.
MIN_SCHEDULE_DELAY_S = 0.001
DEFAULT_EXPORT_TIMEOUT_S = 30.0
DEFAULT_EXIT_TIMEOUT_S = 5.0
DEFAULT_BLOCK_TIMEOUT_S = 1.0
#: A request may be no smaller (one ordinary event must fit with its resource).
MIN_MAX_REQUEST_BYTES = 64 * 1024
DEFAULT_ATTRIBUTE_COUNT_LIMIT = 128
DEFAULT_SPOOL_MAX_BYTES = 256 * 1024 * 1024
MIN_SPOOL_BYTES = 16 * 1024
DEFAULT_DISABLE_ENV = "OTEL_TELEMETRY_DISABLED"
#: A collector's message limit unless it was raised: gRPC's default maximum receive size (the
#: OpenTelemetry Collector keeps it). Larger batches are split into several requests. Defined
#: here, not in ``encoding`` (which ``import otel_telemetry`` must not load: protobuf).
DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024
#: Any wait or timeout: about 31 years, well below what ``threading`` accepts (``TIMEOUT_MAX``).
MAX_SECONDS = 1e9
DEFAULT_HANDOFF_LIFETIME_S = 60.0
DEFAULT_HANDOFF_MAX_AGE_S = 7 * 24 * 3600.0
DEFAULT_HANDOFF_MAX_BYTES = 16 * 1024 * 1024
#: ``OTEL_TELEMETRY_LOG_LEVEL`` values and their ``logging`` levels.
LOG_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
_TRUTHY = frozenset({"1", "true", "yes", "on", "y", "t"})

T = TypeVar("T")
S = TypeVar("S")


# -- checks shared by explicit values and environment values -------------------------------


def _fail(name: str, rule: str) -> TelemetryError:
    return TelemetryError(name, rule)


def check_choice(name: str, value: object, options: tuple[str, ...]) -> None:
    """``value`` is one of ``options``."""
    if value not in options:
        raise _fail(name, f"must be one of {', '.join(options)}, not {value!r}")


def check_int(name: str, value: object, minimum: int) -> None:
    """``value`` is an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(name, f"must be an integer, not {type(value).__name__}")
    if value < minimum:
        raise _fail(name, f"must be >= {minimum}, not {value}")


def check_seconds(name: str, value: object, *, minimum: float = 0.0, allow_minimum: bool = True) -> None:
    """``value`` is a finite number of seconds, ``> minimum`` (or ``>=`` when allowed)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(name, f"must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value):
        raise _fail(name, f"must be finite, not {value}")
    if value < minimum or (value == minimum and not allow_minimum):
        raise _fail(name, f"must be {'>=' if allow_minimum else '>'} {minimum:g} s, not {value:g}")
    if value > MAX_SECONDS:
        raise _fail(
            name, f"must be at most {MAX_SECONDS:g} s (longer waits overflow the clock), not {value:g}"
        )


#: ``http(s)://host[:port][/path...]`` with a plain host name: valid without a closer look.
_SIMPLE_URL = r"https?://[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::(\d{1,5}))?(?:[/?#]\S*)?"


def check_endpoint(name: str, endpoint: object, protocol: str) -> None:
    """An OTLP endpoint: an ``http(s)://`` URL with a host (gRPC also takes ``host:port``)."""
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise _fail(name, "must be a non-empty URL such as http://localhost:4318")
    if any(ch.isspace() or not ch.isprintable() for ch in endpoint):
        raise _fail(name, f"must not contain spaces or control characters: {endpoint!r}")
    if "://" not in endpoint:
        host, _, port = endpoint.rpartition(":")
        if protocol == "grpc" and host and port.isdigit():
            return
        raise _fail(name, f"needs a scheme (http:// or https://): {endpoint!r}")
    simple = re.fullmatch(_SIMPLE_URL, endpoint, re.ASCII)
    if simple is not None and int(simple.group(1) or 0) <= 65535:
        return  # the usual case, decided without urllib.parse (it imports ipaddress: ~5 ms)
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https"):
        raise _fail(name, f"scheme must be http or https, not {parts.scheme!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as error:
        raise _fail(name, f"has a bad port: {error}") from None
    if not parts.hostname:
        raise _fail(name, f"has no host: {endpoint!r}")


def check_headers(name: str, headers: Mapping[str, str]) -> None:
    """Header names are tokens and values hold no CR, LF or NUL (they could not be sent)."""
    for key, value in headers.items():
        if not isinstance(key, str) or not key or any(ch in key for ch in ' \t\r\n\x00:"(),/;<=>?@[\\]{}'):
            raise _fail(
                f"{name}[{key!r}]", "a header name must be a non-empty token (no spaces or separators)"
            )
        if not isinstance(value, str) or any(ch in value for ch in "\r\n\x00"):
            raise _fail(f"{name}[{key!r}]", "a header value must be a string without CR, LF or NUL")


def check_file(name: str, path: object) -> None:
    """``path`` (if set) names a readable file."""
    if path is None:
        return
    if not isinstance(path, str) or not path:
        raise _fail(name, "must be a file path")
    if not os.path.isfile(path):
        raise _fail(name, f"no such file: {path!r}")
    if not os.access(path, os.R_OK):
        raise _fail(name, f"file is not readable: {path!r}")


# -- reading the environment ---------------------------------------------------------------


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def is_truthy(value: str | None) -> bool:
    """Strapi-style truthiness: ``1``/``true``/``yes``/``on`` (any case, spaces ignored)."""
    return value is not None and value.strip().lower() in _TRUTHY


class _Env:
    """Reads variables from one environment; a bad value is logged and its default returned."""

    def __init__(self, environ: Mapping[str, str] | None) -> None:
        self.environ = _environ(environ)

    def raw(self, *names: str) -> tuple[str, str] | None:
        """The first of ``names`` set to a non-empty value, with that value."""
        for name in names:
            value = self.environ.get(name, "").strip()
            if value:
                return name, value
        return None

    def get(self, names: tuple[str, ...], parse: Callable[[str, str], T], default: S) -> T | S:
        """``parse(name, value)`` of the first variable set; on TelemetryError log and use ``default``."""
        found = self.raw(*names)
        if found is None:
            return default
        name, value = found
        try:
            return parse(name, value)
        except TelemetryError as error:
            logger.warning("otel-telemetry: ignoring %s=%r (%s); using %r", name, value, error.rule, default)
            return default

    def signal(self, suffix: str) -> tuple[str, ...]:
        """The logs-specific name first, then the generic one (``OTEL_EXPORTER_OTLP_[LOGS_]X``)."""
        return (f"OTEL_EXPORTER_OTLP_LOGS_{suffix}", f"OTEL_EXPORTER_OTLP_{suffix}")


def _choice(options: tuple[str, ...]) -> Callable[[str, str], str]:
    def parse(name: str, value: str) -> str:
        value = value.lower()
        check_choice(name, value, options)
        return value

    return parse


def _int(minimum: int) -> Callable[[str, str], int]:
    def parse(name: str, value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise _fail(name, "must be an integer") from None
        check_int(name, number, minimum)
        return number

    return parse


def _millis(minimum_s: float = 0.0, allow_minimum: bool = True) -> Callable[[str, str], float]:
    """Milliseconds (as the OpenTelemetry specification says) into seconds."""

    def parse(name: str, value: str) -> float:
        try:
            millis = float(value)
        except ValueError:
            raise _fail(name, "must be a number of milliseconds") from None
        seconds = millis / 1000.0
        check_seconds(name, seconds, minimum=minimum_s, allow_minimum=allow_minimum)
        return seconds

    return parse


def _bool(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUTHY:
        return True
    if lowered in ("0", "false", "no", "off", "n", "f"):
        return False
    raise _fail(name, "must be true or false")


def _parse_headers(value: str) -> dict[str, str]:
    """``OTEL_EXPORTER_OTLP_HEADERS`` as the SDK parses it (loaded only when the variable is set)."""
    from opentelemetry.util.re import parse_env_headers

    return dict(parse_env_headers(value, liberal=True))


def _unchecked(cls: type[T], **values: Any) -> T:
    """An instance built without ``__post_init__`` (a configuration error from the environment)."""
    instance = object.__new__(cls)
    for f in fields(cls):  # type: ignore[arg-type]
        object.__setattr__(instance, f.name, values.get(f.name, f.default))
    return instance


def _override(instance: T, fields: Mapping[str, Any]) -> T:
    """``instance`` (from the environment) with ``fields`` given in code over it, checked again."""
    return replace(instance, **fields) if fields else instance  # type: ignore[type-var]


# -- the settings objects --------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter between attempts at one batch."""

    initial_s: float = 1.0
    max_s: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        for name in ("initial_s", "max_s", "multiplier", "jitter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                raise TelemetryError(f"Backoff.{name}", f"must be a number, not {value!r}")
        if not 0 < self.initial_s <= self.max_s <= MAX_SECONDS:
            raise TelemetryError("Backoff.initial_s", f"must be > 0 and <= max_s <= {MAX_SECONDS:g}")
        if self.multiplier < 1:
            raise TelemetryError("Backoff.multiplier", "must be >= 1")
        if not 0 <= self.jitter < 1:
            raise TelemetryError("Backoff.jitter", "must be >= 0 and < 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Backoff:
        """The defaults: no variable sets the backoff (the specification names none)."""
        return cls()

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        base = min(self.max_s, self.initial_s * self.multiplier ** min(attempt, 64))
        import random  # on the first retry, not at import

        return base * random.uniform(1.0 - self.jitter, 1.0 + self.jitter)


@dataclass(frozen=True)
class ExporterSettings:
    """Where and how the OTLP exporter sends (``OTEL_EXPORTER_OTLP_[LOGS_]*``).

    ``endpoint`` is the full URL batches are posted to (for HTTP, ``/v1/logs`` included);
    ``insecure=None`` lets the scheme decide (gRPC only: ``http://`` is plaintext).
    ``config_error`` is set only by :meth:`from_env` for a configuration that cannot work.
    """

    protocol: Protocol = "http/protobuf"
    endpoint: str = DEFAULT_HTTP_ENDPOINT + LOGS_PATH
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = DEFAULT_TIMEOUT_S
    compression: Compression = "none"
    insecure: bool | None = None
    certificate_file: str | None = None
    client_key_file: str | None = None
    client_certificate_file: str | None = None
    config_error: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        check_choice("protocol", self.protocol, PROTOCOLS)
        check_choice("compression", self.compression, COMPRESSIONS)
        check_endpoint("endpoint", self.endpoint, self.protocol)
        check_seconds("timeout_s", self.timeout_s, allow_minimum=False)
        if not isinstance(self.headers, Mapping):
            raise _fail("headers", f"must be a mapping, not {type(self.headers).__name__}")
        check_headers("headers", self.headers)
        object.__setattr__(self, "headers", {k.lower(): v for k, v in self.headers.items()})
        check_file("certificate_file", self.certificate_file)
        check_file("client_key_file", self.client_key_file)
        check_file("client_certificate_file", self.client_certificate_file)
        if (self.client_key_file is None) != (self.client_certificate_file is None):
            raise _fail("client_key_file", "client_key_file and client_certificate_file go together")

    @property
    def secure(self) -> bool:
        """Whether TLS is used: the URL's scheme decides; a gRPC ``host:port`` uses TLS unless
        ``insecure`` is True (``OTEL_EXPORTER_OTLP_INSECURE``)."""
        scheme = self.endpoint.split("://", 1)[0].lower() if "://" in self.endpoint else ""
        if scheme in ("http", "https"):
            return scheme == "https"
        return self.insecure is not True

    @staticmethod
    def endpoint_for(protocol: str, base: str | None) -> str:
        """The URL for a base endpoint: ``/v1/logs`` appended for HTTP, as given for gRPC."""
        if protocol == "grpc":
            return base or DEFAULT_GRPC_ENDPOINT
        base = (base or DEFAULT_HTTP_ENDPOINT).rstrip("/")
        return base if base.endswith(LOGS_PATH) else base + LOGS_PATH

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        protocol: str | None = None,
        endpoint: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ExporterSettings:
        """From ``OTEL_EXPORTER_OTLP_LOGS_*``, else ``OTEL_EXPORTER_OTLP_*``, else the defaults.

        ``protocol``, ``endpoint`` (a base URL: ``/v1/logs`` is appended for HTTP) and
        ``headers`` (merged over the environment's) win over the environment and are checked
        as values given in code (``TelemetryError``)."""
        env = _Env(environ)
        if protocol is not None:
            check_choice("protocol", protocol, PROTOCOLS)
        chosen = cast(
            Protocol, protocol or env.get(env.signal("PROTOCOL"), _choice(PROTOCOLS), "http/protobuf")
        )
        specific = env.raw("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
        if endpoint is not None:
            check_endpoint("endpoint", endpoint, chosen)
            endpoint_var, url = "endpoint", cls.endpoint_for(chosen, endpoint)
        elif specific is not None:  # used as-is, as the specification says
            endpoint_var, url = specific
        else:
            base = env.raw("OTEL_EXPORTER_OTLP_ENDPOINT")
            endpoint_var = base[0] if base else "endpoint"
            url = cls.endpoint_for(chosen, base[1] if base else None)
        if headers is not None:
            if not isinstance(headers, Mapping):
                raise _fail("headers", f"must be a mapping, not {type(headers).__name__}")
            check_headers("headers", headers)
        found_headers = env.raw(*env.signal("HEADERS"))
        merged = {k.lower(): v for k, v in _parse_headers(found_headers[1]).items()} if found_headers else {}
        merged.update({k.lower(): v for k, v in (headers or {}).items()})
        files = {
            key: (env.raw(*env.signal(suffix)) or (None, None))[1]
            for key, suffix in (
                ("certificate_file", "CERTIFICATE"),
                ("client_key_file", "CLIENT_KEY"),
                ("client_certificate_file", "CLIENT_CERTIFICATE"),
            )
        }
        values: dict[str, Any] = dict(
            protocol=chosen,
            endpoint=url,
            headers=merged,
            timeout_s=env.get(env.signal("TIMEOUT"), _millis(allow_minimum=False), DEFAULT_TIMEOUT_S),
            compression=env.get(env.signal("COMPRESSION"), _choice(COMPRESSIONS), "none"),
            insecure=env.get(env.signal("INSECURE"), _bool, None),
            **files,
        )
        try:
            return cls(**values)
        except TelemetryError as error:
            where = {
                "endpoint": endpoint_var,
                "certificate_file": env.signal("CERTIFICATE")[1],
                "client_key_file": env.signal("CLIENT_KEY")[1],
                "client_certificate_file": env.signal("CLIENT_CERTIFICATE")[1],
            }.get(error.field, env.signal("HEADERS")[1] if error.field.startswith("headers") else error.field)
            message = f"{where} ({error.field}): {error.rule}"
            logger.error(
                "otel-telemetry: configuration error, %s; nothing can be exported until it is fixed", message
            )
            return _unchecked(cls, **values, config_error=message)


@dataclass(frozen=True)
class SpoolSettings:
    """Where and how accepted events are made durable on disk (``docs/delivery.md``)."""

    directory: Path
    max_bytes: int = DEFAULT_SPOOL_MAX_BYTES
    fsync: Fsync = "interval"
    sync: SyncMode = "async"

    def __post_init__(self) -> None:
        if not isinstance(self.directory, (str, os.PathLike)) or not os.fspath(self.directory):
            raise _fail("spool.directory", "must be a directory path")
        object.__setattr__(self, "directory", Path(self.directory))
        check_int("spool.max_bytes", self.max_bytes, MIN_SPOOL_BYTES)
        check_choice("spool.fsync", self.fsync, FSYNCS)
        check_choice("spool.sync", self.sync, SYNC_MODES)

    @property
    def segment_bytes(self) -> int:
        """Segment files roll at this size; a quarter of the cap so eviction frees space in steps."""
        return max(MIN_SPOOL_BYTES, min(8 * 1024 * 1024, self.max_bytes // 4))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SpoolSettings | None:
        """From ``OTEL_TELEMETRY_SPOOL_DIR`` (``None`` when unset), ``_MAX_BYTES``, ``_FSYNC``, ``_SYNC``."""
        env = _Env(environ)
        directory = env.raw("OTEL_TELEMETRY_SPOOL_DIR")
        if directory is None:
            return None
        return cls(
            directory=Path(directory[1]),
            max_bytes=env.get(
                ("OTEL_TELEMETRY_SPOOL_MAX_BYTES",), _int(MIN_SPOOL_BYTES), DEFAULT_SPOOL_MAX_BYTES
            ),
            fsync=cast(Fsync, env.get(("OTEL_TELEMETRY_SPOOL_FSYNC",), _choice(FSYNCS), "interval")),
            sync=cast(SyncMode, env.get(("OTEL_TELEMETRY_SPOOL_SYNC",), _choice(SYNC_MODES), "async")),
        )


@dataclass(frozen=True)
class DeliverySettings:
    """What happens to an accepted event until the collector has it, or the program exits.

    One object for one concern (``docs/delivery.md``): the in-memory queue and its batches
    (the OpenTelemetry ``OTEL_BLRP_*`` variables, all four read here), each attempt and its
    retries, the optional spool, and what exit does with the events still pending. They were
    three objects (batch, delivery, exit); they are set together (a short-lived tool wants a
    short schedule delay and ``exit_mode="handoff"``), and the split put
    ``OTEL_BLRP_EXPORT_TIMEOUT`` apart from the other ``OTEL_BLRP_*`` variables.

    The queue: ``overflow`` decides what a full queue (or spool) does: ``drop_newest``
    refuses the new event, ``drop_oldest`` evicts the oldest queued one, ``block`` makes
    ``send()`` wait up to ``block_timeout_s``. ``max_request_bytes`` is the collector's (or a
    proxy's) message limit: a batch encoded larger is split into several requests, and an
    event larger alone is dropped (``too_large``).

    Delivery: ``export_timeout_s`` bounds one attempt, ``backoff`` spaces the retries;
    ``spool`` makes accepted events durable on disk; ``event_ids=None`` turns the
    ``otel_telemetry.event.id`` attribute on exactly when a spool is used (a batch may then be
    delivered twice after a crash).

    Exit (``docs/short-lived.md``): ``exit_mode="handoff"`` writes the events still pending to
    the hand-off area (``handoff``) and a detached sender process delivers them, so the
    program exits at once; ``"flush"`` delivers them within ``exit_timeout_s`` first;
    ``"auto"`` hands off in a short-lived program (started less than 300 s ago) and flushes in
    a long-running one.
    """

    max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE
    max_export_batch_size: int = DEFAULT_MAX_EXPORT_BATCH_SIZE
    schedule_delay_s: float = DEFAULT_SCHEDULE_DELAY_S
    overflow: Overflow = "drop_newest"
    block_timeout_s: float = DEFAULT_BLOCK_TIMEOUT_S
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    export_timeout_s: float = DEFAULT_EXPORT_TIMEOUT_S
    backoff: Backoff = field(default_factory=Backoff)
    spool: SpoolSettings | None = None
    event_ids: bool | None = None
    exit_mode: ExitMode = "auto"
    exit_timeout_s: float = DEFAULT_EXIT_TIMEOUT_S
    handoff: HandoffSettings = field(default_factory=lambda: HandoffSettings())

    def __post_init__(self) -> None:
        check_int("max_queue_size", self.max_queue_size, 1)
        check_int("max_export_batch_size", self.max_export_batch_size, 1)
        check_seconds("schedule_delay_s", self.schedule_delay_s, minimum=MIN_SCHEDULE_DELAY_S)
        check_choice("overflow", self.overflow, OVERFLOWS)
        check_seconds("block_timeout_s", self.block_timeout_s)
        check_int("max_request_bytes", self.max_request_bytes, MIN_MAX_REQUEST_BYTES)
        if self.max_export_batch_size > self.max_queue_size:
            object.__setattr__(self, "max_export_batch_size", self.max_queue_size)
        check_seconds("export_timeout_s", self.export_timeout_s, allow_minimum=False)
        if not isinstance(self.backoff, Backoff):
            raise _fail("backoff", f"must be a Backoff, not {type(self.backoff).__name__}")
        if self.spool is not None and not isinstance(self.spool, SpoolSettings):
            raise _fail("spool", f"must be a SpoolSettings, not {type(self.spool).__name__}")
        check_choice("exit_mode", self.exit_mode, EXIT_MODES)
        check_seconds("exit_timeout_s", self.exit_timeout_s)
        if not isinstance(self.handoff, HandoffSettings):
            raise _fail("handoff", f"must be a HandoffSettings, not {type(self.handoff).__name__}")

    @property
    def with_event_ids(self) -> bool:
        """Whether records carry ``otel_telemetry.event.id``."""
        return self.spool is not None if self.event_ids is None else self.event_ids

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **fields: Any) -> DeliverySettings:
        """From ``OTEL_BLRP_MAX_QUEUE_SIZE`` / ``_MAX_EXPORT_BATCH_SIZE`` / ``_SCHEDULE_DELAY`` (ms) /
        ``_EXPORT_TIMEOUT`` (ms), ``OTEL_TELEMETRY_OVERFLOW``, ``OTEL_TELEMETRY_BLOCK_TIMEOUT`` (ms),
        ``OTEL_TELEMETRY_MAX_REQUEST_BYTES``, ``OTEL_TELEMETRY_SPOOL_*``,
        ``OTEL_TELEMETRY_EVENT_IDS``, ``OTEL_TELEMETRY_EXIT``, ``OTEL_TELEMETRY_EXIT_TIMEOUT`` (ms)
        and ``OTEL_TELEMETRY_HANDOFF_*``."""
        env = _Env(environ)
        made = cls(
            max_queue_size=env.get(("OTEL_BLRP_MAX_QUEUE_SIZE",), _int(1), DEFAULT_MAX_QUEUE_SIZE),
            max_export_batch_size=env.get(
                ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",), _int(1), DEFAULT_MAX_EXPORT_BATCH_SIZE
            ),
            schedule_delay_s=env.get(
                ("OTEL_BLRP_SCHEDULE_DELAY",), _millis(MIN_SCHEDULE_DELAY_S), DEFAULT_SCHEDULE_DELAY_S
            ),
            overflow=cast(Overflow, env.get(("OTEL_TELEMETRY_OVERFLOW",), _choice(OVERFLOWS), "drop_newest")),
            block_timeout_s=env.get(("OTEL_TELEMETRY_BLOCK_TIMEOUT",), _millis(), DEFAULT_BLOCK_TIMEOUT_S),
            max_request_bytes=env.get(
                ("OTEL_TELEMETRY_MAX_REQUEST_BYTES",), _int(MIN_MAX_REQUEST_BYTES), DEFAULT_MAX_REQUEST_BYTES
            ),
            export_timeout_s=env.get(
                ("OTEL_BLRP_EXPORT_TIMEOUT",), _millis(allow_minimum=False), DEFAULT_EXPORT_TIMEOUT_S
            ),
            spool=SpoolSettings.from_env(env.environ),
            event_ids=env.get(("OTEL_TELEMETRY_EVENT_IDS",), _bool, None),
            exit_mode=cast(ExitMode, env.get(("OTEL_TELEMETRY_EXIT",), _choice(EXIT_MODES), "auto")),
            exit_timeout_s=env.get(("OTEL_TELEMETRY_EXIT_TIMEOUT",), _millis(), DEFAULT_EXIT_TIMEOUT_S),
            handoff=HandoffSettings.from_env(env.environ),
        )
        return _override(made, fields)


@dataclass(frozen=True)
class HandoffSettings:
    """The hand-off area of ``DeliverySettings.exit_mode`` (``docs/short-lived.md``), bounded
    as the spool is: ``directory=None`` means ``<state dir>/handoff``. A detached sender stops
    ``lifetime_s`` after it started; handed-off events older than ``max_age_s``, and the oldest
    over ``max_bytes`` per destination, are dropped with a count in the area's ``sender.log``.
    """

    directory: Path | None = None
    lifetime_s: float = DEFAULT_HANDOFF_LIFETIME_S
    max_age_s: float = DEFAULT_HANDOFF_MAX_AGE_S
    max_bytes: int = DEFAULT_HANDOFF_MAX_BYTES

    def __post_init__(self) -> None:
        if self.directory is not None:
            object.__setattr__(self, "directory", Path(self.directory))
        check_seconds("handoff.lifetime_s", self.lifetime_s, allow_minimum=False)
        check_seconds("handoff.max_age_s", self.max_age_s, allow_minimum=False)
        check_int("handoff.max_bytes", self.max_bytes, 1)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HandoffSettings:
        """From ``OTEL_TELEMETRY_HANDOFF_DIR``, ``_HANDOFF_LIFETIME`` (ms), ``_HANDOFF_MAX_AGE`` (ms)
        and ``_HANDOFF_MAX_BYTES``."""
        env = _Env(environ)
        directory = env.raw("OTEL_TELEMETRY_HANDOFF_DIR")
        return cls(
            directory=Path(directory[1]) if directory else None,
            lifetime_s=env.get(
                ("OTEL_TELEMETRY_HANDOFF_LIFETIME",), _millis(allow_minimum=False), DEFAULT_HANDOFF_LIFETIME_S
            ),
            max_age_s=env.get(
                ("OTEL_TELEMETRY_HANDOFF_MAX_AGE",), _millis(allow_minimum=False), DEFAULT_HANDOFF_MAX_AGE_S
            ),
            max_bytes=env.get(("OTEL_TELEMETRY_HANDOFF_MAX_BYTES",), _int(1), DEFAULT_HANDOFF_MAX_BYTES),
        )


def _resource_attributes(name: str, value: str) -> dict[str, str]:
    """``OTEL_RESOURCE_ATTRIBUTES``: ``key=value,...`` with percent-encoded values."""
    out: dict[str, str] = {}
    for item in value.split(","):
        if not item.strip():
            continue
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            raise _fail(name, f"expected key=value pairs separated by commas, got {item!r}")
        from urllib.parse import unquote

        out[key.strip()] = unquote(val.strip())
    return out


@dataclass(frozen=True)
class ResourceSettings:
    """What the resource of every event says about the app (group properties merge over it)."""

    service_name: str | None = None
    service_version: str | None = None
    environment: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    max_resources: int = DEFAULT_MAX_RESOURCES

    def __post_init__(self) -> None:
        for name in ("service_name", "service_version", "environment"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise _fail(name, "must be a non-empty string or None")
        if not isinstance(self.attributes, Mapping):
            raise _fail("attributes", f"must be a mapping, not {type(self.attributes).__name__}")
        check_int("max_resources", self.max_resources, 1)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **fields: Any) -> ResourceSettings:
        """From ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES`` and ``OTEL_TELEMETRY_ENVIRONMENT``."""
        env = _Env(environ)
        made = cls(
            service_name=(env.raw("OTEL_SERVICE_NAME") or (None, None))[1],
            environment=(env.raw("OTEL_TELEMETRY_ENVIRONMENT") or (None, None))[1],
            attributes=env.get(("OTEL_RESOURCE_ATTRIBUTES",), _resource_attributes, {}),
        )
        return _override(made, fields)


@dataclass(frozen=True)
class RecordSettings:
    """What each record carries and may hold, and how often an event is sent.

    ``attribute_count_limit`` caps attributes per record (the rest are counted as dropped on
    the record); ``attribute_value_length_limit`` truncates strings; ``event_name_attribute``
    also copies the event name to ``otel.event.name``; ``rate_limits`` per event name and
    ``global_rate_limit`` for all events (Strapi's "limited events"); ``sampling`` keeps a
    share of frequent events (:class:`SamplingSettings`); ``default_properties`` are merged
    under every event's own (:class:`DefaultProperties`).
    """

    attribute_count_limit: int = DEFAULT_ATTRIBUTE_COUNT_LIMIT
    attribute_value_length_limit: int | None = None
    event_name_attribute: bool = False
    rate_limits: Mapping[str, RateLimit] = field(default_factory=dict)
    global_rate_limit: RateLimit | None = None
    sampling: SamplingSettings = field(default_factory=lambda: SamplingSettings())
    default_properties: DefaultProperties = field(default_factory=lambda: DefaultProperties())

    def __post_init__(self) -> None:
        check_int("attribute_count_limit", self.attribute_count_limit, 0)
        if self.attribute_value_length_limit is not None:
            check_int("attribute_value_length_limit", self.attribute_value_length_limit, 1)
        if not isinstance(self.rate_limits, Mapping):
            raise _fail(
                "rate_limits", f"must be a mapping of event name to RateLimit, not {self.rate_limits!r}"
            )
        for name, limit in self.rate_limits.items():
            if not isinstance(limit, RateLimit):
                raise _fail(f"rate_limits[{name!r}]", f"must be a RateLimit, not {type(limit).__name__}")
        if self.global_rate_limit is not None and not isinstance(self.global_rate_limit, RateLimit):
            raise _fail(
                "global_rate_limit", f"must be a RateLimit, not {type(self.global_rate_limit).__name__}"
            )
        if not isinstance(self.sampling, SamplingSettings):
            raise _fail("sampling", f"must be a SamplingSettings, not {type(self.sampling).__name__}")
        if not isinstance(self.default_properties, DefaultProperties):
            raise _fail(
                "default_properties",
                f"must be a DefaultProperties, not {type(self.default_properties).__name__}",
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **fields: Any) -> RecordSettings:
        """From ``OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT`` / ``_VALUE_LENGTH_LIMIT`` (or the generic
        ``OTEL_ATTRIBUTE_*``) and ``OTEL_TELEMETRY_EVENT_NAME_ATTRIBUTE``; no sampling and no
        default properties (the app's decisions, not the environment's)."""
        env = _Env(environ)
        made = cls(
            attribute_count_limit=env.get(
                ("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"),
                _int(0),
                DEFAULT_ATTRIBUTE_COUNT_LIMIT,
            ),
            attribute_value_length_limit=env.get(
                ("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
                _int(1),
                None,
            ),
            event_name_attribute=env.get(("OTEL_TELEMETRY_EVENT_NAME_ATTRIBUTE",), _bool, False),
        )
        return _override(made, fields)


def _disable_defaults(name: str, value: str) -> frozenset[str]:
    names = frozenset(part.strip() for part in value.split(",") if part.strip())
    check_default_names(name, names)
    return names


def check_default_names(name: str, names: Collection[str]) -> None:
    """Each name is one of the anonymous environment facts (``environment.DEFAULT_NAMES``) or ``all``."""
    if isinstance(names, str):
        raise _fail(name, "must be a collection of names, not a single string")
    if not names:
        return
    from .environment import DEFAULT_NAMES  # (platform, identity: not needed unless names are given)

    unknown = sorted(str(n) for n in names if n not in DEFAULT_NAMES and n != "all")
    if unknown:
        raise _fail(name, f"unknown name(s) {', '.join(unknown)}; valid: all, {', '.join(DEFAULT_NAMES)}")


DEFAULT_CONSENT_CHECK_S = 1.0
#: ``PrivacySettings.sent_log`` may keep at most this many records.
MAX_SENT_LOG = 10_000


def _check_optional_text(name: str, value: object) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise _fail(name, "must be a non-empty string or None")


@dataclass(frozen=True)
class PrivacySettings:
    """What the people who run the app control and are told: identity, opt-out and consent.

    One object because these are one concern, the end user's (``docs/consent.md``): what
    identifies them, what they can switch off, and what they agreed to and were shown.

    Identity and opt-out: ``project_id`` is Strapi's project ``uuid``, the salt of user hashes
    (``None``: a random one persisted in ``state_dir``); ``state_dir=None`` means
    ``$OTEL_TELEMETRY_STATE_DIR``, else ``$XDG_STATE_HOME/otel-telemetry``;
    ``disable_defaults`` names anonymous environment facts to leave out (``"all"`` for all);
    ``disable_env`` is the app's own opt-out variable (honoured alongside
    ``OTEL_TELEMETRY_DISABLED``, ``DO_NOT_TRACK`` and ``OTEL_SDK_DISABLED``).

    Consent (``otel_telemetry.consent``; the app's decisions, which no environment variable
    sets): ``app`` is the name their choice is stored under (``None``: the service name);
    ``opt_in``: send nothing until they enable telemetry; ``notice``: a text shown once per
    installation before the first event is sent (to standard error, or to ``notice_to``);
    ``opted_out_event``: the name of a last event sent when they disable telemetry (``None``:
    none); ``sent_log``: keep the last N sent events for ``telemetry show`` (0: keep none);
    ``check_interval_s``: how often a running process looks at the stored choice.
    """

    project_id: str | None = None
    state_dir: Path | None = None
    disable_defaults: frozenset[str] = frozenset()
    disable_env: str = DEFAULT_DISABLE_ENV
    app: str | None = None
    opt_in: bool = False
    notice: str | None = None
    notice_to: Callable[[str], None] | None = None
    opted_out_event: str | None = None
    sent_log: int = 0
    check_interval_s: float = DEFAULT_CONSENT_CHECK_S

    def __post_init__(self) -> None:
        if self.project_id is not None and (
            not isinstance(self.project_id, str) or not self.project_id.strip()
        ):
            raise _fail("project_id", "must be a non-empty string or None")
        if self.state_dir is not None:
            object.__setattr__(self, "state_dir", Path(self.state_dir))
        check_default_names("disable_defaults", self.disable_defaults)
        object.__setattr__(self, "disable_defaults", frozenset(self.disable_defaults))
        if not isinstance(self.disable_env, str) or not self.disable_env or "=" in self.disable_env:
            raise _fail("disable_env", "must be an environment variable name")
        _check_optional_text("app", self.app)
        if not isinstance(self.opt_in, bool):
            raise _fail("opt_in", f"must be True or False, not {self.opt_in!r}")
        _check_optional_text("notice", self.notice)
        if self.notice_to is not None and not callable(self.notice_to):
            raise _fail("notice_to", "must be a callable taking the notice text, or None")
        _check_optional_text("opted_out_event", self.opted_out_event)
        check_int("sent_log", self.sent_log, 0)
        if self.sent_log > MAX_SENT_LOG:
            raise _fail("sent_log", f"must be <= {MAX_SENT_LOG}, not {self.sent_log}")
        check_seconds("check_interval_s", self.check_interval_s, minimum=0.0)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **fields: Any) -> PrivacySettings:
        """From ``OTEL_TELEMETRY_PROJECT_ID``, ``OTEL_TELEMETRY_STATE_DIR`` and
        ``OTEL_TELEMETRY_DISABLE_DEFAULTS`` (comma-separated names); the consent fields keep
        their defaults (opt-out, no notice): they are the app's, not the environment's."""
        env = _Env(environ)
        state = env.raw("OTEL_TELEMETRY_STATE_DIR")
        made = cls(
            project_id=(env.raw("OTEL_TELEMETRY_PROJECT_ID") or (None, None))[1],
            state_dir=Path(state[1]) if state else None,
            disable_defaults=env.get(("OTEL_TELEMETRY_DISABLE_DEFAULTS",), _disable_defaults, frozenset()),
        )
        return _override(made, fields)


@dataclass(frozen=True)
class CatalogSettings:
    """The event catalog checked at ``send()`` (``docs/catalog.md``).

    ``required=True`` (in code) makes a catalog that cannot be loaded a ``TelemetryError``;
    from the environment it is logged and events go unchecked.
    """

    source: Catalog | str | os.PathLike[str] | None = None
    mode: CatalogMode = "warn"
    required: bool = True

    def __post_init__(self) -> None:
        check_choice("catalog_mode", self.mode, CATALOG_MODES)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **fields: Any) -> CatalogSettings:
        """From ``OTEL_TELEMETRY_CATALOG`` (a file) and ``OTEL_TELEMETRY_CATALOG_MODE``."""
        env = _Env(environ)
        made = cls(
            source=(env.raw("OTEL_TELEMETRY_CATALOG") or (None, None))[1],
            mode=cast(CatalogMode, env.get(("OTEL_TELEMETRY_CATALOG_MODE",), _choice(CATALOG_MODES), "warn")),
            required=False,
        )
        return _override(made, fields)


# -- sampling and default properties (docs/consent.md): fields of RecordSettings -------------


@dataclass(frozen=True)
class SamplingSettings:
    """Per-event sampling: ``sample_rates`` maps an event name to the share kept (0 < rate <= 1);
    ``default_rate`` applies to other events; events named in ``lifecycle`` are never sampled;
    ``seed`` makes the choices repeatable (tests). Each kept record of a sampled event carries
    ``otel_telemetry.sample_rate``; sampled-out events are counted in ``stats().sampled_out``."""

    sample_rates: Mapping[str, float] = field(default_factory=dict)
    default_rate: float = 1.0
    lifecycle: frozenset[str] = frozenset()
    seed: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.sample_rates, Mapping):
            raise _fail("sample_rates", f"must be a mapping of event name to rate, not {self.sample_rates!r}")
        for name, rate in self.sample_rates.items():
            _check_rate(f"sample_rates[{name!r}]", rate)
        object.__setattr__(self, "sample_rates", {str(k): float(v) for k, v in self.sample_rates.items()})
        _check_rate("default_rate", self.default_rate)
        if isinstance(self.lifecycle, str) or not isinstance(self.lifecycle, Collection):
            raise _fail("lifecycle", "must be a collection of event names, not a single string")
        object.__setattr__(self, "lifecycle", frozenset(self.lifecycle))
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise _fail("seed", f"must be an integer or None, not {type(self.seed).__name__}")

    @property
    def active(self) -> bool:
        """True when some event can be sampled out."""
        return self.default_rate < 1.0 or any(
            rate < 1.0 for name, rate in self.sample_rates.items() if name not in self.lifecycle
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SamplingSettings:
        """No sampling: rates are the app's decision, not the environment's."""
        return cls()


def _check_rate(name: str, rate: object) -> None:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 < rate <= 1.0:
        raise _fail(name, f"must be a number with 0 < rate <= 1, not {rate!r}")


@dataclass(frozen=True)
class DefaultProperties:
    """Properties merged under every event's own, per group (PostHog's "super properties"):
    ``event`` under ``eventProperties``, ``user`` under ``userProperties``, ``group`` under
    ``groupProperties``. A key the call gives wins."""

    event: Mapping[str, Any] = field(default_factory=dict)
    user: Mapping[str, Any] = field(default_factory=dict)
    group: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("event", "user", "group"):
            value = getattr(self, name)
            if not isinstance(value, Mapping):
                raise _fail(name, f"must be a mapping (dict), not {type(value).__name__}")
            for key in value:
                if not isinstance(key, str) or not key:
                    raise _fail(f"{name}[{key!r}]", "keys must be non-empty strings")
            object.__setattr__(self, name, dict(value))

    @property
    def groups(self) -> tuple[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]]:
        """``(event, user, group)``."""
        return (self.event, self.user, self.group)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DefaultProperties:
        """None: default properties are the app's."""
        return cls()


# -- single variables ------------------------------------------------------------------------


def debug_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """``OTEL_TELEMETRY_DEBUG``: print each event to stderr, send nothing."""
    return _Env(environ).get(("OTEL_TELEMETRY_DEBUG",), _bool, False)


def log_level_from_env(environ: Mapping[str, str] | None = None) -> int | None:
    """``OTEL_TELEMETRY_LOG_LEVEL``: print otel-telemetry's own log lines to stderr from this level."""
    return _Env(environ).get(("OTEL_TELEMETRY_LOG_LEVEL",), _level, None)


def _level(name: str, value: str) -> int:
    level = LOG_LEVELS.get(value.lower())
    if level is None:
        raise _fail(name, f"must be one of {', '.join(LOG_LEVELS)}")
    return level


def opt_out_reason(
    disable_env: str = DEFAULT_DISABLE_ENV, environ: Mapping[str, str] | None = None
) -> str | None:
    """Why the user's environment switches telemetry off, or ``None``.

    A truthy app variable (``disable_env``) or ``OTEL_TELEMETRY_DISABLED`` (Strapi's rule),
    ``DO_NOT_TRACK`` (consoledonottrack.com), ``OTEL_SDK_DISABLED=true``.
    """
    env = _environ(environ)
    for name in dict.fromkeys((disable_env, DEFAULT_DISABLE_ENV)):
        if is_truthy(env.get(name)):
            return f"{name}={env[name]}"
    if is_truthy(env.get("DO_NOT_TRACK")):
        return f"DO_NOT_TRACK={env['DO_NOT_TRACK']}"
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return "OTEL_SDK_DISABLED=true"
    return None


def strict_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """``OTEL_TELEMETRY_STRICT``: raise ``TelemetryError`` for bad input."""
    return _Env(environ).get(("OTEL_TELEMETRY_STRICT",), _bool, False)


LOGS_EXPORTER_ENV = "OTEL_LOGS_EXPORTER"
_LOGS_EXPORTERS = ("otlp", "none")


def logs_exporter(environ: Mapping[str, str] | None = None) -> str:
    """``OTEL_LOGS_EXPORTER``: ``otlp`` (default) or ``none`` (accept events, export nothing).

    The OpenTelemetry variable; only the first of a comma-separated list counts. An exporter
    otel-telemetry does not ship (``console``: use ``OTEL_TELEMETRY_DEBUG``) is logged and
    ``otlp`` used.
    """

    def parse(name: str, value: str) -> str:
        first = value.split(",")[0].strip().lower()
        check_choice(name, first, _LOGS_EXPORTERS)
        return first

    return _Env(environ).get((LOGS_EXPORTER_ENV,), parse, "otlp")


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where per-install ids live: ``$OTEL_TELEMETRY_STATE_DIR``, else the XDG state dir."""
    from ._procfacts import state_dir as _state_dir

    return Path(_state_dir(_environ(environ)))


def local_db_path(environ: Mapping[str, str] | None = None) -> Path:
    """The local store's file (``serve``, the viewer): ``$OTEL_TELEMETRY_DB``, else ``events.db``
    in the state directory."""
    env = _environ(environ)
    explicit = env.get("OTEL_TELEMETRY_DB", "").strip()
    return Path(explicit) if explicit else state_dir(env) / "events.db"


def ci_environ() -> Mapping[str, str]:
    """The process environment, for ``environment.ci_name``: CI systems announce themselves
    through their own variables (``GITHUB_ACTIONS``, ``CI`` ...), facts rather than settings."""
    return os.environ
