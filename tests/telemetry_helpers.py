"""Small helpers shared by the core tests (no fixtures here: see conftest.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

import otel_telemetry
from otel_telemetry.handoff import live_senders
from otel_telemetry.receiver import OTLPReceiver, ReceivedRecord

PROTOCOLS = ("grpc", "http/protobuf", "http/json")


def reference_any_value(value: Any) -> AnyValue:
    """The OTLP ``AnyValue`` of a Python value, built as protobuf messages: the reference the
    library's hand-written wire encoder and its decoder are tested against."""
    if value is None:
        return AnyValue()
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, (list, tuple)):
        return AnyValue(array_value=ArrayValue(values=[reference_any_value(v) for v in value]))
    return AnyValue(
        kvlist_value=KeyValueList(
            values=[KeyValue(key=k, value=reference_any_value(v)) for k, v in value.items()]
        )
    )


def endpoint_for(receiver: OTLPReceiver, protocol: str) -> str:
    """The receiver endpoint a Telemetry with ``protocol`` should use."""
    return receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint


@contextmanager
def telemetry_to(
    receiver: OTLPReceiver, protocol: str = "grpc", **options: Any
) -> Iterator[otel_telemetry.Telemetry]:
    """A Telemetry exporting to ``receiver``; shut down (and so flushed) at the end."""
    options.setdefault("service_name", "test-app")
    t = otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint=endpoint_for(receiver, protocol), protocol=protocol),
        **options,
    )
    try:
        yield t
    finally:
        t.shutdown(5.0)


def send_and_receive(
    receiver: OTLPReceiver, *sends: tuple[Any, ...], protocol: str = "grpc", **options: Any
) -> list[ReceivedRecord]:
    """Send each ``(name, payload, kwargs)`` and return what the receiver decoded."""
    with telemetry_to(receiver, protocol, **options) as t:
        for name, payload, *rest in sends:
            assert t.send(name, payload, **(rest[0] if rest else {})), f"send({name!r}) was refused"
        assert t.flush(10.0), "flush did not export everything"
    assert receiver.wait_for(len(sends), timeout=10.0)
    return receiver.records


def wait_until(condition: Callable[[], object], timeout: float) -> bool:
    """Poll ``condition`` every 50 ms until it is true or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def stop_senders(state: Path) -> None:
    """Kill the detached hand-off senders at work under ``state``, then delete its hand-off areas
    (a sender that starts late finds nothing to do): a test leaves no process behind."""
    root = state / "handoff"
    if not root.exists():
        return
    # a deferred sender (what a program's send() left at exit) first hands its job on: wait for it
    deferred = root / "deferred"
    wait_until(lambda: not deferred.is_dir() or not any(deferred.iterdir()), 15)
    time.sleep(0.2)  # a sender spawned by a program that just exited takes its lock
    for pid in live_senders(root):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(root, ignore_errors=True)
