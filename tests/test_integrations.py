"""Request middleware (WSGI under wsgiref, ASGI under uvicorn) and the heartbeat, with real servers,
real HTTP requests and the real receiver."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import requests
import uvicorn
from hypothesis import given
from hypothesis import strategies as st

import otel_telemetry
from otel_telemetry import Telemetry
from otel_telemetry.integrations import (
    DailyCap,
    Heartbeat,
    RequestEvents,
    TelemetryASGIMiddleware,
    TelemetryWSGIMiddleware,
)
from otel_telemetry.receiver import OTLPReceiver


@pytest.fixture
def telemetry(receiver: OTLPReceiver) -> Iterator[Telemetry]:
    t = Telemetry(
        endpoint=receiver.http_endpoint,
        delivery=otel_telemetry.DeliverySettings(schedule_delay_s=0.02, exit_timeout_s=0),
    )
    yield t
    t.shutdown(1)


def request_events(receiver: OTLPReceiver, telemetry: Telemetry) -> list[dict[str, Any]]:
    assert telemetry.flush(10)
    return [r.attributes for r in receiver.records if r.event_name == "didReceiveRequest"]


# -- pure logic -------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self, when: str) -> None:
        self.now = datetime.fromisoformat(when).replace(tzinfo=timezone.utc).timestamp()

    def __call__(self) -> float:
        return self.now


def test_daily_cap_allows_limit_per_utc_day_and_restarts_at_midnight() -> None:
    clock = FakeClock("2026-03-01T23:59:00")
    cap = DailyCap(3, clock)
    assert [cap.allow() for _ in range(5)] == [True, True, True, False, False]
    clock.now += 120  # 00:01 the next day
    assert [cap.allow() for _ in range(4)] == [True, True, True, False]


@given(limit=st.integers(0, 50), attempts=st.integers(0, 120))
def test_daily_cap_never_exceeds_its_limit(limit: int, attempts: int) -> None:
    cap = DailyCap(limit, FakeClock("2026-01-01T12:00:00"))
    assert sum(cap.allow() for _ in range(attempts)) == min(limit, attempts)


@pytest.mark.parametrize(
    ("method", "path", "wanted"),
    [
        ("GET", "/api/articles", True),
        ("POST", "/api/articles", True),
        ("delete", "/api/articles/1", True),
        ("PATCH", "/api/articles/1", False),
        ("OPTIONS", "/api/articles", False),
        ("GET", "/favicon.ico", False),
        ("GET", "/assets/app.3f2a.js", False),
        ("GET", "/v1.2/items", True),  # a dot in a directory is not a static file
    ],
)
def test_which_requests_are_reported_as_strapi_does(method: str, path: str, wanted: bool) -> None:
    assert RequestEvents(Telemetry(disabled=True)).wanted(method, path) is wanted


# -- WSGI under wsgiref ----------------------------------------------------------------------------


def wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/boom":
        raise RuntimeError("app failure")
    if path.startswith("/api/"):
        start_response("201 Created" if environ["REQUEST_METHOD"] == "POST" else "200 OK", [])
        return [b"ok"]
    start_response("404 Not Found", [])
    return [b"missing"]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def log_exception(self, exc_info: Any) -> None:  # wsgiref prints the app's traceback otherwise
        pass


class _QuietServer(WSGIServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


def serve_wsgi(app: Any) -> tuple[str, Any]:
    server = make_server("127.0.0.1", 0, app, server_class=_QuietServer, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return f"http://127.0.0.1:{server.server_port}", stop


def test_wsgi_middleware_reports_url_success_and_status(receiver: OTLPReceiver, telemetry: Telemetry) -> None:
    base, stop = serve_wsgi(TelemetryWSGIMiddleware(wsgi_app, telemetry=telemetry))
    try:
        assert requests.get(base + "/api/articles?secret=token", timeout=5).status_code == 200
        assert requests.post(base + "/api/articles", data=b"x", timeout=5).status_code == 201
        assert requests.get(base + "/missing", timeout=5).status_code == 404
        assert requests.get(base + "/boom", timeout=5).status_code == 500
        assert requests.get(base + "/favicon.ico", timeout=5).status_code == 404
        assert requests.patch(base + "/api/articles", timeout=5).status_code == 200
    finally:
        stop()
    events = request_events(receiver, telemetry)
    assert sorted((e["url"], e["statusCode"], e["success"]) for e in events) == [
        ("/api/articles", 200, True),
        ("/api/articles", 201, True),
        ("/boom", 500, False),
        ("/missing", 404, False),
    ]
    assert all("secret" not in str(e) for e in events)


def test_wsgi_middleware_respects_the_daily_cap(receiver: OTLPReceiver, telemetry: Telemetry) -> None:
    base, stop = serve_wsgi(TelemetryWSGIMiddleware(wsgi_app, telemetry=telemetry, daily_cap=2))
    try:
        for _ in range(5):
            assert requests.get(base + "/api/articles", timeout=5).status_code == 200
    finally:
        stop()
    assert len(request_events(receiver, telemetry)) == 2


def test_wsgi_middleware_keeps_serving_when_telemetry_is_strict_and_the_event_is_invalid(
    receiver: OTLPReceiver,
) -> None:
    strict = Telemetry(
        endpoint=receiver.http_endpoint,
        strict=True,
        delivery=otel_telemetry.DeliverySettings(exit_timeout_s=0),
    )
    try:
        app = TelemetryWSGIMiddleware(wsgi_app, telemetry=strict, event_name="")  # invalid name
        base, stop = serve_wsgi(app)
        try:
            assert requests.get(base + "/api/articles", timeout=5).status_code == 200
        finally:
            stop()
    finally:
        strict.shutdown(1)


# -- ASGI under uvicorn -----------------------------------------------------------------------------


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/boom":
        raise RuntimeError("app failure")
    status = 200 if scope["path"].startswith("/api/") else 404
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def serve_asgi(app: Any) -> tuple[str, Any]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(1000):  # until uvicorn has started (or the thread died)
        if server.started or not thread.is_alive():
            break
        time.sleep(0.01)
    assert server.started

    def stop() -> None:
        server.should_exit = True
        thread.join(10)
        sock.close()

    return f"http://127.0.0.1:{sock.getsockname()[1]}", stop


def test_asgi_middleware_reports_url_success_and_status(receiver: OTLPReceiver, telemetry: Telemetry) -> None:
    base, stop = serve_asgi(TelemetryASGIMiddleware(asgi_app, telemetry=telemetry))
    try:
        assert requests.get(base + "/api/articles?q=private", timeout=5).status_code == 200
        assert requests.delete(base + "/api/articles/3", timeout=5).status_code == 200
        assert requests.get(base + "/missing", timeout=5).status_code == 404
        assert requests.get(base + "/boom", timeout=5).status_code == 500
        assert requests.get(base + "/logo.png", timeout=5).status_code == 404
    finally:
        stop()
    events = request_events(receiver, telemetry)
    assert sorted((e["url"], e["statusCode"], e["success"]) for e in events) == [
        ("/api/articles", 200, True),
        ("/api/articles/3", 200, True),
        ("/boom", 500, False),
        ("/missing", 404, False),
    ]


def test_asgi_middleware_respects_the_daily_cap(receiver: OTLPReceiver, telemetry: Telemetry) -> None:
    base, stop = serve_asgi(TelemetryASGIMiddleware(asgi_app, telemetry=telemetry, daily_cap=3))
    try:
        for _ in range(6):
            requests.get(base + "/api/articles", timeout=5)
    finally:
        stop()
    assert len(request_events(receiver, telemetry)) == 3


# -- heartbeat --------------------------------------------------------------------------------------


def test_heartbeat_pings_on_start_and_every_interval_until_stopped(
    receiver: OTLPReceiver, telemetry: Telemetry
) -> None:
    heartbeat = Heartbeat(
        telemetry, interval_s=0.05, properties=lambda: {"eventProperties": {"contentTypes": 4}}
    )
    with heartbeat:
        assert receiver.wait_for(3, 10)
    assert not heartbeat.running
    beats = heartbeat.beats
    assert beats >= 3
    assert telemetry.flush(10)
    pings = [r for r in receiver.records if r.event_name == "ping"]
    assert len(pings) == beats  # every beat arrived, none after stop()
    assert all(r.attributes == {"contentTypes": 4} for r in pings)


def test_heartbeat_survives_a_failing_properties_callback(
    receiver: OTLPReceiver, telemetry: Telemetry
) -> None:
    def broken() -> dict[str, Any]:
        raise ValueError("no database yet")

    heartbeat = Heartbeat(telemetry, interval_s=3600, properties=broken)
    assert heartbeat.beat() is False
    assert Heartbeat(telemetry, interval_s=3600).beat() is True


def test_heartbeat_rejects_a_non_positive_interval() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        Heartbeat(interval_s=0)
