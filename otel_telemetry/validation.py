"""The cheap checks ``send()`` runs on the calling thread, and the capture of one event.

Everything here either returns an :data:`~otel_telemetry.event.Event` or raises
:class:`TelemetryError` naming the field and the rule; ``Telemetry.send`` turns that into a
counted drop unless the user asked for strict mode. Costly conversions are left to the
background thread.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import TelemetryError
from .event import Event
from .unencodable import check_event_text, printable
from .values import Props, freeze

MAX_EVENT_NAME_LENGTH = 256
PAYLOAD_KEYS = frozenset({"eventProperties", "userProperties", "groupProperties", "userId"})
#: Attribute prefixes that belong to otel-telemetry itself; event properties may not use them.
RESERVED_PREFIXES = ("user.", "otel.", "otel_telemetry.")
_KNOWN_NAMES_MAX = 4096

#: Where the trace API would be: not imported by us (it costs ~10 ms at startup), because no
#: span can be active in a program that never imported it.
_modules = sys.modules


def check_event_name(name: object) -> str:
    """A valid event name: a non-empty string, at most 256 characters, all printable."""
    if not isinstance(name, str):
        raise TelemetryError("event_name", f"must be a string, not {type(name).__name__}")
    if type(name) is not str:
        name = str.__str__(name)  # the text itself: a subclass's own methods stay out
    if not name or not name.strip():
        raise TelemetryError("event_name", "must not be empty")
    if len(name) > MAX_EVENT_NAME_LENGTH:
        raise TelemetryError(
            "event_name", f"must be at most {MAX_EVENT_NAME_LENGTH} characters, not {len(name)}"
        )
    if not name.isprintable():
        raise TelemetryError("event_name", "must not contain control or non-printable characters")
    return name


def _mapping(value: object, field: str) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if type(value) is not dict and not isinstance(value, Mapping):
        raise TelemetryError(field, f"must be a mapping (dict), not {type(value).__name__}")
    try:
        return value or None
    except Exception as error:  # a mapping whose __len__ / __bool__ raises
        raise _unreadable(field, error) from None


def _group(value: object, field: str) -> Props | None:
    """The frozen copy of one property group; ``None`` for none or an empty one."""
    if type(value) is dict:  # the common case, first, without a call more
        if not value:
            return None
        try:
            return freeze(value)
        except Exception as error:  # e.g. resized by another thread while it was read
            raise _unreadable(field, error) from None
    group = _mapping(value, field)
    return _freeze(group, field) if group else None


def _freeze(group: Mapping[str, Any], field: str) -> Props:
    """``freeze(group)``; a mapping that raises while it is read is bad input, named."""
    try:
        return freeze(group)
    except Exception as error:
        raise _unreadable(field, error) from None


def _unreadable(field: str, error: BaseException) -> TelemetryError:
    """The error for a mapping that raised while it was read (its own methods, or a resize)."""
    try:
        cause = printable(f"{type(error).__name__}: {error}")
    except Exception:
        cause = type(error).__name__
    return TelemetryError(field, f"could not be read as a mapping ({cause})")


def _read_payload(payload: object) -> dict[Any, Any]:
    """A payload that is not a dict, read once into one (its own methods may raise)."""
    if not isinstance(payload, Mapping):
        raise TelemetryError("payload", f"must be a mapping (dict), not {type(payload).__name__}")
    try:
        return dict(payload.items())
    except Exception as error:
        raise _unreadable("payload", error) from None


def _key_name(key: object) -> str:
    """A key as it may appear in a field name."""
    return printable(key) if type(key) is str else f"<{type(key).__name__}>"


def _merged(group: object, extra: object, field: str, extra_field: str) -> Props | None:
    """A group given both in the payload and as a keyword: the keyword's keys win."""
    first, second = _mapping(group, field), _mapping(extra, extra_field)
    try:
        merged = {**first, **second} if first and second else first or second
    except Exception as error:
        raise _unreadable(field, error) from None
    return _freeze(merged, field) if merged else None


def _shown(key: object) -> str:
    """A key as a field name shows it: the repr of a plain value, else its type's name."""
    if type(key) in (str, int, float, bytes, type(None)):
        try:
            return printable(repr(key))
        except ValueError:  # an int with more digits than Python converts
            pass
    return type(key).__name__


def check_reserved(keys: Iterable[Any]) -> None:
    """Strict mode only: event property keys must be strings and not use a reserved prefix."""
    for key in keys:
        if isinstance(key, str) and type(key) is not str:
            key = str.__str__(key)  # the text itself: a subclass's own methods stay out
        if type(key) is not str or not key:
            raise TelemetryError(f"eventProperties[{_shown(key)}]", "keys must be non-empty strings")
        if key.startswith(RESERVED_PREFIXES):
            raise TelemetryError(
                f"eventProperties.{key}", f"keys may not start with {', '.join(RESERVED_PREFIXES)}"
            )


#: ``time_unix_nano`` is a fixed64: the last instant it can hold.
MAX_TIMESTAMP_NS = (1 << 64) - 1
_TIMESTAMP_RULE = (
    "must be an aware datetime, a naive datetime (read as UTC) or an int of nanoseconds since the epoch"
)


