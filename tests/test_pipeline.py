"""The in-memory pipeline (``pipeline.py``): a bounded queue, its overflow policies, batches
retried while the collector is down, and ``flush()`` / ``shutdown()`` bounded by their timeouts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_delivery import delivery, free_port, receiver_on, send_seq, seqs, spooled_records, telemetry

import otel_telemetry
from otel_telemetry import (
    DeliverySettings,
    OTLPExporter,
    PrivacySettings,
    SpoolSettings,
    Telemetry,
)
from otel_telemetry.receiver import Fault, OTLPReceiver

DEAD_ENDPOINT = "http://127.0.0.1:1"  # nothing listens on port 1

# -- overflow policies -------------------------------------------------------------------------


def test_drop_newest_refuses_events_while_the_queue_is_full_and_counts_each() -> None:
    port = free_port()
    with telemetry(port, delivery=delivery(max_queue_size=50, max_export_batch_size=10)) as t:
        results = send_seq(t, 500)
        stats = t.stats()
        assert sum(results) == stats.accepted < 500
        assert stats.dropped["queue_full"] == 500 - sum(results)
        with receiver_on(port) as rx:
            assert t.flush(15.0)
            assert sorted(seqs(rx)) == [i for i, ok in enumerate(results) if ok]


def test_drop_oldest_accepts_every_event_and_evicts_the_oldest_queued() -> None:
    port = free_port()
    with telemetry(
        port, delivery=delivery(max_queue_size=50, max_export_batch_size=10, overflow="drop_oldest")
    ) as t:
        assert all(send_seq(t, 500))
        stats = t.stats()
        assert stats.accepted == 500
        evicted = stats.dropped["queue_full"]
        with receiver_on(port) as rx:
            assert t.flush(15.0)
            received = seqs(rx)
            assert len(received) + evicted == 500
            assert 499 in received  # the newest survive
            assert t.stats().exported == len(received)


def test_block_slows_the_caller_instead_of_dropping() -> None:
    with OTLPReceiver(host="127.0.0.1", grpc_port=0, http_port=None) as rx:
        rx.set_default_fault(Fault(hang_s=0.02))  # a slow collector that accepts everything
        with telemetry(
            rx.grpc_port,
            delivery=delivery(
                max_queue_size=20, max_export_batch_size=10, overflow="block", block_timeout_s=30.0
            ),
        ) as t:
            assert all(send_seq(t, 300))
            assert t.flush(15.0)
            assert t.stats().dropped == {}
        assert sorted(seqs(rx)) == list(range(300))


def test_block_gives_up_after_its_timeout_and_counts_the_drop() -> None:
    port = free_port()
    with telemetry(
        port,
        delivery=delivery(
            max_queue_size=20, max_export_batch_size=10, overflow="block", block_timeout_s=0.05
        ),
    ) as t:
        results = send_seq(t, 40)
        assert not all(results)
        assert t.stats().dropped["queue_full"] == results.count(False)


# -- the collector is down ---------------------------------------------------------------------


def test_a_burst_of_20000_events_at_default_settings_is_not_dropped(receiver: OTLPReceiver) -> None:
    with otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint=receiver.grpc_endpoint, protocol="grpc")
    ) as t:
        accepted = sum(t.send("burst", {"eventProperties": {"i": i}}) for i in range(20_000))
        assert accepted == 20_000
        assert t.flush(60)
        stats = t.stats()
    assert stats.dropped == {}
    assert stats.exported == 20_000
    assert receiver.wait_for(20_000, 30)
    assert len({r.attributes["i"] for r in receiver.records}) == 20_000


def test_events_sent_while_the_collector_is_down_arrive_when_it_comes_back() -> None:
    with OTLPReceiver(grpc_port=0, http_port=None) as probe:
        port = probe.grpc_port
    endpoint = f"http://127.0.0.1:{port}"
    t = otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint=endpoint, protocol="grpc"),
        delivery=otel_telemetry.DeliverySettings(
            schedule_delay_s=0.05, backoff=otel_telemetry.Backoff(0.1, 0.3)
        ),
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


# -- bounded flush and shutdown ----------------------------------------------------------------


@pytest.mark.parametrize("spooled", [False, True], ids=["memory", "spool"])
def test_flush_and_shutdown_return_within_their_timeouts_while_the_collector_is_down(
    tmp_path: Path, spooled: bool
) -> None:
    t = Telemetry(
        exporter=OTLPExporter(endpoint=f"http://127.0.0.1:{free_port()}", protocol="grpc"),
        privacy=PrivacySettings(project_id="p"),
        delivery=DeliverySettings(spool=SpoolSettings(tmp_path) if spooled else None),
    )
    assert all(send_seq(t, 100))
    started = time.monotonic()
    assert not t.flush(0.5)
    assert not t.shutdown(0.5)
    assert time.monotonic() - started < 0.5 + 0.5 + 5.0  # generous: the contract is "returns"
    if spooled:
        assert "shutdown" not in t.stats().dropped  # kept on disk for the next process
        assert spooled_records(tmp_path) == 100
    else:
        assert t.stats().dropped["shutdown"] == 100


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_flush_and_shutdown_return_within_their_timeout_when_the_collector_is_down(protocol: str) -> None:
    t = otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint=DEAD_ENDPOINT, protocol=protocol)
    )
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
