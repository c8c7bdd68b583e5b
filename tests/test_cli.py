"""The `otel-telemetry` command line, each command run as a real subprocess (`python -m otel_telemetry`).

Events go to the real receiver (the `receiver` fixture) or to a `serve`/`tail` subprocess on
free ports; `events` and `stats` read a real SQLite file.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import requests

import otel_telemetry
from otel_telemetry import OTLPExporter, Telemetry
from otel_telemetry.receiver import OTLPReceiver
from otel_telemetry.store import EventStore

COMMANDS = ["send", "serve", "tail", "events", "stats", "demo", "doctor"]


def cli_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(overrides)
    return env


def run_cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otel_telemetry", *args],
        env=env or cli_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout


def closed_port() -> int:
    """A port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Running:
    """A long-running CLI subprocess whose stdout/stderr lines are read by threads; always stopped."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "otel_telemetry", *args],
            env=env or cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: queue.Queue[str] = queue.Queue()
        self.err: queue.Queue[str] = queue.Queue()
        self.err_lines: list[str] = []
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()

    @staticmethod
    def _pump(stream: IO[str] | None, sink: queue.Queue[str]) -> None:
        assert stream is not None
        for line in stream:
            sink.put(line.rstrip("\n"))

    def stderr_until(self, marker: str, timeout: float = 60) -> str:
        """Stderr up to the line containing ``marker`` (fails if the process exits first)."""
        while True:
            try:
                line = self.err.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no {marker!r} on stderr; got {self.err_lines}") from None
            self.err_lines.append(line)
            if marker in line:
                return "\n".join(self.err_lines)

    def stdout_lines(self, count: int, timeout: float = 30) -> list[str]:
        return [self.out.get(timeout=timeout) for _ in range(count)]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


@pytest.fixture
def running() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for process in started:
        process.stop()


def endpoints(banner: str) -> dict[str, str]:
    found = dict(re.findall(r"(OTLP/gRPC|OTLP/HTTP|web page|database)\s+(\S+)", banner))
    return found


# -- help and usage -------------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)])
def test_every_command_has_help(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: otel-telemetry" in result.stdout
    if command:
        assert command[0] in result.stdout


@pytest.mark.parametrize("args", [["--help"], []])
def test_top_level_help_lists_every_command(args: list[str]) -> None:
    result = run_cli(*args)
    assert result.returncode == 0
    assert "otel-telemetry demo" in result.stdout
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s", result.stdout, re.MULTILINE), command


def test_unknown_command_and_bad_option_are_usage_errors_without_traceback() -> None:
    for args in (
        ["frobnicate"],
        ["events", "--since", "yesterday-ish"],
        ["send"],
        ["send", "x", "-e", "novalue"],
    ):
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "Error" in result.stderr
        no_traceback(result)


# -- send -------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf", "http/json"])
def test_send_exports_one_event_through_the_standard_env_vars(receiver: OTLPReceiver, protocol: str) -> None:
    endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
    env = cli_env(
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
        OTEL_SERVICE_NAME="ci-job",
    )
    result = run_cli(
        "send",
        "didDeploy",
        "-e",
        "target=prod",
        "-e",
        "durationMs=5400",
        "-e",
        "ok=true",
        "-e",
        "version=1.10",
        "-u",
        "role=bot",
        "-g",
        "ci.provider=github",
        "--user-id",
        "alice@example.com",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert receiver.wait_for(1, 10)
    [record] = receiver.records
    assert record.event_name == "didDeploy"
    assert record.protocol == protocol
    assert record.attributes["target"] == "prod"
    assert record.attributes["durationMs"] == 5400
    assert record.attributes["ok"] is True
    assert record.attributes["version"] == "1.10"  # not turned into the number 1.1
    assert record.attributes["user.role"] == "bot"
    assert "alice@example.com" not in json.dumps(record.attributes)
    assert len(record.attributes["user.hash"]) == 64
    assert record.resource["ci.provider"] == "github"
    assert record.resource["service.name"] == "ci-job"


def test_send_takes_a_strapi_payload_as_json_from_stdin(receiver: OTLPReceiver) -> None:
    payload = {
        "eventProperties": {"model": "article", "meta": {"locale": "fr"}},
        "userProperties": {"plan": "pro"},
    }
    result = run_cli(
        "send",
        "didCreateEntry",
        "--json",
        "-",
        "-e",
        "model=page",
        "--endpoint",
        receiver.http_endpoint,
        "--protocol",
        "http/protobuf",
        stdin=json.dumps(payload),
    )
    assert result.returncode == 0, result.stderr
    assert receiver.wait_for(1, 10)
    attributes = receiver.records[0].attributes
    assert attributes["model"] == "page"  # -e overrides the payload
    assert attributes["meta.locale"] == "fr"
    assert attributes["user.plan"] == "pro"


@pytest.mark.parametrize(
    ("payload", "mentions"),
    [("{not json", "not valid JSON"), ("[1, 2]", "JSON object"), ('{"eventProps": {}}', "eventProps")],
)
def test_send_rejects_a_bad_json_payload_with_a_clear_message(payload: str, mentions: str) -> None:
    result = run_cli("send", "ev", "--json", payload)
    assert result.returncode == 2
    assert mentions in result.stderr and "--json" in result.stderr
    no_traceback(result)


def test_send_rejects_an_invalid_event_naming_the_field(receiver: OTLPReceiver) -> None:
    result = run_cli("send", "", "--endpoint", receiver.http_endpoint)
    assert result.returncode == 1
    assert "event_name" in result.stderr
    no_traceback(result)
    assert receiver.records == []


def test_send_fails_with_exit_1_when_nothing_listens() -> None:
    result = run_cli(
        "send",
        "lost",
        "--endpoint",
        f"http://127.0.0.1:{closed_port()}",
        "--protocol",
        "http/protobuf",
        "--timeout",
        "1",
    )
    assert result.returncode == 1
    assert "was not exported" in result.stderr and "doctor" in result.stderr
    no_traceback(result)


def test_send_honours_do_not_track(receiver: OTLPReceiver) -> None:
    result = run_cli("send", "ev", "--endpoint", receiver.http_endpoint, env=cli_env(DO_NOT_TRACK="1"))
    assert result.returncode == 0
    assert "disabled" in result.stderr and "DO_NOT_TRACK" in result.stderr
    assert receiver.request_log == []  # the command has exited: anything sent would be here


# -- serve, events, stats -------------------------------------------------------------------------


def test_serve_stores_received_events_that_events_and_stats_then_query(
    tmp_path: Path, running: list[Running]
) -> None:
    db = tmp_path / "served.db"
    serve = Running("serve", "--grpc-port", "0", "--http-port", "0", "--web-port", "0", "--db", str(db))
    running.append(serve)
    found = endpoints(serve.stderr_until("Ctrl-C"))
    assert found["database"] == str(db)
    for protocol, endpoint in (("grpc", found["OTLP/gRPC"]), ("http/json", found["OTLP/HTTP"])):
        telemetry = Telemetry(
            exporter=OTLPExporter(endpoint=endpoint, protocol=protocol),
            delivery=otel_telemetry.DeliverySettings(schedule_delay_s=0.02, exit_timeout_s=0),
        )
        try:
            telemetry.send("didCreateEntry", {"eventProperties": {"model": "article", "via": protocol}})
            telemetry.send("ping")
            assert telemetry.flush(10)
        finally:
            telemetry.shutdown(1)
    page = requests.get(found["web page"] + "api/events", timeout=5).json()
    assert len(page["events"]) == 4

    listed = run_cli("events", "--db", str(db), "--name", "didCreateEntry", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert sorted(r["eventProperties"]["via"] for r in rows) == ["grpc", "http/json"]
    assert all(r["event"] == "didCreateEntry" and r["record"]["eventName"] == "didCreateEntry" for r in rows)

    table = run_cli("events", "--db", str(db), "--where", "via=grpc")
    assert table.returncode == 0
    assert "didCreateEntry" in table.stdout and "via=grpc" in table.stdout and "http/json" not in table.stdout

    counted = run_cli("stats", "--db", str(db), "--json")
    assert {json.loads(line)["event"]: json.loads(line)["count"] for line in counted.stdout.splitlines()} == {
        "didCreateEntry": 2,
        "ping": 2,
    }
    assert serve.stop() == 0
    assert "Traceback" not in "\n".join(serve.err_lines)


def test_serve_keeps_the_unauthenticated_web_page_local_when_otlp_listens_on_all_interfaces(
    tmp_path: Path, running: list[Running]
) -> None:
    serve = Running(
        "serve", "--host", "0.0.0.0", "--grpc-port", "0", "--http-port", "0", "--web-port", "0",
        "--db", str(tmp_path / "all.db"),
    )  # fmt: skip
    running.append(serve)
    found = endpoints(serve.stderr_until("Ctrl-C"))
    assert found["OTLP/HTTP"].startswith("http://0.0.0.0:")
    assert found["web page"].startswith("http://127.0.0.1:")
    assert serve.stop() == 0


def test_serve_reports_a_busy_port_without_traceback(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(
            "serve", "--http-port", str(port), "--grpc-port", "0", "--no-web", "--db", str(tmp_path / "x.db")
        )
    assert result.returncode == 1
    assert "cannot start the local receiver" in result.stderr
    no_traceback(result)


@pytest.fixture
def filled_db(tmp_path: Path) -> Path:
    """A database written by the real store from events received over OTLP."""
    path = tmp_path / "filled.db"
    with EventStore(path) as store, OTLPReceiver(on_request=store.add_request) as rx:
        telemetry = Telemetry(
            endpoint=rx.http_endpoint,
            delivery=otel_telemetry.DeliverySettings(schedule_delay_s=0.02, exit_timeout_s=0),
        )
        try:
            for model in ("article", "article", "category"):
                telemetry.send(
                    "didCreateEntry", {"eventProperties": {"model": model}, "userProperties": {"plan": "pro"}}
                )
            telemetry.send("didSelectFile", {"eventProperties": {"mimeType": "image/png"}})
            assert telemetry.flush(10)
        finally:
            telemetry.shutdown(1)
    return path


def test_events_filters_by_name_property_and_time(filled_db: Path) -> None:
    def count(*args: str) -> int:
        result = run_cli("events", "--db", str(filled_db), "--json", *args)
        assert result.returncode == 0, result.stderr
        return len(result.stdout.splitlines())

    assert count() == 4
    assert count("--name", "didSelectFile") == 1
    assert count("--name", "didSelectFile", "--name", "didCreateEntry") == 4
    assert count("--where", "model=article") == 2
    assert count("--where", "user.plan=pro", "--where", "model=category") == 1
    assert count("--where", "mimeType") == 1
    assert count("--since", "1h") == 4
    assert count("--until", "1h") == 0
    assert count("--since", "2000-01-01T00:00:00Z", "--until", "2000-01-02") == 0
    assert count("--limit", "2") == 2


def test_events_prints_a_table_and_payloads(filled_db: Path) -> None:
    table = run_cli("events", "--db", str(filled_db))
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["id", "time", "(UTC)", "event", "service", "properties"]
    assert "didSelectFile" in lines[2] and "mimeType=image/png" in lines[2]
    payloads = run_cli("events", "--db", str(filled_db), "--payload", "--name", "didSelectFile")
    payload = json.loads(payloads.stdout)
    assert payload["event"] == "didSelectFile"
    assert payload["eventProperties"] == {"mimeType": "image/png"}
    assert set(payload) == {"event", "eventProperties", "userProperties", "groupProperties"}
    none = run_cli("events", "--db", str(filled_db), "--name", "nothing")
    assert none.returncode == 0 and "no events match" in none.stderr


def test_stats_counts_per_name_and_per_bucket(filled_db: Path) -> None:
    table = run_cli("stats", "--db", str(filled_db))
    assert re.search(r"^didCreateEntry\s+3\s", table.stdout, re.MULTILINE)
    assert re.search(r"^didSelectFile\s+1\s", table.stdout, re.MULTILINE)
    assert "4 events, 2 names" in table.stdout
    buckets = run_cli("stats", "--db", str(filled_db), "--bucket", "1d", "--json")
    points = [json.loads(line) for line in buckets.stdout.splitlines()]
    assert sum(p["count"] for p in points) == 4
    assert {p["event"] for p in points} == {"didCreateEntry", "didSelectFile"}
    bad = run_cli("stats", "--db", str(filled_db), "--bucket", "often")
    assert bad.returncode == 2 and "--bucket" in bad.stderr


def test_events_without_a_database_says_how_to_get_one(tmp_path: Path) -> None:
    result = run_cli("events", "--db", str(tmp_path / "missing.db"))
    assert result.returncode == 1
    assert "no events database" in result.stderr and "otel-telemetry serve" in result.stderr
    assert not (tmp_path / "missing.db").exists()
    no_traceback(result)


@pytest.mark.parametrize("content", [b"not a database at all" * 100, b""])
def test_events_refuses_a_file_that_is_not_an_events_database(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "other.db"
    path.write_bytes(content)
    result = run_cli("events", "--db", str(path))
    assert result.returncode == 1
    assert "not an otel-telemetry events database" in result.stderr
    assert path.read_bytes() == content  # untouched
    no_traceback(result)


def test_events_reads_the_database_named_by_the_environment(filled_db: Path) -> None:
    result = run_cli("stats", "--json", env=cli_env(OTEL_TELEMETRY_DB=str(filled_db)))
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 2


# -- tail -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_json", [False, True])
def test_tail_prints_one_line_per_event_as_it_arrives(running: list[Running], as_json: bool) -> None:
    tail = Running("tail", "--grpc-port", "0", "--http-port", "0", *(["--json"] if as_json else []))
    running.append(tail)
    found = endpoints(tail.stderr_until("OTLP/HTTP"))
    telemetry = Telemetry(
        exporter=OTLPExporter(endpoint=found["OTLP/gRPC"], protocol="grpc"),
        service_name="tailed",
        delivery=otel_telemetry.DeliverySettings(schedule_delay_s=0.02, exit_timeout_s=0),
    )
    try:
        telemetry.send("didCreateEntry", {"eventProperties": {"model": "article", "title": "two words"}})
        telemetry.send("ping")
        assert telemetry.flush(10)
    finally:
        telemetry.shutdown(1)
    first, second = tail.stdout_lines(2)
    if as_json:
        record = json.loads(first)
        assert record["event"] == "didCreateEntry"
        assert record["eventProperties"] == {"model": "article", "title": "two words"}
        assert record["groupProperties"]["service.name"] == "tailed"
        assert record["protocol"] == "grpc"
        assert json.loads(second)["event"] == "ping"
    else:
        assert re.match(
            r"^\d\d:\d\d:\d\d\.\d{3}  didCreateEntry  model=article title=\"two words\"  \[tailed\]$", first
        )
        assert "  ping  " in second
    assert tail.stop() == 0


# -- demo and doctor ---------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc", "http/json"])
def test_demo_sends_through_the_real_exporter_and_shows_what_arrived(protocol: str) -> None:
    result = run_cli("demo", "--protocol", protocol)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Sent 12 events" in out and "Received and stored 12 events" in out
    assert re.search(r"^willCreateEntry\s+3$", out, re.MULTILINE)
    start = out.index("{")
    payload, _ = json.JSONDecoder().raw_decode(out[start:])
    assert payload["event"] == "didCreateEntry"
    assert set(payload) == {"event", "eventProperties", "userProperties", "groupProperties"}
    assert payload["groupProperties"] == {
        "projectType": "Community",
        "useTypescriptOnServer": True,
        "database": "postgres",
    }
    # Then weeks of history sent with send(timestamp=...), and version adoption over it.
    assert re.search(r"Backfilled 6 weeks of a fleet's history: \d+ events from 40 installations", out)
    adoption = out[out.index("week (UTC)") :].splitlines()
    versions = adoption[0].split()[2:]
    assert sorted(versions) == ["4.14.2", "4.15.0", "4.15.1"]
    weeks = [
        dict(zip(versions, map(int, line.split()[1:]), strict=True))
        for line in adoption[2:]
        if re.match(r"\d{4}-\d{2}-\d{2} ", line)
    ]
    assert len(weeks) == 7  # six whole weeks and this one
    assert weeks[0]["4.14.2"] > 10 and weeks[0]["4.15.0"] == weeks[0]["4.15.1"] == 0  # all on the old one
    assert weeks[-2]["4.15.1"] > weeks[-2]["4.15.0"] > weeks[-2]["4.14.2"]  # the newest release took over
    no_traceback(result)


def test_demo_refuses_politely_when_the_user_opted_out() -> None:
    result = run_cli("demo", env=cli_env(DO_NOT_TRACK="1"))
    assert result.returncode == 1
    assert "DO_NOT_TRACK" in result.stderr
    no_traceback(result)


def test_demo_serve_keeps_the_viewer_up_until_stopped(tmp_path: Path, running: list[Running]) -> None:
    demo = Running("demo", "--serve", "--db", str(tmp_path / "demo.db"))
    running.append(demo)
    url = demo.out.get(timeout=60)
    while "Web page:" not in url:
        url = demo.out.get(timeout=60)
    page_url = url.split()[2]
    names = requests.get(page_url + "api/names", timeout=5).json()["names"]
    assert {n["name"]: n["count"] for n in names}["didSelectFile"] == 2  # the 12 live events
    assert sum(n["count"] for n in names) > 1000  # and the history
    adoption = requests.get(
        page_url + "api/insights/trends",
        params={"by": "service.version", "count": "installations", "interval": "week"},
        timeout=10,
    ).json()
    assert {s["group"] for s in adoption["series"]} == {"4.14.2", "4.15.0", "4.15.1"}
    chart = demo.out.get(timeout=10)
    view = "#insights?insight=trends&by=service.version&count=installations&interval=week"
    assert chart.endswith(page_url + view)
    assert demo.stop() == 0


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf", "http/json"])
def test_doctor_reports_the_configuration_and_a_reachable_endpoint(
    receiver: OTLPReceiver, protocol: str
) -> None:
    endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
    env = cli_env(
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
        OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer s3cret,x-team=blue",
        OTEL_SERVICE_NAME="my-app",
    )
    result = run_cli("doctor", "--json", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    findings = json.loads(result.stdout)
    assert findings["protocol"] == protocol
    assert findings["endpoint"].startswith(endpoint)
    assert findings["reachable"] is True and findings["disabled"] is None
    assert findings["service.name"] == "my-app"
    assert findings["headers"] == {"authorization": "***", "x-team": "blue"}
    assert "s3cret" not in result.stdout
    assert receiver.wait_for_requests(1, 5)
    assert receiver.records == []  # an empty request: nothing stored, nothing invented
    text = run_cli("doctor", env=env)
    assert text.returncode == 0
    assert "accepted an empty OTLP logs request" in text.stdout


def test_doctor_fails_when_the_endpoint_is_down_and_says_what_to_do() -> None:
    env = cli_env(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{closed_port()}")
    result = run_cli("doctor", "--timeout", "2", env=env)
    assert result.returncode == 1
    assert "did not accept" in result.stdout and "otel-telemetry serve" in result.stdout
    no_traceback(result)


def test_doctor_fails_when_the_endpoint_is_not_otlp(receiver: OTLPReceiver) -> None:
    env = cli_env(OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=receiver.http_endpoint + "/not-logs")
    result = run_cli("doctor", "--json", env=env)
    assert result.returncode == 1
    assert json.loads(result.stdout)["reachable"] is False


@pytest.mark.parametrize(
    ("variable", "value", "rule"),
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318", "needs a scheme"),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem", "no such file"),
    ],
)
def test_doctor_reports_a_configuration_that_cannot_work(variable: str, value: str, rule: str) -> None:
    result = run_cli("doctor", env=cli_env(**{variable: value}))
    assert result.returncode == 1
    assert "configuration error" in result.stdout and variable in result.stdout and rule in result.stdout
    no_traceback(result)
    findings = json.loads(run_cli("doctor", "--json", env=cli_env(**{variable: value})).stdout)
    assert rule in findings["config_error"] and findings["reachable"] is False


def test_doctor_says_when_telemetry_is_disabled(receiver: OTLPReceiver) -> None:
    env = cli_env(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.http_endpoint, OTEL_TELEMETRY_DISABLED="true")
    result = run_cli("doctor", env=env)
    assert result.returncode == 1
    assert "disabled by OTEL_TELEMETRY_DISABLED=true" in result.stdout


def test_python_dash_m_and_console_script_agree() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert re.match(r"otel-telemetry, version \d", result.stdout)
    script = Path(sys.executable).parent / "otel-telemetry"
    if script.exists():
        assert (
            subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60).stdout
            == result.stdout
        )
