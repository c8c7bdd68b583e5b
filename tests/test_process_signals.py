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
