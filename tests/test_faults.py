"""Fault tests: real collectors (the OTLP receiver) failing in scripted ways, real app processes
killed mid-stream, a real full disk, a damaged segment file. Nothing accepted may vanish
without a count, and what the spool holds arrives in the end."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_helpers import assert_balanced
from test_delivery import APP, delivery, free_port, receiver_on, send_seq, seqs, telemetry

from otel_telemetry import Backoff, SpoolSettings
from otel_telemetry.encoding import EVENT_ID_ATTRIBUTE
from otel_telemetry.receiver import Fault, OTLPReceiver
from otel_telemetry.spool.frames import HEADER_SIZE, Frame, parse

MODES = [pytest.param({}, id="memory"), pytest.param({"spool": True}, id="spool")]


def spool_for(mode: dict[str, Any], tmp_path: Path) -> Path | None:
    return tmp_path / "spool" if mode.get("spool") else None


# -- collector down, then back -----------------------------------------------------------------


def _outage(tmp_path: Path, mode: dict[str, Any], down_s: float) -> None:
    port = free_port()
    sent = 0
    with telemetry(port, delivery=delivery(spool_for(mode, tmp_path), backoff=Backoff(0.2, 2.0))) as t:
        end = time.monotonic() + down_s
        while time.monotonic() < end:  # the app keeps sending while the collector is away
            assert all(send_seq(t, 10, start=sent))
            sent += 10
            time.sleep(0.1)
        assert t.stats().exported == 0
        assert_balanced(t.stats())
        with receiver_on(port) as rx:
            assert t.flush(30.0)
            assert sorted(set(seqs(rx))) == list(range(sent))
            assert t.stats().dropped == {}
            assert_balanced(t.stats())


@pytest.mark.parametrize("mode", MODES)
def test_every_event_arrives_after_a_short_collector_outage(tmp_path: Path, mode: dict[str, Any]) -> None:
    _outage(tmp_path, mode, down_s=3.0)


@pytest.mark.slow
def test_every_event_arrives_after_the_collector_was_down_for_30_seconds(tmp_path: Path) -> None:
    _outage(tmp_path, {"spool": True}, down_s=30.0)


# -- a collector that never answers ------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_hanging_collector_does_not_hold_up_send_and_loses_nothing(
    tmp_path: Path, receiver: OTLPReceiver, mode: dict[str, Any]
) -> None:
    receiver.set_default_fault(Fault(hang_s=120.0))  # accepts the connection, never answers
    with telemetry(
        receiver.grpc_port, delivery=delivery(spool_for(mode, tmp_path), backoff=Backoff(0.1, 0.5))
    ) as t:
        assert t.send("ev", {"eventProperties": {"seq": 0}})
        assert receiver.wait_for_requests(1, timeout=20.0)  # the exporter is now stuck in a request
        results = send_seq(t, 5000, start=1)
        # every send returned while the exporter was stuck: nothing was acknowledged meanwhile
        assert all(results)
        assert t.stats().exported == 0
        assert_balanced(t.stats())
        assert receiver.request_log[0].outcome == "hang"
        receiver.set_default_fault(None)
        assert t.flush(60.0)
    assert sorted(set(seqs(receiver))) == list(range(5001))


# -- the app is killed -------------------------------------------------------------------------


def _start_app(config: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(APP), json.dumps(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(30)


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_a_sigkilled_app_loses_nothing_its_successor_delivers_the_rest(tmp_path: Path, protocol: str) -> None:
    spool_dir = tmp_path / "spool"
    with OTLPReceiver(host="127.0.0.1", grpc_port=0, http_port=0) as rx:
        rx.set_default_fault(Fault(hang_s=0.2))  # slow: part is delivered before the kill
        endpoint = rx.grpc_endpoint if protocol == "grpc" else rx.http_endpoint
        options = {
            "endpoint": endpoint,
            "protocol": protocol,
            "batch": {"max_export_batch_size": 50, "schedule_delay_s": 0.05},
            "delivery": {"spool": {"directory": str(spool_dir), "sync": "sync"}},
        }
        first = _start_app({"mode": "send", "count": 10**6, "proc": "first", "options": options})
        sent: list[int] = []
        try:
            assert first.stdout is not None
            for line in first.stdout:
                sent.append(int(line.split()[1]))
                if len(sent) >= 3000:
                    first.send_signal(signal.SIGKILL)
                    break
            sent += [
                int(line.split()[1]) for line in first.stdout.read().splitlines() if line.startswith("sent")
            ]
        finally:
            _stop(first)
        assert first.returncode == -signal.SIGKILL
        delivered_before = len(set(seqs(rx)))
        assert delivered_before < len(sent)  # the kill left work for the successor
        rx.set_default_fault(None)
        second = _start_app({"mode": "idle", "wait_s": 60, "proc": "second", "options": options})
        try:
            stdout, stderr = second.communicate(timeout=120)
        finally:
            _stop(second)
        assert second.returncode == 0, stderr
        received = [r for r in rx.records if r.attributes["proc"] == "first"]
    got = {int(r.attributes["seq"]) for r in received}
    assert set(sent) <= got, f"lost {sorted(set(sent) - got)[:10]}..."
    # at least once: a duplicate carries the same event id as its original
    ids: dict[int, str] = {}
    for record in received:
        seq, event_id = int(record.attributes["seq"]), record.attributes[EVENT_ID_ATTRIBUTE]
        assert ids.setdefault(seq, event_id) == event_id
    final = json.loads(next(line[6:] for line in stdout.splitlines() if line.startswith("final ")))
    assert final["recovered"] > 0
    assert not any(spool_dir.glob("*/*.seg"))  # the orphan was delivered and removed


def test_processes_sharing_a_spool_directory_each_deliver_everything(tmp_path: Path) -> None:
    """Like gunicorn workers: one is SIGKILLed, three more share its spool_dir with a flaky collector."""
    spool_dir = tmp_path / "spool"
    with OTLPReceiver(host="127.0.0.1", grpc_port=0, http_port=None) as rx:
        rx.set_default_fault(Fault(http_status=503))  # nothing leaves the victim's spool
        options = {
            "endpoint": rx.grpc_endpoint,
            "protocol": "grpc",
            "batch": {"max_export_batch_size": 100, "schedule_delay_s": 0.05},
            "delivery": {"spool": {"directory": str(spool_dir), "sync": "sync"}, "backoff": [0.05, 0.3]},
        }
        victim = _start_app({"mode": "send", "count": 10**6, "proc": "victim", "options": options})
        victim_sent: list[int] = []
        try:
            assert victim.stdout is not None
            for line in victim.stdout:
                victim_sent.append(int(line.split()[1]))
                if len(victim_sent) >= 1000:
                    victim.send_signal(signal.SIGKILL)
                    break
            victim_sent += [int(line.split()[1]) for line in victim.stdout.read().splitlines()]
        finally:
            _stop(victim)
        rx.set_default_fault(None)
        for _ in range(5):
            rx.faults.push(Fault(http_status=503))
        workers = [
            _start_app(
                {"mode": "send", "count": 1500, "proc": f"w{i}", "options": options, "delay_s": 0.0005}
            )
            for i in range(3)
        ]
        try:
            outputs = [w.communicate(timeout=120) for w in workers]
        finally:
            for process in workers:
                _stop(process)
        for worker, (_, stderr) in zip(workers, outputs, strict=True):
            assert worker.returncode == 0, stderr
        by_proc: dict[str, set[int]] = {}
        for record in rx.records:
            by_proc.setdefault(record.attributes["proc"], set()).add(int(record.attributes["seq"]))
        recovered = [json.loads(out.split("final ", 1)[1])["recovered"] for out, _ in outputs]
    for i in range(3):
        assert by_proc[f"w{i}"] == set(range(1500))
    assert set(victim_sent) <= by_proc["victim"]  # adopted by one of the workers
    assert sum(1 for count in recovered if count) == 1  # by exactly one
    assert not any(spool_dir.glob("*/*.seg"))


# -- the disk ----------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: a disk that really fills up (root only; skipped where mount is refused)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_drops_with_a_count_and_never_crashes(small_disk: Path) -> None:
    port = free_port()
    with telemetry(
        port,
        delivery=delivery(small_disk, max_export_batch_size=100),
    ) as t:
        results = [
            t.send("ev", {"eventProperties": {"seq": i, "pad": "p" * 200}}) for i in range(4000)
        ]  # ~1 MB encoded: four times the disk
        assert all(results)
        assert not t.flush(1.0)
        stats = t.stats()
        assert stats.dropped["spool_error"] > 0
        assert stats.spool_pending + stats.dropped["spool_error"] == 4000
        assert_balanced(stats)
        with receiver_on(port) as rx:
            assert rx.wait_for(stats.spool_pending, timeout=30.0)
            deadline = time.monotonic() + 30.0
            while t.stats().spool_pending and time.monotonic() < deadline:
                time.sleep(0.05)
            # delivered, so the disk has room again: new events are spooled and delivered
            assert all(send_seq(t, 10, start=10_000))
            assert t.flush(10.0)
            assert_balanced(t.stats())
        assert len(set(seqs(rx))) == stats.spool_pending + 10


@pytest.mark.parametrize("overflow", ["drop_newest", "drop_oldest"])
def test_the_spool_size_cap_is_kept_and_every_drop_counted(tmp_path: Path, overflow: str) -> None:
    port = free_port()
    cap = 64 * 1024
    with telemetry(
        port,
        delivery=delivery(
            SpoolSettings(tmp_path, max_bytes=cap), max_export_batch_size=50, overflow=overflow
        ),
    ) as t:
        assert all(t.send("ev", {"eventProperties": {"seq": i, "pad": "p" * 100}}) for i in range(3000))
        assert not t.flush(1.0)
        stats = t.stats()
        assert stats.spool_bytes <= cap
        dropped = stats.dropped["spool_full"]
        assert dropped > 0
        assert_balanced(stats)
        with receiver_on(port) as rx:
            assert t.flush(20.0)
            received = seqs(rx)
            assert_balanced(t.stats())
    assert len(received) + dropped == 3000
    assert len(set(received)) == len(received)
    if overflow == "drop_newest":
        assert 0 in received and 2999 not in received
    else:
        assert 2999 in received


def test_a_damaged_segment_is_skipped_with_an_error_and_the_rest_delivered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    with telemetry(
        port,
        delivery=delivery(tmp_path, max_export_batch_size=100),
    ) as first:
        assert all(send_seq(first, 3000))
        assert not first.flush(0.5)
    segments = sorted(tmp_path.glob("*/*.seg"))
    frames = [item for item in parse(segments[0].read_bytes()) if isinstance(item, Frame)]
    victim = frames[len(frames) // 2]
    with open(segments[0], "r+b") as handle:  # flip bytes inside one frame's payload
        handle.seek(victim.start + HEADER_SIZE + 20)
        handle.write(b"\xff\x00\xff\x00")
    caplog.set_level(logging.ERROR, logger="otel_telemetry")
    with receiver_on(port) as rx, telemetry(port, delivery=delivery(tmp_path)) as second:
        assert rx.wait_for(3000 - victim.records, timeout=30.0)
        deadline = time.monotonic() + 10
        while second.stats().spool_pending and time.monotonic() < deadline:
            time.sleep(0.05)
        stats = second.stats()
        assert stats.dropped == {"spool_corrupt": victim.records}
        assert stats.spool_corrupt_bytes >= victim.end - victim.start  # the skipped bytes are reported
        assert_balanced(stats)  # recovered == exported + dropped
    assert len(seqs(rx)) == 3000 - victim.records
    assert "damaged" in caplog.text and "checksum mismatch" in caplog.text


def test_fork_gives_the_child_its_own_spool_directory(tmp_path: Path, receiver: OTLPReceiver) -> None:
    with telemetry(receiver.grpc_port, delivery=delivery(tmp_path)) as t:
        assert all(send_seq(t, 10))
        assert t.flush(10.0)
        pid = os.fork()
        if pid == 0:  # the child: send and exit without running the parent's test machinery
            code = 1
            try:
                code = 0 if all(send_seq(t, 10, start=100)) and t.shutdown(10.0) else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert all(send_seq(t, 10, start=200))
        assert t.flush(10.0)
    assert sorted(seqs(receiver)) == [*range(10), *range(100, 110), *range(200, 210)]
