"""The module-level send() of a short-lived program (issue 16, docs/short-lived.md): events wait
in ``_deferred``, copied, and the rest of otel-telemetry loads later or, if the program exits
first, in a detached child. Real subprocesses, a real receiver, real signals and forks."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telemetry_helpers import wait_until

from otel_telemetry import _deferred
from otel_telemetry.receiver import OTLPReceiver

pytestmark = pytest.mark.usefixtures("clean_environment")

#: Prints, from an exit handler that runs after otel-telemetry's, which of its modules loaded.
REPORT_MODULES = """
import atexit, json, sys
def report():
    print(json.dumps(sorted(m for m in sys.modules if m.startswith("otel_telemetry"))), flush=True)
atexit.register(report)
"""


def start(code: str, receiver: OTLPReceiver, **env: str) -> subprocess.Popen[str]:
    environ = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_endpoint, **env}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    return out, err


def names(receiver: OTLPReceiver) -> list[str]:
    return sorted(r.event_name for r in receiver.records)


def test_a_program_that_sends_and_exits_loads_only_send_and_its_events_arrive_with_their_times(
    receiver: OTLPReceiver,
) -> None:
    program = start(
        REPORT_MODULES
        + """
import time, otel_telemetry
sent_at = time.time_ns()
for i in range(3):
    otel_telemetry.send("didRunCommand", {"eventProperties": {"i": i, "tags": ["a", "b"]}},
                        user_id="u1")
print(sent_at, flush=True)
""",
        receiver,
    )
    out, err = finish(program)
    exited_at = time.time_ns()
    assert program.returncode == 0 and err == "", err
    sent_at, loaded = out.splitlines()
    assert json.loads(loaded) == [
        "otel_telemetry",
        "otel_telemetry._deferred",
        "otel_telemetry._lazy",
        "otel_telemetry._procfacts",
        "otel_telemetry.signals",  # (SIGTERM must not lose what waits)
        "otel_telemetry.threads",
        "otel_telemetry.version",
    ]
    assert receiver.wait_for(3, timeout=30)
    records = sorted(receiver.records, key=lambda r: r.attributes["i"])
    assert [r.attributes["i"] for r in records] == [0, 1, 2]
    assert all(list(r.attributes["tags"]) == ["a", "b"] for r in records)
    assert all(int(sent_at) <= r.time_unix_nano <= exited_at for r in records)  # when sent, not later


@pytest.mark.parametrize("logging_loaded", [True, False], ids=["logging-loaded", "nothing-loaded"])
def test_a_program_that_keeps_running_delivers_while_it_runs(
    receiver: OTLPReceiver, logging_loaded: bool
) -> None:
    """After DEFER_S, a background thread loads the rest and the events go out without waiting
    for the exit, whether or not the app loaded logging (whose fork hook ours works with)."""
    prelude = "import logging, concurrent.futures.thread\n" if logging_loaded else ""
    program = start(
        prelude
        + """
import sys, time, otel_telemetry
otel_telemetry.send("first")
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 6)
""",
        receiver,
    )
    try:
        assert receiver.wait_for(1, timeout=5), "the event waited for the exit"
        assert program.poll() is None  # delivered while the program still runs
    finally:
        program.terminate()
        finish(program)
    assert names(receiver) == ["first"]


def test_a_later_send_of_a_long_running_program_goes_to_the_default_instance(receiver: OTLPReceiver) -> None:
    program = start(
        """
import sys, time, otel_telemetry
otel_telemetry.send("first")
time.sleep(1.0)
otel_telemetry.send("second")
print("telemetry" in str(sorted(sys.modules)), otel_telemetry.stats().accepted, flush=True)
""",
        receiver,
    )
    out, err = finish(program)
    assert err == ""
    loaded, accepted = out.split()
    assert loaded == "True" and int(accepted) == 2  # the first one counted too (replayed or handed off)
    assert receiver.wait_for(2, timeout=30)
    assert names(receiver) == ["first", "second"]


@pytest.mark.parametrize("early", [True, False], ids=["while-waiting", "after-loading"])
def test_sigterm_delivers_what_waits_and_the_program_dies_of_it(receiver: OTLPReceiver, early: bool) -> None:
    program = start(
        """
