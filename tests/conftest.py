"""Shared fixtures: a clean OpenTelemetry environment and a real OTLP receiver per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_telemetry.receiver import OTLPReceiver

#: Variables that change what otel-telemetry does; cleared so the host's settings don't leak in.
_PREFIXES = ("OTEL_", "DO_NOT_TRACK", "MYAPP_")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test starts without OTEL_* variables and with its own state directory."""
    for name in list(os.environ):
        if name.startswith(_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("OTEL_TELEMETRY_STATE_DIR", str(state))
    return state


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    """A real OTLP receiver (gRPC and HTTP) on free 127.0.0.1 ports, stopped after the test."""
    with OTLPReceiver(host="127.0.0.1", grpc_port=0, http_port=0) as rx:
        yield rx
