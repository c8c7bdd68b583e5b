"""Short-lived programs (issue 16): exit at once, hand pending events off, deliver them later.

Every program here is a real subprocess with a real receiver; the detached senders they start
are real processes, found through the hand-off area's ``sender.lock`` and always stopped.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from telemetry_helpers import wait_until

from otel_telemetry import handoff
from otel_telemetry.receiver import OTLPReceiver

PROGRAM = """
import os, otel_telemetry
tag = os.environ["TAG"]
for i in range(int(os.environ.get("COUNT", "3"))):
    otel_telemetry.send("didRunCommand", {"eventProperties": {"tag": tag, "i": i}}, user_id="u1")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=environ, capture_output=True, text=True, timeout=60
    )


def areas(state: Path) -> list[Path]:
    root = state / "handoff"
    found = root.iterdir() if root.exists() else ()
    return sorted(p for p in found if p.is_dir() and p.name != "deferred")  # (the jobs of send())


def sender_pids(state: Path) -> list[int]:
    """Pids of live senders of every area (the pid a sender wrote into the lock it holds)."""
    return handoff.live_senders(state / "handoff")


def pending_dirs(state: Path) -> list[Path]:
    return [d for area in areas(state) for d in area.iterdir() if d.is_dir()]


@pytest.fixture
def state(clean_environment: Path) -> Path:
    """The test's state directory (conftest stops the senders started there)."""
    return clean_environment


def tags(receiver: OTLPReceiver) -> list[tuple[str, int]]:
    return sorted((str(r.attributes["tag"]), int(r.attributes["i"])) for r in receiver.records)  # type: ignore[arg-type]


def test_events_of_a_program_that_exited_while_the_collector_was_down_arrive_when_it_comes_back(
    state: Path,
) -> None:
    port = free_port()
    result = run(PROGRAM, TAG="down", OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}")
    assert result.returncode == 0 and result.stderr == ""
    # handed off: by the deferred sender the program started (docs/short-lived.md), at once
    assert wait_until(lambda: pending_dirs(state), 30), "the pending events were not handed off"
    assert wait_until(lambda: sender_pids(state), 10), "no detached sender is waiting for the collector"
    with OTLPReceiver("127.0.0.1", grpc_port=None, http_port=port) as receiver:  # the collector comes back
        assert receiver.wait_for(3, timeout=30)
        assert wait_until(lambda: not sender_pids(state), 15), "the sender did not stop once it was done"
        assert tags(receiver) == [("down", 0), ("down", 1), ("down", 2)]
        user_hash = receiver.records[0].attributes["user.hash"]
        assert isinstance(user_hash, str) and len(user_hash) == 64  # hashed as in-process sending does
    assert pending_dirs(state) == []


def test_a_grpc_program_hands_off_to_a_grpc_sender(state: Path, receiver: OTLPReceiver) -> None:
    result = run(
        PROGRAM,
        TAG="grpc",
        OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint,
    )
    assert result.returncode == 0 and result.stderr == ""
    assert receiver.wait_for(3, timeout=30)
    assert tags(receiver) == [("grpc", 0), ("grpc", 1), ("grpc", 2)]
    assert {r.protocol for r in receiver.records} == {"grpc"}


@pytest.mark.parametrize("collector", ["up", "refused", "hanging"])
def test_standard_error_stays_empty_in_the_default_configuration(
    state: Path, receiver: OTLPReceiver, collector: str
) -> None:
    with socket.socket() as hang:
        hang.bind(("127.0.0.1", 0))
        hang.listen(16)  # accepts connections, never answers
        endpoint = {
            "up": receiver.http_endpoint,
            "refused": f"http://127.0.0.1:{free_port()}",
            "hanging": f"http://127.0.0.1:{hang.getsockname()[1]}",
        }[collector]
        result = run(PROGRAM, TAG=collector, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint)
    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout == ""


def test_a_log_level_shows_delivery_trouble_on_stderr(state: Path) -> None:
    result = run(
        PROGRAM,
        TAG="loud",
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{free_port()}",
        OTEL_TELEMETRY_EXIT="flush",
        OTEL_TELEMETRY_EXIT_TIMEOUT="300",
        OTEL_TELEMETRY_LOG_LEVEL="warning",
    )
    assert result.returncode == 0
    assert "otel-telemetry dropped 3 event(s)" in result.stderr  # with the log level asked for


