"""The events table and its indexes (documented in ``docs/store-schema.md``).

One row per received log record. Attributes, resource and body are JSON text so any property
can be filtered with SQLite's JSON functions; name and time are columns with indexes because
every page and query filters or orders by them.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

#: For every connection.
CONNECTION_PRAGMAS = ("PRAGMA busy_timeout=5000",)
#: For the writer: WAL is stored in the file, so readers (web page, CLI) never block writes;
#: synchronous=NORMAL is durable across process crashes and, with WAL, fast.
WRITER_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL")

DDL = (
    """
    CREATE TABLE IF NOT EXISTS events (
        id                       INTEGER PRIMARY KEY AUTOINCREMENT,
        event_name               TEXT    NOT NULL,
        time_unix_nano           INTEGER NOT NULL,
        observed_time_unix_nano  INTEGER NOT NULL,
        received_unix_nano       INTEGER NOT NULL,
        protocol                 TEXT    NOT NULL,
        service_name             TEXT,
        attributes               TEXT    NOT NULL,
        resource                 TEXT    NOT NULL,
        scope_name               TEXT    NOT NULL,
        scope_version            TEXT    NOT NULL,
        severity_number          INTEGER NOT NULL,
        severity_text            TEXT    NOT NULL,
        body                     TEXT,
        trace_id                 TEXT    NOT NULL,
        span_id                  TEXT    NOT NULL,
        flags                    INTEGER NOT NULL,
        dropped_attributes_count INTEGER NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS events_by_name_time ON events (event_name, time_unix_nano)",
    "CREATE INDEX IF NOT EXISTS events_by_time ON events (time_unix_nano)",
    "CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)

COLUMNS = (
    "event_name",
    "time_unix_nano",
    "observed_time_unix_nano",
    "received_unix_nano",
    "protocol",
    "service_name",
    "attributes",
    "resource",
    "scope_name",
    "scope_version",
    "severity_number",
    "severity_text",
    "body",
    "trace_id",
    "span_id",
    "flags",
    "dropped_attributes_count",
)

INSERT = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
