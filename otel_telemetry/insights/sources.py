"""Where the events are: the SQLite store, a chDB directory, or a ClickHouse server.

``open_source(db)`` takes a SQLite file path (or ``sqlite:PATH``), ``chdb:PATH`` (the in-process
ClickHouse a ``serve --db chdb:PATH`` writes), or ``clickhouse://user:password@host:port/database``
/ ``http(s)://...`` (a server's HTTP interface, through clickhouse-connect; ``?table=NAME``
names the table, default ``otel_events`` as in ``collector-config/gateway.yaml``). chDB and
clickhouse-connect are the optional ``[clickhouse]`` extra.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..store import EventStore, NotAnEventStore
from ..store.chdb import CHDB_DATABASE, CHDB_TABLE, ChdbBusy, ChdbMissing, chdb_session, release_chdb_session
from .errors import InsightsError
from .sql import Builder, ClickHouseBuilder, KeyCatalog, SetCatalog, SQLiteBuilder, identifier

DEFAULT_TABLE = "otel_events"
#: SQLite's ``->`` (3.38) and ``MATERIALIZED`` CTEs (3.35).
MIN_SQLITE = (3, 38, 0)
#: How long a ClickHouse source trusts what it learnt about a key.
PROBE_TTL_S = 60.0
DEFAULT_DATABASE = "otel"


@dataclass(frozen=True)
class GroupKey:
    """One grouping column of an insight's base: its expression, its name, whether it can be NULL."""

    expression: str
    name: str
    nullable: bool = True


