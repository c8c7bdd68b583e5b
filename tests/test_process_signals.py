"""What the library does with signals (``docs/processes.md``): it takes SIGTERM only when nobody
handles it, never replaces an app's handler, can be kept away from signals altogether, and
with a synchronous spool loses nothing even to SIGKILL. Real processes, real receiver."""

from __future__ import annotations

import os
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

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

APP_HANDLER = """
import signal
import sys
import time

import otel_telemetry


def on_term(signum, frame):
    print("app handler", flush=True)
    sys.exit(0)  # a normal exit: atexit delivers


signal.signal(signal.SIGTERM, on_term)
for i in range(50):
    otel_telemetry.send("job", {"eventProperties": {"key": f"queued:{i}"}})
assert signal.getsignal(signal.SIGTERM) is on_term
print("ready", flush=True)
time.sleep(120)
"""


def test_the_apps_own_sigterm_handler_is_kept_and_its_exit_delivers(
    receiver: OTLPReceiver, tmp_path: Path
) -> None:
    script = write_script(tmp_path, "app.py", APP_HANDLER)
    process = start_tree([sys.executable, str(script)], tree_env(receiver, "grpc"), tmp_path)
    out = signal_when_ready(process, signal.SIGTERM)
    assert process.returncode == 0 and "app handler" in out, out
    assert_exactly_once(receiver, [f"queued:{i}" for i in range(50)], context=out)


def test_sigterm_can_be_left_alone_entirely(receiver: OTLPReceiver, tmp_path: Path) -> None:
    code = """
    import signal
    import otel_telemetry
    otel_telemetry.send("job")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    """
    script = write_script(tmp_path, "off.py", code)
    env = tree_env(receiver, "grpc", OTEL_TELEMETRY_SIGTERM="false")
    run_python([str(script)], env)


def test_sigterm_is_not_taken_from_a_thread_other_than_the_main_one(tmp_path: Path) -> None:
    code = """
    import signal, threading
    from otel_telemetry import signals
    results = []
    thread = threading.Thread(target=lambda: results.append(signals.install()))
    thread.start(); thread.join()
    assert results == [False] and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signals.install() and signal.getsignal(signal.SIGTERM) is signals._on_sigterm
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the app decides later: its choice stands
    assert not signals.install() and signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    """
    script = write_script(tmp_path, "threads.py", code)
    run_python([str(script)], os.environ)


QUEUED = """
import time

import otel_telemetry

for i in range(100):
    assert otel_telemetry.send("job", {"eventProperties": {"key": f"queued:{i}"}})
print("ready", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("protocol", TRANSPORTS)
def test_with_a_synchronous_spool_even_sigkill_loses_nothing_accepted(
    receiver: OTLPReceiver, tmp_path: Path, protocol: str
) -> None:
    spool = str(tmp_path / "spool")
    script = write_script(tmp_path, "queued.py", QUEUED)
    down = tree_env(
        receiver,
        protocol,
        OTEL_TELEMETRY_SPOOL_DIR=spool,
        OTEL_TELEMETRY_SPOOL_SYNC="sync",
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:1",
    )
    process = start_tree([sys.executable, str(script)], down, tmp_path)
    out = signal_when_ready(process, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL, out
    later = deliver_spool(receiver, protocol, spool)
    assert_exactly_once(receiver, [f"queued:{i}" for i in range(100)], context=out + later)


MAIN_THREAD_NEVER_WAKES = """
import signal
import threading
import time

import otel_telemetry

for i in range(100):
    assert otel_telemetry.send("job", {"eventProperties": {"key": f"queued:{i}"}})
