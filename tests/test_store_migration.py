"""A database written by the first `serve` (schema 1) is migrated to schema 2 when opened, and
nothing in it is lost.

tests/data/store-schema1.db was written by main's schema-1 EventStore (4ffa5a8), and
store-schema1.json is what that EventStore returned for its events (``StoredEvent.to_json()``):
ids, times, protocol, attributes and resource with their types, body, trace context, scope.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from otel_telemetry.cli import main
from otel_telemetry.insights import breakdown, open_source
from otel_telemetry.store import EventQuery, EventStore, NotAnEventStore

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
        assert db.execute("SELECT value FROM store_meta WHERE key='schema_version'").fetchone()[0] == "2"
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
