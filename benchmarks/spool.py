"""Measure the spool on this machine: ``python -m benchmarks.spool [N] [DIR]``.

Three tables: the storage choice (append-only segment files vs SQLite in WAL mode, written in
group commits of 512 records of 430 bytes, then read and deleted), the delivery modes (caller
cost of ``send()`` and end-to-end rate into a real OTLP receiver in this process), and the
crash window (an app process sending flat out is SIGKILLed; a successor delivers its spool;
how many events that ``send()`` had accepted never arrive). fsync costs vary a lot between
disks: run it where the spool will live.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from otel_telemetry.spool.frames import Frame, encode_frame, parse

RECORD = os.urandom(430)
GROUP = 512


def _segments(directory: Path, n: int, fsync: bool) -> tuple[float, float]:
    path = directory / "segment"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    start = time.perf_counter()
    for _ in range(n // GROUP):
        os.write(fd, encode_frame(RECORD * GROUP, GROUP))
        if fsync:
            os.fsync(fd)
    written = time.perf_counter() - start
    os.close(fd)
    start = time.perf_counter()
    records = sum(item.records for item in parse(path.read_bytes()) if isinstance(item, Frame))
    path.unlink()
    assert records == n // GROUP * GROUP
    return written, time.perf_counter() - start


def _sqlite(directory: Path, n: int, synchronous: str) -> tuple[float, float]:
    db = sqlite3.connect(directory / "spool.db", isolation_level=None)
    db.execute("pragma journal_mode=wal")
    db.execute(f"pragma synchronous={synchronous}")
    db.execute("create table q(id integer primary key, body blob)")
    start = time.perf_counter()
    for _ in range(n // GROUP):
        db.execute("begin")
        db.executemany("insert into q(body) values(?)", [(RECORD,)] * GROUP)
        db.execute("commit")
    written = time.perf_counter() - start
    start = time.perf_counter()
    while rows := db.execute("select id, body from q order by id limit ?", (GROUP,)).fetchall():
        db.execute("delete from q where id <= ?", (rows[-1][0],))
    read = time.perf_counter() - start
    db.close()
    return written, read


def storage(n: int, base: Path) -> None:
    """Print the storage comparison."""
    cases: list[tuple[str, Callable[[Path], tuple[float, float]]]] = [
        ("segment files, no fsync", lambda d: _segments(d, n, False)),
        ("segment files, fsync per group", lambda d: _segments(d, n, True)),
        ("SQLite WAL, synchronous=NORMAL", lambda d: _sqlite(d, n, "NORMAL")),
        ("SQLite WAL, synchronous=FULL", lambda d: _sqlite(d, n, "FULL")),
    ]
    print(
        f"| storage ({GROUP}-record groups) | write records/s | ms per group commit | read+delete records/s |"
    )
    print("|---|---|---|---|")
    for name, case in cases:
        results = []
        for _ in range(3):
            directory = Path(tempfile.mkdtemp(dir=base))
            try:
                results.append(case(directory))
            finally:
                shutil.rmtree(directory, ignore_errors=True)
        written, read = min(results)
        print(f"| {name} | {n / written:,.0f} | {written / (n // GROUP) * 1e3:.2f} | {n / read:,.0f} |")


def delivery(n: int, base: Path) -> None:
    """Print caller cost and end-to-end rate per delivery mode."""
    from otel_telemetry import DeliverySettings, OTLPExporter, PrivacySettings, SpoolSettings, Telemetry
    from otel_telemetry.receiver import OTLPReceiver

    payload = {"eventProperties": {"model": "article", "count": 3}, "userProperties": {"plan": "pro"}}
    modes: list[tuple[str, int, int, dict[str, Any]]] = [
        ("memory (default)", 1, n, {}),
        ("memory + event ids", 1, n, {"event_ids": True}),
        ("spool async, fsync=interval (default)", 1, n, {"spool": True}),
        ("spool async, fsync=always", 1, n, {"spool": True, "fsync": "always"}),
        ("spool sync, fsync=never", 1, n // 4, {"spool": True, "sync": "sync", "fsync": "never"}),
        (
            "spool sync, fsync=always",
            1,
            n // 4,
            {"spool": True, "sync": "sync", "fsync": "always"},
        ),
        (
            "spool sync, fsync=always",
            8,
            n // 4,
            {"spool": True, "sync": "sync", "fsync": "always"},
        ),
    ]
    print("| mode | caller threads | caller µs/event | end-to-end events/s | delivered |")
    print("|---|---|---|---|---|")
    for name, threads, count, options in modes:
        options = dict(options)
        directory = Path(tempfile.mkdtemp(dir=base)) if options.pop("spool", False) else None
        spool = (
            SpoolSettings(
                directory, fsync=options.pop("fsync", "interval"), sync=options.pop("sync", "async")
            )
            if directory is not None
            else None
        )
        delivery = DeliverySettings(spool=spool, event_ids=options.pop("event_ids", None))
        with OTLPReceiver(host="127.0.0.1", grpc_port=0, http_port=None) as rx:
            t = Telemetry(
                exporter=OTLPExporter(endpoint=rx.grpc_endpoint, protocol="grpc"),
                privacy=PrivacySettings(project_id="bench"),
                delivery=delivery,
            )
            t.send("warm-up", payload)
            t.flush(10.0)
            rx.clear()
            per = count // threads

            def work(sender: Telemetry = t, per: int = per) -> None:
                for _ in range(per):
                    sender.send("ev", payload)

            workers = [threading.Thread(target=work) for _ in range(threads)]
            start = time.perf_counter()
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            caller = time.perf_counter() - start
            flushed = t.flush(120.0)
            total_s = time.perf_counter() - start
            got = len(rx.records)
            t.shutdown(5.0)
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
        sent = per * threads
        status = "" if flushed else " (flush timed out)"
        rate = f"{sent / total_s:,.0f}"
        print(f"| {name} | {threads} | {caller / sent * 1e6:.1f} | {rate} | {got}/{sent}{status} |")


#: Both subprocesses build the same sender from the JSON options in ``argv[1]``.
_APP_SETUP = """
import json, sys, time
from otel_telemetry import DeliverySettings, OTLPExporter, PrivacySettings, SpoolSettings, Telemetry
options = json.loads(sys.argv[1])
spool = SpoolSettings(options["spool_dir"], sync=options["spool_sync"], fsync=options["spool_fsync"])
t = Telemetry(
    endpoint=options["endpoint"],
    protocol=options["protocol"],
    privacy=PrivacySettings(project_id="bench"),
    delivery=DeliverySettings(spool=spool),
)
"""

_CRASH_APP = (
    _APP_SETUP
    + """
