"""Helpers for the process-model tests: run a real process tree against the real receiver and
check that every event it sent arrived exactly once (by its key, with unique event ids)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from telemetry_helpers import endpoint_for

from otel_telemetry.encoding import EVENT_ID_ATTRIBUTE
from otel_telemetry.receiver import OTLPReceiver

#: The two transports every process model is proven over.
TRANSPORTS = ("grpc", "http/protobuf")

#: Long enough that nothing is exported on the schedule while a case runs: every event a
#: worker sends is still queued when the worker ends, so the case proves the exit path.
EXIT_PATH_DELAY_MS = "30000"


def tree_env(receiver: OTLPReceiver, protocol: str, **extra: str) -> dict[str, str]:
    """The environment of a process tree sending to ``receiver`` with event ids on."""
    return {
        **os.environ,
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint_for(receiver, protocol).removesuffix("/v1/logs"),
        "OTEL_TELEMETRY_EVENT_IDS": "true",
        "OTEL_BLRP_SCHEDULE_DELAY": EXIT_PATH_DELAY_MS,
        "OTEL_SERVICE_NAME": "process-tree",
        "PYTHONPATH": os.pathsep.join(p for p in (extra.pop("PYTHONPATH", ""), *sys.path) if p),
        **extra,
    }


def write_script(directory: Path, name: str, code: str) -> Path:
    """Write ``code`` (dedented) to ``directory/name`` and return its path."""
    path = directory / name
    path.write_text(textwrap.dedent(code))
    return path


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for a server the test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[str], timeout: float = 30.0) -> None:
    """Wait until something accepts connections on ``port`` (fails if ``process`` died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early ({process.returncode}):\n{read_output(process)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port} after {timeout}s")


def read_output(process: subprocess.Popen[str]) -> str:
    """What a finished process wrote (stdout and stderr merged)."""
    out, _ = process.communicate(timeout=5)
    return out or ""


def stop_gracefully(process: subprocess.Popen[str], timeout: float = 60.0) -> str:
    """SIGTERM to the master (as ``docker stop`` and Kubernetes do); its output once it exited."""
    process.send_signal(signal.SIGTERM)
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate(timeout=10)
        raise AssertionError(f"the process tree did not stop within {timeout}s:\n{out}") from None
    return out or ""


def start_tree(args: list[str], env: Mapping[str, str], cwd: Path) -> subprocess.Popen[str]:
    """Start a process tree in its own session (so a failed test can kill all of it)."""
    return subprocess.Popen(
        args,
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def run_python(
    args: list[str], env: Mapping[str, str], cwd: Path | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Run ``python *args`` to completion; fails with its stderr unless it exits 0."""
    result = subprocess.run(
        [sys.executable, *args], env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stderr
    return result


def signal_when_ready(process: subprocess.Popen[str], signum: int) -> str:
    """Wait for the process to print ``ready``, send it ``signum``; its output once it ended."""
    assert process.stdout is not None
    before = []  # stdout and stderr are merged: a log line may come first
    for line in process.stdout:
        if line.strip() == "ready":
            break
        before.append(line)
    else:
        raise AssertionError("".join(before) + process.communicate(timeout=10)[0])
    process.send_signal(signum)
    out, _ = process.communicate(timeout=60)
    return "".join(before) + out


def deliver_spool(receiver: OTLPReceiver, protocol: str, spool: str) -> str:
    """Start the next process using ``spool`` (one that sends nothing): it delivers what is there."""
    code = "import otel_telemetry, time; otel_telemetry.get_default(); time.sleep(1)"
    return run_python(["-c", code], tree_env(receiver, protocol, OTEL_TELEMETRY_SPOOL_DIR=spool)).stderr


def _keys(receiver: OTLPReceiver) -> set[str]:
    return {str(r.attributes["key"]) for r in receiver.records if "key" in r.attributes}


def assert_exactly_once(
    receiver: OTLPReceiver, expected: Iterable[str], *, context: str = "", timeout: float = 30.0
) -> Counter[str]:
    """Every key in ``expected`` arrived exactly once (attribute ``key``); event ids are unique.

    ``timeout`` is generous: an event can come through the detached senders after the process
    tree ended (a forking parent's waiting events on Python 3.12+, handed off at its exit), and
    those run at low priority, so a loaded machine makes them slow; the wait ends as soon as
    every key is in.

    Keys not in ``expected`` (e.g. one per worker, whose pids the test cannot know) must be
    unique too. Returns the count of every key received.
    """
    wanted = set(expected)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not wanted <= _keys(receiver):  # (not a count: other
        time.sleep(0.05)  # events, such as a worker's, may come first and stand in for one wanted)
    time.sleep(0.2)  # anything sent twice would arrive right behind
    records = [r for r in receiver.records if "key" in r.attributes]
    got = Counter(str(r.attributes["key"]) for r in records)
    missing = sorted(wanted - set(got))
    doubled = sorted(k for k, n in got.items() if n > 1)
    ids = [r.attributes.get(EVENT_ID_ATTRIBUTE) for r in records]
    delivered = len(wanted) - len(missing)
    summary = f"{delivered}/{len(wanted)} delivered, {len(doubled)} more than once"
    detail = f"missing e.g. {missing[:5]}, doubled {doubled[:5]}"
    assert not missing and not doubled, f"{summary}; {detail}\n{context}"
    assert None not in ids and len(set(ids)) == len(ids), f"event ids missing or repeated\n{context}"
    return got
