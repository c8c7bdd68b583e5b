"""``EventStore``: received OTLP log records in a SQLite file, written one transaction per request.

The receiver calls :meth:`EventStore.add_request` from its gRPC and HTTP threads; writes are
serialised on one connection (SQLite has one writer anyway) and each export request is one
``executemany`` in one transaction, so a batch of 512 events costs one commit. Readers open
their own connections: in WAL mode they never block the writer. A database of an older schema is
migrated when opened (:data:`.schema.MIGRATE_1_TO_2`, :data:`.schema.MIGRATE_2_TO_3`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from ..mapping import to_payload
from ..receiver import ReceivedRecord
from ..settings import local_db_path
from .query import EventQuery
from .rows import Row, as_text, dumps, iter_rows, row_of_record
from .schema import (
    CONNECTION_PRAGMAS,
    DDL,
    FILL_USER_KEYS,
    INSERT_KEY,
    INSERT_RECORD,
    INSERT_RESOURCE,
    INSERT_USER,
    MIGRATE_1_TO_2,
    MIGRATE_2_TO_3,
    SCHEMA_VERSION,
    SELECT_RESOURCE,
    USER_KEY,
    WRITER_PRAGMAS,
)

#: Every event (up to the default limit, for the queries that list them).
ALL = EventQuery()

DB_ENV = "OTEL_TELEMETRY_DB"
DB_FILE = "events.db"


def default_db_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$OTEL_TELEMETRY_DB``, else ``events.db`` in otel-telemetry's state directory."""
    return local_db_path(environ)


#: An event with everything :class:`StoredEvent` shows, over ``otel_log_records AS l`` and its
#: resource ``r`` (the conditions of :meth:`EventQuery.where` are written against these aliases).
SELECT_EVENTS = (
    "SELECT l.Id AS id, l.EventName AS event_name, l.Timestamp AS time_unix_nano, "
    "l.ObservedTimestamp AS observed_time_unix_nano, l.ReceivedTimestamp AS received_unix_nano, "
    "l.Protocol AS protocol, r.ServiceName AS service_name, l.LogAttributes AS attributes, "
    "r.ResourceAttributes AS resource, l.ScopeName AS scope_name, l.ScopeVersion AS scope_version, "
    "l.SeverityNumber AS severity_number, l.SeverityText AS severity_text, l.Body AS body, "
    "l.TraceId AS trace_id, l.SpanId AS span_id, l.TraceFlags AS flags, "
    "l.DroppedAttributesCount AS dropped_attributes_count "
    "FROM otel_log_records AS l JOIN otel_resources AS r ON r.ResourceId = l.ResourceId"
)
FROM_EVENTS = "FROM otel_log_records AS l JOIN otel_resources AS r ON r.ResourceId = l.ResourceId"

#: How many resources' ids the writer remembers (an installation's resource is sent again and again).
_RESOURCE_CACHE = 100_000
#: How many users' keys the writer remembers.
_USER_CACHE = 200_000


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
        data["service_name"] = data["service_name"] or None
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


def user_text(attributes: Mapping[str, Any]) -> str | None:
    """The record's user as ``otel_users`` numbers it: its log attribute ``user.hash`` as insight
    text (None when absent or null), as the insights compare it."""
    user = attributes.get(USER_KEY)
    if user is None:
        return None
    return user if type(user) is str else as_text(user)


class NotAnEventStore(Exception):
    """The file is not an otel-telemetry events database (or is of a newer schema)."""


