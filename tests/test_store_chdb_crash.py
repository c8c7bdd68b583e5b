"""`serve --db chdb:DIR` acknowledges a request once its rows are in the store's write-ahead
journal: these tests kill real processes (SIGKILL) at the moments that matter and check that
every acknowledged event is stored exactly once after a restart. chDB is the optional
[clickhouse] extra: these tests skip without it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from test_cli import Running, endpoints

pytest.importorskip("chdb", reason="chDB is the optional [clickhouse] extra")

from otel_telemetry.store import ChdbStore
from otel_telemetry.store.chdb import JOURNAL_DIR, ChdbStoreError, chdb_session, release_chdb_session
from otel_telemetry.store.clickhouse_schema import clickhouse_ddl
from otel_telemetry.store.journal import CHECKPOINT, Journal

DAY_NS = 86400 * 10**9
BASE_NS = 1_793_000_000 * 10**9


def request_of(ids: range, days: int = 1) -> ExportLogsServiceRequest:
    """Records carrying their ``id``, spread over ``days`` days (a batch then spans partitions)."""
    records = [
        LogRecord(
            event_name="didCreateEntry",
            time_unix_nano=BASE_NS + (i % days) * DAY_NS + i,
            attributes=[KeyValue(key="id", value=AnyValue(int_value=i))],
        )
        for i in ids
    ]
    resource = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="shop"))])
    return ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(resource=resource, scope_logs=[ScopeLogs(log_records=records)])]
    )


def stored_ids(directory: Path) -> list[int]:
    """Every stored ``id``, with repeats, read after opening the store (which replays its journal)."""
    with ChdbStore(directory):
        session = chdb_session(str(directory))
        try:
            text = session.query("SELECT LogAttributes['id'] FROM otel.otel_events", "CSV").bytes().decode()
        finally:
            release_chdb_session(str(directory))
    return sorted(int(line.strip('"')) for line in text.split())


def journal_pending(directory: Path) -> int:
    """Journaled bytes past the checkpoint, read from the files (without opening the journal)."""
    journal = directory / JOURNAL_DIR
    stored = json.loads((journal / CHECKPOINT).read_text())["stored"]
    segments = sorted(journal.glob("*.journal"))
    if not segments:
        return 0
    last = segments[-1]
    return int(last.stem) + last.stat().st_size - stored


def test_acknowledged_events_survive_kill_9_of_serve(tmp_path: Path) -> None:
    """A sender posts requests of 200 records over OTLP/HTTP as fast as it can; `serve` is killed
    (SIGKILL) while its journal holds rows not yet in chDB. After a restart of `serve`, every
    acknowledged record is in the table exactly once (and nothing that was never sent)."""
    directory = tmp_path / "served"
    serve = Running("serve", "--grpc-port", "0", "--http-port", "0", "--no-web", "--db", f"chdb:{directory}")
    acknowledged: list[range] = []
    try:
        url = endpoints(serve.stderr_until("Ctrl-C"))["OTLP/HTTP"].rstrip("/") + "/v1/logs"

        def send() -> None:
            for n in range(10_000):
                ids = range(n * 200, (n + 1) * 200)
                post = urllib.request.Request(
                    url,
                    data=request_of(ids).SerializeToString(),
                    headers={"Content-Type": "application/x-protobuf"},
                )
                try:
                    with urllib.request.urlopen(post, timeout=10) as response:
                        assert response.status == 200
                except (OSError, urllib.error.URLError):
                    return  # the server died: this request was not acknowledged
                acknowledged.append(ids)
                if len(acknowledged) == 60:  # kill right after an acknowledgement: it is only journaled
                    os.kill(serve.proc.pid, signal.SIGKILL)

        sender = threading.Thread(target=send)
        sender.start()
        sender.join(120)
        assert not sender.is_alive()
        assert serve.proc.wait(10) == -signal.SIGKILL
    finally:
        serve.stop()
    pending = journal_pending(directory)
    assert pending > 0  # the crash left acknowledged rows that only the journal holds

    restarted = Running(
        "serve", "--grpc-port", "0", "--http-port", "0", "--no-web", "--db", f"chdb:{directory}"
    )
    try:
        restarted.stderr_until("Ctrl-C")
    finally:
        assert restarted.stop() == 0
    ids = stored_ids(directory)
    assert len(ids) == len(set(ids))  # none twice
    expected = {i for r in acknowledged for i in r}
    assert expected <= set(ids)  # every acknowledged one
    sent = len(acknowledged) + 1  # at most one more request was in flight when the server died
    assert len(acknowledged) >= 60
    assert set(ids) <= set(range(sent * 200))


CRASHING_WRITER = """
import os, signal, sys
from otel_telemetry.store import chdb
sys.path.insert(0, {tests!r})
from test_store_chdb_crash import request_of

point, kill_at = {point!r}, {kill_at}
calls = 0
insert = chdb.ChdbStore._insert

def crashing_insert(self, payload, token):
    global calls
    calls += 1
    if point == "before INSERT" and calls == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    insert(self, payload, token)
    if point == "after INSERT, before the checkpoint" and calls == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