def test_the_detached_sender_never_outlives_its_lifetime_and_leaves_the_events_for_the_next(
    state: Path,
) -> None:
    with socket.socket() as hang:
        hang.bind(("127.0.0.1", 0))
        hang.listen(16)
        port = hang.getsockname()[1]
        result = run(
            PROGRAM,
            TAG="first",
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
            OTEL_TELEMETRY_HANDOFF_LIFETIME="1500",
        )
        assert result.returncode == 0 and result.stderr == ""
        assert wait_until(lambda: sender_pids(state), 10)
        pids = sender_pids(state)
        assert len(pids) == 1
        started = time.monotonic()
        # its lifetime (1.5 s) plus the hard stop's margin; the export timeout (10 s) is longer
        assert wait_until(lambda: not _alive(pids[0]), 1.5 + 5 + 2)
        assert time.monotonic() - started < 1.5 + 5 + 2
    assert len(pending_dirs(state)) == 1  # not lost: on disk for the next sender
    with OTLPReceiver("127.0.0.1", grpc_port=None, http_port=port) as receiver:
        result = run(PROGRAM, TAG="second", OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}")
        assert result.returncode == 0 and result.stderr == ""
        assert receiver.wait_for(6, timeout=30)
        assert wait_until(lambda: not sender_pids(state), 15)
        assert tags(receiver) == [
            ("first", 0),
            ("first", 1),
            ("first", 2),
            ("second", 0),
            ("second", 1),
            ("second", 2),
        ]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive (its parent, init or a subreaper, reaps it soon)
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_programs_exiting_at_once_deliver_each_event_exactly_once(state: Path) -> None:
    port = free_port()
    environ = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}", "COUNT": "20"}
    programs = [
        subprocess.Popen(
            [sys.executable, "-c", PROGRAM],
            env={**environ, "TAG": f"p{n}"},
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(6)
    ]
    for program in programs:
        _, err = program.communicate(timeout=60)
        assert program.returncode == 0 and err == ""
    assert len(sender_pids(state)) <= 1  # one sender per area at a time
    with OTLPReceiver("127.0.0.1", grpc_port=None, http_port=port) as receiver:
        assert receiver.wait_for(6 * 20, timeout=40)
        assert wait_until(lambda: not sender_pids(state), 15)
        time.sleep(0.5)  # a duplicate would arrive now
        assert tags(receiver) == sorted((f"p{n}", i) for n in range(6) for i in range(20))


def test_programs_exiting_at_once_with_the_collector_up_deliver_each_event_exactly_once(
    state: Path, receiver: OTLPReceiver
) -> None:
    environ = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_endpoint, "COUNT": "10"}
    programs = [
        subprocess.Popen([sys.executable, "-c", PROGRAM], env={**environ, "TAG": f"p{n}"}) for n in range(6)
    ]
    for program in programs:
        assert program.wait(timeout=60) == 0
    assert receiver.wait_for(60, timeout=40)
    assert wait_until(lambda: not sender_pids(state), 20)
    time.sleep(0.5)
    assert tags(receiver) == sorted((f"p{n}", i) for n in range(6) for i in range(10))
    assert pending_dirs(state) == []


APP_HANDLERS = """
import atexit, os

def before():  # registered before the import: runs after otel-telemetry's handler
    import otel_telemetry
    otel_telemetry.send("fromHandlerRegisteredBefore")

atexit.register(before)
import otel_telemetry

def after():  # registered after the import: runs before otel-telemetry's handler
    otel_telemetry.send("fromHandlerRegisteredAfter")

atexit.register(after)
otel_telemetry.send("fromMain")
"""


LATE_FIRST_SEND = """
import atexit

def report():  # registered before the import: runs after otel-telemetry's handler
    import otel_telemetry
    otel_telemetry.send("fromLateHandler", {"eventProperties": {"n": 1}})  # the first send

atexit.register(report)
import otel_telemetry
"""


def test_a_first_send_from_a_handler_that_runs_after_ours_is_delivered(
    state: Path, receiver: OTLPReceiver
) -> None:
    result = run(LATE_FIRST_SEND, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.http_endpoint)
    assert result.returncode == 0 and result.stderr == ""
    assert receiver.wait_for(1, timeout=30)
    assert [r.event_name for r in receiver.records] == ["fromLateHandler"]


