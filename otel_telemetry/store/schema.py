"""The store's tables, view and indexes (documented in ``docs/store-schema.md``), and the
migration from schema 1.

Column names and meanings are those of the contrib ClickHouse exporter's ``otel_logs`` table
(``Timestamp``, ``EventName``, ``LogAttributes``, ``ResourceAttributes``...), so a query reads the
same against the local store and against production. The view ``otel_events`` has exactly the
exporter's columns; underneath, a resource (the same for every event of an installation) is
stored once in ``otel_resources`` and each record points at it, which makes resource lookups
(``app.installation.id``, ``service.version``) cost one JSON parse per installation instead of
one per event. ``otel_attribute_keys`` lists every attribute key seen, so a query knows at once
whether a key is a log or a resource attribute (or unknown). Values are JSON with their types.

Users are numbered the same way (schema 3): ``otel_users`` holds each distinct log attribute
``user.hash`` once, as insight text (:func:`.rows.as_text`), and each record's local column
``UserKey`` points at it (NULL when the record has none). Counting distinct users per day over a
million records is the slowest thing the insights do; with a small integer per record instead of
a JSON parse and a 64-character hash, it costs a third. ``LogAttributes`` still holds
``user.hash``: nothing moves out of the exporter's columns, and the view does not show the key.
"""

from __future__ import annotations

SCHEMA_VERSION = 3
#: The log attribute numbered in ``otel_users`` (``otel_log_records.UserKey``).
USER_KEY = "user.hash"

#: The name of the view (and of the production table in ``collector-config/gateway.yaml``).
EVENTS_VIEW = "otel_events"

#: For every connection.
CONNECTION_PRAGMAS = ("PRAGMA busy_timeout=5000",)
#: For the writer: WAL is stored in the file, so readers (web page, CLI) never block writes;
#: synchronous=NORMAL is durable across process crashes and, with WAL, fast.
WRITER_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL")

#: Users (schema 3), before the records that point at them.
CREATE_USERS = """
    CREATE TABLE IF NOT EXISTS otel_users (
        UserKey  INTEGER PRIMARY KEY,
        UserHash TEXT NOT NULL UNIQUE
    )
    """

