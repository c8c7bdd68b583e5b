"""`serve --db chdb:DIR` stores events in chDB, in the contrib ClickHouse exporter's table
(the one collector-config/clickhouse/otel_events.sql creates in production), and the insights
read it. chDB is the optional [clickhouse] extra: these tests skip without it.

"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from insights_data import FIXED, requests_for
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from telemetry_helpers import reference_any_value
from test_cli import Running, endpoints, run_cli

from otel_telemetry import DeliverySettings, OTLPExporter, Telemetry
from otel_telemetry.store.clickhouse_schema import clickhouse_ddl

chdb = pytest.importorskip("chdb", reason="chDB is the optional [clickhouse] extra")

from otel_telemetry.store import ChdbStore  # noqa: E402
from otel_telemetry.store.chdb import _INSERT_COLUMNS as INSERT_COLUMNS  # noqa: E402
from otel_telemetry.store.chdb import (  # noqa: E402
    chdb_row,
    chdb_session,
    json_lines,
    release_chdb_session,
    request_lines,
)
from otel_telemetry.store.rows import iter_rows  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PRODUCTION_SQL = REPO / "collector-config" / "clickhouse" / "otel_events.sql"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChdbStore]:
    """chDB runs one directory per process at a time: each test opens and closes its own."""
    with ChdbStore(tmp_path / "store") as chdb_store:
        yield chdb_store


def query(store: ChdbStore, sql: str) -> list[list[Any]]:
    session = chdb_session(str(store.path))
    try:
        return json.loads(session.query(sql, "JSONCompact").bytes())["data"]  # type: ignore[no-any-return]
    finally:
        release_chdb_session(str(store.path))


def test_records_are_stored_as_the_exporter_writes_them(store: ChdbStore) -> None:
    record = LogRecord(
        event_name="didCreateEntry",
        time_unix_nano=1_793_000_000_123_456_789,
        severity_number=9,
        severity_text="INFO",
        body=reference_any_value({"k": [1, "two"]}),
        trace_id=bytes(range(16)),
        span_id=bytes(range(8)),
        flags=1,
        attributes=[
            KeyValue(key=k, value=reference_any_value(v))
            for k, v in {"model": "article", "fields": 3, "draft": True, "ratio": 1.5, "tags": ["a"]}.items()
        ],
    )
    request = ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                schema_url="https://opentelemetry.io/schemas/1.27.0",
                resource=Resource(
                    attributes=[KeyValue(key="service.name", value=reference_any_value("shop"))]
                ),
                scope_logs=[
                    ScopeLogs(scope={"name": "otel_telemetry", "version": "1"}, log_records=[record])
                ],
            )
        ]
    )
    assert store.add_request("grpc", request) == 1
    [row] = query(
        store,
        "SELECT toUnixTimestamp64Nano(Timestamp), toUnixTimestamp(TimestampTime), TraceId, SpanId, "
        "TraceFlags, SeverityText, SeverityNumber, ServiceName, Body, ResourceSchemaUrl, ResourceAttributes, "
        "ScopeName, ScopeVersion, LogAttributes, EventName "
        "FROM otel.otel_events WHERE EventName = 'didCreateEntry'",
    )
    assert row == [
        1_793_000_000_123_456_789,
        1_793_000_000,
        "000102030405060708090a0b0c0d0e0f",
        "0001020304050607",
        1,
        "INFO",
        9,
        "shop",
        '{"k":[1,"two"]}',
        "https://opentelemetry.io/schemas/1.27.0",
        {"service.name": "shop"},
        "otel_telemetry",
        "1",
        {"model": "article", "fields": "3", "draft": "true", "ratio": "1.5", "tags": '["a"]'},
        "didCreateEntry",
    ]


def test_the_production_table_definition_is_the_one_the_store_runs(tmp_path: Path) -> None:
    text = PRODUCTION_SQL.read_text(encoding="utf-8")
    assert clickhouse_ddl("otel", "otel_events", ttl_days=90) in text
    session = chdb_session(str(tmp_path / "prod"))
    try:
        for statement in (s.strip() for s in re.sub(r"--[^\n]*", "", text).split(";")):
            if statement:
                session.query(statement)
        columns = session.query("DESCRIBE TABLE otel.otel_events", "JSONCompact").bytes()
        names = [row[0] for row in json.loads(columns)["data"]]
        assert names[:2] == ["Timestamp", "TimestampTime"] and names[-1] == "EventName"
        indexes = session.query("SELECT name FROM system.data_skipping_indices", "CSV").bytes().decode()
        assert "idx_event_name" in indexes
    finally:
        release_chdb_session(str(tmp_path / "prod"))


def test_gateway_exports_to_the_table_the_definition_creates() -> None:
    import yaml

    gateway = yaml.safe_load((REPO / "collector-config" / "gateway.yaml").read_text(encoding="utf-8"))
    exporter = gateway["exporters"]["clickhouse"]
    assert exporter["logs_table_name"] == "otel_events"
    assert "otel_events" in PRODUCTION_SQL.read_text(encoding="utf-8")
    assert exporter["ttl"] == "2160h"  # 90 days, as the table's TTL


def test_serve_stores_into_chdb_and_insights_read_it(tmp_path: Path) -> None:
    directory = tmp_path / "served"
    serve = Running("serve", "--grpc-port", "0", "--http-port", "0", "--no-web", "--db", f"chdb:{directory}")
    try:
        found = endpoints(serve.stderr_until("Ctrl-C"))
        assert found["database"] == f"chdb:{directory}"
        for protocol, endpoint in (("grpc", found["OTLP/gRPC"]), ("http/protobuf", found["OTLP/HTTP"])):
            telemetry = Telemetry(
                exporter=OTLPExporter(endpoint=endpoint, protocol=protocol),
                delivery=DeliverySettings(schedule_delay_s=0.02, exit_timeout_s=0),
            )
            try:
                for model in ("article", "article", "page"):
                    telemetry.send("didCreateEntry", {"eventProperties": {"model": model}})
                assert telemetry.flush(10)
            finally:
                telemetry.shutdown(1)
    finally:
        assert serve.stop() == 0
    assert "Traceback" not in "\n".join(serve.err_lines)
    result = run_cli("insights", "breakdown", "model", "--db", f"chdb:{directory}", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rows"] == [
        {"value": "article", "count": 4, "share": 0.6667},
        {"value": "page", "count": 2, "share": 0.3333},
    ]


def test_one_session_serves_a_store_and_its_readers_in_one_process(tmp_path: Path) -> None:
    from otel_telemetry.insights import open_source, trends

    with ChdbStore(tmp_path / "shared") as writer:
        for request in requests_for(FIXED):
            writer.add_request("grpc", request)
        with open_source(f"chdb:{tmp_path / 'shared'}") as src:
            answer = trends(src, ["didStart"], interval="week", since="2026-11-02", until="2026-11-22")
        writer.add_request(
            "grpc", requests_for(FIXED[:1])[0]
        )  # the writer still works after the reader closed
        assert writer.count() == len(FIXED) + 1
    assert answer["series"][0]["total"] == 5


# -- the insert encoding ---------------------------------------------------------------------------

text_values = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
any_values = st.recursive(
    st.one_of(
        text_values, st.integers(-(2**63), 2**63 - 1), st.floats(), st.booleans(), st.binary(max_size=4)
    ),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text_values, children, max_size=2),
    max_leaves=5,
)
attribute_sets = st.dictionaries(text_values, any_values, max_size=4)
log_records = st.builds(
    lambda name, t, attributes, body, severity, text, ids: LogRecord(
        event_name=name,
        time_unix_nano=t,
        attributes=[KeyValue(key=k, value=reference_any_value(v)) for k, v in attributes.items()],
        **({"body": reference_any_value(body)} if body is not None else {}),
        severity_number=severity,
        severity_text=text,
        trace_id=ids[0],
        span_id=ids[1],
    ),
    text_values,
    st.integers(1, 2**62),
    attribute_sets,
    st.none() | any_values,
    st.integers(0, 24),
    text_values,
    st.sampled_from([(b"", b""), (bytes(range(16)), bytes(range(8)))]),
)


def request_of_batches(
    batches: list[tuple[dict[str, Any], dict[str, Any], list[LogRecord]]],
) -> ExportLogsServiceRequest:
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                schema_url="https://opentelemetry.io/schemas/1.27.0" if i % 2 else "",
                resource=Resource(
                    attributes=[KeyValue(key=k, value=reference_any_value(v)) for k, v in res.items()]
                ),
                scope_logs=[
                    ScopeLogs(
                        scope={
                            "name": "s",
                            "version": str(i),
                            "attributes": [
                                KeyValue(key=k, value=reference_any_value(v)) for k, v in scope.items()
                            ],
                        },
                        log_records=records,
                    )
                ],
            )
            for i, (res, scope, records) in enumerate(batches)
        ]
    )


request_batches = st.lists(
    st.tuples(attribute_sets, attribute_sets, st.lists(log_records, min_size=1, max_size=4)),
    min_size=1,
    max_size=3,
)


@settings(max_examples=300, deadline=None)
@given(batches=request_batches, received=st.integers(1, 2**62), observed=st.lists(st.integers(0, 2**62)))
def test_the_receivers_encoding_writes_what_the_row_encoding_writes(
    batches: list[tuple[dict[str, Any], dict[str, Any], list[LogRecord]]], received: int, observed: list[int]
) -> None:
    """``request_lines`` (straight from the protobuf, before the acknowledgement) writes exactly
    the text of ``json_lines`` over the decoded rows, for any values and repeated keys."""
    request = request_of_batches(batches)
    records = [log for rl in request.resource_logs for sl in rl.scope_logs for log in sl.log_records]
    for log, seen in zip(records, observed, strict=False):
        log.observed_time_unix_nano = seen
        if seen % 3 == 0:
            log.time_unix_nano = 0  # filed under the observed time, else the arrival time
        if seen % 5 == 0:
            log.attributes.append(KeyValue(key=log.attributes[0].key if log.attributes else "k"))  # empty
    assert request_lines(request, received) == list(json_lines(iter_rows(request, received)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=request_batches)
def test_every_record_is_stored_as_the_exporter_writes_it(
    store: ChdbStore, batches: list[tuple[dict[str, Any], dict[str, Any], list[LogRecord]]]
) -> None:
    """The insert lines written per request (shared resource and scope members encoded once) store
    exactly the row :func:`chdb_row` describes, for any values: hostile text, every type."""
    session = store._session
    session.query(f"TRUNCATE TABLE {store.table}")
    request = request_of_batches(batches)
    assert store.add_request("grpc", request) == sum(len(records) for _, _, records in batches)
    expected = sorted(
        (json.loads(json.dumps(chdb_row(row))) for row in iter_rows(request, 0)),
        key=lambda r: (int(r["Timestamp"]), json.dumps(r, sort_keys=True)),
    )
    columns = ", ".join(
        "toString(toUnixTimestamp64Nano(Timestamp)) AS Timestamp" if c == "Timestamp" else c
        for c in INSERT_COLUMNS
    )
    text = session.query(f"SELECT {columns} FROM {store.table}", "JSONEachRow").bytes().decode()
    stored = sorted(
        (json.loads(line) for line in text.split("\n") if line),
        key=lambda r: (int(r["Timestamp"]), json.dumps(r, sort_keys=True)),
    )
    assert stored == expected
