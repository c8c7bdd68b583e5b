"""The pytest plugin as users load it (the ``pytest11`` entry point), in pytester sub-sessions
run as subprocesses, and the app test example; a real receiver must see nothing from them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from otel_telemetry.receiver import OTLPReceiver

pytest_plugins = ["pytester"]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

APP = """
import otel_telemetry

def create(model):
    otel_telemetry.send("didCreateEntry", event_properties={"model": model})
"""


@pytest.fixture
def app_session(
    pytester: pytest.Pytester, receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """A project whose telemetry points at the real receiver, as a developer's machine might."""
    pytester.makepyfile(app=APP)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint)
    monkeypatch.setenv("OTEL_BLRP_SCHEDULE_DELAY", "10")
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)


def test_the_fixture_captures_and_each_test_starts_empty(
    app_session: pytest.Pytester, receiver: OTLPReceiver
) -> None:
    app_session.makepyfile(
        test_app=textwrap.dedent(
            """
            import app

            def test_one(telemetry_events):
                app.create("article")
                telemetry_events.assert_sent("didCreateEntry", model="article")

            def test_two(telemetry_events):
                assert len(telemetry_events) == 0
                app.create("page")
                assert [e.get("model") for e in telemetry_events] == ["page"]

            def test_wrong(telemetry_events):
                app.create("page")
                telemetry_events.assert_sent("didCreateEntry", model="article")
            """
        )
    )
    result = run(app_session)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*TelemetryAssertionError: no didCreateEntry(model='article') event was sent.",
            "*1 didCreateEntry event(s) were sent; the closest:",
            "*didCreateEntry(model='page')*(differs: model='page')",
        ]
    )
    assert receiver.records == [] and receiver.request_log == []


def test_a_catalog_violation_fails_the_test_that_caused_it(
    app_session: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = app_session.path / "catalog.json"
    catalog.write_text('{"version": 1, "events": {"didCreateEntry": {"description": "d", "owner": "o"}}}')
    monkeypatch.setenv("OTEL_TELEMETRY_CATALOG", str(catalog))
    app_session.makepyfile(
        test_app=textwrap.dedent(
            """
            import pytest
            import otel_telemetry

            def test_planned(telemetry_events):
                otel_telemetry.send("didCreateEntry")

            def test_unplanned(telemetry_events):
                otel_telemetry.send("didDeleteEverything")

            @pytest.mark.telemetry(allow_violations=True)
            def test_allowed():
                otel_telemetry.send("didDeleteEverything")
            """
        )
    )
    result = run(app_session)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the event catalog was violated during this test:",
            "*didDeleteEverything: *",
            "*FAILED*test_unplanned*",
        ]
    )


def test_the_ini_option_captures_in_every_test(app_session: pytest.Pytester) -> None:
    app_session.makeini("[pytest]\notel_telemetry_capture = true\n")
    app_session.makepyfile(
        test_app=textwrap.dedent(
            """
            import app
            from otel_telemetry.testing import capture

            def test_plain():
                app.create("article")  # captured although the test asked for nothing
            """
        )
    )
    run(app_session).assert_outcomes(passed=1)


def test_a_test_session_exports_nothing_by_default_even_from_subprocesses(
    app_session: pytest.Pytester, receiver: OTLPReceiver
) -> None:
    app_session.makepyfile(
        test_app=textwrap.dedent(
            """
            import os, subprocess, sys
            import otel_telemetry
            import app

            def test_in_process():
                app.create("article")
                assert otel_telemetry.flush(5)
                assert otel_telemetry.stats().dropped == {"not_exported": 1}

            def test_in_a_subprocess():
                assert os.environ["OTEL_LOGS_EXPORTER"] == "none"
                code = "import otel_telemetry as o; o.send('fromChild'); assert o.flush(5)"
                subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
            """
        )
    )
    run(app_session).assert_outcomes(passed=2)
    assert receiver.records == [] and receiver.request_log == []


def test_network_allowed_by_ini_or_marker_exports_as_configured(
    app_session: pytest.Pytester, receiver: OTLPReceiver
) -> None:
    app_session.makepyfile(
        test_app=textwrap.dedent(
            """
            import pytest
            import otel_telemetry

            def test_blocked():
                t = otel_telemetry.Telemetry()
                t.send("blocked")
                t.shutdown(5)

            @pytest.mark.telemetry_network
            def test_allowed():
                t = otel_telemetry.Telemetry()
                assert t.send("allowed")
                assert t.flush(10)
                t.shutdown(5)
            """
        )
    )
    run(app_session).assert_outcomes(passed=2)
    assert [r.event_name for r in receiver.records] == ["allowed"]
    receiver.clear()
    app_session.makeini("[pytest]\notel_telemetry_network = allow\n")
    run(app_session).assert_outcomes(passed=2)
    assert sorted(r.event_name for r in receiver.records) == ["allowed", "blocked"]


def test_the_app_test_example_passes_and_sends_nothing(receiver: OTLPReceiver, tmp_path: Path) -> None:
    env = dict(
        os.environ, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.http_endpoint, OTEL_TELEMETRY_STATE_DIR=str(tmp_path)
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLES / "pytest_plugin")],
        cwd=EXAMPLES / "pytest_plugin",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
    assert receiver.records == [] and receiver.request_log == []
