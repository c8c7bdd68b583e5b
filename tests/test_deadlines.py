"""flush(t) and shutdown(t) keep their timeout in every fault mode, and stats() adds up meanwhile.

A real receiver fails in scripted ways (accepts and never answers, answers slowly, 503 storms,
a Retry-After beyond the deadline, a partial success rejecting more than the batch held) or
nothing listens at all. While the fault is active a sampler thread reads ``stats()`` in a
loop: every event given to ``send()`` must be, at every moment, exactly one of queued, in
flight, in the spool, exported or dropped, and ``accepted`` must never count an event
``send()`` has not been called for. Timing bounds are generous (a shared 2-core machine):
the measured margins are in ``docs/delivery.md`` (``python -m benchmarks.deadlines``).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fault_helpers import assert_balanced, unaccounted
from test_delivery import free_port

from otel_telemetry import Backoff, DeliverySettings, OTLPExporter, SpoolSettings, Telemetry
from otel_telemetry.receiver import Fault, OTLPReceiver

#: Allowed overrun of flush(t) / shutdown(t) in these tests: generous, the machine is shared.
MARGIN_S = 2.0

FAULTS: dict[str, Fault | None] = {
    "healthy": None,
    "hang": Fault(hang_s=300.0),  # accepts the request, never answers
    "slow": Fault(hang_s=0.7),  # answers, late
    "503_storm": Fault(http_status=503),
    "retry_after_beyond_the_deadline": Fault(http_status=503, retry_after="120"),
    "partial_success_rejecting_more_than_sent": Fault(rejected=10**6),
    "nothing_listens": None,
}


class Sends:
    """Counts ``send()`` calls: started before the call, accepted after it returned True."""

    def __init__(self) -> None:
        self.started = 0
        self.accepted = 0

    def send(self, t: Telemetry, count: int, start: int = 0) -> None:
        for i in range(start, start + count):
            self.started += 1
            if t.send("ev", {"eventProperties": {"seq": i}}):
                self.accepted += 1


class Sampler:
    """Reads ``stats()`` in a loop on its own thread; keeps what did not add up."""

    def __init__(self, t: Telemetry, sends: Sends) -> None:
        self._t = t
        self._sends = sends
        self._stop = threading.Event()
        self.samples = 0
        self.problems: list[str] = []
        self._thread = threading.Thread(target=self._run, name="stats-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            accepted_before = self._sends.accepted
            stats = self._t.stats()
            started_after = self._sends.started
            self.samples += 1
            if unaccounted(stats):
                self.problems.append(f"unaccounted {unaccounted(stats):+d}: {stats}")
            if min(stats.exported, stats.in_flight, stats.queued, *stats.dropped.values(), 0) < 0:
                self.problems.append(f"a negative count: {stats}")
            if not accepted_before <= stats.accepted <= started_after:
                self.problems.append(
                    f"accepted {stats.accepted} outside [{accepted_before}, {started_after}]: {stats}"
                )
            time.sleep(0.0005)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5.0)


@contextmanager
def collector(fault_name: str, protocol: str) -> Iterator[tuple[str, OTLPReceiver | None]]:
    """The endpoint of a collector failing as ``fault_name`` says (None: nothing listens)."""
    if fault_name == "nothing_listens":
        port = free_port()
        yield (f"http://127.0.0.1:{port}" + ("" if protocol == "grpc" else "/v1/logs")), None
        return
    with OTLPReceiver(host="127.0.0.1", grpc_port=0, http_port=0) as rx:
        rx.set_default_fault(FAULTS[fault_name])
        yield (rx.grpc_endpoint if protocol == "grpc" else rx.http_logs_url), rx


def make_telemetry(endpoint: str, protocol: str, spool_dir: Path | None = None, **delivery: Any) -> Telemetry:
    """A sender whose attempts may outlast any deadline below (30 s), so one is in flight at it."""
    delivery.setdefault("export_timeout_s", 30.0)
    delivery.setdefault("backoff", Backoff(0.05, 0.3))
    return Telemetry(
        "deadline-test",
        exporter=OTLPExporter(endpoint=endpoint, protocol=protocol),
        delivery=DeliverySettings(
            max_export_batch_size=100,
            schedule_delay_s=0.05,
            spool=SpoolSettings(spool_dir) if spool_dir else None,
            **delivery,
        ),
    )


def timed(call: Any, *args: Any) -> tuple[Any, float]:
    start = time.monotonic()
    result = call(*args)
    return result, time.monotonic() - start


CASES = [
    pytest.param(fault, protocol, spool, id=f"{fault}-{protocol}-{'spool' if spool else 'memory'}")
    for fault in FAULTS
    for protocol in ("grpc", "http/protobuf")
    for spool in (False, True)
    if not spool or fault in ("hang", "503_storm", "partial_success_rejecting_more_than_sent")
]


@pytest.mark.parametrize(("fault", "protocol", "spool"), CASES)
def test_flush_and_shutdown_keep_their_timeout_and_stats_add_up(
    tmp_path: Path, fault: str, protocol: str, spool: bool
) -> None:
    sends = Sends()
    with collector(fault, protocol) as (endpoint, rx):
        t = make_telemetry(endpoint, protocol, tmp_path / "spool" if spool else None)
        try:
            with Sampler(t, sends) as sampler:
                sends.send(t, 350)
                if rx is not None:
                    assert rx.wait_for_requests(1, timeout=20.0)  # a request is in flight now
                ok, flush_s = timed(t.flush, 1.0)
                assert flush_s <= 1.0 + MARGIN_S, f"flush(1.0) took {flush_s:.2f} s"
                sends.send(t, 50, start=350)
                _, shutdown_s = timed(t.shutdown, 2.0)
                assert shutdown_s <= 2.0 + MARGIN_S, f"shutdown(2.0) took {shutdown_s:.2f} s"
                time.sleep(0.05)  # a last sample after the shutdown
        finally:
            t.shutdown(0.1)
        stats = t.stats()
    assert sampler.samples > 10
    assert sampler.problems == [], sampler.problems[:3]
    assert_balanced(stats)
    assert stats.queued == stats.in_flight == 0  # the in-flight batch was counted
    assert stats.accepted == sends.accepted == 400
    if not spool:  # what the deadline cut off is dropped and counted; a spool keeps it on disk
        assert stats.exported + stats.dropped_total == 400
    if fault == "healthy":
        assert ok and stats.exported == 400
    if fault == "partial_success_rejecting_more_than_sent":
        assert stats.exported == 0 and stats.dropped.get("rejected", 0) == 400 - stats.spool_pending
    if fault in ("hang", "nothing_listens", "503_storm", "retry_after_beyond_the_deadline"):
        assert not ok and stats.exported == 0


APP = textwrap.dedent(
    """
    import sys, time
    from otel_telemetry import Backoff, DeliverySettings, OTLPExporter, Telemetry
    t = Telemetry(
        "exit-test",
        exporter=OTLPExporter(endpoint=sys.argv[1], protocol=sys.argv[2]),
        delivery=DeliverySettings.from_env(  # OTEL_TELEMETRY_EXIT still counts
            schedule_delay_s=0.05, export_timeout_s=30.0, exit_timeout_s=2.0, backoff=Backoff(0.05, 0.3)
        ),
    )
    for i in range(100):
        t.send("ev", {"eventProperties": {"seq": i}})
    time.sleep(1.0)  # the batch is in flight now
    print("exiting", time.monotonic(), flush=True)
    """
)


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_at_exit_a_collector_that_never_answers_costs_the_exit_timeout_and_is_logged(
    tmp_path: Path, protocol: str
) -> None:
    with OTLPReceiver(host="127.0.0.1", grpc_port=0, http_port=0) as rx:
        rx.set_default_fault(Fault(hang_s=300.0))
        endpoint = rx.grpc_endpoint if protocol == "grpc" else rx.http_logs_url
        process = subprocess.Popen(
            [sys.executable, "-c", APP, endpoint, protocol],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={
                "OTEL_TELEMETRY_STATE_DIR": str(tmp_path),
                "PATH": "/usr/bin:/bin",
                "OTEL_TELEMETRY_EXIT": "flush",  # the exit timeout is flush mode's (docs/short-lived.md)
                "OTEL_TELEMETRY_LOG_LEVEL": "info",  # otel-telemetry's log reaches stderr when asked
            },
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            exiting = time.monotonic()
            _, stderr = process.communicate(timeout=60)
            exit_s = time.monotonic() - exiting
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert line.startswith("exiting"), stderr
    assert process.returncode == 0, stderr
    assert exit_s <= 2.0 + MARGIN_S, f"exit took {exit_s:.2f} s"
    assert "100 event(s)" in stderr and "shutdown" in stderr, stderr


@pytest.mark.parametrize("overflow", ["drop_newest", "drop_oldest"])
def test_stats_add_up_while_a_burst_overflows_the_queue_and_drains(overflow: str) -> None:
    """Evictions, refusals, batches taken and settled, all while stats() is read in a loop."""
    sends = Sends()
    with OTLPReceiver(host="127.0.0.1", grpc_port=0, http_port=None) as rx:
        rx.set_default_fault(Fault(hang_s=0.01))  # a collector a little slower than the app
        t = Telemetry(
            "overflow-test",
            exporter=OTLPExporter(endpoint=rx.grpc_endpoint, protocol="grpc"),
            delivery=DeliverySettings(
                max_queue_size=500, max_export_batch_size=50, schedule_delay_s=0.01, overflow=overflow
            ),
        )
        try:
            with Sampler(t, sends) as sampler:
                sends.send(t, 20_000)
                assert t.flush(60.0) or overflow == "drop_oldest"
        finally:
            t.shutdown(5.0)
        stats = t.stats()
    assert sampler.problems == [], sampler.problems[:3]
    assert sampler.samples > 10
    assert_balanced(stats)
    assert stats.accepted == sends.accepted
    assert stats.dropped.get("queue_full", 0) > 0  # the queue did overflow
    assert stats.exported == len(rx.records)
