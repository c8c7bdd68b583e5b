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

from ..store.schema import USER_KEY, json_as_text
from .errors import InsightsError

#: The log attribute a sampler stamps on kept records (issue 14): each counts as 1/rate events.
SAMPLE_RATE_KEY = "otel_telemetry.sample_rate"
INSTALLATION_KEY = "app.installation.id"

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
    def event_in(self, names: list[str]) -> str:
        """Condition: the event's name is one of ``names``."""

    @abstractmethod
    def weight_sum(self) -> str:
        """The aggregate of what the events count for (their number, scaled by sample rates)."""

    @abstractmethod
    def weight_each(self) -> str:
        """What each row of :meth:`source` counts for (to be summed)."""

    @abstractmethod
    def source(self) -> str:
        """The FROM clause (after every expression was asked for)."""

    def ctes(self) -> list[str]:
        """Common table expressions the FROM clause needs (``name AS (...)``)."""
        return []

    materialized = ""
    #: A NULL of the type attribute values have (ClickHouse cannot store an untyped NULL).
    null_text = "NULL"

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
        return self.attr(USER_KEY) if any(self.catalog.kinds(USER_KEY)) else self.null_text

    def actor(self, count: str) -> str:
        """What ``--count installations|users`` counts distinct values of."""
        return self.installation() if count == "installations" else self.user()

    def in_list(self, expression: str, values: list[str]) -> str:
        return f"{expression} IN ({', '.join(self.bind(v) for v in values)})"

    def per_record(self) -> None:  # noqa: B027 (a hint engines may ignore)
        """Hint: the insight's per-record values are (nearly) unique (a user, a timestamp)."""

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
    """Two levels, because JSON is what costs in SQLite.

    The inner level reads ``otel_log_records AS l`` once: the time and name conditions (on the
    indexes), and every per-record value an insight needs (the bucket, the name, a log
    attribute as its JSON text: one parse per record and key), grouped with the record's
    ``ResourceId``, with the count (or weight) of each group. The outer level reads these groups
    (``x``), joined with the resource values (``r``: each resource's attributes parsed once) and
    renders JSON text as insight text. So grouping by ``service.version`` or counting distinct
    installations costs a join of the groups, not a JSON parse per event.
    """

    materialized = "MATERIALIZED "

    def __init__(self, catalog: KeyCatalog) -> None:
        super().__init__(catalog)
        #: Group the inner level (off when its values are nearly unique per record, as a user or a
        #: timestamp: grouping would sort every record for nothing).
        self.group_inner = True
        self._resource_columns: dict[str, str] = {}
        self._inner: dict[str, str] = {}
        self._inner_where: list[str] = []
        self._weight: str | None = None

    def _placeholder(self, name: str, ch_type: str) -> str:
        return f":{name}"

    def _column(self, expression: str) -> str:
        """``expression`` over ``l`` as a column of the inner level (grouped on)."""
        column = self._inner.get(expression)
        if column is None:
            column = f"c{len(self._inner)}"
            self._inner[expression] = column
        return f"x.{column}"

    @property
    def name(self) -> str:
        return self._column("l.EventName")

    @property
    def time_ns(self) -> str:
        return self._column("l.Timestamp")

    def since(self, ns: int) -> str:
        self._inner_where.append(f"l.Timestamp >= {self.bind(ns, 'Int64')}")
        return "1 = 1"

    def until(self, ns: int) -> str:
        # Unary + keeps SQLite off the time index for the end of the range: it is usually "now",
        # true of nearly every record, and reading the table through the index is several times
        # slower than reading it straight. ``since`` (usually selective) may use the index.
        self._inner_where.append(f"+l.Timestamp < {self.bind(ns, 'Int64')}")
        return "1 = 1"

    def event_in(self, names: list[str]) -> str:
        self._inner_where.append(f"l.EventName IN ({', '.join(self.bind(n) for n in names)})")
        return "1 = 1"

    def bucket(self, interval: str) -> str:
        seconds = "(l.Timestamp / 1000000000)"
        if interval == "hour":
            return self._column(f"({seconds} / 3600 * 3600)")
        if interval == "day":
            return self._column(f"({seconds} / 86400 * 86400)")
        if interval == "week":
            return self._column(f"(({seconds} - 345600) / 604800 * 604800 + 345600)")
        return self._column(f"CAST(strftime('%s', {seconds}, 'unixepoch', 'start of month') AS INTEGER)")

    def _json_text(self, column: str, key: str) -> str:
        """``key`` of the JSON object ``column`` as insight text (for resources: once per resource)."""
        if _PATH_SAFE.match(key):
            path = self.bind(f'$."{key}"')
            return _sqlite_text(f"json_extract({column}, {path})", f"json_type({column}, {path})")
        return (
            f"(SELECT {_sqlite_text('j.value', 'j.type')} FROM json_each({column}) AS j "
            f"WHERE j.key = {self.bind(key)})"
        )

    def log_text(self, key: str) -> str:
        if _PATH_SAFE.match(key):
            raw = f"(l.LogAttributes -> {self.bind(f'$.{chr(34)}{key}{chr(34)}')})"
        else:  # a key JSON paths cannot name: found by json_each, written back as JSON text
            raw = (
                "(SELECT CASE WHEN j.type IN ('true', 'false', 'null') THEN j.type "
                "WHEN j.type IN ('object', 'array') THEN j.value "
                "WHEN j.type = 'text' THEN json_quote(j.value) ELSE CAST(j.value AS TEXT) END "
                f"FROM json_each(l.LogAttributes) AS j WHERE j.key = {self.bind(key)})"
            )
        return json_as_text(self._column(raw))

    def resource_text(self, key: str) -> str:
        column = self._resource_columns.get(key)
        if column is None:
            column = f"r{len(self._resource_columns)}"
            self._resource_columns[key] = column
        return f"r.{column}"

    def user(self) -> str:
        """The record's ``UserKey`` (``otel_users`` numbers each distinct ``user.hash``): counting
        distinct small integers instead of parsing JSON. Only when ``user.hash`` is also a resource
        attribute somewhere (looked up after the log attribute) is it read as text."""
        if self.catalog.kinds(USER_KEY) == (True, False):
            return self._column("l.UserKey")
        return super().user()

    def weight(self) -> str | None:
        if not self.catalog.kinds(SAMPLE_RATE_KEY)[0]:
            return None
        path = self.bind(f'$."{SAMPLE_RATE_KEY}"')
        rate = f"json_extract(l.LogAttributes, {path})"
        numeric = f"json_type(l.LogAttributes, {path}) IN ('integer', 'real')"
        return f"(CASE WHEN {numeric} AND {rate} > 0 AND {rate} <= 1 THEN 1.0 / {rate} ELSE 1 END)"

    def per_record(self) -> None:
        """The insight's per-record values are (nearly) unique: do not group the records first."""
        self.group_inner = False

    def weight_sum(self) -> str:
        return f"SUM({self.weight_each()})"

    def weight_each(self) -> str:
        if self._weight is None:
            self._weight = self.weight() or "1"
        return "x.w"

    def count_distinct(self, expression: str) -> str:
        return f"COUNT(DISTINCT {expression})"

    def ctes(self) -> list[str]:
        columns = [f"{expression} AS {column}" for expression, column in self._inner.items()]
        if self._resource_columns:
            columns.append("l.ResourceId AS rid")
        grouped = ", ".join(str(i + 1) for i in range(len(columns))) if self.group_inner else ""
        columns.append(
            f"SUM({self._weight or '1'}) AS w" if self.group_inner else f"{self._weight or '1'} AS w"
        )
        where = " AND ".join(self._inner_where) or "1 = 1"
        # Grouped, the inner level is worth materializing (far fewer rows); per record, it is read
        # once, straight from the table.
        materialized = "MATERIALIZED" if grouped else "NOT MATERIALIZED"
        ctes = [
            f"x AS {materialized} (SELECT {', '.join(columns)} FROM otel_log_records AS l WHERE {where}"
            f"{' GROUP BY ' + grouped if grouped else ''})"
        ]
        if self._resource_columns:
            values = ", ".join(
                f"{self._json_text('ResourceAttributes', key)} AS {column}"
                for key, column in self._resource_columns.items()
            )
            ctes.append(f"resource_values AS MATERIALIZED (SELECT ResourceId, {values} FROM otel_resources)")
        return ctes

    def source(self) -> str:
        if not self._resource_columns:
            return "x"
        # CROSS JOIN keeps the groups as the outer loop; r gets an automatic index.
        return "x CROSS JOIN resource_values AS r ON r.ResourceId = x.rid"


# -- ClickHouse ---------------------------------------------------------------------------------


class ClickHouseBuilder(Builder):
    """Over the exporter's table: ``Map(LowCardinality(String), String)`` attribute columns."""

    null_text = "CAST(NULL AS Nullable(String))"

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
        if not self.catalog.kinds(SAMPLE_RATE_KEY)[0]:  # else every row's map would be read for nothing
            return None
        rate = f"toFloat64OrNull(LogAttributes[{self.bind(SAMPLE_RATE_KEY)}])"
        return f"if({rate} > 0 AND {rate} <= 1, 1.0 / {rate}, 1.0)"

    def count_distinct(self, expression: str) -> str:
        return f"uniqExact({expression})"

    def event_in(self, names: list[str]) -> str:
        return self.in_list(self.name, names)

    def weight_sum(self) -> str:
        return f"SUM({self.weight_each()})"

    def weight_each(self) -> str:
        return self.weight() or "1"

    def source(self) -> str:
        return self.table
