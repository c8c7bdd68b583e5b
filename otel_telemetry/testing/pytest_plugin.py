"""The pytest plugin (entry point ``pytest11``): assert on telemetry, and never export from tests.

Loaded wherever otel-telemetry is installed; it does two things.

* **Capture, off until asked for.** The ``telemetry_events`` fixture, the ``telemetry`` marker
  or the ini option ``otel_telemetry_capture = true`` make a test run inside
  :func:`otel_telemetry.testing.capture`: every event ``send()`` accepts is recorded (nothing
  leaves the process), the capture starts empty for each test, and a catalog violation fails
  the test that caused it (``@pytest.mark.telemetry(allow_violations=True)`` to allow them).
* **No export from a test session by default.** Unless the ini option
  ``otel_telemetry_network = allow`` (or ``OTEL_TELEMETRY_TEST_NETWORK=allow``) is set, the
  session runs with ``OTEL_LOGS_EXPORTER=none`` (the OpenTelemetry variable; subprocesses the
  tests start inherit it): events are accepted and discarded, so an app's own suite never sends
  real telemetry. A test that means to export is marked ``@pytest.mark.telemetry_network``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from .. import _deferred
from ..settings import LOGS_EXPORTER_ENV
from ._capture import Capture, TelemetryAssertionError
from ._hook import capturing, set_blocked

NETWORK_ENV = "OTEL_TELEMETRY_TEST_NETWORK"
_CAPTURE_KEY = pytest.StashKey[Capture]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "otel_telemetry_capture",
        "capture otel-telemetry events in every test (the telemetry_events fixture does it per test)",
        type="bool",
        default=False,
    )
    parser.addini(
        "otel_telemetry_network",
        "'block' (default): no telemetry export from the test session; 'allow': export as configured",
        default="block",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "telemetry(allow_violations=False): capture otel-telemetry events during this test"
    )
    config.addinivalue_line("markers", "telemetry_network: let this test export telemetry as configured")
    _deferred.block()  # the tests count and capture events in this process: none waits aside
    if _network_allowed(config):
        return
    config.stash[_SAVED_ENV] = os.environ.get(LOGS_EXPORTER_ENV)
    os.environ[LOGS_EXPORTER_ENV] = "none"
    set_blocked(True)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SAVED_ENV not in config.stash:
        return
    saved = config.stash[_SAVED_ENV]
    if saved is None:
        os.environ.pop(LOGS_EXPORTER_ENV, None)
    else:
        os.environ[LOGS_EXPORTER_ENV] = saved
    set_blocked(False)


_SAVED_ENV = pytest.StashKey["str | None"]()


def _network_allowed(config: pytest.Config) -> bool:
    value = os.environ.get(NETWORK_ENV) or str(config.getini("otel_telemetry_network"))
    return value.strip().lower() == "allow"


def _wants_capture(item: pytest.Item) -> bool:
    return (
        "telemetry_events" in getattr(item, "fixturenames", ())
        or item.get_closest_marker("telemetry") is not None
        or bool(item.config.getini("otel_telemetry_capture"))
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    if _wants_capture(item):
        context = capturing()
        item.stash[_CAPTURE_KEY] = context.__enter__()
        item.stash[_CONTEXT_KEY] = context
    network = item.get_closest_marker("telemetry_network") is not None
    if network:
        item.stash[_NETWORK_KEY] = os.environ.pop(LOGS_EXPORTER_ENV, None)
        set_blocked(False)
    return (yield)


_CONTEXT_KEY = pytest.StashKey[Any]()
_NETWORK_KEY = pytest.StashKey["str | None"]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    result = yield
    capture = item.stash.get(_CAPTURE_KEY, None)
    marker = item.get_closest_marker("telemetry")
    allowed = bool(marker and marker.kwargs.get("allow_violations"))
    if capture is not None and capture.violations and not allowed:
        lines = "\n".join(f"  {violation}" for violation in capture.violations)
        raise TelemetryAssertionError(f"the event catalog was violated during this test:\n{lines}")
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    try:
        return (yield)
    finally:
        context = item.stash.get(_CONTEXT_KEY, None)
        if context is not None:
            context.__exit__(None, None, None)
            del item.stash[_CONTEXT_KEY]
        if _NETWORK_KEY in item.stash:
            saved = item.stash[_NETWORK_KEY]
            if saved is not None:
                os.environ[LOGS_EXPORTER_ENV] = saved
                set_blocked(True)
            del item.stash[_NETWORK_KEY]


@pytest.fixture
def telemetry_events(request: pytest.FixtureRequest) -> Capture:
    """The events this test's ``send()`` calls produced (the capture is active for the test)."""
    capture: Capture | None = request.node.stash.get(_CAPTURE_KEY, None)
    if capture is None:  # requested dynamically (getfixturevalue): start capturing now
        context = capturing()
        capture = context.__enter__()
        request.addfinalizer(lambda: context.__exit__(None, None, None))
    return capture
