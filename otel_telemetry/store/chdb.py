"""``serve --db chdb:PATH``: received events in chDB (ClickHouse in-process), in the very table the
contrib ClickHouse exporter writes in production (:mod:`.clickhouse_schema`).

Requests are acknowledged once in the store's write-ahead journal (:mod:`.journal`) and inserted
in large batches by a writer thread (:class:`ChdbStore`).

chDB is the optional ``[clickhouse]`` extra. chDB runs one database directory per process at a
time, so one session per directory is shared by everything in the process (the store writing
and the insights reading it); opening a second directory is a clear error (:class:`ChdbBusy`).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from json.encoder import py_encode_basestring
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from .._log import logger
from ..records import decode_any_value, decode_attributes
from .clickhouse_schema import clickhouse_ddl
from .journal import Journal
from .rows import Row, as_text, text_map

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


class SharedSession:
    """The process's chDB session for one directory, shared by the store writing into it and the
    readers of it (the insights, tests). Queries go one at a time; before each one, the rows the
    directory's store acknowledged are inserted (read-your-writes, see :meth:`ChdbStore.flush`)."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.lock = threading.Lock()
        #: The store writing into this directory, if one is open.
        self.writer: ChdbStore | None = None

    def query(self, sql: str, fmt: str = "CSV", params: dict[str, str] | None = None) -> Any:
        """Run ``sql`` once every acknowledged row is stored; chDB's result."""
        writer = self.writer
        if writer is not None:
            writer.flush()
        with self.lock:
            return self.raw.query(sql, fmt, params=params)

    def query_now(self, sql: str, fmt: str = "CSV") -> Any:
        """Run ``sql`` without waiting for the journal (the store's own writer)."""
        with self.lock:
            return self.raw.query(sql, fmt)


_sessions: dict[str, tuple[SharedSession, int]] = {}
_sessions_lock = threading.Lock()


def chdb_session(path: str) -> SharedSession:
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
        session = SharedSession(chdb_sessions.Session(key))  # type: ignore[no-untyped-call]
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
    session.raw.close()


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


def request_lines(request: ExportLogsServiceRequest, received_ns: int) -> list[str]:
    """:func:`json_lines` of ``iter_rows(request, received_ns)``, the same text, written straight
    from the protobuf: no :class:`.rows.Row` per record, and a string attribute (the common case)
    is taken as it is instead of going through the generic decoding. This is the receiver's
    side of the chDB store (it runs before the request is acknowledged)."""
    quote = encode_basestring
    encode = _ENCODER.encode
    lines: list[str] = []
    append = lines.append
    for resource_logs in request.resource_logs:
        resource = decode_attributes(resource_logs.resource.attributes)
        service = resource.get("service.name")
        for scope_logs in resource_logs.scope_logs:
            scope = scope_logs.scope
            shared = encode(
                {
                    "ServiceName": service if isinstance(service, str) else "",
                    "ResourceSchemaUrl": resource_logs.schema_url,
                    "ResourceAttributes": text_map(resource),
                    "ScopeSchemaUrl": scope_logs.schema_url,
                    "ScopeName": scope.name,
                    "ScopeVersion": scope.version,
                    "ScopeAttributes": text_map(decode_attributes(scope.attributes)),
                }
            )[1:-1]
            for log in scope_logs.log_records:
                timestamp = log.time_unix_nano or log.observed_time_unix_nano or received_ns
                texts: dict[str, str] = {}
                for kv in log.attributes:
                    value = kv.value
                    kind = value.WhichOneof("value")
                    if kind == "string_value":
                        texts[kv.key] = value.string_value
                    elif kind == "int_value":
                        texts[kv.key] = str(value.int_value)
                    elif kind == "bool_value":
                        texts[kv.key] = "true" if value.bool_value else "false"
                    else:
                        decoded = decode_any_value(value)
                        texts[kv.key] = decoded if type(decoded) is str else as_text(decoded)
                body = decode_any_value(log.body) if log.HasField("body") else None
                append(
                    f'{{"Timestamp":{timestamp // 1_000_000_000}.{timestamp % 1_000_000_000:09d},'
                    f'"TraceId":"{log.trace_id.hex()}","SpanId":"{log.span_id.hex()}",'
                    f'"TraceFlags":{log.flags & 0xFF},"SeverityText":{quote(log.severity_text)},'
                    f'"SeverityNumber":{max(0, min(255, int(log.severity_number)))},'
                    f'"Body":{quote("" if body is None else as_text(body))},{shared},'
                    f'"LogAttributes":{encode(texts) if texts else "{}"},'
                    f'"EventName":{quote(log.event_name)}}}'
                )
    return lines


