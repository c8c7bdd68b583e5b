"""One query model, two SQL dialects: SQLite (the local store) and ClickHouse (chDB or a server,
over the contrib exporter's ``otel_logs``-shaped table).

An insight asks a :class:`Builder` for expressions (an attribute's value as text, the time
bucket, the weight of an event, a distinct count...) and writes the rest of its SQL around them
in the syntax both engines share. Every value a user typed, and every attribute key, is a bound
parameter (``:p0`` for SQLite, ``{p0:String}`` for ClickHouse): it can never change the query.

Attribute values compare and group as text, the same on both engines: strings as themselves,
``true``/``false``, integers in decimal, doubles as SQLite prints them (the chDB store writes
them so, :func:`otel_telemetry.store.rows.as_text`), arrays and maps as compact JSON.
"""

from __future__ import annotations

import difflib
import re
from abc import ABC, abstractmethod
from typing import Any

from .errors import InsightsError

#: The log attribute a sampler stamps on kept records (issue 14): each counts as 1/rate events.
SAMPLE_RATE_KEY = "otel_telemetry.sample_rate"
INSTALLATION_KEY = "app.installation.id"
USER_KEY = "user.hash"

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Keys SQLite's JSON path can address: no quote, backslash or control character (JSON escapes those).
_PATH_SAFE = re.compile(r'^[^"\\\x00-\x1f]*$')


class KeyCatalog(ABC):
    """Which attribute keys exist as log attributes and as resource attributes."""

    @abstractmethod
    def kinds(self, key: str) -> tuple[bool, bool]:
        """(is a log attribute key, is a resource attribute key) of some stored event."""

    @abstractmethod
    def known(self) -> set[str]:
        """Keys seen (for "did you mean" hints; may be a sample)."""


class SetCatalog(KeyCatalog):
    """Keys listed in full (the SQLite store keeps them in ``otel_attribute_keys``)."""

    def __init__(self, log: set[str], resource: set[str]) -> None:
        self.log = log
        self.resource = resource

    def kinds(self, key: str) -> tuple[bool, bool]:
        return key in self.log, key in self.resource

    def known(self) -> set[str]:
        return self.log | self.resource


def identifier(name: str) -> str:
    """A database or table name from configuration, checked (it cannot be a bound parameter)."""
    if not _IDENTIFIER.match(name):
        raise InsightsError(f"bad table or database name {name!r}: letters, digits and _ only")
    return name


class Builder(ABC):
    """Expressions for one query; collects its parameters."""

    def __init__(self, catalog: KeyCatalog) -> None:
        self.catalog = catalog
        self.params: dict[str, Any] = {}

    def bind(self, value: Any, ch_type: str = "String") -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return self._placeholder(name, ch_type)

    @abstractmethod
    def _placeholder(self, name: str, ch_type: str) -> str: ...

    # -- columns ---------------------------------------------------------------------------

    @property
    @abstractmethod
    def name(self) -> str:
        """The event name column."""

    @property
    @abstractmethod
    def time_ns(self) -> str:
        """The event time as Unix nanoseconds (an integer)."""

    @abstractmethod
    def since(self, ns: int) -> str:
        """Condition: the event is at or after ``ns``."""

    @abstractmethod
    def until(self, ns: int) -> str:
        """Condition: the event is before ``ns``."""

    @abstractmethod
    def bucket(self, interval: str) -> str:
        """The start (Unix seconds, an integer) of the event's hour/day/week/month, UTC."""

    @abstractmethod
    def log_text(self, key: str) -> str:
        """The log attribute ``key`` as text, NULL when absent."""

    @abstractmethod
    def resource_text(self, key: str) -> str:
        """The resource attribute ``key`` as text, NULL when absent."""

    @abstractmethod
    def weight(self) -> str | None:
        """What one event counts for (1/sample rate), or None when every event counts 1."""

    @abstractmethod
    def count_distinct(self, expression: str) -> str: ...

    @abstractmethod
    def source(self) -> str:
        """The FROM clause (after every expression was asked for)."""

    def ctes(self) -> list[str]:
        """Common table expressions the FROM clause needs (``name AS (...)``)."""
        return []

    materialized = ""

    # -- shared ----------------------------------------------------------------------------

    def attr(self, key: str) -> str:
        """``key`` looked up in the log attributes first, then in the resource attributes."""
        log, resource = self.catalog.kinds(key)
        if log and resource:
            return f"COALESCE({self.log_text(key)}, {self.resource_text(key)})"
        if log:
            return self.log_text(key)
        if resource:
            return self.resource_text(key)
        raise unknown_key(key, self.catalog)

    def installation(self) -> str:
        return self.resource_text(INSTALLATION_KEY)

    def user(self) -> str:
        return self.attr(USER_KEY) if any(self.catalog.kinds(USER_KEY)) else "NULL"

    def actor(self, count: str) -> str:
        """What ``--count installations|users`` counts distinct values of."""
        return self.installation() if count == "installations" else self.user()

    def measure(self, count: str) -> str:
        """The aggregate for ``--count``: weighted events, distinct installations or users."""
        if count == "events":
            weight = self.weight()
            return "SUM(1)" if weight is None else f"SUM({weight})"
        if count == "installations":
            return self.count_distinct(self.installation())
        return self.count_distinct(self.user())

    def in_list(self, expression: str, values: list[str]) -> str:
        return f"{expression} IN ({', '.join(self.bind(v) for v in values)})"

    def with_(self, own: list[str]) -> str:
        ctes = self.ctes() + own
        return f"WITH {', '.join(ctes)} " if ctes else ""


