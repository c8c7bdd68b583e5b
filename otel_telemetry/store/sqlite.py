"""``EventStore``: received OTLP log records in a SQLite file, written one transaction per request.

The receiver calls :meth:`EventStore.add_request` from its gRPC and HTTP threads; writes are
serialised on one connection (SQLite has one writer anyway) and each export request is one
``executemany`` in one transaction, so a batch of 512 events costs one commit. Readers open
their own connections: in WAL mode they never block the writer.
"""

from __future__ import annotations

import base64
import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from ..mapping import to_payload
from ..receiver import ReceivedRecord, iter_records
from ..settings import local_db_path
from .query import EventQuery
from .schema import CONNECTION_PRAGMAS, DDL, INSERT, SCHEMA_VERSION, WRITER_PRAGMAS

#: Every event (up to the default limit, for the queries that list them).
ALL = EventQuery()

DB_ENV = "OTEL_TELEMETRY_DB"
DB_FILE = "events.db"


def default_db_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$OTEL_TELEMETRY_DB``, else ``events.db`` in otel-telemetry's state directory."""
    return local_db_path(environ)


def _jsonable(value: Any) -> Any:
    """Attribute values as JSON: bytes become ``{"bytesBase64": ...}``, NaN/inf their names as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        return {"bytesBase64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    return value


def _dumps(value: Any) -> str:
    return json.dumps(_jsonable(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def record_row(record: ReceivedRecord, received_ns: int) -> tuple[Any, ...]:
    """One received record as a row of ``events`` (columns in ``schema.COLUMNS`` order).

    A record without a timestamp is filed under its observed time, else under arrival time.
    """
    when = record.time_unix_nano or record.observed_time_unix_nano or received_ns
    service = record.resource.get("service.name")
    return (
        record.event_name,
        when,
        record.observed_time_unix_nano,
        received_ns,
        record.protocol,
        service if isinstance(service, str) else None,
        _dumps(record.attributes),
        _dumps(record.resource),
        record.scope_name,
        record.scope_version,
        record.severity_number,
        record.severity_text,
        None if record.body is None else _dumps(record.body),
        record.trace_id.hex(),
        record.span_id.hex(),
        record.flags,
        record.dropped_attributes_count,
    )


@dataclass(frozen=True)
class StoredEvent:
    """One row of ``events``, decoded."""

    id: int
    event_name: str
    time_unix_nano: int
    observed_time_unix_nano: int
    received_unix_nano: int
    protocol: str
    service_name: str | None
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope_name: str
    scope_version: str
    severity_number: int
    severity_text: str
    body: Any
    trace_id: str
    span_id: str
    flags: int
    dropped_attributes_count: int

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> StoredEvent:
        data = dict(row)
        for key in ("attributes", "resource"):
            data[key] = json.loads(data[key])
        data["body"] = None if data["body"] is None else json.loads(data["body"])
        return cls(**data)

    def payload(self, base_resource: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The Strapi payload ``{event, eventProperties, userProperties, groupProperties}``.

        With the sender's ``base_resource``, only the group properties it added are listed.
        """
        return to_payload(self.event_name, self.attributes, self.resource, base_resource)

    def record(self) -> dict[str, Any]:
        """The OTel log record as stored, with OTLP field names."""
        return {
            "eventName": self.event_name,
            "timeUnixNano": str(self.time_unix_nano),
            "observedTimeUnixNano": str(self.observed_time_unix_nano),
            "severityNumber": self.severity_number,
            "severityText": self.severity_text,
            "body": self.body,
            "attributes": self.attributes,
            "droppedAttributesCount": self.dropped_attributes_count,
            "traceId": self.trace_id,
            "spanId": self.span_id,
            "flags": self.flags,
            "resource": {"attributes": self.resource},
            "scope": {"name": self.scope_name, "version": self.scope_version},
        }

    def to_json(self) -> dict[str, Any]:
        """Everything a client needs: columns plus ``payload`` (Strapi) and ``record`` (OTel)."""
        return {
            "id": self.id,
            "event": self.event_name,
            "time_unix_nano": self.time_unix_nano,
            "received_unix_nano": self.received_unix_nano,
            "protocol": self.protocol,
            "service_name": self.service_name,
            "payload": self.payload(),
            "record": self.record(),
        }


class NotAnEventStore(Exception):
    """The file is not an otel-telemetry events database (or is of a newer schema)."""


