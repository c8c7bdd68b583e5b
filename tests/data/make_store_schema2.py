"""How store-schema2.db and store-schema2.json were made: by the schema-2 ``EventStore`` of main at
a55e151, checked out at /work/main (``python make_store_schema2.py store-schema2.db store-schema2.json``).

Users of every kind: ``user.hash`` as a string (three users, one of them twice), an integer, a
double, a boolean, an array, a JSON null, absent, and as a resource attribute. Kept for the record;
the migration test reads the two files it wrote.
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

assert SCHEMA_VERSION == 2


def kvs(attributes):  # type: ignore[no-untyped-def]
    return [KeyValue(key=k, value=reference_any_value(v)) for k, v in attributes.items()]


def req(resource, records):  # type: ignore[no-untyped-def]
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=Resource(attributes=kvs(resource)),
                scope_logs=[ScopeLogs(scope={"name": "otel_telemetry"}, log_records=records)],
            )
        ]
    )


out = sys.argv[1]
store = EventStore(out)
base = 1_793_000_000_000_000_000
hour = 3_600_000_000_000
res_a = {"service.name": "shop", "service.version": "1.0", "app.installation.id": "A"}
res_b = {"service.name": "shop", "service.version": "1.1", "app.installation.id": "B", "user.hash": "team"}
users = ["0f" * 32, "a1" * 32, "0f" * 32, "b2" * 32, 42, 1.5, True, ["x", 1], None]
records = [
    LogRecord(
        event_name="didCreateEntry" if i % 2 else "didStart",
        time_unix_nano=base + i * hour,
        attributes=kvs({"model": "article", "user.hash": user} if user is not None else {"model": "page"}),
    )
    for i, user in enumerate(users)
]
store.add_request("grpc", req(res_a, records[:5]))
store.add_request("http/protobuf", req(res_b, records[5:]))
store.add_request("grpc", req(res_b, [LogRecord(event_name="didPublish", time_unix_nano=base + 20 * hour)]))
events = [e.to_json() for e in store.events()]
store.close()
db = sqlite3.connect(out)
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.execute("PRAGMA journal_mode=DELETE")
db.close()
with open(sys.argv[2], "w", encoding="utf-8") as file:
    json.dump(events, file, indent=1, ensure_ascii=False, sort_keys=True)
