"""Delivery without loss surprises: the spool across instances and its durability modes, event
ids, delivery settings, self-metrics, and flat memory under sustained overload (the in-memory
queue's overflow policies and bounded flush/shutdown: test_pipeline.py)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_telemetry import (
    Backoff,
    DeliverySettings,
    OTLPExporter,
    PrivacySettings,
    SpoolSettings,
    Telemetry,
    TelemetryError,
)
from otel_telemetry.encoding import EVENT_ID_ATTRIBUTE
from otel_telemetry.receiver import Fault, OTLPReceiver
from otel_telemetry.spool.frames import Frame, parse

APP = Path(__file__).with_name("test_delivery_app.py")


def free_port() -> int:
    """A port nobody listens on (yet): the collector is down until a receiver binds it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: Quick batches and retries, so that the tests wait little.
FAST = DeliverySettings(schedule_delay_s=0.05)
RETRY = Backoff(0.05, 0.3)


def delivery(
    spool: Path | SpoolSettings | None = None,
    *,
    backoff: Backoff = RETRY,
    event_ids: bool | None = None,
    **batch: Any,
) -> DeliverySettings:
    """Quick batches (``batch``: the queue and batch fields, over a 50 ms schedule delay) and quick
    retries, through a spool in ``spool`` if given."""
    if isinstance(spool, Path):
        spool = SpoolSettings(spool)
    queue = {"schedule_delay_s": FAST.schedule_delay_s, **batch}
    return DeliverySettings(backoff=backoff, spool=spool, event_ids=event_ids, **queue)


@contextmanager
def telemetry(port: int, *, delivery: DeliverySettings | None = None, **options: Any) -> Iterator[Telemetry]:
    """A Telemetry exporting over gRPC to 127.0.0.1:``port`` (2 s per attempt), shut down at the end."""
    t = Telemetry(
        "delivery-test",
        exporter=OTLPExporter(endpoint=f"http://127.0.0.1:{port}", protocol="grpc", headers={}),
        delivery=delivery or globals()["delivery"](),
        privacy=PrivacySettings(project_id="delivery-project"),
        **options,
    )
    try:
        yield t
    finally:
        t.shutdown(2.0)


@contextmanager
def receiver_on(port: int) -> Iterator[OTLPReceiver]:
    """The collector comes up on ``port``."""
    with OTLPReceiver(host="127.0.0.1", grpc_port=port, http_port=None) as rx:
        yield rx


def seqs(rx: OTLPReceiver) -> list[int]:
    return [int(r.attributes["seq"]) for r in rx.records]


def send_seq(t: Telemetry, count: int, start: int = 0) -> list[bool]:
    return [t.send("ev", {"eventProperties": {"seq": i}}) for i in range(start, start + count)]


def spooled_records(spool_dir: Path) -> int:
    """Records in the frames of every segment file under ``spool_dir`` (read from disk)."""
    total = 0
    for segment in spool_dir.glob("*/*.seg"):
        total += sum(item.records for item in parse(segment.read_bytes()) if isinstance(item, Frame))
    return total


# -- the spool across instances ----------------------------------------------------------------


def test_the_next_instance_delivers_what_a_stopped_one_left_in_the_spool(tmp_path: Path) -> None:
    port = free_port()
    with telemetry(port, delivery=delivery(tmp_path)) as first:
        assert all(send_seq(first, 300))
        assert not first.flush(0.3)
    assert spooled_records(tmp_path) == 300
    with receiver_on(port) as rx, telemetry(port, delivery=delivery(tmp_path)) as second:
        assert rx.wait_for(300, timeout=20.0)
        assert second.stats().recovered == 300
    assert sorted(seqs(rx)) == list(range(300))
    assert spooled_records(tmp_path) == 0


def test_shutdown_with_a_spool_delivers_the_queue_and_removes_its_directory(
    tmp_path: Path, receiver: OTLPReceiver
) -> None:
    t = Telemetry(
        exporter=OTLPExporter(endpoint=receiver.grpc_endpoint, protocol="grpc"),
        privacy=PrivacySettings(project_id="p"),
        delivery=DeliverySettings(spool=SpoolSettings(tmp_path)),
    )
    assert all(send_seq(t, 1000))
    assert t.shutdown(10.0)
    assert sorted(seqs(receiver)) == list(range(1000))
    assert list(tmp_path.iterdir()) == []