class EventStore:
    """A SQLite database of received events (created with its schema if missing).

    ``existing=True`` opens a database for querying only: it must already exist and have the
    schema, and it is not modified (for ``events``/``stats`` pointed at the wrong file).
    """

    def __init__(self, path: str | os.PathLike[str], *, existing: bool = False) -> None:
        self.path = Path(path)
        self._write_lock = threading.Lock()
        if existing:
            if not self.path.is_file():
                raise NotAnEventStore(f"{self.path} does not exist")
            self._writer = self._connect()
            self._check_schema()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = self._connect()
        for pragma in WRITER_PRAGMAS:
            self._writer.execute(pragma)
        with self._write_lock, self._writer:
            for statement in DDL:
                self._writer.execute(statement)
            self._writer.execute(
                "INSERT OR IGNORE INTO store_meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    def _check_schema(self) -> None:
        try:
            row = self._writer.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchone()
            self._writer.execute("SELECT id, event_name, attributes, resource FROM events LIMIT 0")
        except sqlite3.DatabaseError as error:
            self._writer.close()
            raise NotAnEventStore(f"{self.path} is not an otel-telemetry events database ({error})") from None
        if row is None or int(row[0]) > SCHEMA_VERSION:
            self._writer.close()
            raise NotAnEventStore(
                f"{self.path} has schema version {row and row[0]}; this version reads {SCHEMA_VERSION}"
            )

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        connection.row_factory = sqlite3.Row
        for pragma in CONNECTION_PRAGMAS:
            connection.execute(pragma)
        return connection

    # -- writing -------------------------------------------------------------------------

    def add_request(self, protocol: str, request: ExportLogsServiceRequest) -> int:
        """Store every log record of one export request in one transaction; returns how many.

        Matches ``OTLPReceiver(on_request=...)``: if this raises, the receiver answers
        503 / UNAVAILABLE, so the sender keeps the batch and retries it.
        """
        return self.add_records(iter_records(request, protocol))

    def add_records(self, records: Iterable[ReceivedRecord]) -> int:
        """Store records in one transaction; returns how many."""
        received = time.time_ns()
        rows = [record_row(record, received) for record in records]
        if not rows:
            return 0
        with self._write_lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                self._writer.executemany(INSERT, rows)
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
            self._writer.execute("COMMIT")
        return len(rows)

    def close(self) -> None:
        """Close the writer connection (readers are closed after each query)."""
        with self._write_lock:
            self._writer.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------------

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        with closing(self._connect()) as connection:
            yield connection

    def events(self, query: EventQuery = ALL) -> list[StoredEvent]:
        """Events matching ``query``, newest first unless ``query.newest_first`` is False."""
        where, params = query.where()
        order = "DESC" if query.newest_first else "ASC"
        sql = f"SELECT * FROM events WHERE {where} ORDER BY time_unix_nano {order}, id {order} LIMIT ?"
        with self._reader() as db:
            return [StoredEvent.from_row(row) for row in db.execute(sql, [*params, query.limit])]

    def get(self, event_id: int) -> StoredEvent | None:
        """One event by id."""
        with self._reader() as db:
            row = db.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
        return None if row is None else StoredEvent.from_row(row)

    def newest_id(self) -> int:
        """The largest id stored (0 when empty): a cursor for "what arrived since"."""
        with self._reader() as db:
            row = db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()
        return int(row[0])

    def count(self, query: EventQuery = ALL) -> int:
        """How many events match ``query`` (its limit is ignored)."""
        where, params = query.where()
        with self._reader() as db:
            return int(db.execute(f"SELECT COUNT(*) FROM events WHERE {where}", params).fetchone()[0])

    def counts_by_name(self, query: EventQuery = ALL) -> list[tuple[str, int, int, int]]:
        """``(event_name, count, first_time_ns, last_time_ns)`` per name, most frequent first."""
        where, params = query.where()
        sql = (
            "SELECT event_name, COUNT(*) AS n, MIN(time_unix_nano), MAX(time_unix_nano) "
            f"FROM events WHERE {where} GROUP BY event_name ORDER BY n DESC, event_name"
        )
        with self._reader() as db:
            return [(str(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in db.execute(sql, params)]

    def counts_over_time(self, bucket_s: float, query: EventQuery = ALL) -> list[tuple[int, str, int]]:
        """``(bucket_start_ns, event_name, count)`` for buckets of ``bucket_s`` seconds, oldest first."""
        if not bucket_s > 0:
            raise ValueError("bucket_s must be > 0")
        bucket_ns = int(bucket_s * 1e9)
        where, params = query.where()
        sql = (
            "SELECT (time_unix_nano / ?) * ? AS bucket, event_name, COUNT(*) "
            f"FROM events WHERE {where} GROUP BY bucket, event_name ORDER BY bucket, event_name"
        )
        with self._reader() as db:
            rows = db.execute(sql, [bucket_ns, bucket_ns, *params])
            return [(int(r[0]), str(r[1]), int(r[2])) for r in rows]