class ChdbStoreError(RuntimeError):
    """The chDB store cannot take or store acknowledged rows (chDB rejects them, or it fell too
    far behind); what is journaled stays in the journal."""


#: Where the journal lives, inside the chDB directory.
JOURNAL_DIR = "otel-journal"
#: One INSERT takes at most this many rows / bytes of the journal (the exporter batches 8,192).
BATCH_ROWS = 50_000
BATCH_BYTES = 32 * 1024 * 1024
#: ``add_request`` waits while this much of the journal is not stored yet (back-pressure) ...
MAX_PENDING_BYTES = 64 * 1024 * 1024
#: ... for at most this long; then the request is refused (the receiver answers 503, the
#: sender retries later).
BACKPRESSURE_TIMEOUT_S = 10.0
#: Blocks whose deduplication token chDB remembers (a batch is a block per day it spans).
DEDUPLICATION_WINDOW = 1000
#: A read waiting for the journal gives up once this many INSERTs in a row failed.
FAILURES_BEFORE_READS_FAIL = 3


class ChdbStore:
    """Received events in ``otel.otel_events`` of a chDB directory (created if missing).

    A request is acknowledged once its rows are in the write-ahead journal
    (:mod:`.journal`, ``<directory>/otel-journal/``); a writer thread inserts the journal into
    chDB in large INSERTs (one INSERT costs 10-20 ms however few its rows: one per request
    would cap a sender at 50-100 requests/s). Each INSERT is preceded by a checkpoint naming
    its journal range and the table's row count, and carries a deduplication token, so a crash
    at any point neither loses nor doubles rows: on opening, a batch whose INSERT began is
    checked against the row count (all there: done; none: inserted again) and a partly
    committed one is inserted again with its token (chDB skips the blocks it has). Queries
    through the directory's session, :meth:`count` and :meth:`close` first wait for everything
    acknowledged to be stored.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_pending_bytes: int = MAX_PENDING_BYTES,
        batch_rows: int = BATCH_ROWS,
        batch_bytes: int = BATCH_BYTES,
        backpressure_timeout_s: float = BACKPRESSURE_TIMEOUT_S,
    ) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.max_pending_bytes = max_pending_bytes
        self.backpressure_timeout_s = backpressure_timeout_s
        self._batch = (batch_rows, batch_bytes)
        self.table = f"{CHDB_DATABASE}.{CHDB_TABLE}"
        self._session: SharedSession | None = chdb_session(str(self.path))
        self._cond = threading.Condition()
        self._closing = False
        self._failures = 0  # INSERTs failed in a row
        self._attempts = 0  # INSERTs tried (a reader waits for the next one)
        self._retry_now = False
        self._error = ""
        #: INSERTs done and the rows they held (how well the journal batches).
        self.inserts = 0
        self.inserted_rows = 0
        try:
            if self._session.writer is not None:
                raise ChdbBusy(f"a store is already writing into {self.path} in this process")
            self._session.query_now(f"CREATE DATABASE IF NOT EXISTS {CHDB_DATABASE}")
            self._session.query_now(clickhouse_ddl(CHDB_DATABASE, CHDB_TABLE))
            # The production DDL stays the exporter's; locally, INSERTs carry deduplication tokens.
            self._session.query_now(
                f"ALTER TABLE {self.table} MODIFY SETTING non_replicated_deduplication_window = "
                f"{DEDUPLICATION_WINDOW}"
            )
            self.journal = Journal(self.path / JOURNAL_DIR)
        except BaseException:
            release_chdb_session(str(self.path))
            self._session = None
            raise
        try:
            while self.journal.stored < self.journal.end:  # replay what the last run acknowledged
                self._store_next()
        except Exception as error:  # the writer thread retries; the rows stay journaled
            logger.error(
                "otel-telemetry: cannot insert the rows journaled in %s by the last run yet: %s",
                self.journal.directory,
                error,
            )
        self._session.writer = self
        self._thread = threading.Thread(target=self._run, name="otel-telemetry-chdb-writer", daemon=True)
        self._thread.start()

    # -- accepting (the receiver's threads) ----------------------------------------------------

    def add_request(self, protocol: str, request: ExportLogsServiceRequest) -> int:
        """Journal every record of one export request; returns how many. Once this returns the
        records survive a crash; they are queryable after the next INSERT (milliseconds).

        Matches ``OTLPReceiver(on_request=...)``: if this raises, the receiver answers 503.
        """
        return self._journal(request_lines(request, time.time_ns()))

    def add_rows(self, rows: Iterable[Row]) -> int:
        """Journal rows (:class:`.rows.Row`) as one frame, waiting while the journal is full."""
        return self._journal(list(json_lines(rows)))

    def _journal(self, lines: list[str]) -> int:
        if not lines:
            return 0
        payload = "\n".join(lines).encode("utf-8")
        with self._cond:
            deadline = time.monotonic() + self.backpressure_timeout_s
            while not self._closing and self.journal.pending_bytes > self.max_pending_bytes:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ChdbStoreError(
                        f"the chDB store at {self.path} is {self.journal.pending_bytes // 2**20} MB behind"
                        + (f" (chDB rejects the journaled rows: {self._error})" if self._error else "")
                        + "; request not accepted"
                    )
                self._cond.wait(remaining)
            if self._closing:
                raise ChdbStoreError(f"the chDB store at {self.path} is closed")
            self.journal.append(payload, len(lines))
            self._cond.notify_all()
        return len(lines)

    # -- storing (the writer thread) ------------------------------------------------------------

    def _count_now(self) -> int:
        assert self._session is not None
        return int(self._session.query_now(f"SELECT count() FROM {self.table}").bytes().decode().strip() or 0)

    def _insert(self, payload: bytes, token: str) -> None:
        assert self._session is not None
        self._session.query_now(
            f"INSERT INTO {self.table} ({', '.join(_INSERT_COLUMNS)}) "
            f"SETTINGS insert_deduplication_token = '{token}' FORMAT JSONEachRow\n" + payload.decode("utf-8")
        )

    def _recover(self) -> None:
        """Finish the batch whose INSERT began and did not return: the last run stopped during it,
        or it raised (see the class)."""
        flight = self.journal.in_flight
        assert flight is not None
        count = self._count_now()
        if count == flight.count_before + flight.rows:  # the INSERT completed: only the checkpoint is missing
            self.journal.commit(flight.end)
            return
        batch = self.journal.read_batch(flight.rows, 2**62, until=flight.end)
        if batch is None or batch.end != flight.end or batch.rows != flight.rows:
            raise ChdbStoreError(
                f"the chDB journal in {self.journal.directory} does not hold the batch it began inserting"
            )
        token = self.journal.token(batch.start, batch.end)
        if count == flight.count_before:  # none of it arrived: a fresh token cannot meet a stale entry
            token += f"-again-{uuid.uuid4().hex}"
        logger.warning("otel-telemetry: an INSERT of %d journaled rows did not finish; again", flight.rows)
        self._insert(batch.payload, token)
        self.inserts += 1
        self.inserted_rows += batch.rows
        self.journal.commit(batch.end)

    def _store_next(self) -> None:
        """Insert the next batch of the journal, then move the checkpoint past it."""
        if self.journal.in_flight is not None:
            self._recover()
            return
        batch = self.journal.read_batch(*self._batch)
        if batch is None:
            return
        for damage in batch.damage:
            logger.error(
                "otel-telemetry: the chDB journal in %s is damaged at %d-%d (%s): about %d records lost",
                self.journal.directory,
                damage.start,
                damage.end,
                damage.reason,
                damage.records,
            )
        if batch.frames:
            self.journal.begin(batch, self._count_now())
            self._insert(batch.payload, self.journal.token(batch.start, batch.end))
            self.inserts += 1
            self.inserted_rows += batch.rows
        self.journal.commit(batch.end)

    def _run(self) -> None:
        backoff = 0.1
        while True:
            with self._cond:
                while self.journal.stored >= self.journal.end and not self._closing:
                    self._cond.wait()
                if self.journal.stored >= self.journal.end:
                    return
            try:
                self._store_next()
            except Exception as error:  # logged, retried; the rows stay journaled
                with self._cond:
                    self._failures += 1
                    self._error = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
                    logger.error(
                        "otel-telemetry: chDB rejected %d bytes of journaled rows (attempt %d, retrying in "
                        "%.1f s; they stay in %s): %s",
                        self.journal.pending_bytes,
                        self._failures,
                        backoff,
                        self.journal.directory,
                        self._error,
                    )
                    self._attempts += 1
                    self._cond.notify_all()
                    if self._closing:
                        return
                    retry_at = time.monotonic() + backoff
                    while not (self._closing or self._retry_now) and time.monotonic() < retry_at:
                        self._cond.wait(retry_at - time.monotonic())
                    self._retry_now = False
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 0.1
            with self._cond:
                self._failures, self._error = 0, ""
                self._attempts += 1
                self._cond.notify_all()

    # -- reading and closing --------------------------------------------------------------------

    def flush(self) -> None:
        """Wait until every row acknowledged so far is in chDB. Raises :class:`ChdbStoreError` if
        chDB keeps rejecting them (they stay in the journal)."""
        with self._cond:
            target = self.journal.end
            while self.journal.stored < target:
                if self._failures >= FAILURES_BEFORE_READS_FAIL and self._thread.is_alive():
                    seen, self._retry_now = self._attempts, True  # one more attempt, now
                    self._cond.notify_all()
                    while self._attempts == seen and self._thread.is_alive():
                        self._cond.wait(0.5)
                    if not self._failures:
                        continue
                if self._failures >= FAILURES_BEFORE_READS_FAIL or not self._thread.is_alive():
                    raise ChdbStoreError(
                        f"{self.journal.pending_bytes} bytes of acknowledged rows are not in chDB yet "
                        f"(kept in {self.journal.directory}): {self._error or 'the store is closed'}"
                    )
                self._cond.wait(0.5)

    def count(self) -> int:
        """How many events are stored (after every acknowledged one is)."""
        if self._session is None:
            raise RuntimeError(f"the chDB store at {self.path} is closed")
        result = self._session.query(f"SELECT count() FROM {self.table}", "CSV")
        return int(result.bytes().decode().strip() or 0)

    def close(self) -> None:
        """Store everything journaled, then close (rows chDB rejects stay in the journal)."""
        with self._cond:
            if self._session is None:
                return
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        if self.journal.pending_bytes:
            logger.error(
                "otel-telemetry: %d bytes of acknowledged rows stay in %s; they are stored when the "
                "chDB store is opened again",
                self.journal.pending_bytes,
                self.journal.directory,
            )
        self.journal.close()
        with self._cond:
            session, self._session = self._session, None
        session.writer = None
        release_chdb_session(str(self.path))

    def __enter__(self) -> ChdbStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