def timestamp_ns(value: object) -> int:
    """``send(timestamp=...)`` as ns since the epoch (``0`` for ``None``); raises TelemetryError.

    A naive datetime is read as UTC (not local time: a server's clock zone must not shift
    events). The conversion is exact to the microsecond (no float on the way)."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 < value <= MAX_TIMESTAMP_NS:
            return int(value)
        raise TelemetryError("timestamp", f"nanoseconds must be between 1 and 2**64 - 1, not {value}")
    dt = _modules.get("datetime")  # a datetime exists only if its module was imported
    if dt is not None and isinstance(value, dt.datetime):
        utc = dt.timezone.utc
        try:
            aware = value if value.utcoffset() is not None else value.replace(tzinfo=utc)
            delta = aware - dt.datetime(1970, 1, 1, tzinfo=utc)
        except Exception as error:  # a tzinfo whose utcoffset() raises or lies
            raise TelemetryError("timestamp", f"has an unusable time zone: {error!r}") from None
        ns: int = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
        if 0 < ns <= MAX_TIMESTAMP_NS:
            return ns
        raise TelemetryError(
            "timestamp", f"must be after 1970-01-01T00:00:00Z and before 2554-07-21T23:34:33Z, not {value}"
        )
    kind = type(value).__name__
    raise TelemetryError("timestamp", f"{_TIMESTAMP_RULE}, not {kind}")


def _user_id(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TelemetryError("user_id", f"must be a string or an integer, not {type(value).__name__}")
    # the text or digits themselves: a subclass's own __str__ / __repr__ stay out
    try:
        text = str.__str__(value) if isinstance(value, str) else int.__repr__(value)
    except ValueError as error:  # more digits than Python converts (sys.set_int_max_str_digits)
        raise TelemetryError("user_id", f"must be a shorter integer ({error})") from None
    if not text:
        raise TelemetryError("user_id", "must not be empty")
    return text


class Capturer:
    """Builds :data:`~otel_telemetry.event.Event` s; remembers names it has already validated."""

    def __init__(self, strict: bool = False) -> None:
        self._strict = strict
        self._known_names: set[str] = set()

    def capture(
        self,
        name: str,
        payload: Mapping[str, Any] | None,
        event_properties: Mapping[str, Any] | None,
        user_properties: Mapping[str, Any] | None,
        group_properties: Mapping[str, Any] | None,
        user_id: object,
        body: str | None,
        timestamp: object = None,
    ) -> Event:
        """Validate cheaply and copy what the caller could mutate; raises TelemetryError."""
        if type(name) is not str:
            name = check_event_name(name)
        elif name not in self._known_names:
            check_event_name(name)
            if len(self._known_names) < _KNOWN_NAMES_MAX:
                self._known_names.add(name)
        if payload is not None:
            if type(payload) is not dict:
                payload = _read_payload(payload)
            if not payload.keys() <= PAYLOAD_KEYS:
                unknown = sorted(_key_name(k) for k in payload.keys() - PAYLOAD_KEYS)
                raise TelemetryError(
                    f"payload.{unknown[0]}", f"unknown key; expected one of {', '.join(sorted(PAYLOAD_KEYS))}"
                )
            get = payload.get
            ep = (
                _group(get("eventProperties"), "payload.eventProperties")
                if event_properties is None
                else _merged(
                    get("eventProperties"), event_properties, "payload.eventProperties", "event_properties"
                )
            )
            up = (
                _group(get("userProperties"), "payload.userProperties")
                if user_properties is None
                else _merged(
                    get("userProperties"), user_properties, "payload.userProperties", "user_properties"
                )
            )
            gp = (
                _group(get("groupProperties"), "payload.groupProperties")
                if group_properties is None
                else _merged(
                    get("groupProperties"), group_properties, "payload.groupProperties", "group_properties"
                )
            )
            if user_id is None:
                user_id = get("userId")
        else:
            ep = _group(event_properties, "event_properties")
            up = _group(user_properties, "user_properties")
            gp = _group(group_properties, "group_properties")
        if body is not None and not isinstance(body, str):
            raise TelemetryError("body", f"must be a string, not {type(body).__name__}")
        if self._strict and ep:
            check_reserved(ep[: len(ep) >> 1])
        at = 0 if timestamp is None else timestamp_ns(timestamp)
        trace = _modules.get("opentelemetry.trace")
        if trace is None:
            event: Event = (name, time.time_ns(), ep, up, gp, _user_id(user_id), 0, 0, 0, body, None, at)
            if self._strict:
                check_event_text(event)
            return event
        context = trace.get_current_span().get_span_context()
        event = (
            name,
            time.time_ns(),
            ep,
            up,
            gp,
            _user_id(user_id),
            context.trace_id,
            context.span_id,
            int(context.trace_flags),  # a TraceFlags would keep the event tuple tracked by the GC
            body,
            None,
            at,
        )
        if self._strict:
            check_event_text(event)
        return event