class Source(ABC):
    """A place to run insight queries; a context manager."""

    #: ``sqlite``, ``chdb`` or ``clickhouse``.
    kind: str = ""

    @abstractmethod
    def builder(self) -> Builder:
        """A fresh query builder (with the current key catalog)."""

    @abstractmethod
    def rows(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run one query with bound parameters."""

    @contextmanager
    def staged(self, b: Builder, select: str, index: Sequence[str] = ()) -> Iterator[str]:
        """``select`` (with ``b``'s parameters) as something to select FROM in several queries
        (``index``: columns worth an index, for engines that want one).

        The base of an insight: one pass over the events that does the JSON and map lookups,
        grouped as finely as the insight needs; its queries then read this small result.
        ClickHouse gets it as a subquery (each query scans again; scans are cheap there).
        """
        yield f"({b.with_([])}{select})"

    @contextmanager
    def grouped(
        self, b: Builder, keys: Sequence[GroupKey], condition: str, *, weighted: bool
    ) -> Iterator[str]:
        """The events matching ``condition`` grouped by ``keys``, with ``w``, what each group's
        events count for (when ``weighted``), staged as something to select FROM in several
        queries (see :meth:`staged`). A plain ``GROUP BY``."""
        columns = [f"{key.expression} AS {key.name}" for key in keys]
        if weighted:
            columns.append(f"{b.weight_sum()} AS w")
        select = (
            f"SELECT {', '.join(columns)} FROM {b.source()} WHERE {condition} "
            f"GROUP BY {', '.join(str(i + 1) for i in range(len(keys)))}"
        )
        with self.staged(b, select) as table:
            yield table

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# -- SQLite -------------------------------------------------------------------------------------


class SQLiteSource(Source):
    """The store ``otel-telemetry serve`` writes (a schema-1 file is migrated when opened)."""

    kind = "sqlite"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise InsightsError(
                f"insights need SQLite {'.'.join(map(str, MIN_SQLITE))} or newer (its -> operator and "
                f"MATERIALIZED); this Python's sqlite3 is {sqlite3.sqlite_version}"
            )
        if not self.path.is_file():
            raise InsightsError(
                f"no events database at {self.path}: run `otel-telemetry serve` (it stores what it "
                "receives there), or pass --db"
            )
        try:
            EventStore(self.path, existing=True).close()  # checks the schema, migrates schema 1
        except NotAnEventStore as error:
            raise InsightsError(str(error)) from None
        except sqlite3.Error as error:
            raise InsightsError(f"cannot open events database {self.path}: {error}") from None
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout=5000")
        self._lock = threading.Lock()  # one connection, usable from any thread (a web server's)
        self._stages = itertools.count()

    def builder(self) -> Builder:
        catalog: dict[str, set[str]] = {"log": set(), "resource": set()}
        for kind, key in self.rows("SELECT Kind, Key FROM otel_attribute_keys", {}):
            catalog.setdefault(kind, set()).add(key)
        return SQLiteBuilder(SetCatalog(catalog["log"], catalog["resource"]))

    def rows(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            return [tuple(row) for row in self._db.execute(sql, params)]

    @contextmanager
    def staged(self, b: Builder, select: str, index: Sequence[str] = ()) -> Iterator[str]:
        """A temporary table in memory, private to this connection, dropped afterwards."""
        name = f"insight_base_{next(self._stages)}"
        with self._lock:
            self._db.execute(f"CREATE TEMP TABLE {name} AS {b.with_([])}{select}", b.params)
            if index:
                self._db.execute(f"CREATE INDEX temp.{name}_index ON {name} ({', '.join(index)})")
        try:
            yield name
        finally:
            with self._lock:
                self._db.execute(f"DROP TABLE IF EXISTS temp.{name}")

    @contextmanager
    def grouped(
        self, b: Builder, keys: Sequence[GroupKey], condition: str, *, weighted: bool
    ) -> Iterator[str]:
        """As :meth:`Source.grouped`, but each row is inserted into a temporary table keyed by the
        groups (an upsert adds its weight), instead of a ``GROUP BY``: SQLite groups by sorting,
        and sorting a million records' (day, user) pairs costs twice as much as looking each up
        in a B-tree. A WITHOUT ROWID key cannot be NULL, so NULL is kept as ``X''`` (an empty
        blob, which no text or number equals) and turned back into NULL by a view."""
        name = f"insight_base_{next(self._stages)}"
        stored = [f"k{i}" for i in range(len(keys))]
        columns = [f"{column} NOT NULL" for column in stored] + (["w"] if weighted else [])
        values = [f"COALESCE({key.expression}, X'')" if key.nullable else key.expression for key in keys] + (
            [b.weight_each()] if weighted else []
        )
        conflict = "DO UPDATE SET w = w + excluded.w" if weighted else "DO NOTHING"
        shown = [
            f"NULLIF({column}, X'') AS {key.name}" if key.nullable else f"{column} AS {key.name}"
            for column, key in zip(stored, keys, strict=True)
        ] + (["w"] if weighted else [])
        with self._lock:
            self._db.execute(
                f"CREATE TEMP TABLE {name}_groups ({', '.join(columns)}, "
                f"PRIMARY KEY ({', '.join(stored)})) WITHOUT ROWID"
            )
            try:
                self._db.execute(
                    f"INSERT INTO temp.{name}_groups ({', '.join(stored + (['w'] if weighted else []))}) "
                    f"{b.with_([])}SELECT {', '.join(values)} FROM {b.source()} WHERE {condition} "
                    f"ON CONFLICT {conflict}",
                    b.params,
                )
                self._db.execute(
                    f"CREATE TEMP VIEW {name} AS SELECT {', '.join(shown)} FROM temp.{name}_groups"
                )
            except BaseException:
                self._db.execute(f"DROP TABLE IF EXISTS temp.{name}_groups")
                raise
        try:
            yield name
        finally:
            with self._lock:
                self._db.execute(f"DROP VIEW IF EXISTS temp.{name}")
                self._db.execute(f"DROP TABLE IF EXISTS temp.{name}_groups")

    def close(self) -> None:
        with self._lock:
            self._db.close()


# -- ClickHouse (chDB and servers) --------------------------------------------------------------


class _ProbedCatalog(KeyCatalog):
    """Asks the table whether a key exists (the exporter's bloom-filter indexes on map keys make
    that quick); the source remembers a found key for :data:`PROBE_TTL_S`, so a long-lived source
    (the web page's) notices within that time that a key also appeared in the other kind."""

    def __init__(self, source: ClickHouseSource) -> None:
        self._source = source
        self._kinds = source.probed

    def kinds(self, key: str) -> tuple[bool, bool]:
        known = self._kinds.get(key)
        if known is not None and time.monotonic() - known[1] < PROBE_TTL_S:
            return known[0]
        probes = ", ".join(
            f"(SELECT count() FROM (SELECT 1 FROM {self._source.table} "
            f"WHERE mapContains({column}, {{k:String}}) LIMIT 1))"
            for column in ("LogAttributes", "ResourceAttributes")
        )
        [(log, resource)] = self._source.rows(f"SELECT {probes}", {"k": key})
        answer = (bool(int(log)), bool(int(resource)))
        if any(answer):  # an unknown key is asked again next time: it may have arrived since
            self._kinds[key] = (answer, time.monotonic())
        return answer

    def known(self) -> set[str]:
        sql = (
            "SELECT arrayDistinct(arrayConcat(groupArrayArray(mapKeys(LogAttributes)), "
            "groupArrayArray(mapKeys(ResourceAttributes)))) "
            f"FROM (SELECT * FROM {self._source.table} LIMIT 10000)"
        )
        rows = self._source.rows(sql, {})
        return {str(key) for key in rows[0][0]} if rows else set()


class ClickHouseSource(Source):
    """Shared by chDB and servers: the same SQL, different transports."""

    table = ""

    @contextmanager
    def staged(self, b: Builder, select: str, index: Sequence[str] = ()) -> Iterator[str]:
        """A temporary in-memory table of the session (chDB's, or the HTTP session of
        clickhouse-connect), so the insight's queries do not each scan the events again."""
        if not hasattr(self, "_stages"):
            self._stages = itertools.count()
        name = f"insight_base_{next(self._stages)}"
        self.execute(f"CREATE TEMPORARY TABLE {name} ENGINE = Memory AS {select}", b.params)
        try:
            yield name
        finally:
            self.execute(f"DROP TEMPORARY TABLE IF EXISTS {name}", {})

    def execute(self, sql: str, params: dict[str, Any]) -> None:
        """A statement without a result."""
        self.rows(sql, params)

    @property
    def probed(self) -> dict[str, tuple[tuple[bool, bool], float]]:
        """key -> ((is a log attribute key, is a resource attribute key), when probed)."""
        if not hasattr(self, "_probed"):
            self._probed: dict[str, tuple[tuple[bool, bool], float]] = {}
        return self._probed

    def builder(self) -> Builder:
        return ClickHouseBuilder(_ProbedCatalog(self), self.table)


def tsv_escape(value: str) -> str:
    """A parameter value in ClickHouse's escaped text form (how ``{name:String}`` values are read)."""
    return (
        value.replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\0", "\\0")
    )


class ChdbSource(ClickHouseSource):
    """A chDB directory written by ``serve --db chdb:PATH`` (or holding the exporter's table)."""

    kind = "chdb"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        if not Path(self.path).is_dir():
            raise InsightsError(f"no chDB database at {self.path} (serve --db chdb:PATH creates one)")
        try:
            self._session: Any = chdb_session(self.path)
        except (ChdbMissing, ChdbBusy) as error:
            raise InsightsError(str(error)) from None
        self.table = f"{CHDB_DATABASE}.{CHDB_TABLE}"
        if not self.rows(f"EXISTS TABLE {self.table}", {})[0][0]:
            self.close()
            raise InsightsError(f"{self.path} has no {self.table} table: not an otel-telemetry chDB store")

    def rows(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        bound = {
            key: tsv_escape(value) if isinstance(value, str) else str(value) for key, value in params.items()
        }
        result = self._session.query(sql, "JSONCompact", params=bound)
        text = result.bytes()
        if not text:
            return []
        return [tuple(row) for row in json.loads(text)["data"]]

    def close(self) -> None:
        if getattr(self, "_session", None) is not None:
            release_chdb_session(self.path)
            self._session = None


@dataclass(frozen=True)
class ServerSpec:
    """Where a ClickHouse server is, parsed from ``clickhouse://`` / ``http(s)://`` URLs."""

    host: str
    port: int
    secure: bool
    username: str
    password: str
    database: str
    table: str


def parse_server_url(url: str) -> ServerSpec:
    """``clickhouse[s]://user:password@host:port/database?table=NAME`` or ``http(s)://...``.

    The HTTP interface is used in every case (port 8123, or 8443 with TLS, by default).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("clickhouse", "clickhouses", "http", "https"):
        raise InsightsError(f"bad --db {url!r}: expected clickhouse://, clickhouses://, http:// or https://")
    secure = scheme in ("clickhouses", "https")
    if not parts.hostname:
        raise InsightsError(f"bad --db {url!r}: no host")
    try:
        port = parts.port or (8443 if secure else 8123)
    except ValueError:
        raise InsightsError(f"bad --db {url!r}: the port is not a number from 1 to 65535") from None
    query = parse_qs(parts.query)
    database = unquote(parts.path.strip("/")) or DEFAULT_DATABASE
    table = query.get("table", [DEFAULT_TABLE])[-1]
    return ServerSpec(
        host=parts.hostname,
        port=port,
        secure=secure,
        username=unquote(parts.username or "default"),
        password=unquote(parts.password or ""),
        database=identifier(database),
        table=identifier(table),
    )


class ServerSource(ClickHouseSource):
    """A ClickHouse server, through clickhouse-connect (HTTP interface)."""

    kind = "clickhouse"

    def __init__(self, url: str, *, client: Any = None) -> None:
        """``client``: an already connected clickhouse-connect client (else one is made from ``url``)."""
        self.spec = parse_server_url(url)
        self.table = f"{self.spec.database}.{self.spec.table}"
        if client is not None:
            self._client = client
            return
        try:
            import clickhouse_connect
        except ImportError:
            raise InsightsError(
                "querying a ClickHouse server needs clickhouse-connect: "
                "pip install 'otel-telemetry[clickhouse]'"
            ) from None
        try:
            self._client = clickhouse_connect.get_client(
                host=self.spec.host,
                port=self.spec.port,
                secure=self.spec.secure,
                username=self.spec.username,
                password=self.spec.password,
                database=self.spec.database,
            )
        except Exception as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise InsightsError(
                f"cannot connect to ClickHouse at {self.spec.host}:{self.spec.port}: {reason}"
            ) from None

    def rows(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._client.query(sql, parameters=params).result_rows]

    def execute(self, sql: str, params: dict[str, Any]) -> None:
        """clickhouse-connect's ``command`` (``query`` would append a FORMAT clause); temporary
        tables live in the HTTP session clickhouse-connect opens for the client."""
        self._client.command(sql, parameters=params)

    def close(self) -> None:
        self._client.close()


def open_source(db: str | os.PathLike[str]) -> Source:
    """The source named by ``db`` (see the module docstring)."""
    text = os.fspath(db)
    lowered = text.lower()
    if lowered.startswith(("clickhouse://", "clickhouses://", "http://", "https://")):
        return ServerSource(text)
    if lowered.startswith("chdb:"):
        return ChdbSource(text[len("chdb:") :])
    if lowered.startswith("sqlite:"):
        return SQLiteSource(text[len("sqlite:") :])
    return SQLiteSource(text)