# -- spool durability modes --------------------------------------------------------------------


def test_sync_mode_returns_only_once_the_event_is_in_a_segment_file(tmp_path: Path) -> None:
    with telemetry(free_port(), delivery=delivery(SpoolSettings(tmp_path, sync="sync", fsync="always"))) as t:
        for i in range(5):
            assert t.send("ev", {"eventProperties": {"seq": i}})
            assert spooled_records(tmp_path) == i + 1
        assert t.stats().spooled == 5


def test_a_spool_that_cannot_be_created_falls_back_to_memory_delivery(
    tmp_path: Path, receiver: OTLPReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with telemetry(receiver.grpc_port, delivery=delivery(blocker / "spool")) as t:
        assert all(send_seq(t, 20))
        assert t.flush(10.0)
    assert sorted(seqs(receiver)) == list(range(20))
    assert "cannot use spool directory" in caplog.text


def test_raw_user_ids_never_reach_the_spool(tmp_path: Path) -> None:
    with telemetry(free_port(), delivery=delivery(tmp_path)) as t:
        assert t.send("ev", {"userProperties": {"userId": "alice@example.com", "plan": "pro"}})
        assert t.send("ev", user_id="bob@example.com")
        assert not t.flush(0.3)
    data = b"".join(segment.read_bytes() for segment in tmp_path.glob("*/*.seg"))
    assert spooled_records(tmp_path) == 2
    assert b"alice@example.com" not in data and b"bob@example.com" not in data
    assert b"user.hash" in data and b"pro" in data


# -- event ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, False),
        ({"event_ids": True}, True),
        ({"spool": True}, True),
        ({"spool": True, "event_ids": False}, False),
    ],
)
def test_event_ids_are_unique_and_on_by_default_only_with_a_spool(
    tmp_path: Path, receiver: OTLPReceiver, options: dict[str, Any], expected: bool
) -> None:
    spool = tmp_path if options.get("spool") else None
    with telemetry(receiver.grpc_port, delivery=delivery(spool, event_ids=options.get("event_ids"))) as t:
        assert all(send_seq(t, 1000))
        assert t.flush(10.0)
    ids = [r.attributes.get(EVENT_ID_ATTRIBUTE) for r in receiver.records]
    if expected:
        assert len(set(ids)) == 1000
        assert all(isinstance(i, str) and len(i) == 32 and int(i, 16) >= 0 for i in ids)
    else:
        assert ids == [None] * 1000


# -- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: DeliverySettings(overflow="drop_random"), "overflow"),  # type: ignore[arg-type]
        (lambda: SpoolSettings(Path("x"), fsync="sometimes"), "spool.fsync"),  # type: ignore[arg-type]
        (lambda: SpoolSettings(Path("x"), sync="maybe"), "spool.sync"),  # type: ignore[arg-type]
        (lambda: SpoolSettings(Path("x"), max_bytes=10), "spool.max_bytes"),
        (lambda: DeliverySettings(export_timeout_s=0), "export_timeout_s"),
        (lambda: DeliverySettings(block_timeout_s=-1), "block_timeout_s"),
    ],
)
def test_a_bad_delivery_argument_names_the_field(build: Any, field: str) -> None:
    with pytest.raises(TelemetryError) as raised:
        build()
    assert raised.value.field == field


def test_delivery_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OTEL_TELEMETRY_SPOOL_DIR", str(tmp_path))
    monkeypatch.setenv("OTEL_TELEMETRY_SPOOL_MAX_BYTES", "1048576")
    monkeypatch.setenv("OTEL_TELEMETRY_SPOOL_FSYNC", "always")
    monkeypatch.setenv("OTEL_TELEMETRY_SPOOL_SYNC", "sync")
    monkeypatch.setenv("OTEL_TELEMETRY_OVERFLOW", "drop_oldest")
    monkeypatch.setenv("OTEL_TELEMETRY_BLOCK_TIMEOUT", "250")
    t = Telemetry(disabled=True)
    d = t.delivery
    assert d.spool is not None and d.spool.directory == tmp_path and d.spool.max_bytes == 1048576
    assert (d.spool.fsync, d.spool.sync, d.overflow, d.block_timeout_s, d.with_event_ids) == (
        "always",
        "sync",
        "drop_oldest",
        0.25,
        True,
    )


