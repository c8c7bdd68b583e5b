"""Every way Python runs work in other processes delivers what the workers sent, with no
``flush()`` in worker code: multiprocessing (fork, forkserver, spawn; Process, Pool with
``maxtasksperchild`` and its context manager), ``ProcessPoolExecutor``, a fork storm across the
parent's exports, and SIGTERM with and without a spool. Each case is a real process tree sending
to the real receiver over gRPC and HTTP; each event must arrive exactly once."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest
from process_tree import (
    TRANSPORTS,
    assert_exactly_once,
    deliver_spool,
    run_python,
    signal_when_ready,
    start_tree,
    tree_env,
    write_script,
)

from otel_telemetry.receiver import OTLPReceiver

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process models")

WORKERS = """
import multiprocessing as mp
import sys
from concurrent.futures import ProcessPoolExecutor

import otel_telemetry


def emit(who, count):
    for i in range(count):
        assert otel_telemetry.send("job", {"eventProperties": {"key": f"{who}:{i}"}})


def task(i):
    emit(f"task{i}", 1)
    return i


def process_body(n):
    emit(f"proc{n}", 25)


def run(model):
    method, _, shape = model.partition("-")
    ctx = mp.get_context(method)
    if shape == "process":
        workers = [ctx.Process(target=process_body, args=(n,)) for n in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
            assert w.exitcode == 0, w.exitcode
    elif shape == "pool-map":
        pool = ctx.Pool(4)
        assert pool.map(task, range(100)) == list(range(100))
        pool.close()
        pool.join()
    elif shape == "pool-maxtasksperchild":
        pool = ctx.Pool(2, maxtasksperchild=10)
        assert pool.map(task, range(100), chunksize=1) == list(range(100))
        pool.close()
        pool.join()
    elif shape == "pool-with":  # __exit__ is terminate(): the workers get SIGTERM
        with ctx.Pool(4) as pool:
            assert pool.map(task, range(100)) == list(range(100))
    elif shape == "executor":
        with ProcessPoolExecutor(4, mp_context=ctx) as executor:
            assert list(executor.map(task, range(100))) == list(range(100))
    else:
        raise SystemExit(f"unknown model {model}")


if __name__ == "__main__":
    emit("parent", 5)  # the parent's sender is running when the workers start
    run(sys.argv[1])
"""

PROCESS_KEYS = [f"proc{n}:{i}" for n in range(4) for i in range(25)]
TASK_KEYS = [f"task{i}:0" for i in range(100)]
PARENT_KEYS = [f"parent:{i}" for i in range(5)]

MODELS = {
    "fork-process": PROCESS_KEYS,
    "forkserver-process": PROCESS_KEYS,
    "spawn-process": PROCESS_KEYS,
    "fork-pool-map": TASK_KEYS,
    "fork-pool-maxtasksperchild": TASK_KEYS,
    "fork-pool-with": TASK_KEYS,
    "spawn-pool-with": TASK_KEYS,
    "forkserver-executor": TASK_KEYS,
    "fork-executor": TASK_KEYS,
}


@pytest.mark.parametrize("protocol", TRANSPORTS)
@pytest.mark.parametrize("model", list(MODELS))
def test_every_multiprocessing_worker_delivers_without_flush(
    receiver: OTLPReceiver, tmp_path: Path, model: str, protocol: str
) -> None:
    script = write_script(tmp_path, "workers.py", WORKERS)
    result = run_python([str(script), model], tree_env(receiver, protocol), tmp_path)
    assert_exactly_once(receiver, [*MODELS[model], *PARENT_KEYS], context=result.stderr)


FORK_STORM = """
import multiprocessing as mp
import threading
import time

import otel_telemetry


def emit(who, count):
    for i in range(count):
        assert otel_telemetry.send("job", {"eventProperties": {"key": f"{who}:{i}"}})


def parent_traffic(stop):
    i = 0
    while not stop.is_set():
        otel_telemetry.send("job", {"eventProperties": {"key": f"parent:{i}"}})
        i += 1
        time.sleep(0.001)
    print(i, flush=True)


if __name__ == "__main__":
    ctx = mp.get_context("fork")
    stop = threading.Event()
    sender = threading.Thread(target=parent_traffic, args=(stop,))
    sender.start()  # from the first event on, the parent exports every 5 ms
    children = []
    for n in range(60):
        child = ctx.Process(target=emit, args=(f"child{n}", 5))
        child.start()
        children.append(child)
        time.sleep(0.01)
    stop.set()
    sender.join()
    stuck = 0
    for child in children:
        child.join(30)
        if child.exitcode is None:
            stuck += 1
            child.kill()
    assert stuck == 0, f"{stuck} children never finished"
"""


@pytest.mark.parametrize("protocol", TRANSPORTS)
def test_sixty_children_forked_across_the_parents_exports_all_deliver(
    receiver: OTLPReceiver, tmp_path: Path, protocol: str
) -> None:
    script = write_script(tmp_path, "storm.py", FORK_STORM)
    env = tree_env(receiver, protocol, OTEL_BLRP_SCHEDULE_DELAY="5")
    result = run_python([str(script)], env, tmp_path, timeout=180)
    parent_sent = int(result.stdout.split()[-1])
    expected = [f"child{n}:{i}" for n in range(60) for i in range(5)]
    expected += [f"parent:{i}" for i in range(parent_sent)]
    assert_exactly_once(receiver, expected, context=result.stderr, timeout=30)


POOLS_IN_A_LOOP = """
import multiprocessing as mp

import otel_telemetry


def work(key):
    assert otel_telemetry.send("job", {"eventProperties": {"key": key}})
    return True


if __name__ == "__main__":
    otel_telemetry.send("job", {"eventProperties": {"key": "parent"}})  # the parent takes SIGTERM
    for r in range(30):
        with mp.get_context("fork").Pool(3) as pool:  # terminate(): SIGTERM to every worker
            assert all(pool.map(work, [f"{r}:{i}" for i in range(4)]))
"""


@pytest.mark.parametrize("protocol", TRANSPORTS)
def test_thirty_terminated_pools_in_a_row_neither_hang_nor_lose_an_event(
    receiver: OTLPReceiver, tmp_path: Path, protocol: str
) -> None:
    # Pool.terminate() signals workers that are about to block on the task queue's lock, or
    # that have not run yet: both used to lose the SIGTERM (a worker waited forever, or left
    # through its finalizer while the signal's delivery found nothing to wait for).
    script = write_script(tmp_path, "pools.py", POOLS_IN_A_LOOP)
    result = run_python([str(script)], tree_env(receiver, protocol), tmp_path, timeout=90)
    expected = ["parent", *(f"{r}:{i}" for r in range(30) for i in range(4))]
    assert_exactly_once(receiver, expected, context=result.stderr)


QUEUED_THEN_TERMINATED = """
import sys
import time

import otel_telemetry

for i in range(300):
    assert otel_telemetry.send("job", {"eventProperties": {"key": f"queued:{i}"}})
print("ready", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("protocol", TRANSPORTS)
def test_a_script_killed_by_sigterm_delivers_what_it_queued_and_still_dies_of_sigterm(
    receiver: OTLPReceiver, tmp_path: Path, protocol: str
) -> None:
    script = write_script(tmp_path, "queued.py", QUEUED_THEN_TERMINATED)
    process = start_tree([sys.executable, str(script)], tree_env(receiver, protocol), tmp_path)
    out = signal_when_ready(process, signal.SIGTERM)
    assert process.returncode == -signal.SIGTERM, out  # the exit status a supervisor expects
    assert_exactly_once(receiver, [f"queued:{i}" for i in range(300)], context=out)


@pytest.mark.parametrize("protocol", TRANSPORTS)
def test_with_a_spool_sigterm_while_the_collector_is_down_loses_nothing(
    receiver: OTLPReceiver, tmp_path: Path, protocol: str
) -> None:
    spool = str(tmp_path / "spool")
    script = write_script(tmp_path, "queued.py", QUEUED_THEN_TERMINATED)
    down = tree_env(
        receiver,
        protocol,
        OTEL_TELEMETRY_SPOOL_DIR=spool,
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:1",
        OTEL_TELEMETRY_EXIT_TIMEOUT="300",
    )
    process = start_tree([sys.executable, str(script)], down, tmp_path)
    out = signal_when_ready(process, signal.SIGTERM)
    assert process.returncode == -signal.SIGTERM, out
    assert receiver.records == []
    later = deliver_spool(receiver, protocol, spool)  # the next process using the spool
    assert_exactly_once(receiver, [f"queued:{i}" for i in range(300)], context=out + later)