class EventStore:
    """A SQLite database of received events (created with its schema if missing, migrated from
    schema 1 if it is one).

    ``existing=True`` opens a database for querying: it must already exist and be an events
    database (a schema-1 file is still migrated, so that it can be read); it is not created.
    """

    def __init__(self, path: str | os.PathLike[str], *, existing: bool = False) -> None:
        self.path = Path(path)
        self._write_lock = threading.Lock()
        self._resource_ids: dict[tuple[str, str], int] = {}
        self._user_keys: dict[str, int] = {}
        self._keys: set[tuple[str, str]] = set()
        self._log_keys: set[str] = set()
        if existing and not self.path.is_file():
            raise NotAnEventStore(f"{self.path} does not exist")
        if not existing:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = self._connect()
        try:
            version = self._schema_version(existing)
            for pragma in WRITER_PRAGMAS:
                self._writer.execute(pragma)
            self._create(version)
        except BaseException:
            self._writer.close()
            raise

    def _schema_version(self, existing: bool) -> int | None:
        """The file's schema version (None for a new, empty file); refuses what this cannot read."""
        try:
            tables = {r[0] for r in self._writer.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            row = (
                self._writer.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchone()
                if "store_meta" in tables
                else None
            )
        except sqlite3.DatabaseError as error:
            raise NotAnEventStore(f"{self.path} is not an otel-telemetry events database ({error})") from None
        if row is None:
            if existing or tables:
                raise NotAnEventStore(f"{self.path} is not an otel-telemetry events database")
            return None
        if not str(row[0]).isdigit() or int(row[0]) > SCHEMA_VERSION:
            raise NotAnEventStore(
                f"{self.path} has schema version {row[0]}; this version reads {SCHEMA_VERSION}"
            )
        return int(row[0])

    def _create(self, version: int | None) -> None:
        """Tables, view and indexes; an older schema's rows migrated in the same transaction (all
        or nothing). A database already at this schema is not written to (readers open it while
        ``serve`` writes)."""
        with self._write_lock:
            if version == SCHEMA_VERSION:
                self._reload_keys()
                return
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                if version == 2:
                    for statement in MIGRATE_2_TO_3:
                        self._writer.execute(statement)
                for statement in DDL:
                    self._writer.execute(statement)
                if version == 1:
                    for statement in MIGRATE_1_TO_2:
                        self._writer.execute(statement)
                if version is not None:
                    for statement in FILL_USER_KEYS:
                        self._writer.execute(statement)
                self._writer.execute(
                    "INSERT INTO store_meta (key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(SCHEMA_VERSION),),
                )
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
            self._writer.execute("COMMIT")
            if version is not None:
                self._compact()
            self._reload_keys()

    def _compact(self) -> None:
        """After a migration: every record was rewritten with its ``UserKey`` (one byte or more
        each), which splits pages; ``VACUUM`` lays the file out again (scans cost a quarter more
        otherwise). Only an optimisation: if it cannot run now (disk full, a reader holding the
        file), the store works as it is."""
        with suppress(sqlite3.OperationalError):
            self._writer.execute("VACUUM")

    def _reload_keys(self) -> None:
        self._keys, self._log_keys = set(), set()
        rows = self._writer.execute("SELECT Kind, Key FROM otel_attribute_keys")
        self._remember_keys({(str(kind), str(key)) for kind, key in rows})

    def _remember_keys(self, keys: set[tuple[str, str]]) -> None:
        self._keys |= keys
        self._log_keys.update(key for kind, key in keys if kind == "log")

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
        return self._add(protocol, iter_rows(request, time.time_ns()))

    def add_records(self, records: Iterable[ReceivedRecord]) -> int:
        """Store records decoded by the receiver in one transaction; returns how many."""
        received = time.time_ns()
        by_protocol: dict[str, list[Row]] = {}
        for record in records:
            by_protocol.setdefault(record.protocol, []).append(row_of_record(record, received))
        return sum(self._add(protocol, rows) for protocol, rows in by_protocol.items())

    def _add(self, protocol: str, rows: Iterable[Row]) -> int:
        received = time.time_ns()
        with self._write_lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                count = self._insert(protocol, received, rows)
            except BaseException:
                self._writer.execute("ROLLBACK")
                self._resource_ids.clear()  # ids handed out in the rolled-back transaction are gone
                self._user_keys.clear()
                self._reload_keys()  # and so are the keys it added
                raise
            self._writer.execute("COMMIT")
        return count

    def _insert(self, protocol: str, received: int, rows: Iterable[Row]) -> int:
        values: list[tuple[Any, ...]] = []
        users = self._user_keys
        unknown_users: list[int] = []  # rows whose user has no key yet (their UserKey is its text)
        new_keys: set[tuple[str, str]] = set()
        last_resource: tuple[dict[str, Any], str] | None = None
        resource_id = 0
        last_scope: dict[str, Any] | None = None
        scope_json = "{}"
        for row in rows:
            if row.scope_attributes is not last_scope:  # shared by the records of a scope
                last_scope = row.scope_attributes
                scope_json = dumps(last_scope)
            if (
                last_resource is None
                or row.resource is not last_resource[0]
                or (row.resource_schema_url != last_resource[1])
            ):
                resource_id = self._resource_id(row, new_keys)
                last_resource = (row.resource, row.resource_schema_url)
            if not self._log_keys.issuperset(row.attributes):
                new_keys.update(("log", key) for key in row.attributes.keys() - self._log_keys)
            text = user_text(row.attributes)
            user: str | int | None = text
            if text is not None:
                known = users.get(text)
                if known is None:
                    unknown_users.append(len(values))
                else:
                    user = known
            values.append(
                (
                    row.timestamp,
                    row.observed,
                    received,
                    protocol,
                    row.trace_id,
                    row.span_id,
                    row.flags,
                    row.severity_text,
                    row.severity_number,
                    row.event_name,
                    dumps(row.body) if row.has_body else None,
                    resource_id,
                    row.scope_schema_url,
                    row.scope_name,
                    row.scope_version,
                    scope_json,
                    dumps(row.attributes),
                    row.dropped_attributes_count,
                    user,
                )
            )
        if not values:
            return 0
        if unknown_users:
            self._add_users({str(values[i][-1]) for i in unknown_users})
            for i in unknown_users:
                values[i] = (*values[i][:-1], users[str(values[i][-1])])
        self._writer.executemany(INSERT_RECORD, values)
        if new_keys:
            self._writer.executemany(INSERT_KEY, sorted(new_keys))
            self._remember_keys(new_keys)
        return len(values)

    def _add_users(self, texts: set[str]) -> None:
        """Number the users ``texts`` (those already in ``otel_users`` keep their key) and
        remember their keys."""
        if len(self._user_keys) + len(texts) > _USER_CACHE:
            self._user_keys.clear()
        ordered = sorted(texts)
        self._writer.executemany(INSERT_USER, [(text,) for text in ordered])
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            rows = self._writer.execute(
                f"SELECT UserHash, UserKey FROM otel_users WHERE UserHash IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            self._user_keys.update((str(text), int(key)) for text, key in rows)

    def _resource_id(self, row: Row, new_keys: set[tuple[str, str]]) -> int:
        text = dumps(row.resource)
        cache_key = (text, row.resource_schema_url)
        found = self._resource_ids.get(cache_key)
        if found is not None:
            return found
        self._writer.execute(INSERT_RESOURCE, (row.service_name, row.resource_schema_url, text))
        resource_id = int(self._writer.execute(SELECT_RESOURCE, cache_key).fetchone()[0])
        if len(self._resource_ids) >= _RESOURCE_CACHE:
            self._resource_ids.clear()
        self._resource_ids[cache_key] = resource_id
        for key in row.resource:
            if ("resource", key) not in self._keys:
                new_keys.add(("resource", key))
        return resource_id

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
        sql = f"{SELECT_EVENTS} WHERE {where} ORDER BY l.Timestamp {order}, l.Id {order} LIMIT ?"
        with self._reader() as db:
            return [StoredEvent.from_row(row) for row in db.execute(sql, [*params, query.limit])]

    def get(self, event_id: int) -> StoredEvent | None:
        """One event by id."""
        with self._reader() as db:
            row = db.execute(f"{SELECT_EVENTS} WHERE l.Id = ?", (event_id,)).fetchone()
        return None if row is None else StoredEvent.from_row(row)

    def newest_id(self) -> int:
        """The largest id stored (0 when empty): a cursor for "what arrived since"."""
        with self._reader() as db:
            row = db.execute("SELECT COALESCE(MAX(Id), 0) FROM otel_log_records").fetchone()
        return int(row[0])

    def count(self, query: EventQuery = ALL) -> int:
        """How many events match ``query`` (its limit is ignored)."""
        where, params = query.where()
        with self._reader() as db:
            return int(db.execute(f"SELECT COUNT(*) {FROM_EVENTS} WHERE {where}", params).fetchone()[0])

    def counts_by_name(self, query: EventQuery = ALL) -> list[tuple[str, int, int, int]]:
        """``(event_name, count, first_time_ns, last_time_ns)`` per name, most frequent first."""
        where, params = query.where()
        sql = (
            "SELECT l.EventName, COUNT(*) AS n, MIN(l.Timestamp), MAX(l.Timestamp) "
            f"{FROM_EVENTS} WHERE {where} GROUP BY l.EventName ORDER BY n DESC, l.EventName"
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
            "SELECT (l.Timestamp / ?) * ? AS bucket, l.EventName, COUNT(*) "
            f"{FROM_EVENTS} WHERE {where} GROUP BY bucket, l.EventName ORDER BY bucket, l.EventName"
        )
        with self._reader() as db:
            rows = db.execute(sql, [bucket_ns, bucket_ns, *params])
            return [(int(r[0]), str(r[1]), int(r[2])) for r in rows]