# An app thread that lets SIGTERM in, and a main thread that never runs Python code again: the
# kernel hands SIGTERM to the app thread, Python notes it for the main thread, which never looks.
# (The same happens to a pool worker signalled just before it blocks on its task queue.)
threading.Thread(target=time.sleep, args=(120,), daemon=True).start()
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
print("ready", flush=True)
never = threading.Lock()
never.acquire()
never.acquire()
"""


@pytest.mark.parametrize("protocol", TRANSPORTS)
def test_sigterm_delivers_and_ends_the_process_even_if_the_main_thread_never_runs_again(
    receiver: OTLPReceiver, tmp_path: Path, protocol: str
) -> None:
    script = write_script(tmp_path, "stuck.py", MAIN_THREAD_NEVER_WAKES)
    process = start_tree([sys.executable, str(script)], tree_env(receiver, protocol), tmp_path)
    out = signal_when_ready(process, signal.SIGTERM)
    assert process.returncode == -signal.SIGTERM, out
    assert_exactly_once(receiver, [f"queued:{i}" for i in range(100)], context=out)


FORKED_CHILD_NEVER_WAKES = """
import os
import signal
import threading
import time

import otel_telemetry

otel_telemetry.send("job", {"eventProperties": {"key": "parent"}})
# imported after the library took SIGTERM (gRPC imports it when the library loads): from Python
# 3.12, asyncio's fork hook clears the wakeup fd in every child, after the library's hook
import asyncio  # noqa: E402,F401
ready_r, ready_w = os.pipe()
pid = os.fork()
if pid == 0:  # a pool worker, signalled just before it blocks on its task queue (as above)
    for i in range(100):
        assert otel_telemetry.send("job", {"eventProperties": {"key": f"child:{i}"}})
    threading.Thread(target=time.sleep, args=(120,), daemon=True).start()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    os.write(ready_w, b"ready")
    never = threading.Lock()
    never.acquire()
    never.acquire()
os.read(ready_r, 5)
os.kill(pid, signal.SIGTERM)
_, status = os.waitpid(pid, 0)
print("child ended by", os.WTERMSIG(status) if os.WIFSIGNALED(status) else status, flush=True)
"""


@pytest.mark.parametrize("protocol", TRANSPORTS)
def test_a_forked_child_whose_main_thread_never_runs_again_delivers_and_ends_on_sigterm(
    receiver: OTLPReceiver, tmp_path: Path, protocol: str
) -> None:
    """The child's wakeup fd is its watcher's pipe once every after-fork hook ran (asyncio's
    clears it from Python 3.12): otherwise the child would wait forever, and its parent too."""
    script = write_script(tmp_path, "forked_stuck.py", FORKED_CHILD_NEVER_WAKES)
    result = run_python([str(script)], tree_env(receiver, protocol), tmp_path, timeout=60)
    assert f"child ended by {int(signal.SIGTERM)}" in result.stdout, result.stdout + result.stderr
    expected = ["parent", *(f"child:{i}" for i in range(100))]
    assert_exactly_once(receiver, expected, context=result.stderr)


CHILD_SIGNALLED = """
import os
import signal
import sys
import time

import otel_telemetry

otel_telemetry.send("job", {"eventProperties": {"key": "parent"}})  # the parent takes SIGTERM
if sys.argv[1] == "loaded":
    time.sleep(1)  # a parent that has run a while: the library is loaded, logging and all
children = []
for n in range(20):
    pid = os.fork()
    if pid == 0:
        otel_telemetry.send("job", {"eventProperties": {"key": f"child{n}"}})
        time.sleep(120)
        os._exit(0)
    children.append(pid)
    # at once, or a little later: before the child has run, or in one of its after-fork hooks
    time.sleep(0.0005 * (n % 10))
    os.kill(pid, signal.SIGTERM)
for pid in children:
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM, status
time.sleep(0.5)  # a child's SIGTERM that reached the parent's watcher would have ended it by now
print("parent alive", flush=True)
"""


@pytest.mark.parametrize("parent", ["deferring", "loaded"])
def test_children_signalled_at_birth_die_and_their_signals_never_reach_the_parent(
    receiver: OTLPReceiver, tmp_path: Path, parent: str
) -> None:
    """A child signalled while its fork hooks run waits for them before delivering: a delivery
    started sooner would wait forever on a lock a later hook (``logging``'s) re-makes."""
    script = write_script(tmp_path, "births.py", CHILD_SIGNALLED)
    result = run_python([str(script), parent], tree_env(receiver, "grpc"), tmp_path, timeout=60)
    assert "parent alive" in result.stdout, result.stderr
    assert_exactly_once(receiver, ["parent"], context=result.stderr)
