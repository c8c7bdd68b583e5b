"""Where the time goes: each step of ``send()`` and of the worker, timed alone, in one process.

    python -m benchmarks.profile            # table of µs per event, per step
    py-spy record --gil --threads -o out.txt -f raw -- python -m benchmarks.child '<task>'

Steps are timed with ``timeit`` (best of 5 repeats, so this is each step's own cost without
GIL contention); ``RESULTS.md`` has the costs under load. The raw SDK's per-record cost of
the same event is timed beside it.
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # ``python benchmarks/profile.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import payload as p

BATCH = 512


def best(fn: Callable[[], Any], number: int, per: int = 1, repeat: int = 5) -> float:
    """Best-of-``repeat`` µs per item of ``fn`` (which handles ``per`` items per call)."""
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number / per * 1e6


def rows() -> list[tuple[str, float]]:
    """(step, µs per event) for otel-telemetry's caller and worker, then the raw SDK's."""
    from otel_telemetry import DeliverySettings, OTLPExporter, Telemetry
    from otel_telemetry.values import freeze

    def parked() -> Telemetry:
        """The worker stays parked (no batch is ever full, the timer is an hour): send() alone."""
        return Telemetry(
            "bench",
            exporter=OTLPExporter(endpoint="http://127.0.0.1:9", protocol="grpc"),
            delivery=DeliverySettings(
                max_queue_size=10_000_000, max_export_batch_size=10_000_000, schedule_delay_s=3600.0
            ),
        )

    out: list[tuple[str, float]] = []
    name, payload = p.EVENT_NAME, p.PAYLOAD
    samples = []
    for _ in range(5):  # a fresh queue each time: a long queue makes the garbage collector costly
        telemetry = parked()
        telemetry.send(name, payload)
        samples.append(best(lambda t=telemetry: t.send(name, payload), 20_000, repeat=1))  # type: ignore[misc]
        telemetry.shutdown(0.0)
        gc.collect()
    out.append(("caller: send() (worker parked, 20,000 queued)", min(samples)))
    telemetry = parked()
    capturer = telemetry._capturer
    out.append(
        (
            "caller:   capture (validate + copy)",
            best(lambda: capturer.capture(name, payload, None, None, None, None, None), 200_000),
        )
    )
    out.append(("caller:     freeze(eventProperties)", best(lambda: freeze(p.EVENT_PROPERTIES), 200_000)))
    out.append(("caller:     freeze(userProperties)", best(lambda: freeze(p.USER_PROPERTIES), 200_000)))

    batch = [capturer.capture(name, payload, None, None, None, None, None) for _ in range(BATCH)]
    data = telemetry._encoding.encode(batch, None)
    mapper, encoder = telemetry._encoding.mapper(), telemetry._encoding._encoder
    assert encoder is not None
    records = [mapper.map(event) for event in batch]
    out.append(
        (
            "worker: prepare (one pass: map + encode to bytes)",
            best(lambda: telemetry._encoding.encode(batch, None), 40, BATCH),
        )
    )
    out.append(
        ("worker:   resource lookup", best(lambda: [mapper.resources.get(e[4]) for e in batch], 40, BATCH))
    )
    out.append(("worker: general path: map", best(lambda: [mapper.map(event) for event in batch], 40, BATCH)))
    out.append(
        ("worker:     attributes (flatten)", best(lambda: [mapper.attributes(e) for e in batch], 40, BATCH))
    )
    out.append(("worker:   encode mapped records", best(lambda: encoder.encode_bytes(records), 40, BATCH)))
    out.append((f"(wire bytes per event: {len(data) / BATCH:.0f})", float("nan")))
    telemetry.shutdown(0.0)
    batch.clear()
    records.clear()
    gc.collect()
    out.extend(sdk_rows())
    return out


def sdk_rows() -> list[tuple[str, float]]:
    """The raw SDK: ``Logger.emit`` alone, and its OTLP encoder on a batch of the same records."""
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import (
        LogRecordExporter,
        LogRecordExportResult,
        SimpleLogRecordProcessor,
    )
    from opentelemetry.sdk.resources import Resource

    captured: list[Any] = []

    class Keep(LogRecordExporter):
        def export(self, batch: Any) -> LogRecordExportResult:
            captured.extend(batch)
            return LogRecordExportResult.SUCCESS

        def shutdown(self) -> None:
            pass

        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            return True

    bare = LoggerProvider(resource=Resource({"service.name": "bench", **p.GROUP_PROPERTIES}))
    emit = bare.get_logger("bench").emit
    attributes = p.otel_attributes()
    out = [
        (
            "sdk: Logger.emit() alone",
            best(lambda: emit(event_name=p.EVENT_NAME, attributes=attributes), 100_000),
        )
    ]
    keeping = LoggerProvider(resource=Resource({"service.name": "bench", **p.GROUP_PROPERTIES}))
    keeping.add_log_record_processor(SimpleLogRecordProcessor(Keep()))
    logger = keeping.get_logger("bench")
    for _ in range(BATCH):
        logger.emit(event_name=p.EVENT_NAME, attributes=attributes)
    sdk_batch = captured[:BATCH]
    out.append(("sdk: encode_logs()", best(lambda: encode_logs(sdk_batch), 20, BATCH)))
    encoded = encode_logs(sdk_batch)
    out.append(("sdk: SerializeToString", best(encoded.SerializeToString, 20, BATCH)))
    return out


def main() -> int:
    with tempfile.TemporaryDirectory() as state:
        os.environ["OTEL_TELEMETRY_STATE_DIR"] = state
        table = rows()
    print("| step | µs per event |\n|---|---|")
    for step, value in table:
        print(f"| {step} | {'' if value != value else f'{value:.2f}'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
