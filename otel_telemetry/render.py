"""One event as one terminal line: the format of ``otel-telemetry tail`` and of debug mode.

Kept apart from the command-line package so that the sending path can print events
(``OTEL_TELEMETRY_DEBUG``) without importing click.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .mapping import to_payload

if TYPE_CHECKING:
    from .records import ReceivedRecord


def local_clock(time_ns: int) -> str:
    """Unix nanoseconds -> local ``HH:MM:SS.mmm`` for a terminal line."""
    when = datetime.fromtimestamp(time_ns / 1e9)
    return when.strftime("%H:%M:%S.") + f"{when.microsecond // 1000:03d}"


def format_value(value: Any) -> str:
    """A property value as it would be typed: strings bare unless they contain spaces."""
    if isinstance(value, str):
        return value if value and not any(c.isspace() or c in "\"'=" for c in value) else json.dumps(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def properties_line(payload: Mapping[str, Any]) -> str:
    """``key=value`` for event properties then ``user.key=value`` for user properties."""
    parts = [f"{k}={format_value(v)}" for k, v in payload.get("eventProperties", {}).items()]
    parts += [f"user.{k}={format_value(v)}" for k, v in payload.get("userProperties", {}).items()]
    return " ".join(parts)


def record_time(record: ReceivedRecord) -> int:
    """The record's time, else its observed time, else now (some senders set neither)."""
    return record.time_unix_nano or record.observed_time_unix_nano or time.time_ns()


def record_line(record: ReceivedRecord) -> str:
    """``12:00:01.250  didCreateEntry  model=article user.plan=pro  [my-app]``."""
    payload = to_payload(record.event_name, record.attributes, record.resource)
    service = record.resource.get("service.name")
    props = properties_line(payload)
    suffix = f"  [{service}]" if service else ""
    return f"{local_clock(record_time(record))}  {record.event_name or '(no event name)'}  {props}{suffix}"