chdb.ChdbStore._insert = crashing_insert
store = chdb.ChdbStore({directory!r}, batch_rows=250)
for n in range(12):
    store.add_request("grpc", request_of(range(n * 100, (n + 1) * 100), days=3))
    print(n, flush=True)  # acknowledged
store.close()
"""


@pytest.mark.parametrize("kill_at", [1, 3])
@pytest.mark.parametrize("point", ["before INSERT", "after INSERT, before the checkpoint"])
def test_a_crash_around_an_insert_neither_loses_nor_doubles_rows(
    tmp_path: Path, point: str, kill_at: int
) -> None:
    """The store's writer is killed (SIGKILL) just before, or just after, its ``kill_at``-th INSERT
    (batches of 250 rows over three days' partitions); reopening inserts every acknowledged row
    exactly once."""
    directory = tmp_path / "store"
    script = CRASHING_WRITER.format(
        tests=str(Path(__file__).parent), point=point, kill_at=kill_at, directory=str(directory)
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr
    acknowledged = len(result.stdout.split())
    assert acknowledged >= 1
    checkpoint = json.loads((directory / JOURNAL_DIR / CHECKPOINT).read_text())
    assert "in_flight" in checkpoint  # killed with a batch begun and not checkpointed
    ids = stored_ids(directory)
    assert len(ids) == len(set(ids))
    assert set(range(acknowledged * 100)) <= set(ids) <= set(range(12 * 100))


def test_a_batch_that_reached_the_table_in_part_is_completed_once(tmp_path: Path) -> None:
    """An INSERT spanning three days writes one block per day; if only the first reached the table
    before a crash, reopening inserts the batch again with its deduplication token and chDB skips
    the block it has."""
    directory = tmp_path / "store"
    with ChdbStore(directory):
        pass
    journal = Journal(directory / JOURNAL_DIR)
    lines = [
        json.dumps(
            {"Timestamp": 1_793_000_000 + day * 86400 + i, "EventName": "e", "LogAttributes": {"id": str(n)}}
        )
        for n, (day, i) in enumerate((day, i) for day in range(3) for i in range(10))
    ]
    journal.append("\n".join(lines).encode(), len(lines))
    batch = journal.read_batch(100, 2**20)
    assert batch is not None and batch.rows == 30
    journal.begin(batch, count_before=0)
    journal.close()
    session = chdb_session(str(directory))
    try:  # the first day's block, as the interrupted INSERT would have committed it
        session.query(
            "INSERT INTO otel.otel_events (Timestamp, EventName, LogAttributes) SETTINGS "
            f"insert_deduplication_token = '{journal.token(batch.start, batch.end)}' FORMAT JSONEachRow\n"
            + "\n".join(lines[:10])
        )
    finally:
        release_chdb_session(str(directory))
    assert stored_ids(directory) == list(range(30))


def test_rows_chdb_rejects_stay_journaled_until_it_takes_them(tmp_path: Path, caplog: Any) -> None:
    """While INSERTs fail, requests are still acknowledged (journaled), the failure is logged and
    retried, a read says why it cannot see them, and a full journal refuses new requests (the
    receiver answers 503, the sender retries). Once chDB takes rows again, all are stored once."""
    store = ChdbStore(tmp_path / "store", max_pending_bytes=20_000, backpressure_timeout_s=0.5)
    try:
        assert store._session is not None
        store._session.query_now("DROP TABLE otel.otel_events")
        assert store.add_request("grpc", request_of(range(100))) == 100
        with pytest.raises(ChdbStoreError, match="not in chDB yet"):
            store.count()
        assert "chDB rejected" in caplog.text
        with pytest.raises(ChdbStoreError, match="behind"):
            store.add_request("grpc", request_of(range(100, 200)))
        store._session.query_now(clickhouse_ddl("otel", "otel_events"))
        assert store.count() == 100
    finally:
        store.close()
    assert stored_ids(tmp_path / "store") == list(range(100))


def test_an_insert_that_fails_after_its_rows_arrived_is_not_repeated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An INSERT can raise after chDB committed its rows (the answer was lost); the retry checks
    the row count first instead of inserting the batch twice."""
    failed: list[str] = []
    insert = ChdbStore._insert

    def answer_lost(self: ChdbStore, payload: bytes, token: str) -> None:
        insert(self, payload, token)
        if not failed:
            failed.append(token)
            raise RuntimeError("connection lost after the commit")

    monkeypatch.setattr(ChdbStore, "_insert", answer_lost)
    with ChdbStore(tmp_path / "store") as store:
        for n in range(5):
            store.add_request("grpc", request_of(range(n * 100, (n + 1) * 100)))
        assert store.count() == 500
    assert failed
    assert stored_ids(tmp_path / "store") == list(range(500))


def test_rows_left_in_the_journal_at_close_are_stored_when_it_reopens(tmp_path: Path, caplog: Any) -> None:
    store = ChdbStore(tmp_path / "store")
    try:
        assert store._session is not None
        store._session.query_now("DROP TABLE otel.otel_events")
        assert store.add_request("grpc", request_of(range(50))) == 50
    finally:
        store.close()  # chDB cannot take them: they stay journaled, and it says so
    assert "stay in" in caplog.text and journal_pending(tmp_path / "store") > 0
    assert stored_ids(tmp_path / "store") == list(range(50))
