"""The package stays `mypy --strict` and `ruff` clean, and its public API is declared."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import otel_telemetry

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_mypy_strict_is_clean() -> None:
    result = _run("mypy", "otel_telemetry")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean() -> None:
    result = _run("ruff", "check", "otel_telemetry", "tests", "examples", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_api_is_declared_and_typed() -> None:
    assert (ROOT / "otel_telemetry" / "py.typed").exists()
    for name in otel_telemetry.__all__:
        assert hasattr(otel_telemetry, name), name
    for name in ("send", "flush", "shutdown", "Telemetry", "TelemetryError", "to_payload"):
        assert name in otel_telemetry.__all__
