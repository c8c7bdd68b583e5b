"""``serve --db chdb:PATH``: received events in chDB (ClickHouse in-process), in the very table the
contrib ClickHouse exporter writes in production (:mod:`.clickhouse_schema`).

chDB is the optional ``[clickhouse]`` extra. chDB runs one database directory per process at a
time, so one session per directory is shared by everything in the process (the store writing
and the insights reading it); opening a second directory is a clear error (:class:`ChdbBusy`).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable, Iterator
from json.encoder import py_encode_basestring
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from .clickhouse_schema import clickhouse_ddl
from .rows import Row, as_text, iter_rows, text_map

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
#: A string as JSON (C-accelerated when available), as ``_ENCODER`` writes it.
encode_basestring = getattr(json.encoder, "c_encode_basestring", None) or py_encode_basestring

CHDB_DATABASE = "otel"
CHDB_TABLE = "otel_events"

_INSERT_COLUMNS = (
    "Timestamp",
    "TraceId",
    "SpanId",
    "TraceFlags",
    "SeverityText",
    "SeverityNumber",
    "ServiceName",
    "Body",
    "ResourceSchemaUrl",
    "ResourceAttributes",
    "ScopeSchemaUrl",
    "ScopeName",
    "ScopeVersion",
    "ScopeAttributes",
    "LogAttributes",
    "EventName",
)


class ChdbMissing(RuntimeError):
    """chDB is not installed."""


class ChdbBusy(RuntimeError):
    """Another chDB directory is open in this process (chDB runs one per process)."""


_sessions: dict[str, tuple[Any, int]] = {}
_sessions_lock = threading.Lock()


def chdb_session(path: str) -> Any:
    """The process's chDB session for directory ``path`` (opened on first use; release it with
    :func:`release_chdb_session`)."""
    key = os.path.realpath(path)
    with _sessions_lock:
        if key in _sessions:
            session, users = _sessions[key]
            _sessions[key] = (session, users + 1)
            return session
        try:
            from chdb import session as chdb_sessions
        except ImportError:
            raise ChdbMissing("chDB is not installed: pip install 'otel-telemetry[clickhouse]'") from None
        if _sessions:
            raise ChdbBusy(
                f"chDB opens one database directory per process and {next(iter(_sessions))} is open; "
                f"close it before opening {key}"
            )
        session = chdb_sessions.Session(key)  # type: ignore[no-untyped-call]
        _sessions[key] = (session, 1)
        return session


def release_chdb_session(path: str) -> None:
    """One user less; the last one closes the session."""
    key = os.path.realpath(path)
    with _sessions_lock:
        if key not in _sessions:
            return
        session, users = _sessions[key]
        if users > 1:
            _sessions[key] = (session, users - 1)
            return
        del _sessions[key]
    session.close()


def _shared_values(row: Row) -> dict[str, Any]:
    """The columns a record shares with every record of its resource and scope."""
    return {
        "ServiceName": row.service_name,
        "ResourceSchemaUrl": row.resource_schema_url,
        "ResourceAttributes": text_map(row.resource),
        "ScopeSchemaUrl": row.scope_schema_url,
        "ScopeName": row.scope_name,
        "ScopeVersion": row.scope_version,
        "ScopeAttributes": text_map(row.scope_attributes),
    }


def chdb_row(row: Row) -> dict[str, Any]:
    """One record's values as the exporter stores them: attribute maps of text, the body as text
    (``Timestamp``: Unix ns as text). :func:`json_lines` writes them for the INSERT."""
    return {
        "Timestamp": str(row.timestamp),
        "TraceId": row.trace_id,
        "SpanId": row.span_id,
        "TraceFlags": row.flags & 0xFF,
        "SeverityText": row.severity_text,
        "SeverityNumber": max(0, min(255, row.severity_number)),
        "Body": as_text(row.body) if row.has_body and row.body is not None else "",
        **_shared_values(row),
        "LogAttributes": text_map(row.attributes),
        "EventName": row.event_name,
    }


def json_lines(rows: Iterable[Row]) -> Iterator[str]:
    """Each record as a ``JSONEachRow`` line holding :func:`chdb_row`'s values, fast: the members
    shared by the records of a resource and scope are encoded once per request, and a record's own
    members are written directly (strings through the JSON encoder's C escaping).

    ``Timestamp`` is written as a JSON number of seconds with nine decimals (``1793000000.000000001``),
    which ClickHouse reads exactly into ``DateTime64(9)``; digits in a string are read as a date
    when they are few (``"1"`` became 2026-01-01) and a bare integer as seconds."""
    quote = encode_basestring
    shared = ""
    last: tuple[object, object, str, str] | None = None
    for row in rows:
        key = (row.resource, row.scope_attributes, row.resource_schema_url, row.scope_schema_url)
        if last is None or key[0] is not last[0] or key[1] is not last[1] or key[2:] != last[2:]:
            shared, last = _ENCODER.encode(_shared_values(row))[1:-1], key
        attributes = row.attributes
        body = as_text(row.body) if row.has_body and row.body is not None else ""
        yield (
            f'{{"Timestamp":{row.timestamp // 1_000_000_000}.{row.timestamp % 1_000_000_000:09d},'
            f'"TraceId":"{row.trace_id}","SpanId":"{row.span_id}",'
            f'"TraceFlags":{row.flags & 0xFF},"SeverityText":{quote(row.severity_text)},'
            f'"SeverityNumber":{max(0, min(255, row.severity_number))},"Body":{quote(body)},{shared},'
            f'"LogAttributes":{_ENCODER.encode(text_map(attributes)) if attributes else "{}"},'
            f'"EventName":{quote(row.event_name)}}}'
        )


class ChdbStore:
    """Received events in ``otel.otel_events`` of a chDB directory (created if missing)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._session = chdb_session(str(self.path))
        self._lock = threading.Lock()
        self.table = f"{CHDB_DATABASE}.{CHDB_TABLE}"
        self._session.query(f"CREATE DATABASE IF NOT EXISTS {CHDB_DATABASE}")
        self._session.query(clickhouse_ddl(CHDB_DATABASE, CHDB_TABLE))
        # A request is a few hundred rows: splitting them for parallel parsing costs more than it saves.
        self._prefix = (
            f"INSERT INTO {self.table} ({', '.join(_INSERT_COLUMNS)}) "
            "SETTINGS input_format_parallel_parsing = 0 FORMAT JSONEachRow\n"
        )

    def add_request(self, protocol: str, request: ExportLogsServiceRequest) -> int:
        """Store every record of one export request in one INSERT; returns how many.

        Matches ``OTLPReceiver(on_request=...)``: if this raises, the receiver answers 503.
        """
        return self.add_rows(iter_rows(request, time.time_ns()))

    def add_rows(self, rows: Iterable[Row]) -> int:
        """Insert rows (:class:`.rows.Row`) in one INSERT."""
        lines = list(json_lines(rows))
        if not lines:
            return 0
        with self._lock:
            if self._session is None:
                raise RuntimeError(f"the chDB store at {self.path} is closed")
            self._session.query(self._prefix + "\n".join(lines))
        return len(lines)

    def count(self) -> int:
        """How many events are stored."""
        result = self._session.query(f"SELECT count() FROM {self.table}", "CSV")
        return int(result.bytes().decode().strip() or 0)

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                release_chdb_session(str(self.path))
                self._session = None

    def __enter__(self) -> ChdbStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
