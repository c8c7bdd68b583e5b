"""Workers under multiprocessing (fork): nothing to set up.

otel-telemetry restarts its background thread and reconnects in a forked child by itself, and
delivers what a worker sent when the worker ends, although multiprocessing workers leave through
`os._exit()` (which skips `atexit`) and `with Pool()` ends them with SIGTERM. No initializer, no
flush in the worker: see docs/processes.md for every process model.
"""

from __future__ import annotations

import multiprocessing
import os

import otel_telemetry


def process_job(job: int) -> bool:
    otel_telemetry.send(
        "didProcessJob",
        {"eventProperties": {"job": job, "worker": os.getpid() % 1000, "kind": "thumbnail"}},
    )
    return True


def main() -> int:
    # The parent sends too, before and after forking: its pipeline is unaffected by the children.
    otel_telemetry.send("didStartWorkers", {"eventProperties": {"workers": 3}})
    with multiprocessing.get_context("fork").Pool(3) as pool:
        pool.map(process_job, range(12), chunksize=1)
    otel_telemetry.send("didStopWorkers", {"eventProperties": {"jobs": 12}})
    ok = otel_telemetry.flush(10)
    print("delivered" if ok else "not delivered")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
