"""Insights on a ClickHouse server (`--db clickhouse://...` / `http(s)://...`, clickhouse-connect).

There is no ClickHouse server on this machine (Debian's is from 2018, without the Map type), so
no test here talks to one. What is tested: URL parsing, the refusal of names that would have to
be spliced into SQL, a clear error when nothing answers, and the server path's parameters end
to end: clickhouse-connect's own server-side binding (the ``param_*`` values it would send over
HTTP) executed by chDB, a real ClickHouse engine, on the exporter's table, giving the same
answers as the SQLite store.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from insights_data import FIXED, requests_for

from otel_telemetry.insights import InsightsError, breakdown, funnel, open_source, retention, trends
from otel_telemetry.insights.sources import ServerSource, ServerSpec, parse_server_url
from otel_telemetry.store import EventStore


@pytest.mark.parametrize(
    ("url", "spec"),
    [
        (
            "clickhouse://analyst:s%40cret@ch.internal:8124/prod?table=events_v2",
            ServerSpec("ch.internal", 8124, False, "analyst", "s@cret", "prod", "events_v2"),
        ),
        ("clickhouse://ch", ServerSpec("ch", 8123, False, "default", "", "otel", "otel_events")),
        ("clickhouses://ch/otel", ServerSpec("ch", 8443, True, "default", "", "otel", "otel_events")),
        ("http://u@127.0.0.1:18123", ServerSpec("127.0.0.1", 18123, False, "u", "", "otel", "otel_events")),
        (
            "https://ch.example.com/analytics",
            ServerSpec("ch.example.com", 8443, True, "default", "", "analytics", "otel_events"),
        ),
    ],
)
def test_server_urls(url: str, spec: ServerSpec) -> None:
    assert parse_server_url(url) == spec


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("clickhouse://ch/otel?table=x;DROP TABLE y", "bad table or database name"),
        ("clickhouse://ch/my-db", "bad table or database name 'my-db'"),
        ("clickhouse://ch:99999/otel", "the port is not a number"),
        ("clickhouse:///otel", "no host"),
        ("ftp://ch/otel", "expected clickhouse://"),
    ],
)
def test_bad_server_urls_are_clear_errors(url: str, message: str) -> None:
    with pytest.raises(InsightsError, match=message):
        parse_server_url(url)


def test_a_server_that_does_not_answer_is_one_clear_line() -> None:
    pytest.importorskip("clickhouse_connect", reason="clickhouse-connect is the optional [clickhouse] extra")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(InsightsError) as error:
        open_source(f"clickhouse://127.0.0.1:{port}/otel")
    assert str(error.value).startswith(f"cannot connect to ClickHouse at 127.0.0.1:{port}")
    assert "\n" not in str(error.value)


class ChdbAsServer:
    """A clickhouse-connect client stand-in that sends what the real client would: the SQL text and
    the ``param_*`` values of clickhouse-connect's own server-side binding, here to chDB."""

    def __init__(self, session: Any) -> None:
        from clickhouse_connect.driver.binding import bind_query

        self.bind_query = bind_query
        self.session = session
        self.sent: list[tuple[str, dict[str, str]]] = []

    def query(self, sql: str, parameters: dict[str, Any]) -> Any:
        import json

        final_sql, http_params = self.bind_query(sql, parameters)
        assert isinstance(final_sql, str)
        self.sent.append((final_sql, http_params))
        params = {name.removeprefix("param_"): value for name, value in http_params.items()}
        data = json.loads(
            self.session.query(final_sql, "JSONCompact", params=params).bytes() or b'{"data": []}'
        )

        class Result:
            result_rows = data["data"]

        return Result()

    def command(self, sql: str, parameters: dict[str, Any]) -> None:
        final_sql, http_params = self.bind_query(sql, parameters)
        assert isinstance(final_sql, str)
        self.sent.append((final_sql, http_params))
        self.session.query(
            final_sql, params={name.removeprefix("param_"): v for name, v in http_params.items()}
        )

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerSource, ChdbAsServer, Path]]:
    pytest.importorskip("chdb", reason="chDB is the optional [clickhouse] extra")
    pytest.importorskip("clickhouse_connect", reason="clickhouse-connect is the optional [clickhouse] extra")
    from otel_telemetry.store import ChdbStore
    from otel_telemetry.store.chdb import chdb_session, release_chdb_session

    directory = tmp_path_factory.mktemp("server")
    sqlite = directory / "events.db"
    with EventStore(sqlite) as store:
        for request in requests_for(FIXED):
            store.add_request("grpc", request)
    with ChdbStore(directory / "chdb") as chdb:
        for request in requests_for(FIXED):
            chdb.add_request("grpc", request)
        session = chdb_session(str(chdb.path))
        try:
            client = ChdbAsServer(session)
            yield ServerSource("clickhouse://ch/otel?table=otel_events", client=client), client, sqlite
        finally:
            release_chdb_session(str(chdb.path))


QUESTIONS = [
    lambda s: trends(
        s, ["didStart"], interval="week", by="service.version", count="installations", since="2026-11-02"
    ),
    lambda s: trends(s, interval="day", where=["user.role!=admin", "database=postgres"], since="2026-11-01"),
    lambda s: breakdown(s, "model", count="users"),
    lambda s: funnel(s, ["didStart", "didCreateEntry", "didPublish"], window_s=9 * 86400),
    lambda s: retention(s, period="week", since="2026-11-02", until="2026-11-22"),
]


@pytest.mark.parametrize("ask", QUESTIONS)
def test_the_server_path_answers_as_the_sqlite_store(server: Any, ask: Any) -> None:
    source, _, sqlite = server
    with open_source(sqlite) as local:
        assert ask(source) == ask(local)


def test_values_travel_as_http_parameters_never_in_the_sql_text(server: Any) -> None:
    source, client, _ = server
    hostile = "x') OR 1=1 --\\\t\n{p0:String}"
    client.sent.clear()
    answer = trends(source, ["didStart"], where=[f"model={hostile}"], since="2026-11-02", until="2026-11-03")
    assert answer["series"][0]["total"] == 0
    assert client.sent
    for sql, _ in client.sent:
        assert "OR 1=1" not in sql
    assert any("OR 1=1" in value for _, params in client.sent for value in params.values())