@pytest.mark.parametrize("mode", ["handoff", "flush"])
def test_app_atexit_handlers_registered_before_and_after_the_import_still_deliver(
    state: Path, receiver: OTLPReceiver, mode: str
) -> None:
    result = run(APP_HANDLERS, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.http_endpoint, OTEL_TELEMETRY_EXIT=mode)
    assert result.returncode == 0 and result.stderr == ""
    assert receiver.wait_for(3, timeout=30)
    assert wait_until(lambda: not sender_pids(state), 20)
    names = sorted(r.event_name for r in receiver.records)
    assert names == ["fromHandlerRegisteredAfter", "fromHandlerRegisteredBefore", "fromMain"]


def test_handed_off_events_older_than_the_maximum_age_are_dropped_with_a_count(
    state: Path, receiver: OTLPReceiver
) -> None:
    exporter = {"protocol": "http/protobuf", "endpoint": receiver.http_logs_url, "headers": {}}
    area = handoff.area(state / "handoff", exporter)
    settings = portable_settings()
    old = handoff.write(area, settings, [_event("old", i) for i in range(4)])
    week_ago = time.time() - 8 * 24 * 3600
    os.utime(old / "lock", (week_ago, week_ago))
    handoff.write(area, settings, [_event("new", 0)])
    assert run_sender(area, exporter, max_age_s=7 * 24 * 3600.0, max_bytes=1 << 20) == 0
    assert [r.event_name for r in receiver.records] == ["new"]
    log = (area / handoff.SENDER_LOG).read_text()
    assert "dropped 4 handed-off event(s)" in log and "older than the maximum age" in log
    assert pending_dirs(state) == []


def run_sender(area: Path, exporter: dict[str, object], *, max_age_s: float, max_bytes: int) -> int:
    """Run a detached sender's job in the foreground (as a program's exit would start it)."""
    job = {
        "area": str(area),
        "exporter": {**exporter, "insecure": True, "timeout_s": 5.0, "compression": "none"},
        "timeout_s": 5.0,
        "lifetime_s": 20.0,
        "max_age_s": max_age_s,
        "max_bytes": max_bytes,
    }
    env = {**os.environ, handoff.JOB_ENV: repr(job)}
    return subprocess.run(
        [sys.executable, "-m", "otel_telemetry.handoff_sender"], env=env, timeout=60
    ).returncode


def _event(name: str, i: int) -> tuple[object, ...]:
    return (name, time.time_ns(), ("i", i), None, None, None, 0, 0, 0, None, None, 0)


def portable_settings() -> dict[str, object]:
    """What a program with default settings writes next to its handed-off events."""
    from otel_telemetry.counters import Counters
    from otel_telemetry.encoder import EventEncoder
    from otel_telemetry.settings import PrivacySettings, RecordSettings

    encoder = EventEncoder({}, {}, 256, RecordSettings(), PrivacySettings(project_id="p"), Counters())
    return {"encoder": encoder.portable_settings(), "event_ids": False}


def test_debug_mode_prints_each_event_as_tail_does_and_sends_nothing(
    state: Path, receiver: OTLPReceiver
) -> None:
    result = run(
        """
        import otel_telemetry
        otel_telemetry.send("didCreateEntry", {"eventProperties": {"model": "article"},
                                               "userProperties": {"plan": "pro"}})
        otel_telemetry.send("didPublish", event_properties={"count": 2, "title": "a b"})
        """,
        OTEL_TELEMETRY_DEBUG="1",
        OTEL_SERVICE_NAME="my-app",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.http_endpoint,
    )
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert lines[0].startswith("otel-telemetry debug mode is on")
    assert len(lines) == 3
    clock = r"\d\d:\d\d:\d\d\.\d{3}"
    import re

    assert re.fullmatch(clock + r"  didCreateEntry  model=article user\.plan=pro  \[my-app\]", lines[1])
    assert re.fullmatch(clock + r'  didPublish  count=2 title="a b"  \[my-app\]', lines[2])
    time.sleep(1.0)
    assert receiver.records == [] and receiver.request_log == []
    assert pending_dirs(state) == [] and sender_pids(state) == []


