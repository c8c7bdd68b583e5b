"""How store-schema1.db and store-schema1.json were made: by the schema-1 ``EventStore`` of main at
4ffa5a8, checked out at /work/main (``python make_store_schema1.py store-schema1.db store-schema1.json``).

Kept for the record; the migration test reads the two files it wrote.
"""

import json
import sqlite3
import sys

sys.path.insert(0, "/work/main")
sys.path.insert(0, "/work/main/tests")

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from telemetry_helpers import reference_any_value

from otel_telemetry.store import SCHEMA_VERSION, EventStore

assert SCHEMA_VERSION == 1


def kvs(attributes):  # type: ignore[no-untyped-def]
    return [KeyValue(key=k, value=reference_any_value(v)) for k, v in attributes.items()]


def req(resource, records, scope=("otel_telemetry", "0.1.0")):  # type: ignore[no-untyped-def]
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=Resource(attributes=kvs(resource)),
                scope_logs=[ScopeLogs(scope={"name": scope[0], "version": scope[1]}, log_records=records)],
            )
        ]
    )


out = sys.argv[1]
store = EventStore(out)
res1 = {"service.name": "shop", "service.version": "1.0", "app.installation.id": "A", "database": "postgres"}
res2 = {"service.version": "2.0", "app.installation.id": "B", "tags": ["x", "y"], "n": 7}
base = 1_793_000_000_000_000_000
day = 86_400_000_000_000
start_attributes = {"model": "article", "user.hash": "u1", "fields": 3, "ratio": 1.5, "draft": True}
store.add_request(
    "grpc",
    req(
        res1,
        [
            LogRecord(event_name="didStart", time_unix_nano=base, attributes=kvs(start_attributes)),
            LogRecord(
                event_name="didCreateEntry",
                time_unix_nano=base + 60_000_000_000,
                observed_time_unix_nano=base + 61_000_000_000,
                severity_number=9,
                severity_text="INFO",
                body=reference_any_value({"k": [1, "two", None]}),
                trace_id=bytes(range(16)),
                span_id=bytes(range(8)),
                flags=1,
                dropped_attributes_count=2,
                attributes=kvs({"blob": b"\x00\xff", "nested": {"a": {"b": 1}}, "user.role": "admin"}),
            ),
        ],
    ),
)
store.add_request(
    "http/json",
    req(
        res2,
        [
            LogRecord(
                event_name="",
                observed_time_unix_nano=base + 3_600_000_000_000,
                attributes=kvs({"nan": float("nan"), "é": "ü"}),
            ),
            LogRecord(event_name="didPublish", time_unix_nano=base + day, attributes=kvs({"model": "page"})),
        ],
        scope=("other", ""),
    ),
)
last = LogRecord(event_name="didStart", time_unix_nano=base + 7 * day)
store.add_request("http/protobuf", req(res1, [last]))
events = [e.to_json() for e in store.events()]
store.close()
db = sqlite3.connect(out)
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.execute("PRAGMA journal_mode=DELETE")
db.close()
with open(sys.argv[2], "w", encoding="utf-8") as file:
    json.dump(events, file, indent=1, ensure_ascii=False, sort_keys=True)
