"""Workers under multiprocessing (fork): the fork-safe setup.

otel-telemetry restarts its background thread and reconnects in a forked child by itself, so
sending from workers needs no setup. One rule: a multiprocessing worker ends with `os._exit()`,
which skips `atexit`, so register a flush as a multiprocessing finalizer in the pool initializer
(it runs when the pool is closed and joined; gunicorn workers exit normally, and its
`worker_exit` hook can flush too).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os

import otel_telemetry


def process_job(job: int) -> bool:
    otel_telemetry.send(
        "didProcessJob",
        {"eventProperties": {"job": job, "worker": os.getpid() % 1000, "kind": "thumbnail"}},
    )
    return True


def init_worker() -> None:
    # Runs once in each worker: deliver what it sent when the worker exits.
    multiprocessing.util.Finalize(None, otel_telemetry.flush, args=(10,), exitpriority=10)


def main() -> int:
    # The parent sends too, before and after forking: its pipeline is unaffected by the children.
    otel_telemetry.send("didStartWorkers", {"eventProperties": {"workers": 3}})
    context = multiprocessing.get_context("fork")
    pool = context.Pool(3, initializer=init_worker)
    pool.map(process_job, range(12), chunksize=1)
    pool.close()  # not terminate(): that would kill the workers before they flush
    pool.join()
    otel_telemetry.send("didStopWorkers", {"eventProperties": {"jobs": 12}})
    ok = otel_telemetry.flush(10)
    print("delivered" if ok else "not delivered")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