def test_a_malformed_delivery_variable_is_logged_and_ignored(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_TELEMETRY_OVERFLOW", "explode")
    t = Telemetry(disabled=True)
    assert t.delivery.overflow == "drop_newest"
    assert "OTEL_TELEMETRY_OVERFLOW" in caplog.text


# -- self-telemetry ----------------------------------------------------------------------------


def test_stats_and_self_metrics_count_what_happened(tmp_path: Path, receiver: OTLPReceiver) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    try:
        with telemetry(receiver.grpc_port, delivery=delivery(tmp_path), self_metrics=provider) as t:
            assert all(send_seq(t, 200))
            assert not t.send("", {})  # invalid: counted
            assert t.flush(10.0)
            stats = t.stats()
            assert (stats.accepted, stats.exported, stats.spooled, stats.spool_pending) == (200, 200, 200, 0)
            assert stats.dropped == {"invalid": 1}
            data = reader.get_metrics_data()
    finally:
        provider.shutdown()
    assert data is not None
    points: dict[str, list[Any]] = {}
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                points[metric.name] = list(metric.data.data_points)
    assert points["otel_telemetry.events.accepted"][0].value == 200
    assert points["otel_telemetry.events.exported"][0].value == 200
    assert points["otel_telemetry.events.spooled"][0].value == 200
    assert [
        (p.attributes["otel_telemetry.reason"], p.value) for p in points["otel_telemetry.events.dropped"]
    ] == [("invalid", 1)]
    assert points["otel_telemetry.spool.pending"][0].value == 0


# -- bounded memory under overload -------------------------------------------------------------


@pytest.mark.parametrize("policy", ["drop_newest", "drop_oldest", "block", "spool"])
def test_memory_stays_flat_under_sustained_overload(tmp_path: Path, policy: str) -> None:
    """A real app process sends as fast as it can into a collector ~100x slower; RSS is sampled."""
    with OTLPReceiver(host="127.0.0.1", grpc_port=0, http_port=None) as rx:
        rx.set_default_fault(Fault(hang_s=0.5))  # accepts one batch of 100 per 0.5 s: ~200 events/s
        options: dict[str, Any] = {
            "endpoint": rx.grpc_endpoint,
            "protocol": "grpc",
            "batch": {
                "max_queue_size": 20_000,
                "max_export_batch_size": 100,
                "schedule_delay_s": 0.05,
                "overflow": "block" if policy == "block" else "drop_oldest" if policy == "spool" else policy,
                "block_timeout_s": 0.001,
            },
        }
        if policy == "spool":
            options["delivery"] = {"spool": {"directory": str(tmp_path), "max_bytes": 4 * 1024 * 1024}}
        config = {
            "mode": "overload",
            "duration_s": 5.0,
            "sample_s": 0.25,
            "shutdown_s": 0.5,
            "options": options,
        }
        done = subprocess.run(
            [sys.executable, str(APP), json.dumps(config)], capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 0, done.stderr
    samples = [
        tuple(map(int, line.split()[1:])) for line in done.stdout.splitlines() if line.startswith("rss ")
    ]
    stats = json.loads(next(line[6:] for line in done.stdout.splitlines() if line.startswith("stats ")))
    sent = samples[-1][1]
    assert sent >= 10 * max(stats["exported"], 1)  # overload: at least ten times the export rate
    if policy in ("drop_oldest", "spool"):
        assert stats["accepted"] == sent  # every send() accepted; the oldest were evicted, counted
        assert stats["dropped"].get("queue_full", 0) + stats["dropped"].get("spool_full", 0) > 0
    else:
        assert stats["accepted"] + stats["dropped"]["queue_full"] == sent  # each refusal counted
    # warm: from the first sample after a batch was exported. Before, the export thread is still
    # loading gRPC, protobuf and the SDK (about 30 MB, once), which under a hot
    # send loop and a loaded machine takes seconds; the growth under overload is what comes after
    warm = [rss for rss, _, exported in samples if exported]
    assert len(warm) >= 10, f"too few samples once warm: {samples}"
    growth_mb = (max(warm) - warm[0]) / 1024
    rss = f"RSS {warm[0] / 1024:.0f} -> max {max(warm) / 1024:.0f} MB"
    print(f"{policy}: sent {sent}, exported {stats['exported']}, {rss}")
    assert growth_mb < 16, f"RSS grew {growth_mb:.1f} MB under overload (samples {samples})"