DDL: tuple[str, ...] = (
    CREATE_USERS,
    """
    CREATE TABLE IF NOT EXISTS otel_resources (
        ResourceId         INTEGER PRIMARY KEY,
        ServiceName        TEXT NOT NULL,
        ResourceSchemaUrl  TEXT NOT NULL,
        ResourceAttributes TEXT NOT NULL,
        UNIQUE (ResourceAttributes, ResourceSchemaUrl)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS otel_log_records (
        Id                     INTEGER PRIMARY KEY AUTOINCREMENT,
        Timestamp              INTEGER NOT NULL,
        ObservedTimestamp      INTEGER NOT NULL,
        ReceivedTimestamp      INTEGER NOT NULL,
        Protocol               TEXT    NOT NULL,
        TraceId                TEXT    NOT NULL,
        SpanId                 TEXT    NOT NULL,
        TraceFlags             INTEGER NOT NULL,
        SeverityText           TEXT    NOT NULL,
        SeverityNumber         INTEGER NOT NULL,
        EventName              TEXT    NOT NULL,
        Body                   TEXT,
        ResourceId             INTEGER NOT NULL REFERENCES otel_resources (ResourceId),
        ScopeSchemaUrl         TEXT    NOT NULL,
        ScopeName              TEXT    NOT NULL,
        ScopeVersion           TEXT    NOT NULL,
        ScopeAttributes        TEXT    NOT NULL,
        LogAttributes          TEXT    NOT NULL,
        DroppedAttributesCount INTEGER NOT NULL,
        UserKey                INTEGER REFERENCES otel_users (UserKey)
    )
    """,
    "CREATE INDEX IF NOT EXISTS otel_log_records_by_name_time ON otel_log_records (EventName, Timestamp)",
    "CREATE INDEX IF NOT EXISTS otel_log_records_by_time ON otel_log_records (Timestamp)",
    """
    CREATE TABLE IF NOT EXISTS otel_attribute_keys (
        Kind TEXT NOT NULL,
        Key  TEXT NOT NULL,
        PRIMARY KEY (Kind, Key)
    ) WITHOUT ROWID
    """,
    f"""
    CREATE VIEW IF NOT EXISTS {EVENTS_VIEW} AS
    SELECT
        l.Timestamp                 AS Timestamp,
        l.Timestamp / 1000000000    AS TimestampTime,
        l.TraceId                   AS TraceId,
        l.SpanId                    AS SpanId,
        l.TraceFlags                AS TraceFlags,
        l.SeverityText              AS SeverityText,
        l.SeverityNumber            AS SeverityNumber,
        r.ServiceName               AS ServiceName,
        l.Body                      AS Body,
        r.ResourceSchemaUrl         AS ResourceSchemaUrl,
        r.ResourceAttributes        AS ResourceAttributes,
        l.ScopeSchemaUrl            AS ScopeSchemaUrl,
        l.ScopeName                 AS ScopeName,
        l.ScopeVersion              AS ScopeVersion,
        l.ScopeAttributes           AS ScopeAttributes,
        l.LogAttributes             AS LogAttributes,
        l.EventName                 AS EventName,
        l.Id                        AS Id
    FROM otel_log_records AS l JOIN otel_resources AS r ON r.ResourceId = l.ResourceId
    """,
    "CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)

RECORD_COLUMNS = (
    "Timestamp",
    "ObservedTimestamp",
    "ReceivedTimestamp",
    "Protocol",
    "TraceId",
    "SpanId",
    "TraceFlags",
    "SeverityText",
    "SeverityNumber",
    "EventName",
    "Body",
    "ResourceId",
    "ScopeSchemaUrl",
    "ScopeName",
    "ScopeVersion",
    "ScopeAttributes",
    "LogAttributes",
    "DroppedAttributesCount",
    "UserKey",
)

INSERT_RECORD = (
    f"INSERT INTO otel_log_records ({', '.join(RECORD_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in RECORD_COLUMNS)})"
)
INSERT_RESOURCE = (
    "INSERT INTO otel_resources (ServiceName, ResourceSchemaUrl, ResourceAttributes) VALUES (?, ?, ?) "
    "ON CONFLICT (ResourceAttributes, ResourceSchemaUrl) DO NOTHING"
)
SELECT_RESOURCE = (
    "SELECT ResourceId FROM otel_resources WHERE ResourceAttributes = ? AND ResourceSchemaUrl = ?"
)
INSERT_KEY = "INSERT OR IGNORE INTO otel_attribute_keys (Kind, Key) VALUES (?, ?)"

#: Schema 1 (the ``events`` table of the first ``serve``) -> 2, in one transaction. Every column
#: of schema 1 has its place; schema URLs and scope attributes, which schema 1 did not keep, are
#: empty.
MIGRATE_1_TO_2 = (
    """
    INSERT INTO otel_resources (ServiceName, ResourceSchemaUrl, ResourceAttributes)
    SELECT COALESCE(MAX(service_name), ''), '', resource FROM events GROUP BY resource
    ON CONFLICT (ResourceAttributes, ResourceSchemaUrl) DO NOTHING
    """,
    """
    INSERT INTO otel_log_records (Id, Timestamp, ObservedTimestamp, ReceivedTimestamp, Protocol, TraceId,
        SpanId, TraceFlags, SeverityText, SeverityNumber, EventName, Body, ResourceId, ScopeSchemaUrl,
        ScopeName, ScopeVersion, ScopeAttributes, LogAttributes, DroppedAttributesCount)
    SELECT e.id, e.time_unix_nano, e.observed_time_unix_nano, e.received_unix_nano, e.protocol, e.trace_id,
        e.span_id, e.flags, e.severity_text, e.severity_number, e.event_name, e.body, r.ResourceId, '',
        e.scope_name, e.scope_version, '{}', e.attributes, e.dropped_attributes_count
    FROM events AS e
    JOIN otel_resources AS r ON r.ResourceAttributes = e.resource AND r.ResourceSchemaUrl = ''
    ORDER BY e.id
    """,
    """
    INSERT OR IGNORE INTO otel_attribute_keys (Kind, Key)
    SELECT DISTINCT 'log', j.key FROM otel_log_records AS l, json_each(l.LogAttributes) AS j
    """,
    """
    INSERT OR IGNORE INTO otel_attribute_keys (Kind, Key)
    SELECT DISTINCT 'resource', j.key FROM otel_resources AS r, json_each(r.ResourceAttributes) AS j
    """,
    "DROP TABLE events",
)


def json_as_text(json_text: str) -> str:
    """SQL: a JSON value given as JSON text (what ``->`` returns; NULL when absent) as insight
    text, the same as :func:`.rows.as_text`: strings as themselves, doubles as SQLite prints them,
    ``true``/``false``, integers, arrays and maps as compact JSON; NULL for absent or JSON null."""
    return (
        f"(CASE WHEN {json_text} IS NULL OR {json_text} = 'null' THEN NULL "
        f"WHEN substr({json_text}, 1, 1) = '\"' THEN json_extract({json_text}, '$') "
        f"WHEN json_type({json_text}) = 'real' THEN CAST(json_extract({json_text}, '$') AS TEXT) "
        f"ELSE {json_text} END)"
    )


#: Every record's ``UserKey`` from its ``LogAttributes`` (the last step from schema 1 or 2): each
#: record's user text computed once (one JSON lookup), the users numbered, the records pointed at them.
FILL_USER_KEYS = (
    "CREATE TEMP TABLE migrate_user_text AS "
    f"WITH s AS MATERIALIZED (SELECT Id, LogAttributes -> '$.\"{USER_KEY}\"' AS j FROM otel_log_records) "
    f"SELECT Id, {json_as_text('j')} AS t FROM s WHERE j IS NOT NULL",
    "INSERT OR IGNORE INTO otel_users (UserHash) "
    "SELECT DISTINCT t FROM temp.migrate_user_text WHERE t IS NOT NULL ORDER BY t",
    "UPDATE otel_log_records SET UserKey = u.UserKey FROM temp.migrate_user_text AS m "
    "JOIN otel_users AS u ON u.UserHash = m.t WHERE otel_log_records.Id = m.Id",
    "DROP TABLE temp.migrate_user_text",
)
#: Schema 2 -> 3, before :data:`DDL` (then :data:`FILL_USER_KEYS`).
MIGRATE_2_TO_3 = (
    CREATE_USERS,
    "ALTER TABLE otel_log_records ADD COLUMN UserKey INTEGER REFERENCES otel_users (UserKey)",
)

INSERT_USER = "INSERT OR IGNORE INTO otel_users (UserHash) VALUES (?)"

_NEW_USER = json_as_text(f"(NEW.LogAttributes -> '$.\"{USER_KEY}\"')")
#: A record stored without its ``UserKey`` but with a ``user.hash`` gets it here: written by an
#: older ``serve`` still running on a migrated file, or by other SQL. ``EventStore`` sets the key
#: itself (the trigger then does nothing: its first test fails). A JSON null names no user: the
#: NOT NULL ``UserHash`` makes ``INSERT OR IGNORE`` skip it and the key stays NULL.
USER_KEY_TRIGGER = f"""
    CREATE TRIGGER IF NOT EXISTS otel_log_records_user_key AFTER INSERT ON otel_log_records
    WHEN NEW.UserKey IS NULL AND NEW.LogAttributes -> '$.\"{USER_KEY}\"' IS NOT NULL
    BEGIN
        INSERT OR IGNORE INTO otel_users (UserHash) VALUES ({_NEW_USER});
        UPDATE otel_log_records SET UserKey = (SELECT UserKey FROM otel_users WHERE UserHash = {_NEW_USER})
        WHERE Id = NEW.Id;
    END
    """
DDL = (*DDL, USER_KEY_TRIGGER)
