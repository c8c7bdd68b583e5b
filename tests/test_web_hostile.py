"""The viewer's API under hostile or unlucky use (issue 17, item 5), over real HTTP.

Requests are written byte by byte on a socket, so malformed URLs reach the server exactly as a
hostile client would send them. Proves: every bad parameter answers 400 ``{"error": ...}`` naming
it (never 500 nor a Python repr), only local ``Host`` names are answered (DNS rebinding), and
hundreds of idle connections do not cost a thread each.
"""

from __future__ import annotations

import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_telemetry import DeliverySettings, OTLPExporter, Telemetry
from otel_telemetry.cli.local import LocalBackend
from otel_telemetry.store import EventStore
from otel_telemetry.web import WebViewer
from otel_telemetry.web import http as web_http
from otel_telemetry.web.hosts import HostAllowlist

# -- helpers ----------------------------------------------------------------------------------------


def raw_request(
    port: int, head: bytes, timeout: float = 10, address: str = "127.0.0.1"
) -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` as is on a new connection; the status, headers and body of the answer."""
    with socket.create_connection((address, port), timeout=timeout) as conn:
        conn.sendall(head)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    header_blob, _, body = data.partition(b"\r\n\r\n")
    lines = header_blob.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


def get(port: int, target: str, host: str | None = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    host_line = "" if host is None else f"Host: {host}\r\n"
    return raw_request(port, f"GET {target} HTTP/1.1\r\n{host_line}Connection: close\r\n\r\n".encode())


def error_of(status: int, headers: dict[str, str], body: bytes) -> str:
    """The ``error`` of a JSON error answer (fails on any other shape)."""
    assert headers["content-type"].startswith("application/json"), (status, body)
    message = json.loads(body)["error"]
    assert isinstance(message, str) and message
    assert "Traceback" not in message and not re.search(r"\w+Error\(", message), message
    return message


def pct(value: str | bytes) -> str:
    """Every byte percent-encoded: what reaches the server is exactly these bytes."""
    raw = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    return "".join(f"%{b:02X}" for b in raw)


@pytest.fixture(scope="module")
def viewer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """`serve`'s backend with a few events; the web port."""
    db = tmp_path_factory.mktemp("hostile") / "events.db"
    with LocalBackend("127.0.0.1", None, 0, db_path=db, web_port=0) as backend:
        telemetry = Telemetry(
            "hostile",
            exporter=OTLPExporter(endpoint=backend.receiver.http_endpoint, protocol="http/protobuf"),
            delivery=DeliverySettings(schedule_delay_s=0.02, exit_timeout_s=0.0),
        )
        try:
            for model in ("article", "category"):
                assert telemetry.send("didCreateEntry", {"eventProperties": {"model": model}})
            assert telemetry.flush(10)
        finally:
            telemetry.shutdown(1)
        assert backend.web is not None
        yield backend.web.port


# -- bad parameters: 400 naming the parameter ---------------------------------------------------------

INT_PARAMS = [
    ("/api/events", "since_ns"),
    ("/api/events", "until_ns"),
    ("/api/events", "after_id"),
    ("/api/events", "limit"),
    ("/api/names", "since_ns"),
    ("/api/counts", "until_ns"),
]
REPEATABLE = [
    ("/api/events", "where"),
    ("/api/events", "name"),
    ("/api/counts", "where"),
    ("/api/names", "name"),
]

non_ascii_digits = st.text(
    st.characters(whitelist_categories=("Nd", "No")).filter(lambda c: not c.isascii()), min_size=1, max_size=6
)
bad_integers = st.one_of(
    st.integers(min_value=2**63, max_value=10**40).map(str),
    st.integers(max_value=-1, min_value=-(10**40)).map(str),
    non_ascii_digits,
    st.sampled_from(
        ["1_000", " 12", "12 ", "+5", "0x10", "1e3", "1.0", "inf", "nan", "--1", "١٢", "²", "1" * 31]
    ),
    st.text(min_size=1, max_size=20).filter(lambda t: not re.fullmatch(r"[0-9]+", t)),
)
bad_seconds = st.one_of(
    st.sampled_from(
        ["inf", "-inf", "nan", "NaN", "0", "-1", "0.5", "1e400", "1e3", "-0", "99999999999", "٦٠"]
    ),
    st.floats(allow_nan=True, allow_infinity=True).filter(lambda f: not 1 <= f <= 366 * 86400).map(repr),
    non_ascii_digits,
    st.integers(min_value=366 * 86400 + 1).map(str),
)
bad_utf8 = st.binary(min_size=1, max_size=12).filter(lambda b: not _is_utf8(b))


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@st.composite
def bad_requests(draw: st.DrawFn) -> tuple[str, str]:
    """(target, what the error must name) for one bad parameter of one endpoint."""
    kind = draw(st.sampled_from(["int", "seconds", "id", "utf8", "many", "unknown", "long", "twice"]))
    if kind == "int":
        path, name = draw(st.sampled_from(INT_PARAMS))
        value = draw(
            st.one_of(bad_integers, st.sampled_from(["0", "1001"]) if name == "limit" else bad_integers)
        )
        return f"{path}?{name}={pct(value)}", name
    if kind == "seconds":
        return f"/api/counts?bucket_s={pct(draw(bad_seconds))}", "bucket_s"
    if kind == "id":
        value = draw(st.one_of(bad_integers, st.just("0"), st.integers(min_value=2**63).map(str)))
        return f"/api/events/{pct(value)}", "event id"
    if kind == "utf8":
        path, name = draw(st.sampled_from([*INT_PARAMS, *REPEATABLE]))
        where = draw(st.sampled_from(["value", "name", "path"]))
        junk = pct(draw(bad_utf8))
        if where == "path":
            return f"/api/events/{junk}", "path"
        return (f"{path}?{name}=x{junk}", "query") if where == "value" else (f"{path}?{junk}=1", "query")
    if kind == "many":
        path, name = draw(st.sampled_from(REPEATABLE))
        count = draw(st.integers(min_value=21, max_value=1000))
        return f"{path}?" + "&".join(f"{name}=k{i}%3Dv" for i in range(count)), name
    if kind == "unknown":
        name = draw(st.text(st.characters(codec="utf-8"), min_size=1, max_size=10))
        if name in {"name", "where", "since_ns", "until_ns", "after_id", "limit"}:
            name += "_"
        return f"/api/events?{pct(name)}=1", "unknown parameter"
    if kind == "long":
        path, name = draw(st.sampled_from(REPEATABLE))
        return f"{path}?{name}=" + "a" * draw(st.integers(min_value=1001, max_value=5000)), name
    path, name = draw(st.sampled_from(INT_PARAMS))
    return f"{path}?{name}=1&{name}=2", name


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=bad_requests())
def test_every_bad_parameter_answers_400_naming_it(viewer: int, case: tuple[str, str]) -> None:
    target, names = case
    status, headers, body = get(viewer, target)
    assert status == 400, (target, status, body)
    assert names in error_of(status, headers, body), (target, body)


@settings(max_examples=200, deadline=None)
@given(
    path=st.sampled_from(["/api/events", "/api/names", "/api/counts"]),
    params=st.lists(
        st.tuples(
            st.sampled_from(["name", "where", "since_ns", "until_ns", "after_id", "limit", "bucket_s"]),
            st.one_of(st.text(max_size=30), st.integers(min_value=-(2**70), max_value=2**70).map(str)),
        ),
        max_size=6,
    ),
)
def test_any_parameters_answer_200_or_a_clear_400(
    viewer: int, path: str, params: list[tuple[str, str]]
) -> None:
    target = path + "?" + "&".join(f"{pct(k)}={pct(v)}" for k, v in params)
    status, headers, body = get(viewer, target)
    if status != 200:
        assert status == 400, (target, status, body)
        error_of(status, headers, body)
    else:
        json.loads(body)


INSIGHT_PARAMS = {
    "trends": ["events", "interval", "by", "count", "where", "since", "until"],
    "breakdown": ["key", "events", "count", "where", "since", "until"],
    "funnel": ["steps", "window_s", "per", "where", "since", "until"],
    "retention": ["start_event", "return_event", "period", "count", "where", "since", "until"],
}
hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["30d", "12h", "-5d", "0d", "99999999d", "2026-13-45", "1e400", "inf", "nan"]),
    st.sampled_from(["\u0661\u0662d", "service.version", "app.installation.id", "x=1", "x!=", "=x"]),
    st.sampled_from(["'; DROP TABLE otel_logs; --", "%", "_", "\\", "\x00", "ping", "didCreateEntry"]),
    st.sampled_from(["hour", "week", "users", "user"]),
    st.sampled_from(["9999-01-01", "9999-12-31", "0001-01-01", "1000000d", "99999999999h", "2262-04-12"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    insight=st.sampled_from(sorted(INSIGHT_PARAMS)),
    data=st.data(),
)
def test_insights_answer_any_parameters_with_200_or_a_clear_400(viewer: int, insight: str, data: Any) -> None:
    names = INSIGHT_PARAMS[insight]
    params = data.draw(st.lists(st.tuples(st.sampled_from(names), hostile_text), max_size=6))
    target = f"/api/insights/{insight}?" + "&".join(f"{pct(k)}={pct(v)}" for k, v in params)
    status, headers, body = get(viewer, target)
    if status != 200:
        assert status == 400, (target, status, body)
        error_of(status, headers, body)
    else:
        assert isinstance(json.loads(body), dict)


ACCEPTED = "--since and --until must be from 1970-01-01T00:00:00Z to 2262-04-11T00:00:00Z"


@pytest.mark.parametrize(
    ("target", "mentions"),
    [
        ("/api/insights/trends?interval=fortnight", "interval"),
        ("/api/insights/trends?since=yesterday-ish", "yesterday-ish"),
        ("/api/insights/trends?by=no.such.key", "no.such.key"),
        ("/api/insights/breakdown", "key"),
        ("/api/insights/funnel?steps=ping", "2 steps"),
        ("/api/insights/funnel?steps=a&steps=b&window_s=inf", "window_s"),
        ("/api/insights/retention?count=events", "count"),
        ("/api/insights/trends?bogus=1", "unknown parameter"),
        ("/api/insights/trends?since=9999-01-01", f"bad --since '9999-01-01': out of range; {ACCEPTED}"),
        ("/api/insights/retention?until=9999-12-31", f"bad --until '9999-12-31': out of range; {ACCEPTED}"),
        ("/api/insights/funnel?steps=a&steps=b&since=1000000d", f"'1000000d': out of range; {ACCEPTED}"),
        ("/api/insights/breakdown?key=model&until=1969-12-30", "bad --until '1969-12-30': out of range"),
        ("/api/insights/trends?since=2262-04-12", "bad --since '2262-04-12': out of range"),
        ("/api/insights/trends?since=2200-01-01", "empty range: --since 2200-01-01T00:00:00Z is not before"),
        ("/api/insights/trends?since=2026-11-05&until=2026-11-01", "empty range"),
        ("/api/insights/trends?" + "&".join(["where=a%3D1"] * 21), "where"),
    ],
)
def test_insights_name_what_is_wrong(viewer: int, target: str, mentions: str) -> None:
    answer = get(viewer, target)
    assert answer[0] == 400, answer
    assert mentions in error_of(*answer)


@pytest.mark.parametrize(
    ("target", "status", "mentions"),
    [
        ("/api/events?since_ns=" + str(10**30), 400, "since_ns"),
        ("/api/events/" + str(10**30), 400, "event id"),
        ("/api/events/" + pct("١٢"), 400, "event id"),
        ("/api/counts?bucket_s=inf", 400, "bucket_s"),
        ("/api/counts?bucket_s=nan", 400, "bucket_s"),
        ("/api/events?" + "&".join(["where=a%3D1"] * 1000), 400, "where"),
        ("/api/events?name=%FF", 400, "UTF-8"),
        ("/api/events/9223372036854775807", 404, "9223372036854775807"),
    ],
)
def test_the_reported_cases(viewer: int, target: str, status: int, mentions: str) -> None:
    answer = get(viewer, target)
    assert answer[0] == status
    assert mentions in error_of(*answer)


def test_bad_requests_leave_the_connection_usable_or_close_it_cleanly(viewer: int) -> None:
    pipelined = (
        b"GET /api/events?limit=abc HTTP/1.1\r\nHost: localhost\r\n\r\n"
        b"GET /api/names HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", viewer), timeout=10) as conn:
        conn.sendall(pipelined)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 400 ")
    assert data.count(b"HTTP/1.1 200 OK") == 1 and b'"names"' in data
    for head, status in [
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET /api/events HTTP/1.1\r\nHost: localhost\r\nbad header\r\n\r\n", 400),
        (
            b"POST /api/events HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n"
            b"Connection: close\r\n\r\n{}",
            405,
        ),
        (b"GET /api/events HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"GET /" + b"a" * (70 * 1024) + b" HTTP/1.1\r\nHost: localhost\r\n\r\n", 431),
        ("GET /api/events?name=é HTTP/1.1\r\nHost: localhost\r\n\r\n".encode(), 400),
    ]:
        answer = raw_request(viewer, head)
        assert answer[0] == status, head[:60]
        error_of(*answer)


# -- Host: only this machine's names (DNS rebinding) -----------------------------------------------------


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "LOCALHOST.", "[::1]", "localhost:{port}", "127.0.0.1:9"]
)
def test_local_host_names_are_answered(viewer: int, host: str) -> None:
    status, _, body = get(viewer, "/api/names", host=host.format(port=viewer))
    assert status == 200, body


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:{port}",
        "127.0.0.1.evil.example",
        "localhost.evil",
        "",
        "a@localhost",
        None,
    ],
)
def test_other_host_names_are_refused(viewer: int, host: str | None) -> None:
    status, headers, body = get(
        viewer, "/api/events", host=None if host is None else host.format(port=viewer)
    )
    assert status == 403
    assert "--web-allow-host" in error_of(status, headers, body)
    assert b"didCreateEntry" not in body


@pytest.mark.parametrize(
    ("listen", "extra", "allowed", "refused"),
    [
        ("127.0.0.1", (), ["localhost:1", "[::1]:8321", "127.0.0.1"], ["192.168.1.5", "evil.test", "[::2]"]),
        ("192.168.1.5", (), ["192.168.1.5:8321", "localhost"], ["evil.test", "192.168.1.50"]),
        ("0.0.0.0", (), ["127.0.0.1:8321"], ["0.0.0.0:8321", "devbox.local"]),
        ("::", ("DevBox.Local.",), ["devbox.local:8321", "DEVBOX.LOCAL"], ["[::]:8321", "box.local"]),
        ("fe80::1", (), ["[fe80::1]:8321"], ["fe80::1", "[fe80::2]"]),
        ("0.0.0.0", ("*",), ["anything.test", "localhost"], [None]),
    ],
)
def test_the_allowlist_holds_local_names_the_listen_address_and_the_names_given(
    listen: str, extra: tuple[str, ...], allowed: list[str], refused: list[str | None]
) -> None:
    hosts = HostAllowlist(listen, extra)
    assert all(hosts.allows(host) for host in allowed)
    assert not any(hosts.allows(host) for host in refused if host is not None) and (
        hosts.any or not hosts.allows(None)
    )


def test_a_viewer_told_to_listen_elsewhere_answers_that_address(tmp_path: Path) -> None:
    with EventStore(tmp_path / "events.db") as store, WebViewer(store, "127.0.0.2", 0) as web:
        for host, status in ((f"127.0.0.2:{web.port}", 200), ("evil.test", 403)):
            head = f"GET /api/names HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
            assert raw_request(web.port, head, address="127.0.0.2")[0] == status


# -- `serve` itself: the allowlist flag and idle connections ----------------------------------------------


class Serve:
    """`otel-telemetry serve` as a user runs it, on free ports; always stopped."""

    def __init__(self, db: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "otel_telemetry", "serve", "--grpc-port", "0", "--http-port", "0",
             "--web-port", "0", "--db", str(db), *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(
            target=lambda: [lines.put(line) for line in self.proc.stderr or ()], daemon=True
        ).start()
        banner = ""
        while "Ctrl-C" not in banner:
            banner += lines.get(timeout=60)
        found = re.search(r"web page\s+http://[^:]+:(\d+)/", banner)
        assert found, banner
        self.port = int(found[1])

    def threads(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/task"))

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    started: list[Serve] = []

    def start(*args: str) -> Serve:
        started.append(Serve(tmp_path / f"events{len(started)}.db", *args))
        return started[-1]

    yield start
    for process in started:
        process.stop()


def test_serve_answers_the_names_it_is_told_to_allow(serve: Any) -> None:
    served = serve("--web-allow-host", "viewer.test")
    assert get(served.port, "/api/names", host="viewer.test:8321")[0] == 200
    assert get(served.port, "/api/names", host="other.test")[0] == 403
    anything = serve("--web-allow-host", "*")
    assert get(anything.port, "/api/names", host="other.test")[0] == 200


def test_hundreds_of_idle_connections_cost_no_thread_each(serve: Any) -> None:
    served = serve()
    session = requests.Session()
    base = f"http://127.0.0.1:{served.port}"
    assert session.get(base + "/api/names", timeout=10).status_code == 200
    before = served.threads()
    idle: list[socket.socket] = []
    try:
        for i in range(500):
            conn = socket.create_connection(("127.0.0.1", served.port), timeout=10)
            if i % 2:  # half send nothing, half stall in the middle of a request (slow loris)
                conn.sendall(b"GET /api/events HTTP/1.1\r\nHost: localhost\r\n")
            idle.append(conn)
        # A normal request (on the session's kept-alive connection and on a new one) still answers.
        assert session.get(base + "/api/names", timeout=10).status_code == 200
        assert requests.get(base + "/api/events", timeout=10).status_code == 200
        during = served.threads()
    finally:
        for conn in idle:
            conn.close()
        session.close()
    assert during <= before + web_http.WORKERS, (before, during)
    assert served.stop() == 0


def test_stalled_connections_are_dropped_after_the_idle_timeout_and_stop_closes_the_rest() -> None:
    server = web_http.AsyncHTTPServer(
        "127.0.0.1", 0, lambda request: web_http.json_response({"ok": True}), idle_timeout_s=0.5
    )
    server.start()
    port = server.address[1]
    try:
        stalled = socket.create_connection(("127.0.0.1", port), timeout=10)
        stalled.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")  # never finished
        assert stalled.recv(1) == b""  # closed by the server, without an answer
        stalled.close()
        kept = socket.create_connection(("127.0.0.1", port), timeout=10)
        kept.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert kept.recv(65536).startswith(b"HTTP/1.1 200 OK")
    finally:
        server.stop()
    assert kept.recv(1) == b""  # stop() closed the kept-alive connection
    kept.close()
    with pytest.raises(ConnectionRefusedError):  # and no longer listens
        socket.create_connection(("127.0.0.1", port), timeout=10).close()