def unknown_key(key: str, catalog: KeyCatalog) -> InsightsError:
    close = difflib.get_close_matches(key, sorted(catalog.known()), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return InsightsError(f"unknown key {key!r}: no stored event has it as a log or resource attribute{hint}")


# -- SQLite -------------------------------------------------------------------------------------


def _sqlite_text(value: str, kind: str) -> str:
    """A JSON value (``value`` typed by json_extract/json_each, ``kind`` its JSON type) as text."""
    return (
        f"CASE {kind} WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN NULL "
        f"ELSE CAST({value} AS TEXT) END"
    )


class SQLiteBuilder(Builder):
    """Over ``otel_log_records AS l``; resource attributes are read once per resource, in a
    materialised CTE joined by ``ResourceId`` (an installation's resource is shared by its events)."""

    materialized = "MATERIALIZED "

    def __init__(self, catalog: KeyCatalog) -> None:
        super().__init__(catalog)
        self._resource_columns: dict[str, str] = {}

    def _placeholder(self, name: str, ch_type: str) -> str:
        return f":{name}"

    name = "l.EventName"
    time_ns = "l.Timestamp"

    def since(self, ns: int) -> str:
        return f"l.Timestamp >= {self.bind(ns, 'Int64')}"

    def until(self, ns: int) -> str:
        return f"l.Timestamp < {self.bind(ns, 'Int64')}"

    def bucket(self, interval: str) -> str:
        seconds = "(l.Timestamp / 1000000000)"
        if interval == "hour":
            return f"({seconds} / 3600 * 3600)"
        if interval == "day":
            return f"({seconds} / 86400 * 86400)"
        if interval == "week":
            return f"(({seconds} - 345600) / 604800 * 604800 + 345600)"
        return f"CAST(strftime('%s', {seconds}, 'unixepoch', 'start of month') AS INTEGER)"

    def _json_text(self, column: str, key: str) -> str:
        if _PATH_SAFE.match(key):
            path = self.bind(f'$."{key}"')
            return _sqlite_text(f"json_extract({column}, {path})", f"json_type({column}, {path})")
        return (
            f"(SELECT {_sqlite_text('j.value', 'j.type')} FROM json_each({column}) AS j "
            f"WHERE j.key = {self.bind(key)})"
        )

    def log_text(self, key: str) -> str:
        return self._json_text("l.LogAttributes", key)

    def resource_text(self, key: str) -> str:
        column = self._resource_columns.get(key)
        if column is None:
            column = f"r{len(self._resource_columns)}"
            self._resource_columns[key] = column
        return f"r.{column}"

    def weight(self) -> str | None:
        if not self.catalog.kinds(SAMPLE_RATE_KEY)[0]:
            return None
        path = self.bind(f'$."{SAMPLE_RATE_KEY}"')
        rate = f"json_extract(l.LogAttributes, {path})"
        numeric = f"json_type(l.LogAttributes, {path}) IN ('integer', 'real')"
        return f"(CASE WHEN {numeric} AND {rate} > 0 AND {rate} <= 1 THEN 1.0 / {rate} ELSE 1 END)"

    def count_distinct(self, expression: str) -> str:
        return f"COUNT(DISTINCT {expression})"

    def ctes(self) -> list[str]:
        if not self._resource_columns:
            return []
        columns = ", ".join(
            f"{self._json_text('ResourceAttributes', key)} AS {column}"
            for key, column in self._resource_columns.items()
        )
        return [f"resource_values AS MATERIALIZED (SELECT ResourceId, {columns} FROM otel_resources)"]

    def source(self) -> str:
        if not self._resource_columns:
            return "otel_log_records AS l"
        # CROSS JOIN keeps the (indexed) records as the outer loop; r gets an automatic index.
        return "otel_log_records AS l CROSS JOIN resource_values AS r ON r.ResourceId = l.ResourceId"


# -- ClickHouse ---------------------------------------------------------------------------------


class ClickHouseBuilder(Builder):
    """Over the exporter's table: ``Map(LowCardinality(String), String)`` attribute columns."""

    def __init__(self, catalog: KeyCatalog, table: str) -> None:
        super().__init__(catalog)
        self.table = table

    def _placeholder(self, name: str, ch_type: str) -> str:
        return f"{{{name}:{ch_type}}}"

    name = "EventName"
    time_ns = "toUnixTimestamp64Nano(Timestamp)"

    def since(self, ns: int) -> str:
        return f"Timestamp >= fromUnixTimestamp64Nano({self.bind(ns, 'Int64')})"

    def until(self, ns: int) -> str:
        return f"Timestamp < fromUnixTimestamp64Nano({self.bind(ns, 'Int64')})"

    def bucket(self, interval: str) -> str:
        seconds = "intDiv(toUnixTimestamp64Nano(Timestamp), 1000000000)"
        if interval == "hour":
            return f"({seconds} - {seconds} % 3600)"
        if interval == "day":
            return f"({seconds} - {seconds} % 86400)"
        if interval == "week":
            return f"({seconds} - ({seconds} - 345600) % 604800)"
        return "toInt64(toUnixTimestamp(toDateTime(toStartOfMonth(Timestamp, 'UTC'), 'UTC')))"

    def _map_text(self, column: str, key: str) -> str:
        bound = self.bind(key)
        return f"if(mapContains({column}, {bound}), {column}[{bound}], NULL)"

    def log_text(self, key: str) -> str:
        return self._map_text("LogAttributes", key)

    def resource_text(self, key: str) -> str:
        return self._map_text("ResourceAttributes", key)

    def weight(self) -> str | None:
        rate = f"toFloat64OrNull(LogAttributes[{self.bind(SAMPLE_RATE_KEY)}])"
        return f"if({rate} > 0 AND {rate} <= 1, 1.0 / {rate}, 1.0)"

    def count_distinct(self, expression: str) -> str:
        return f"uniqExact({expression})"

    def source(self) -> str:
        return self.table