import sys, time, otel_telemetry
otel_telemetry.send("beforeSigterm")
print("ready", flush=True)
time.sleep(30)
""",
        receiver,
    )
    assert program.stdout is not None and program.stdout.readline().strip() == "ready"
    if not early:
        time.sleep(_deferred.DEFER_S + 1.0)
    program.send_signal(signal.SIGTERM)
    _, err = finish(program)
    assert program.returncode == -signal.SIGTERM and err == ""
    assert receiver.wait_for(1, timeout=30)
    assert names(receiver) == ["beforeSigterm"]


def test_a_fork_while_events_wait_sends_each_event_once(receiver: OTLPReceiver) -> None:
    program = start(
        """
import os, sys, otel_telemetry
otel_telemetry.send("parentBefore")
pid = os.fork()
if pid == 0:
    otel_telemetry.send("child")
    sys.exit(0)
os.waitpid(pid, 0)
otel_telemetry.send("parentAfter")
""",
        receiver,
        # Python 3.12+ warns about fork() in a process with threads (ours): docs/processes.md
        PYTHONWARNINGS="ignore:This process:DeprecationWarning",
    )
    _, err = finish(program)
    assert program.returncode == 0 and err == ""
    assert receiver.wait_for(3, timeout=30)
    time.sleep(1.0)  # (a duplicate would arrive meanwhile)
    assert names(receiver) == ["child", "parentAfter", "parentBefore"]


def test_flush_after_a_fork_has_delivered_what_waited_before_it(receiver: OTLPReceiver) -> None:
    """What waits at a fork stays the parent's (CI lost it when a fork gave it to the detached
    child: flush() returned True before that child had sent it): flush() loads the rest and
    replays it in this process."""
    program = start(
        """
import os, otel_telemetry
otel_telemetry.send("beforeFork")
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
print(otel_telemetry.flush(10), otel_telemetry.stats().handed_off, flush=True)
""",
        receiver,
        PYTHONWARNINGS="ignore:This process:DeprecationWarning",
    )
    out, err = finish(program)
    assert program.returncode == 0 and err == "" and out.split() == ["True", "0"], out + err
    assert names(receiver) == ["beforeFork"]  # already there when the program has exited


@pytest.mark.parametrize("ending", ["runs", "exit", "sigterm"])
def test_a_forking_parent_that_never_sends_again_delivers_what_waited(
    receiver: OTLPReceiver, ending: str
) -> None:
    """A server's master: one event at start-up, forks its workers, then only waits. The event
    goes out while it runs (after DEFER_S, as in any program that keeps running), or when it
    ends, if that comes first."""
    program = start(
        f"""
import os, time, otel_telemetry
otel_telemetry.send("didStartServer")
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
print("ready", flush=True)
time.sleep({0.1 if ending == "exit" else 30})
""",
        receiver,
        PYTHONWARNINGS="ignore:This process:DeprecationWarning",
    )
    assert program.stdout is not None and program.stdout.readline().strip() == "ready"
    if ending == "runs":
        assert receiver.wait_for(1, timeout=15), "the event waited for the master's exit"
        assert program.poll() is None  # delivered while the master still runs
    if ending != "exit":
        program.send_signal(signal.SIGTERM)  # ("sigterm": most likely before the event was due)
    _, err = finish(program)
    assert err == "" and program.returncode == (0 if ending == "exit" else -signal.SIGTERM)
    assert receiver.wait_for(1, timeout=30)
    time.sleep(0.5)  # (a duplicate would arrive meanwhile)
    assert names(receiver) == ["didStartServer"]


def test_a_module_imported_while_a_fork_waits_gets_both_halves_of_its_fork_hooks() -> None:
    """The background load imports modules that register before/after fork hooks (here
    ``concurrent.futures.thread``, as the load does). A fork waiting for the load began before
    they registered: Python would skip their before half and run their after half, which then
    released a lock nobody took ("RuntimeError: release unlocked lock" on the app's stderr, 2
    runs in 30 of a program that made a Pool half a second after its first send())."""
    code = """
import os, sys, threading, time
from otel_telemetry import _deferred
assert "concurrent.futures.thread" not in sys.modules
held = threading.Event()
def load():
    with _deferred._guard:  # as materialize() holds it
        held.set()
        time.sleep(0.3)  # the fork below is waiting in _deferred's hook by now
        import concurrent.futures.thread
