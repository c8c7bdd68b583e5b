"""Helpers shared by the commands: option parsing, time ranges, output formatting."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from ..store import EventStore, NotAnEventStore, default_db_path

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def setup_logging(verbose: bool = False) -> None:
    """otel-telemetry's own warnings (export failures, bad env values) go to stderr, briefly."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("otel_telemetry")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if verbose else logging.WARNING)
    log.propagate = False


def scalar(text: str) -> Any:
    """A command-line value: ``true``/``false``/``null`` and numbers that print back the same are
    typed; anything else (``1.10``, ``007``, ``abc``) stays a string."""
    if text in ("true", "false", "null"):
        return json.loads(text)
    try:
        number = json.loads(text)
    except ValueError:
        return text
    if isinstance(number, (int, float)) and not isinstance(number, bool) and json.dumps(number) == text:
        return number
    return text


def key_values(option: str, pairs: Sequence[str]) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}``; a pair without ``=`` is a usage error."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected key=value, got {pair!r}", param_hint=option)
        out[key] = scalar(value)
    return out


def parse_time(option: str, text: str | None, now: datetime | None = None) -> int | None:
    """``--since``/``--until``: a duration ago (``30s``, ``15m``, ``2h``, ``7d``) or an ISO 8601
    time (UTC unless it says otherwise), as Unix nanoseconds."""
    if not text:
        return None
    now = now or datetime.now(timezone.utc)
    match = _DURATION.match(text)
    if match:
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
        return int((now.timestamp() - seconds) * 1e9)
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"expected a duration like 15m, 2h, 7d or an ISO time like 2026-01-31T12:00, got {text!r}",
            param_hint=option,
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1e9)


def parse_duration(option: str, text: str) -> float:
    """``--bucket``: ``10s``, ``1m``, ``1h``, ``1d`` -> seconds."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise click.BadParameter(
            f"expected a duration like 10s, 1m, 1h or 1d, got {text!r}", param_hint=option
        )
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def iso_time(time_ns: int) -> str:
    """Unix nanoseconds -> ``2026-01-31T12:00:00.123Z``."""
    when = datetime.fromtimestamp(time_ns / 1e9, timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A plain left-aligned text table."""
    materialised = [list(headers), *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in materialised) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in materialised
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def db_option(function: Any) -> Any:
    """``--db PATH`` (default ``$OTEL_TELEMETRY_DB`` or the state directory's ``events.db``)."""
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="SQLite events database [default: $OTEL_TELEMETRY_DB, else events.db in the state directory].",
    )(function)


def open_existing_store(db_path: Path | None) -> EventStore:
    """The store at ``db_path``; a missing file is a user error, not a new empty database."""
    path = db_path or default_db_path()
    if not path.exists():
        raise click.ClickException(
            f"no events database at {path}. Run `otel-telemetry serve` (it stores what it receives there), "
            "or pass --db."
        )
    try:
        return EventStore(path, existing=True)
    except NotAnEventStore as error:
        raise click.ClickException(str(error)) from None
    except Exception as error:
        raise click.ClickException(f"cannot open events database {path}: {error}") from None


def echo_json_lines(items: Iterable[Any]) -> None:
    """One compact JSON object per line."""
    for item in items:
        click.echo(json.dumps(item, ensure_ascii=False, default=str))
