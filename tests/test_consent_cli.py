"""The `telemetry` command mounted in a real click app and a real argparse app (examples/),
run as subprocesses against a real receiver, with the state directory of a real user."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_telemetry.receiver import OTLPReceiver, ReceivedRecord

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CLICK_APP = EXAMPLES / "cli_consent.py"
ARGPARSE_APP = EXAMPLES / "cli_consent_argparse.py"
#: docs/consent.md: a running process stops sending within this long after `disable` returns
#: (the 1 s check interval, plus a batch that was already being exported).
DOCUMENTED_STOP_S = 2.0


def app_env(receiver: OTLPReceiver, **extra: str) -> dict[str, str]:
    env = dict(
        os.environ,
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.http_endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_BLRP_SCHEDULE_DELAY="100",
    )
    env.update(extra)
    return env


def run(app: Path, receiver: OTLPReceiver, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, str(app), *args],
        env=app_env(receiver, **extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def ok(app: Path, receiver: OTLPReceiver, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    result = run(app, receiver, *args, **extra)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def named(receiver: OTLPReceiver, name: str) -> list[ReceivedRecord]:
    return [r for r in receiver.records if r.event_name == name]


@pytest.fixture
def server(receiver: OTLPReceiver) -> Iterator[subprocess.Popen[str]]:
    """`acme-cli serve`: a long-running process of the click app, sending all the time."""
    process = subprocess.Popen(
        [sys.executable, str(CLICK_APP), "serve", "--seconds", "40", "--interval", "0.02"],
        env=app_env(receiver),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        process.communicate(timeout=30)


@pytest.mark.parametrize("app", [CLICK_APP, ARGPARSE_APP], ids=["click", "argparse"])
def test_status_says_what_decided_where_it_is_stored_and_where_events_go(
    receiver: OTLPReceiver, app: Path, clean_environment: Path
) -> None:
    name = "acme-cli" if app == CLICK_APP else "acme-tool"
    status = json.loads(ok(app, receiver, "telemetry", "status", "--json").stdout)
    assert status["app"] == name
    assert status["choice_file"] == str(clean_environment / "apps" / name / "consent.json")
    assert status["destination"].startswith(receiver.http_endpoint)
    assert "app.installation.id" in status["facts"]
    if app == CLICK_APP:
        assert status["enabled"] and "opt-out" in status["reason"] and "default" in status["reason"]
    else:
        assert not status["enabled"] and "opt-in" in status["reason"]
    text = ok(app, receiver, "telemetry", "disable").stdout
    assert "OFF" in text and "telemetry disable" in text
    status = json.loads(ok(app, receiver, "telemetry", "status", "--json").stdout)
    assert not status["enabled"] and status["stored"]["enabled"] is False
    assert "telemetry disable" in status["reason"] and status["stored"]["at"] in status["reason"]
    # the environment wins over the stored choice, both ways
    ok(app, receiver, "telemetry", "enable")
    status = json.loads(ok(app, receiver, "telemetry", "status", "--json", DO_NOT_TRACK="1").stdout)
    assert not status["enabled"] and "DO_NOT_TRACK=1" in status["reason"]
    text = ok(app, receiver, "telemetry", "status").stdout
    assert f"Telemetry for {name} is ON" in text and str(clean_environment) in text


def test_enable_cannot_override_do_not_track_nor_otel_sdk_disabled(receiver: OTLPReceiver) -> None:
    for variable, value in (("DO_NOT_TRACK", "1"), ("OTEL_SDK_DISABLED", "true")):
        out = ok(ARGPARSE_APP, receiver, "telemetry", "enable", **{variable: value}).stdout
        assert "environment keeps telemetry off" in out
        ok(ARGPARSE_APP, receiver, "convert", "a.md", **{variable: value})
        ok(CLICK_APP, receiver, "run", **{variable: value})
    time.sleep(1.0)
    assert receiver.records == []
    ok(ARGPARSE_APP, receiver, "convert", "a.md")
    assert receiver.wait_for(1, timeout=10)


def test_disable_in_one_process_stops_an_already_running_one(
    receiver: OTLPReceiver, server: subprocess.Popen[str]
) -> None:
    assert receiver.wait_for(20, timeout=20), "the server sends before the user disables"
    out = ok(CLICK_APP, receiver, "telemetry", "disable").stdout
    disabled_at = time.monotonic()
    assert "OFF" in out
    # the app's last "opted out" event went out first, from the disabling process
    assert len(named(receiver, "didDisableTelemetry")) == 1
    time.sleep(DOCUMENTED_STOP_S)
    seen = len(receiver.records)
    time.sleep(3.0)
    assert server.poll() is None, "the server kept running (and sending) the whole time"
    assert len(receiver.records) == seen, "events arrived after the documented stop time"
    assert time.monotonic() - disabled_at >= DOCUMENTED_STOP_S + 3.0
    # enabling again resumes the same running process
    ok(CLICK_APP, receiver, "telemetry", "enable")
    assert receiver.wait_for(seen + 5, timeout=10), "the running server resumed after enable"


def test_the_notice_is_shown_once_across_runs_before_the_first_event(receiver: OTLPReceiver) -> None:
    first = ok(CLICK_APP, receiver, "run", "build")
    assert "collects anonymous usage data" in first.stderr
    assert receiver.wait_for(1, timeout=10)
    second = ok(CLICK_APP, receiver, "run", "test")
    assert "collects anonymous usage data" not in second.stderr
    assert receiver.wait_for(2, timeout=10)
    assert [r.attributes["task"] for r in named(receiver, "didRunCommand")] == ["build", "test"]
    # default properties are merged under the call's own
    assert all(r.attributes["cliVersion"] == "1.4.0" for r in named(receiver, "didRunCommand"))


def test_nothing_is_sent_while_disabled_and_the_notice_precedes_any_event(receiver: OTLPReceiver) -> None:
    # the app's last "opted out" event is its first event here: the notice comes before it
    disabling = ok(CLICK_APP, receiver, "telemetry", "disable")
    assert "collects anonymous" in disabling.stderr
    assert receiver.wait_for(1, timeout=10)
    quiet = ok(CLICK_APP, receiver, "run")
    assert "collects anonymous" not in quiet.stderr
    time.sleep(1.0)
    assert [r.event_name for r in receiver.records] == ["didDisableTelemetry"]
    ok(CLICK_APP, receiver, "telemetry", "enable")
    again = ok(CLICK_APP, receiver, "run")
    assert "collects anonymous" not in again.stderr, "shown once per installation"
    assert receiver.wait_for(2, timeout=10)
    assert [r.event_name for r in receiver.records] == ["didDisableTelemetry", "didRunCommand"]


def test_opt_in_sends_nothing_until_enabled(receiver: OTLPReceiver) -> None:
    for index in range(3):
        assert "converted" in ok(ARGPARSE_APP, receiver, "convert", f"f{index}.md").stdout
    time.sleep(1.0)
    assert receiver.records == []
    assert "ON" in ok(ARGPARSE_APP, receiver, "telemetry", "enable").stdout
    ok(ARGPARSE_APP, receiver, "convert", "notes.txt")
    assert receiver.wait_for(1, timeout=10)
    [record] = receiver.records
    assert record.event_name == "didConvertFile" and record.attributes["extension"] == ".txt"
    assert record.resource["service.name"] == "acme-tool"


@pytest.mark.parametrize("app", [CLICK_APP, ARGPARSE_APP], ids=["click", "argparse"])
def test_reset_changes_the_installation_id_on_the_wire(receiver: OTLPReceiver, app: Path) -> None:
    send = ("run",) if app == CLICK_APP else ("convert", "x.md")
    if app == ARGPARSE_APP:
        ok(app, receiver, "telemetry", "enable")
    ok(app, receiver, *send)
    assert receiver.wait_for(1, timeout=10)
    ok(app, receiver, *send)
    assert receiver.wait_for(2, timeout=10)
    out = ok(app, receiver, "telemetry", "reset").stdout
    ok(app, receiver, *send)
    assert receiver.wait_for(3, timeout=10)
    first, second, third = (r.resource["app.installation.id"] for r in receiver.records)
    assert first == second, "stable across runs"
    assert third != first, "reset: later events cannot be linked to earlier ones"
    assert third in out
    status = json.loads(ok(app, receiver, "telemetry", "status", "--json").stdout)
    assert status["installation_id"] == third


@pytest.mark.parametrize("app", [CLICK_APP, ARGPARSE_APP], ids=["click", "argparse"])
def test_show_prints_what_was_sent_as_tail_does(receiver: OTLPReceiver, app: Path) -> None:
    if app == ARGPARSE_APP:
        ok(app, receiver, "telemetry", "enable")
        sends = [("convert", f"f{i}.csv") for i in range(3)]
        expected = "didConvertFile  extension=.csv  [acme-tool]"
    else:
        sends = [("run", f"task{i}") for i in range(3)]
        expected = "didRunCommand  task=task2 cliVersion=1.4.0  [acme-cli]"
    assert "sent no events yet" in ok(app, receiver, "telemetry", "show").stdout
    for args in sends:
        ok(app, receiver, *args)
    assert receiver.wait_for(3, timeout=10)
    lines = ok(app, receiver, "telemetry", "show", "--last", "2").stdout.splitlines()
    assert len(lines) == 2
    assert lines[-1].endswith(expected), lines
    assert len(lines[-1].split()[0]) == len("12:00:01.250")


def test_disable_deletes_the_apps_spooled_unsent_events(receiver: OTLPReceiver, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    with socket.socket() as probe:  # a port nobody listens on: the collector is down
        probe.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{probe.getsockname()[1]}"
    offline = {
        "OTEL_TELEMETRY_SPOOL_DIR": str(spool),
        "OTEL_EXPORTER_OTLP_ENDPOINT": down,
        "OTEL_TELEMETRY_EXIT_TIMEOUT": "3",
        "OTEL_TELEMETRY_SPOOL_SYNC": "sync",  # send() returns once the event is on disk
    }
    for task in ("a", "b", "c"):
        ok(CLICK_APP, receiver, "run", task, **offline)
    assert list(spool.rglob("*.seg")), "the events wait in the spool"
    out = ok(CLICK_APP, receiver, "telemetry", "disable", **offline).stdout
    # the three runs' events and the opted-out event the collector never got
    assert "Deleted 4 unsent event(s)" in out, out
    assert "running process" not in out
    assert not [p for p in spool.rglob("*.seg") if p.stat().st_size], "no spooled event is left"
    ok(CLICK_APP, receiver, "telemetry", "enable")
    ok(CLICK_APP, receiver, "run", "after", OTEL_TELEMETRY_SPOOL_DIR=str(spool))
    assert receiver.wait_for(1, timeout=10)
    time.sleep(1.0)
    assert [r.attributes.get("task") for r in receiver.records] == ["after"]
