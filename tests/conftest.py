"""Shared fixtures: a clean OpenTelemetry environment and a real OTLP receiver per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from telemetry_helpers import stop_senders

from otel_telemetry.receiver import OTLPReceiver

#: Variables that change what otel-telemetry does; cleared so the host's settings don't leak in.
_PREFIXES = ("OTEL_", "DO_NOT_TRACK", "MYAPP_")


@pytest.fixture(autouse=True)
def clean_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """Every test starts without OTEL_* variables and with its own state directory; the
    detached senders its programs started at their exit (docs/short-lived.md) are stopped."""
    for name in list(os.environ):
        if name.startswith(_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("OTEL_TELEMETRY_STATE_DIR", str(state))
    yield state
    stop_senders(state)


@pytest.fixture(scope="session", autouse=True)
def _no_sender_outlives_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Programs given another state directory (a test's tmp_path) start senders there too."""
    yield
    for root in tmp_path_factory.getbasetemp().glob("**/handoff"):
        stop_senders(root.parent)


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    """A real OTLP receiver (gRPC and HTTP) on free 127.0.0.1 ports, stopped after the test."""
    with OTLPReceiver(host="127.0.0.1", grpc_port=0, http_port=0) as rx:
        yield rx
