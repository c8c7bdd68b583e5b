"""``otel_telemetry.flushing``: a serverless handler (sync or async) or a block delivers what it
sent before it returns, even when the runtime ends the process right after (``os._exit``
stands in for the freeze); with the collector down it gives up within its timeout."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from process_tree import TRANSPORTS, assert_exactly_once, run_python, tree_env, write_script

import otel_telemetry
from otel_telemetry.receiver import OTLPReceiver

HANDLERS = """
import asyncio
import os
import sys

import otel_telemetry


def emit(who):
    for i in range(50):
        assert otel_telemetry.send("job", {"eventProperties": {"key": f"{who}:{i}"}})


@otel_telemetry.flushing()
def handler(event, context):
    emit(event)
    return "done"


@otel_telemetry.flushing(timeout_s=5.0)
async def async_handler(event, context):
    emit(event)
    return "done"


assert handler("sync", None) == "done"
assert asyncio.run(async_handler("async", None)) == "done"
with otel_telemetry.flushing() as block:
    emit("block")
assert block.last_ok
try:
    with otel_telemetry.flushing():
        emit("raising")
        raise KeyError("the handler's own error")
except KeyError:
    pass
os._exit(0)  # the runtime freezes or ends the process as soon as the handler returns
"""


@pytest.mark.parametrize("protocol", TRANSPORTS)
def test_flushing_handlers_deliver_before_they_return(
    receiver: OTLPReceiver, tmp_path: Path, protocol: str
) -> None:
    script = write_script(tmp_path, "handler.py", HANDLERS)
    result = run_python([str(script)], tree_env(receiver, protocol))
    expected = [f"{who}:{i}" for who in ("sync", "async", "block", "raising") for i in range(50)]
    assert_exactly_once(receiver, expected, context=result.stderr)


def test_flushing_gives_up_within_its_timeout_when_the_collector_is_down() -> None:
    telemetry = otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint="http://127.0.0.1:1", protocol="grpc")
    )
    try:
        guard = otel_telemetry.flushing(telemetry, timeout_s=0.3)

        @guard
        def handler() -> str:
            telemetry.send("job")
            return "done"

        started = time.monotonic()
        assert handler() == "done"
        assert time.monotonic() - started < 5  # generous: a shared machine; unbounded would hang
        assert guard.last_ok is False
        assert telemetry.stats().dropped == {}  # kept for later, not dropped
    finally:
        telemetry.shutdown(0.1)
