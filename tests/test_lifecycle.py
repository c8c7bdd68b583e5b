"""Delivery across the app's lifecycle: exit, fork, multiprocessing, threads, asyncio, an app's own
LoggerProvider, the module-level default instance (bursts and a dead collector: test_pipeline.py)."""

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
    t = otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint=receiver.grpc_endpoint, protocol="grpc"),
        delivery=otel_telemetry.DeliverySettings(schedule_delay_s=30),
    )
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
    with otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint=receiver.grpc_endpoint, protocol="grpc")
    ) as t:
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
    t = otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint=receiver.http_endpoint, protocol="http/protobuf")
    )

    async def handler(i: int) -> bool:
        await asyncio.sleep(0)
        return t.send("didHandleRequest", {"eventProperties": {"i": i}})

    async def main() -> list[bool]:
        return await asyncio.gather(*(handler(i) for i in range(100)))

    assert all(asyncio.run(main()))
    assert t.flush(10)
    t.shutdown(5)
    assert receiver.wait_for(100, 10)


def test_an_existing_logger_provider_keeps_its_pipeline(receiver: OTLPReceiver) -> None:
    provider = LoggerProvider(resource=Resource.create({"service.name": "app-with-otel"}))
    provider.add_log_record_processor(
        BatchLogRecordProcessor(OTLPLogExporter(endpoint=receiver.grpc_endpoint, insecure=True))
    )
    t = otel_telemetry.Telemetry(exporter=otel_telemetry.LoggerProviderExporter(provider))
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
