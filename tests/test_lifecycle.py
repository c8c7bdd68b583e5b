"""Delivery across the app's lifecycle: exit, fork, threads, asyncio, bursts, a dead collector."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource

import otel_telemetry
from otel_telemetry.receiver import OTLPReceiver

DEAD_ENDPOINT = "http://127.0.0.1:1"  # nothing listens on port 1


def _run_script(code: str, receiver: OTLPReceiver, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.grpc_endpoint,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=environ, capture_output=True, text=True, timeout=60
    )


def test_a_script_that_sends_and_exits_without_flush_delivers(receiver: OTLPReceiver) -> None:
    result = _run_script(
        """
        import otel_telemetry
        for i in range(50):
            otel_telemetry.send("didRunScript", {"eventProperties": {"i": i}})
        """,
        receiver,
    )
    assert result.returncode == 0, result.stderr
    assert receiver.wait_for(50, 10)
    assert sorted(r.attributes["i"] for r in receiver.records) == list(range(50))


def test_exit_with_a_dead_collector_is_bounded_by_the_exit_timeout(receiver: OTLPReceiver) -> None:
    started = time.monotonic()
    result = _run_script(
        """
        import otel_telemetry
        otel_telemetry.send("e")
        """,
        receiver,
        OTEL_EXPORTER_OTLP_ENDPOINT=DEAD_ENDPOINT,
        OTEL_TELEMETRY_EXIT="flush",  # the long-running app's exit (a short-lived one hands off)
        OTEL_TELEMETRY_EXIT_TIMEOUT="500",
        OTEL_TELEMETRY_LOG_LEVEL="info",  # quiet on stderr unless asked
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30  # would hang for minutes if exit waited on retries
    assert "1 event(s) still queued" in result.stderr or "exporter unavailable at shutdown" in result.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_delivers_its_own_events_and_not_the_parents(receiver: OTLPReceiver) -> None:
    t = otel_telemetry.Telemetry(endpoint=receiver.grpc_endpoint, protocol="grpc", schedule_delay_s=30)
    t.send("parent.before", {})
    assert t.flush(10)
    t.send("parent.queued", {})  # still queued at fork time: the parent's, not the child's
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            for i in range(20):
                t.send("child", {"eventProperties": {"i": i}})
            code = 0 if t.flush(10) else 3
        except BaseException:
            code = 4
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert t.flush(10)
    t.shutdown(5)
    assert receiver.wait_for(22, 10)
    names = [r.event_name for r in receiver.records]
    assert names.count("child") == 20
    assert names.count("parent.queued") == 1  # not exported twice (once by the child)
    assert names.count("parent.before") == 1


def test_multiprocessing_workers_deliver(receiver: OTLPReceiver) -> None:
    result = _run_script(
        """
        import multiprocessing as mp
        import otel_telemetry

        def work(i):
            otel_telemetry.send("didProcessJob", {"eventProperties": {"job": i}})
            return otel_telemetry.flush(10)

        if __name__ == "__main__":
            otel_telemetry.send("didStartPool")
            otel_telemetry.flush(10)
            with mp.get_context("fork").Pool(3) as pool:
                assert all(pool.map(work, range(12)))
        """,
        receiver,
    )
    assert result.returncode == 0, result.stderr
    assert receiver.wait_for(13, 10)
    jobs = sorted(r.attributes["job"] for r in receiver.records if r.event_name == "didProcessJob")
    assert jobs == list(range(12))


def test_eight_threads_sending_at_once_lose_nothing(receiver: OTLPReceiver) -> None:
    per_thread = 2_000
    with otel_telemetry.Telemetry(endpoint=receiver.grpc_endpoint, protocol="grpc") as t:
        barrier = threading.Barrier(8)

        def sender(n: int) -> None:
            barrier.wait()
            for i in range(per_thread):
                assert t.send("threaded", {"eventProperties": {"thread": n, "i": i}})

        threads = [threading.Thread(target=sender, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert t.flush(30)
        assert t.stats().exported == 8 * per_thread
    assert receiver.wait_for(8 * per_thread, 30)
    seen = {(r.attributes["thread"], r.attributes["i"]) for r in receiver.records}
    assert len(seen) == len(receiver.records) == 8 * per_thread


def test_send_can_be_called_from_an_asyncio_event_loop(receiver: OTLPReceiver) -> None:
    t = otel_telemetry.Telemetry(endpoint=receiver.http_endpoint, protocol="http/protobuf")

    async def handler(i: int) -> bool:
        await asyncio.sleep(0)
        return t.send("didHandleRequest", {"eventProperties": {"i": i}})

    async def main() -> list[bool]:
        return await asyncio.gather(*(handler(i) for i in range(100)))

    assert all(asyncio.run(main()))
    assert t.flush(10)
    t.shutdown(5)
    assert receiver.wait_for(100, 10)


def test_a_burst_of_20000_events_at_default_settings_is_not_dropped(receiver: OTLPReceiver) -> None:
    with otel_telemetry.Telemetry(endpoint=receiver.grpc_endpoint, protocol="grpc") as t:
        accepted = sum(t.send("burst", {"eventProperties": {"i": i}}) for i in range(20_000))
        assert accepted == 20_000
        assert t.flush(60)
        stats = t.stats()
    assert stats.dropped == {}
    assert stats.exported == 20_000
    assert receiver.wait_for(20_000, 30)
    assert len({r.attributes["i"] for r in receiver.records}) == 20_000


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_flush_and_shutdown_return_within_their_timeout_when_the_collector_is_down(protocol: str) -> None:
    t = otel_telemetry.Telemetry(endpoint=DEAD_ENDPOINT, protocol=protocol)
    for i in range(5_000):
        t.send("e", {"eventProperties": {"i": i}})
    started = time.monotonic()
    assert t.flush(0.5) is False
    flush_took = time.monotonic() - started
    started = time.monotonic()
    assert t.shutdown(0.5) is False
    shutdown_took = time.monotonic() - started
    # Generous bounds (the machine is shared): the SDK's own force_flush blocks for ~30 s here.
    assert flush_took < 5 and shutdown_took < 5
    deadline = time.monotonic() + 10  # a batch still in flight is counted when its attempt ends
    while t.stats().dropped.get("shutdown", 0) < 5_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    stats = t.stats()
    assert stats.exported == 0
    assert stats.dropped == {"shutdown": 5_000}  # every event counted, none silently lost
    assert t.send("after shutdown") is False


def test_events_sent_while_the_collector_is_down_arrive_when_it_comes_back() -> None:
    with OTLPReceiver(grpc_port=0, http_port=None) as probe:
        port = probe.grpc_port
    endpoint = f"http://127.0.0.1:{port}"
    t = otel_telemetry.Telemetry(
        endpoint=endpoint, protocol="grpc", schedule_delay_s=0.05, backoff=otel_telemetry.Backoff(0.1, 0.3)
    )
    for i in range(300):
        assert t.send("offline", {"eventProperties": {"i": i}})
    time.sleep(0.5)  # several failed attempts
    assert t.stats().retries >= 1
    with OTLPReceiver(grpc_port=port, http_port=None) as rx:
        assert t.flush(20)
        assert rx.wait_for(300, 10)
        assert sorted(r.attributes["i"] for r in rx.records) == list(range(300))
    t.shutdown(1)


def test_an_existing_logger_provider_keeps_its_pipeline(receiver: OTLPReceiver) -> None:
    provider = LoggerProvider(resource=Resource.create({"service.name": "app-with-otel"}))
    provider.add_log_record_processor(
        BatchLogRecordProcessor(OTLPLogExporter(endpoint=receiver.grpc_endpoint, insecure=True))
    )
    t = otel_telemetry.Telemetry(logger_provider=provider)
    assert t.send(
        "didCreateEntry", {"eventProperties": {"model": "article"}, "groupProperties": {"db": "pg"}}
    )
    assert t.send("didSelectFile", {"userProperties": {"role": "editor"}})
    assert t.flush(10)
    t.shutdown(5)
    provider.shutdown()
    assert receiver.wait_for(2, 10)
    by_name = {r.event_name: r for r in receiver.records}
    assert by_name["didCreateEntry"].attributes == {"model": "article"}
    assert by_name["didCreateEntry"].resource["db"] == "pg"
    assert by_name["didCreateEntry"].resource["service.name"] == "app-with-otel"
    assert "db" not in by_name["didSelectFile"].resource
    assert by_name["didSelectFile"].attributes == {"user.role": "editor"}
    assert by_name["didSelectFile"].scope_name == "otel_telemetry"


def test_module_level_functions_use_a_default_instance_from_the_environment(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "default-instance")
    try:
        assert otel_telemetry.send("didCreateEntry", event_properties={"model": "article"})
        assert otel_telemetry.flush(10)
        assert otel_telemetry.stats().exported == 1
    finally:
        assert otel_telemetry.shutdown(5)
    assert receiver.wait_for(1, 5)
    assert receiver.records[0].resource["service.name"] == "default-instance"
