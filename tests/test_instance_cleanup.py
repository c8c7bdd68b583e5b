"""Dropped instances (issue 17): a Telemetry nobody references any more is collected, its
worker thread stops once its events are delivered, and nothing leaks."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest
from telemetry_helpers import endpoint_for, wait_until

import otel_telemetry
from otel_telemetry.pipeline import live_pipelines
from otel_telemetry.receiver import OTLPReceiver


def _workers() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("otel-telemetry"))


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_dropped_instances_are_collected_their_threads_stop_and_their_events_arrive(
    receiver: OTLPReceiver, protocol: str
) -> None:
    before = _workers()
    pipelines = len(live_pipelines())
    refs = []
    for i in range(100):
        t = otel_telemetry.Telemetry(
            exporter=otel_telemetry.OTLPExporter(
                endpoint=endpoint_for(receiver, protocol), protocol=protocol
            ),
            delivery=otel_telemetry.DeliverySettings(schedule_delay_s=0.05),
        )
        assert t.send("fromDroppedInstance", {"eventProperties": {"i": i}})
        refs.append(weakref.ref(t))
        del t
    gc.collect()
    assert [r for r in refs if r() is not None] == []
    assert receiver.wait_for(100, timeout=30)  # dropping an instance does not drop its events
    assert sorted(r.attributes["i"] for r in receiver.records) == list(range(100))  # type: ignore[type-var]
    assert wait_until(lambda: _workers() <= before, 15), f"{_workers() - before} worker threads left"
    # nothing holds their pipelines (which own the connections) once stopped: the exit handler's
    # records of dropped instances are pruned (when the next instance is made)
    otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint=endpoint_for(receiver, protocol), protocol=protocol)
    ).shutdown(1)
    gc.collect()
    assert len(live_pipelines()) <= pipelines, f"{len(live_pipelines()) - pipelines} pipelines kept"


def test_an_idle_dropped_instance_is_collected_at_once() -> None:
    t = otel_telemetry.Telemetry(endpoint="http://127.0.0.1:9")
    t.send("never.delivered.here")  # starts the worker thread; the collector is down
    ref = weakref.ref(t)
    del t
    gc.collect()
    assert ref() is None
