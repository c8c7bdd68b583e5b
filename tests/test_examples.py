"""Every example runs as a subprocess, pointed at the real receiver by the standard OTEL env vars,
and what it sends arrives."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from otel_telemetry.receiver import OTLPReceiver

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, receiver: OTLPReceiver, *args: str, protocol: str = "http/protobuf") -> str:
    endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
    env = dict(os.environ, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_EXPORTER_OTLP_PROTOCOL=protocol)
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def names(receiver: OTLPReceiver) -> Counter[str]:
    return Counter(r.event_name for r in receiver.records)


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc", "http/json"])
def test_quickstart_delivers_its_event(receiver: OTLPReceiver, protocol: str) -> None:
    assert "delivered" in run_example("quickstart.py", receiver, protocol=protocol)
    [record] = receiver.records
    assert record.event_name == "didInitializeProject"
    assert record.attributes == {"template": "blog", "typescript": True, "user.role": "developer"}
    assert record.resource["projectType"] == "Community"


def test_quickstart_fails_clearly_when_no_collector_runs(receiver: OTLPReceiver) -> None:
    port = receiver.http_port
    receiver.stop()
    env = dict(
        os.environ, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}", OTEL_TELEMETRY_EXIT_TIMEOUT="0"
    )
    script = (EXAMPLES / "quickstart.py").read_text().replace("timeout_s=10", "timeout_s=1")
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "not delivered" in result.stdout and "doctor" in result.stdout


def test_strapi_like_app_sends_the_content_manager_events(receiver: OTLPReceiver) -> None:
    run_example("strapi_app.py", receiver)
    assert names(receiver) == Counter(
        {
            "didInitializeProject": 1,
            "didSelectFile": 1,
            "willCreateEntry": 3,
            "didCreateEntry": 2,
            "didNotCreateEntry": 1,
        }
    )
    created = [r for r in receiver.records if r.event_name == "didCreateEntry"]
    assert {r.attributes["model"] for r in created} == {"api::article.article", "api::category.category"}
    assert all(len(r.attributes["user.hash"]) == 64 and "editor-17" not in str(r.attributes) for r in created)
    [selected] = [r for r in receiver.records if r.event_name == "didSelectFile"]
    assert selected.attributes["mimeType"] == "image/png" and selected.attributes["sizeKb"] == 313
    assert all(r.resource["service.name"] == "acme-cms" for r in receiver.records)


def test_wsgi_example_reports_its_requests(receiver: OTLPReceiver) -> None:
    run_example("wsgi_app.py", receiver)
    events = sorted((r.attributes["url"], r.attributes["statusCode"]) for r in receiver.records)
    # /favicon.ico is a static file and is not reported; the query string is never sent
    assert events == [("/api/articles", 200), ("/api/articles", 200), ("/missing", 404)]


def test_asgi_example_reports_its_requests(receiver: OTLPReceiver) -> None:
    run_example("asgi_app.py", receiver)
    events = sorted((r.attributes["url"], r.attributes["success"]) for r in receiver.records)
    assert events == [("/api/articles", True), ("/api/articles/1", True), ("/missing", False)]


def test_heartbeat_example_pings(receiver: OTLPReceiver) -> None:
    run_example("heartbeat.py", receiver, "--interval", "0.05", "--beats", "3")
    pings = [r for r in receiver.records if r.event_name == "ping"]
    assert len(pings) >= 3
    assert all(r.attributes["contentTypes"] == 4 for r in pings)


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_forked_workers_deliver_every_event(receiver: OTLPReceiver, protocol: str) -> None:
    run_example("fork_worker.py", receiver, protocol=protocol)
    assert names(receiver) == Counter({"didProcessJob": 12, "didStartWorkers": 1, "didStopWorkers": 1})
    assert sorted(r.attributes["job"] for r in receiver.records if r.event_name == "didProcessJob") == list(
        range(12)
    )