threading.Thread(target=load).start()
held.wait()
pid = os.fork()
if pid == 0:
    os._exit(0)
_, status = os.waitpid(pid, 0)
import concurrent.futures.thread as cft
import posix
restored = os.register_at_fork is posix.register_at_fork
print(os.waitstatus_to_exitcode(status), cft._global_shutdown_lock.locked(), restored, flush=True)
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "ignore:This process:DeprecationWarning"},
    )
    assert (done.returncode, done.stderr, done.stdout.split()) == (0, "", ["0", "False", "True"])


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ('{"eventProperties": {"at": datetime.datetime.now()}}', "not plain data"),
        ('{"eventProperties": {"x": float("nan")}}', "not plain data"),
        ('{"eventProperties": {1: "int key"}}', "not plain data"),
    ],
)
def test_what_cannot_wait_as_plain_data_goes_to_the_default_instance_at_once(
    receiver: OTLPReceiver, payload: str, why: str
) -> None:
    program = start(
        f"""
import datetime, sys, otel_telemetry
accepted = otel_telemetry.send("odd", {payload})
print(accepted, "otel_telemetry.telemetry" in sys.modules, flush=True)
""",
        receiver,
    )
    out, err = finish(program)
    assert err == "" and out.split()[1] == "True", why  # loaded at that send()


def test_strict_mode_raises_in_the_caller_as_before(receiver: OTLPReceiver) -> None:
    """A setting that changes what send() does in the caller turns the waiting off."""
    program = start(
        """
import otel_telemetry
try:
    otel_telemetry.send("", {"eventProperties": {}})
except otel_telemetry.TelemetryError as error:
    print("raised", flush=True)
""",
        receiver,
        OTEL_TELEMETRY_STRICT="true",
    )
    out, err = finish(program)
    assert out.strip() == "raised", (out, err)


def test_otel_telemetry_defer_0_loads_everything_at_the_first_send(receiver: OTLPReceiver) -> None:
    program = start(
        """
import sys, otel_telemetry
otel_telemetry.send("x")
print("otel_telemetry.telemetry" in sys.modules, flush=True)
""",
        receiver,
        OTEL_TELEMETRY_DEFER="0",
    )
    out, err = finish(program)
    assert out.strip() == "True" and err == ""
    assert receiver.wait_for(1, timeout=30)


def test_an_invalid_event_left_at_exit_is_refused_and_logged_by_the_deferred_sender(
    receiver: OTLPReceiver, clean_environment: Path
) -> None:
    program = start(
        """
import otel_telemetry
otel_telemetry.send("fine")
otel_telemetry.send("bad", {"eventProperties": ["not", "a", "mapping"]})
""",
        receiver,
    )
    _, err = finish(program)
    assert err == ""
    assert receiver.wait_for(1, timeout=30)

    def logged() -> list[str]:
        return [p.read_text() for p in (clean_environment / "handoff").glob("*/sender.log")]

    assert wait_until(lambda: any("deferred sender: 1 refused" in text for text in logged()), 15), logged()
    assert names(receiver) == ["fine"]


# -- the copy: pure logic -------------------------------------------------------------------------

_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.binary(max_size=8),
)
_plain_values = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
    ),
    max_leaves=30,
)


@given(_plain_values)
def test_plain_data_is_copied_equal_and_apart_and_survives_the_job_file(value: Any) -> None:
    import ast

    copied = _deferred._plain(value, 0, [0])
    assert copied == value
    assert ast.literal_eval(repr(copied)) == value  # what the detached child reads back
    if isinstance(value, (dict, list)) and value:
        assert copied is not value


@given(
    st.one_of(
        st.just(float("nan")),
        st.just(math.inf),
        st.sets(st.integers(), min_size=1),
        st.builds(object),
        st.dictionaries(st.integers(), st.integers(), min_size=1),
    )
)
def test_anything_else_is_not_plain(value: Any) -> None:
    with pytest.raises(_deferred._NotPlain):
        _deferred._plain({"nested": [value]}, 0, [0])


def test_a_mutation_after_send_does_not_reach_the_copy() -> None:
    payload = {"eventProperties": {"items": [1, 2]}}
    copied = _deferred._plain(payload, 0, [0])
    payload["eventProperties"]["items"].append(3)
    assert copied == {"eventProperties": {"items": [1, 2]}}
