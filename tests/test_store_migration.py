"""A database written by an older `serve` (schema 1, or 2) is migrated to schema 3 when opened,
and nothing in it is lost.

tests/data/store-schema1.db was written by main's schema-1 EventStore (4ffa5a8), and
store-schema1.json is what that EventStore returned for its events (``StoredEvent.to_json()``):
ids, times, protocol, attributes and resource with their types, body, trace context, scope.
tests/data/store-schema2.db and .json likewise by the schema-2 EventStore (a55e151), with users
(``user.hash``) of every type.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telemetry_helpers import reference_any_value

from otel_telemetry.cli import main
from otel_telemetry.insights import breakdown, funnel, open_source, retention, trends
from otel_telemetry.store import EventQuery, EventStore, NotAnEventStore
from otel_telemetry.store.rows import as_text
from otel_telemetry.store.schema import FILL_USER_KEYS, RECORD_COLUMNS

DATA = Path(__file__).parent / "data"


@pytest.fixture
def schema1(tmp_path: Path) -> Path:
    path = tmp_path / "events.db"
    shutil.copy(DATA / "store-schema1.db", path)
    return path


def expected() -> list[dict[str, Any]]:
    return json.loads((DATA / "store-schema1.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def normalised(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """JSON round trip (the fixture went through json.dump: NaN-free, tuples as lists)."""
    return json.loads(json.dumps(events, sort_keys=True))  # type: ignore[no-any-return]


def test_the_file_really_is_schema_1(schema1: Path) -> None:
    with sqlite3.connect(schema1) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "events" in tables and "otel_log_records" not in tables
        assert db.execute("SELECT value FROM store_meta WHERE key='schema_version'").fetchone()[0] == "1"


def test_opening_migrates_and_every_event_reads_back_as_before(schema1: Path) -> None:
    with EventStore(schema1) as store:
        events = [event.to_json() for event in store.events()]
        assert store.newest_id() == 5
    assert normalised(events) == expected()
    with sqlite3.connect(schema1) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        assert "events" not in tables and {"otel_log_records", "otel_resources", "otel_events"} <= tables
        assert db.execute("SELECT value FROM store_meta WHERE key='schema_version'").fetchone()[0] == "3"
        # the exporter's columns, through the view
        row = db.execute(
            "SELECT EventName, TraceId, SpanId, TraceFlags, SeverityText, SeverityNumber, ServiceName, "
            "json_extract(LogAttributes, '$.\"user.role\"'), json_extract(ResourceAttributes, '$.database') "
            "FROM otel_events WHERE EventName = 'didCreateEntry'"
        ).fetchone()
        assert row == (
            "didCreateEntry",
            "000102030405060708090a0b0c0d0e0f",
            "0001020304050607",
            1,
            "INFO",
            9,
            "shop",
            "admin",
            "postgres",
        )
        keys = set(db.execute("SELECT Kind, Key FROM otel_attribute_keys"))
        assert ("log", "model") in keys and ("resource", "app.installation.id") in keys


def test_a_migrated_store_keeps_working_for_writes_ids_filters_and_insights(schema1: Path) -> None:
    with EventStore(schema1) as store:
        store.add_request("grpc", _request())
        assert store.newest_id() == 6  # ids continue after the migrated ones
        assert store.count(EventQuery(names=("didStart",))) == 2
        assert [e.event_name for e in store.events(EventQuery(after_id=5))] == ["afterMigration"]
    with open_source(schema1) as src:
        rows = breakdown(src, "model", events=["didStart", "didPublish"])["rows"]
        assert [(r["value"], r["count"]) for r in rows] == [("article", 1), ("page", 1), (None, 1)]


def test_read_only_commands_migrate_too(schema1: Path) -> None:
    result = CliRunner().invoke(main, ["events", "--db", str(schema1), "--json", "--limit", "10"])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 5


def test_a_failed_migration_changes_nothing(schema1: Path) -> None:
    with sqlite3.connect(schema1) as db:  # an index name the migration will try to create
        db.execute("CREATE TABLE otel_log_records_by_time (x)")
    with pytest.raises(sqlite3.Error):
        EventStore(schema1)
    with sqlite3.connect(schema1) as db:
        assert db.execute("SELECT value FROM store_meta WHERE key='schema_version'").fetchone()[0] == "1"
        assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 5


def test_a_newer_schema_is_refused(schema1: Path) -> None:
    with sqlite3.connect(schema1) as db:
        db.execute("UPDATE store_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(NotAnEventStore, match="schema version 99"):
        EventStore(schema1)


def _request() -> Any:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs

    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                scope_logs=[ScopeLogs(log_records=[LogRecord(event_name="afterMigration", time_unix_nano=1)])]
            )
        ]
    )


# -- schema 2 -> 3: users numbered ----------------------------------------------------------------


@pytest.fixture
def schema2(tmp_path: Path) -> Path:
    path = tmp_path / "events2.db"
    shutil.copy(DATA / "store-schema2.db", path)
    return path


def users_of_records(path: Path) -> dict[int, str | None]:
    """Each record's user, as the store numbered it: record id -> the user's text (None: no key)."""
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT l.Id, u.UserHash FROM otel_log_records AS l "
            "LEFT JOIN otel_users AS u ON u.UserKey = l.UserKey"
        )
        return dict(rows.fetchall())


def test_a_schema_2_file_is_migrated_and_every_event_reads_back_as_before(schema2: Path) -> None:
    with sqlite3.connect(schema2) as db:
        assert db.execute("SELECT value FROM store_meta WHERE key='schema_version'").fetchone()[0] == "2"
    with EventStore(schema2) as store:
        events = [event.to_json() for event in store.events()]
    before = json.loads((DATA / "store-schema2.json").read_text(encoding="utf-8"))
    assert normalised(events) == before
    with sqlite3.connect(schema2) as db:
        assert db.execute("SELECT value FROM store_meta WHERE key='schema_version'").fetchone()[0] == "3"
        view = [row[1] for row in db.execute("PRAGMA table_info(otel_events)")]
        assert "UserKey" not in view and "LogAttributes" in view
    # every record points at its user.hash as the insights compare it (as_text); the rest at nothing
    expected = {
        event["id"]: as_text(event["record"]["attributes"]["user.hash"])
        if event["record"]["attributes"].get("user.hash") is not None
        else None
        for event in before
    }
    assert users_of_records(schema2) == expected
    assert len(set(expected.values()) - {None}) == 7  # three hashes (one twice), 42, 1.5, true, ["x",1]


def test_insights_on_a_migrated_schema_2_file_count_every_user(schema2: Path) -> None:
    until = "2026-10-26"
    with open_source(schema2) as src:
        # user.hash is also a resource attribute there ("team"), looked up after the log attribute
        assert trends(src, interval="month", count="users", until=until)["series"][0]["total"] == 8
        rows = breakdown(src, "user.hash", count="users", until=until)["rows"]
        assert sorted(str(row["value"]) for row in rows) == sorted(
            ["0f" * 32, "a1" * 32, "b2" * 32, "42", "1.5", "true", '["x",1]', "team"]
        )
        # didStart: 0f.. (twice), 42, true, and "team" (the resource's, for the record without one)
        assert funnel(src, ["didStart", "didCreateEntry"], per="user", until=until)["steps"][0]["count"] == 4
        assert retention(src, count="users", period="day", until=until)["cohorts"][0]["size"] == 8


def test_a_failed_schema_2_migration_changes_nothing(schema2: Path) -> None:
    with sqlite3.connect(schema2) as db:  # a table name the migration will try to create
        db.execute("CREATE TEMP TABLE IF NOT EXISTS x (y)")
        db.execute("CREATE TABLE otel_users (clash)")
    with pytest.raises(sqlite3.Error):
        EventStore(schema2)
    with sqlite3.connect(schema2) as db:
        assert db.execute("SELECT value FROM store_meta WHERE key='schema_version'").fetchone()[0] == "2"
        columns = [row[1] for row in db.execute("PRAGMA table_info(otel_log_records)")]
        assert "UserKey" not in columns
        assert db.execute("SELECT COUNT(*) FROM otel_log_records").fetchone()[0] == 10


attribute_values = st.recursive(
    st.one_of(
        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=True, allow_infinity=True),
        st.booleans(),
        st.binary(max_size=8),
    ),
    lambda children: st.lists(children, max_size=3),
    max_leaves=6,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(users=st.lists(attribute_values, min_size=1, max_size=8))
def test_the_migration_numbers_users_as_ingest_does(tmp_path: Path, users: list[Any]) -> None:
    """For user.hash values of any type, the SQL that numbers a migrated file's users gives each
    record the same user text (so the same user) as the Python that numbers them at ingest."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import KeyValue
    from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs

    path = tmp_path / f"users-{abs(hash(repr(users)))}.db"
    records = [
        LogRecord(event_name="e", time_unix_nano=i + 1, attributes=[KeyValue(key="user.hash", value=value)])
        for i, value in enumerate(reference_any_value(u) for u in users)
    ]
    scope_logs = [ScopeLogs(log_records=records)]
    request = ExportLogsServiceRequest(resource_logs=[ResourceLogs(scope_logs=scope_logs)])
    with EventStore(path) as store:
        store.add_request("grpc", request)
    at_ingest = users_of_records(path)
    with sqlite3.connect(path) as db:  # number them again, as a migration does
        db.execute("UPDATE otel_log_records SET UserKey = NULL")
        db.execute("DELETE FROM otel_users")
        for statement in FILL_USER_KEYS:
            db.execute(statement)
    assert users_of_records(path) == at_ingest
    assert len(set(at_ingest.values())) == len({as_text(u) for u in users})
    path.unlink()


def test_records_an_older_writer_stores_after_the_migration_get_their_users(schema2: Path) -> None:
    """An older `serve` still running on the migrated file inserts without UserKey (schema 2's
    INSERT): the store's trigger numbers those users too, so the insights count them."""
    EventStore(schema2).close()  # migrated to 3
    schema2_columns = [c for c in RECORD_COLUMNS if c != "UserKey"]
    with sqlite3.connect(schema2) as db:
        row = db.execute(f"SELECT {', '.join(schema2_columns)} FROM otel_log_records WHERE Id = 1").fetchone()
        for user in ("late-user", 7):
            attributes = json.dumps({"user.hash": user})
            values = dict(zip(schema2_columns, row, strict=True)) | {"LogAttributes": attributes}
            db.execute(
                f"INSERT INTO otel_log_records ({', '.join(schema2_columns)}) "
                f"VALUES ({', '.join('?' for _ in schema2_columns)})",
                list(values.values()),
            )
    users = users_of_records(schema2)
    assert sorted(str(u) for u in list(users.values())[-2:]) == ["7", "late-user"]
    with open_source(schema2) as src:
        assert trends(src, interval="month", count="users", until="2026-10-26")["series"][0]["total"] == 10