for seq in range(10**9):
    if t.send("ev", {"eventProperties": {"seq": seq}}):
        sys.stdout.write(f"{seq}\\n")
        sys.stdout.flush()
"""
)

_SUCCESSOR = (
    _APP_SETUP
    + """
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not (t.stats().recovered and not t.stats().spool_pending):
    time.sleep(0.1)
t.shutdown(5)
"""
)


def crash(kill_after: int, base: Path) -> None:
    """Print how many accepted events a SIGKILL loses per durability setting."""
    from otel_telemetry.receiver import Fault, OTLPReceiver

    print("| spool_sync | spool_fsync | send() returned True | lost at SIGKILL |")
    print("|---|---|---|---|")
    for sync, fsync in (("async", "interval"), ("async", "always"), ("sync", "interval"), ("sync", "always")):
        directory = Path(tempfile.mkdtemp(dir=base))
        with OTLPReceiver(host="127.0.0.1", grpc_port=0, http_port=None) as rx:
            rx.set_default_fault(Fault(http_status=503))  # nothing leaves before the kill
            options = json.dumps(
                {
                    "endpoint": rx.grpc_endpoint,
                    "protocol": "grpc",
                    "spool_dir": str(directory),
                    "spool_sync": sync,
                    "spool_fsync": fsync,
                }
            )
            app = subprocess.Popen(
                [sys.executable, "-c", _CRASH_APP, options], stdout=subprocess.PIPE, text=True
            )
            assert app.stdout is not None
            accepted = 0
            for _ in app.stdout:
                accepted += 1
                if accepted >= kill_after:
                    app.send_signal(signal.SIGKILL)
                    break
            accepted += len(app.stdout.read().splitlines())
            app.wait()
            rx.set_default_fault(None)
            subprocess.run([sys.executable, "-c", _SUCCESSOR, options], timeout=120, check=False)
            arrived = {int(record.attributes["seq"]) for record in rx.records}
        shutil.rmtree(directory, ignore_errors=True)
        lost = sum(1 for seq in range(accepted) if seq not in arrived)
        print(f"| {sync} | {fsync} | {accepted} | {lost} |")


def main(argv: list[str]) -> None:
    """Both tables, ``argv``: [N events] [directory on the disk to measure]."""
    n = int(argv[0]) if argv else 20_000
    base = Path(argv[1]) if len(argv) > 1 else Path(tempfile.gettempdir())
    storage(5 * n, base)
    print()
    delivery(n, base)
    print()
    crash(n, base)


if __name__ == "__main__":
    main(sys.argv[1:])