def test_over_its_size_cap_the_area_drops_its_oldest_directories_with_a_count(
    state: Path, receiver: OTLPReceiver
) -> None:
    exporter = {"protocol": "http/protobuf", "endpoint": receiver.http_logs_url, "headers": {}}
    area = handoff.area(state / "handoff", exporter)
    settings = portable_settings()
    paths = []
    for n in range(3):
        paths.append(handoff.write(area, settings, [_event(f"batch{n}", i) for i in range(50)]))
        then = time.time() - 100 + n  # oldest first
        os.utime(paths[-1] / "lock", (then, then))
    size = (paths[0] / handoff.RAW_NAME).stat().st_size
    assert run_sender(area, exporter, max_age_s=3600.0, max_bytes=2 * size + size // 2) == 0  # room for 2
    assert sorted({r.event_name for r in receiver.records}) == ["batch1", "batch2"]
    assert len(receiver.records) == 100
    log = (area / handoff.SENDER_LOG).read_text()
    assert "dropped 50 handed-off event(s)" in log and "over its cap" in log


@pytest.mark.parametrize(
    ("age_s", "mode", "expected"),
    [
        (1.0, "auto", "handoff"),
        (299.0, "auto", "handoff"),
        (301.0, "auto", "flush"),
        (3600.0, "handoff", "handoff"),
        (1.0, "flush", "flush"),
    ],
)
def test_the_exit_mode_follows_the_setting_and_the_age_of_the_process(
    monkeypatch: pytest.MonkeyPatch, age_s: float, mode: str, expected: str
) -> None:
    from otel_telemetry import DeliverySettings, Telemetry, exit

    monkeypatch.setattr(exit, "process_age_s", lambda: age_s)
    monkeypatch.setattr(exit, "forked", lambda: False)  # this test process may have forked before
    t = Telemetry(endpoint="http://127.0.0.1:9", delivery=DeliverySettings(exit_mode=mode))  # type: ignore[arg-type]
    try:
        assert t.exit_mode == expected
    finally:
        t.shutdown(0.1)


def test_an_instance_that_cannot_hand_off_flushes_at_exit() -> None:
    from otel_telemetry import DeliverySettings, Telemetry

    handoff = DeliverySettings(exit_mode="handoff")
    for t in (
        Telemetry(endpoint="http://127.0.0.1:9", delivery=handoff, debug=True),
        Telemetry(endpoint="http://127.0.0.1:9", delivery=handoff, disabled=True),
    ):
        assert t.exit_mode == "flush"
        t.shutdown(0.1)


def test_the_process_age_is_read_from_the_system() -> None:
    from otel_telemetry import exit

    before = exit.process_age_s()
    assert 0 < before < 3600 * 24 * 365
    time.sleep(0.05)
    assert exit.process_age_s() >= before


def test_a_bad_exit_setting_is_refused_when_explicit_and_replaced_from_the_environment() -> None:
    from otel_telemetry import DeliverySettings, HandoffSettings, TelemetryError

    with pytest.raises(TelemetryError, match="exit_mode"):
        DeliverySettings(exit_mode="later")  # type: ignore[arg-type]
    with pytest.raises(TelemetryError, match=r"handoff\.lifetime_s"):
        HandoffSettings(lifetime_s=0)
    settings = DeliverySettings.from_env(
        {"OTEL_TELEMETRY_EXIT": "soon", "OTEL_TELEMETRY_HANDOFF_LIFETIME": "-5"}
    )
    assert settings.exit_mode == "auto" and settings.handoff.lifetime_s == 60.0


def test_with_a_spool_the_program_flushes_at_exit_and_the_spool_keeps_the_rest(state: Path) -> None:
    from otel_telemetry import DeliverySettings, SpoolSettings, Telemetry

    t = Telemetry(
        endpoint="http://127.0.0.1:9", delivery=DeliverySettings(spool=SpoolSettings(state / "spool"))
    )
    try:
        assert t.exit_mode == "flush"  # the spool is the app's own durability: it is not handed off
    finally:
        t.shutdown(0.5)


def test_the_short_lived_benchmark_runs_and_reports_every_collector_state(state: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.short_lived", "-n", "1", "--flush-runs", "0", "--no-write"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 2 + 3  # header, pass, bare, up / refused / hanging
    assert all(row.rstrip().endswith("| empty |") for row in rows[1:]), rows


def test_debug_as_an_argument_prints_what_the_capture_path_made_of_the_event(
    capfd: pytest.CaptureFixture[str], receiver: OTLPReceiver
) -> None:
    from otel_telemetry import RecordSettings, Telemetry

    t = Telemetry(
        "cli-tool",
        endpoint=receiver.http_endpoint,
        records=RecordSettings(attribute_value_length_limit=5),
        debug=True,
    )
    assert t.send("didBuild", {"eventProperties": {"target": "production"}}, user_id="u1")
    assert t.flush(5)
    t.shutdown(1)
    lines = capfd.readouterr().err.splitlines()
    assert lines[0].startswith("otel-telemetry debug mode is on")
    assert "didBuild  target=produ " in lines[1]  # after the limits: what a collector would get
    assert "user.hash=" in lines[1] and "=u1" not in lines[1]  # hashed, never the raw id
    assert lines[1].endswith("[cli-tool]")
    assert receiver.records == []


def test_a_program_whose_hand_off_area_cannot_be_written_flushes_instead(
    state: Path, receiver: OTLPReceiver, tmp_path: Path
) -> None:
    blocked = tmp_path / "read-only"
    blocked.write_text("a file where the hand-off directory would be")
    result = run(
        PROGRAM,
        TAG="ro",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.http_endpoint,
        OTEL_TELEMETRY_HANDOFF_DIR=str(blocked / "handoff"),
    )
    assert result.returncode == 0 and result.stderr == ""
    # the program itself only handed its events to the deferred sender; that one cannot write
    # the hand-off area either, so its exit flushes them
    assert receiver.wait_for(3, timeout=30)
    assert tags(receiver) == [("ro", 0), ("ro", 1), ("ro", 2)]
    assert sender_pids(state) == []


STATS_AT_EXIT = """
import atexit, json, os

def report():  # registered before the import: runs after otel-telemetry's exit handler
    s = otel_telemetry.stats()
    print(json.dumps({"accepted": s.accepted, "refused": s.refused, "recovered": s.recovered,
                      "queued": s.queued, "in_flight": s.in_flight, "spool_pending": s.spool_pending,
                      "exported": s.exported, "dropped": s.dropped_total, "handed_off": s.handed_off}))

atexit.register(report)
import otel_telemetry
for i in range(5):
    otel_telemetry.send("didRunCommand", {"eventProperties": {"i": i}})
"""


def test_stats_after_the_hand_off_still_add_up(state: Path) -> None:
    result = run(STATS_AT_EXIT, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 0 and result.stderr == ""
    s = json.loads(result.stdout.splitlines()[-1])
    assert s["handed_off"] == 5 and s["dropped"] == 0
    assert s["accepted"] + s["refused"] + s["recovered"] == (
        s["queued"] + s["in_flight"] + s["spool_pending"] + s["exported"] + s["dropped"] + s["handed_off"]
    )


FORKED_AFTER_THE_IMPORT = """
import os, sys, otel_telemetry
pid = os.fork()
if pid == 0:  # a server's worker, or a pool's: it ends with its master
    otel_telemetry.send("fromChild")
    print("child", otel_telemetry.get_default().exit_mode, flush=True)
    sys.exit(0)  # a normal exit: atexit runs (as in a gunicorn worker)
os.waitpid(pid, 0)
otel_telemetry.send("fromParent")
print("parent", otel_telemetry.get_default().exit_mode, flush=True)
"""

FORKED_BEFORE_THE_IMPORT = """
import os, sys
pid = os.fork()
if pid == 0:  # a gunicorn worker without --preload imports the app (and us) after the fork
    import otel_telemetry
    otel_telemetry.send("fromChild")
    print("child", otel_telemetry.get_default().exit_mode, flush=True)
    sys.exit(0)
os.waitpid(pid, 0)
"""


@pytest.mark.parametrize(
    "program", [FORKED_AFTER_THE_IMPORT, FORKED_BEFORE_THE_IMPORT], ids=["after", "before"]
)
def test_forked_processes_deliver_in_process_at_exit_instead_of_handing_off(
    state: Path, receiver: OTLPReceiver, program: str
) -> None:
    result = run(program, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.http_endpoint)
    assert result.returncode == 0 and result.stderr == ""
    modes = sorted(result.stdout.split("\n")[:-1])
    assert all(line.endswith(" flush") for line in modes), modes
    expected = ["fromChild", "fromParent"] if "fromParent" in program else ["fromChild"]
    # delivered before the program ended, by the processes themselves: no hand-off, no sender
    assert sorted(r.event_name for r in receiver.records) == expected
    assert not (state / "handoff").exists()
