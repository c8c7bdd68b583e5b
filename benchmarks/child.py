"""One measurement in its own process: ``python -m benchmarks.child '<json task>'``.

Prints one JSON line (the result) on stdout. Running each system in its own process keeps
its threads from sharing a GIL with the receiver (in the parent) or with other systems.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks import payload as p
from benchmarks.systems import NotInstalled, Spec, System, build

WARMUP = 1_000
FLUSH_TIMEOUT_S = 120.0


def rss_kib() -> dict[str, int]:
    """Current (VmRSS) and peak (VmHWM) resident set size of this process, KiB."""
    out = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line[:5]] = int(line.split()[1])
    return out


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux ``clear_refs`` 5); False where not permitted."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _loop(send: Any, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        send()
    return time.perf_counter() - start


def _warm(system: System) -> None:
    for _ in range(WARMUP):
        system.send()
    system.flush(FLUSH_TIMEOUT_S)


def caller(spec: Spec, n: int, repeats: int) -> dict[str, Any]:
    """µs per call on the calling thread for ``repeats`` bursts of ``n`` calls (flushed between)."""
    system = build(spec)
    _warm(system)
    samples, flushed = [], True
    for _ in range(repeats):
        samples.append(_loop(system.send, n) / n * 1e6)
        flushed = system.flush(FLUSH_TIMEOUT_S) and flushed
    system.close()
    return {"us": samples, "flushed": flushed}


def e2e(spec: Spec, n: int) -> dict[str, Any]:
    """Send ``n`` as fast as possible after a flushed warm-up; the parent times their arrival."""
    system = build(spec)
    _warm(system)
    started = time.monotonic()
    caller_s = _loop(system.send, n)
    flushed = system.flush(FLUSH_TIMEOUT_S)
    flushed_at = time.monotonic()
    result: dict[str, Any] = {"started": started, "caller_s": caller_s, "flushed": flushed}
    result["flushed_at"] = flushed_at
    telemetry = system.extra.get("telemetry")
    if telemetry is not None:
        stats = telemetry.stats()
        result["dropped"] = stats.dropped
        result["exported"] = stats.exported
    system.close()
    return result


def memory(spec: Spec, n: int, mode: str) -> dict[str, Any]:
    """Peak RSS growth (KiB) while ``n`` events are in flight.

    ``burst``: sent as fast as possible, then flushed. ``paced``: sent in chunks of 1,024,
    flushing after each, so the exporter keeps up. ``down``: the collector is not running;
    every event stays queued.
    """
    system = build(spec)
    if mode == "down":
        for _ in range(WARMUP):
            system.send()
        time.sleep(1.5)  # the worker has built its mapper and is backing off
    else:
        _warm(system)
    gc.collect()
    base = rss_kib()
    peak_reset = reset_peak()
    if mode == "paced":
        for start in range(0, n, 1024):
            for _ in range(min(1024, n - start)):
                system.send()
            system.flush(FLUSH_TIMEOUT_S)
    else:
        _loop(system.send, n)
        if mode == "burst":
            system.flush(FLUSH_TIMEOUT_S)
    after = rss_kib()
    result: dict[str, Any] = {
        "base_kib": base["VmRSS"],
        "peak_delta_kib": after["VmHWM"] - base["VmRSS"] if peak_reset else None,
        "rss_delta_kib": after["VmRSS"] - base["VmRSS"],
    }
    telemetry = system.extra.get("telemetry")
    if telemetry is not None:
        stats = telemetry.stats()
        result["queued"] = stats.queued
        result["dropped"] = stats.dropped
    if mode == "down":
        _emit(result)
        os._exit(0)  # an SDK may retry for seconds at shutdown with the collector down
    system.close()
    return result


#: A catalog declaring the benchmark event, for the catalog-validation step (enforce mode).
CATALOG: dict[str, Any] = {
    "version": 1,
    "events": {
        p.EVENT_NAME: {
            "description": "An entry was created.",
            "owner": "bench",
            "eventProperties": {
                "model": {"type": "string", "description": "Content type.", "required": True},
                "source": {"type": "string", "description": "Where.", "enum": ["admin", "api"]},
                "draft": {"type": "boolean", "description": "Saved as draft."},
                "fields": {"type": "integer", "description": "Field count."},
                "locales": {"type": "list", "items": "string", "description": "Locales."},
            },
            "userProperties": {
                "role": {"type": "string", "description": "Role."},
                "locale": {"type": "string", "description": "Locale."},
                "plan": {"type": "string", "description": "Plan."},
                "seats": {"type": "integer", "description": "Seats."},
            },
        }
    },
}


def steps(spec: Spec, n: int, repeats: int, variant: str) -> dict[str, Any]:
    """Caller µs per send and worker µs per event (map, encode, export) for one optional step.

    The worker is parked while the caller sends (huge schedule delay and batch), so the two
    costs are measured apart; then ``flush()`` times the worker draining the queue.
    """
    from otel_telemetry import (
        CatalogSettings,
        DeliverySettings,
        OTLPExporter,
        SpoolSettings,
        Telemetry,
    )

    options: dict[str, Any] = {}
    spool = None
    if variant == "catalog":
        from otel_telemetry.catalog import catalog_from_dict

        options = {"catalog": CatalogSettings(catalog_from_dict(CATALOG), "enforce")}
    elif variant == "spool":
        import tempfile

        spool = SpoolSettings(Path(tempfile.mkdtemp(prefix="otel-telemetry-bench-spool-")))
    telemetry = Telemetry(
        "bench",
        exporter=OTLPExporter(endpoint=spec.grpc_endpoint, protocol="grpc"),
        delivery=DeliverySettings(
            max_queue_size=4 * n + WARMUP,
            max_export_batch_size=2 * n + WARMUP,
            schedule_delay_s=3600.0,
            spool=spool,
        ),
        **options,
    )
    name = p.EVENT_NAME
    send = telemetry.send
    base_payload = {k: v for k, v in p.PAYLOAD.items() if k != "groupProperties"}
    calls: list[Any]
    if variant == "baseline":
        calls = [lambda: send(name, base_payload)]
    elif variant == "group-same":
        calls = [lambda: send(name, p.PAYLOAD)]
    elif variant == "group-varying":
        payloads = [
            {**base_payload, "groupProperties": {**p.GROUP_PROPERTIES, "projectId": i}} for i in range(n)
        ]
        calls = [lambda i=i: send(name, payloads[i]) for i in range(n)]  # type: ignore[misc]
    elif variant == "event-varying":
        payloads = [
            {**base_payload, "eventProperties": {**p.EVENT_PROPERTIES, "fields": i}} for i in range(n)
        ]
        calls = [lambda i=i: send(name, payloads[i]) for i in range(n)]  # type: ignore[misc]
    elif variant == "pii-hash":
        ids = [f"user-{i}" for i in range(n)]
        calls = [lambda i=i: send(name, base_payload, user_id=ids[i]) for i in range(n)]  # type: ignore[misc]
    else:
        calls = [lambda: send(name, base_payload)]
    if len(calls) == 1:
        calls = calls * n
    for call in calls[:WARMUP]:
        call()
    telemetry.flush(FLUSH_TIMEOUT_S)
    caller_us, worker_us = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        for call in calls:
            call()
        caller_us.append((time.perf_counter() - start) / n * 1e6)
        start = time.perf_counter()
        ok = telemetry.flush(FLUSH_TIMEOUT_S)
        worker_us.append((time.perf_counter() - start) / n * 1e6)
        if not ok:
            raise RuntimeError("flush failed")
    stats = telemetry.stats()
    telemetry.shutdown(5.0)
    return {"caller_us": caller_us, "worker_us": worker_us, "dropped": stats.dropped}


def scaling(spec: Spec, n: int, repeats: int, threads: int) -> dict[str, Any]:
    """Wall µs per event when ``threads`` threads share ``n`` sends (the app's cost per event)."""
    system = build(spec)
    _warm(system)
    per_thread = n // threads
    samples = []
    for _ in range(repeats):
        barrier = threading.Barrier(threads + 1)

        def worker(barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            _loop(system.send, per_thread)

        pool = [threading.Thread(target=worker) for _ in range(threads)]
        for thread in pool:
            thread.start()
        barrier.wait()
        start = time.perf_counter()
        for thread in pool:
            thread.join()
        samples.append((time.perf_counter() - start) / (per_thread * threads) * 1e6)
        system.flush(FLUSH_TIMEOUT_S)
    system.close()
    return {"us": samples}


def _emit(result: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    task = json.loads(argv[0])
    spec = Spec(**task["spec"])
    kind = task["kind"]
    try:
        if kind == "caller":
            result = caller(spec, task["n"], task["repeats"])
        elif kind == "e2e":
            result = e2e(spec, task["n"])
        elif kind == "memory":
            result = memory(spec, task["n"], task["mode"])
        elif kind == "steps":
            result = steps(spec, task["n"], task["repeats"], task["variant"])
        elif kind == "scaling":
            result = scaling(spec, task["n"], task["repeats"], task["threads"])
        else:
            raise ValueError(f"unknown task kind {kind!r}")
    except NotInstalled as exc:
        result = {"not_installed": str(exc)}
    _emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
