"""The benchmark harness runs end to end on a tiny N (speed is for the benchmark, not asserted here)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.stats import Summary, ratio  # noqa: E402

N = 600


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


def _run(command: list[str], env: dict[str, str], timeout: float) -> tuple[int, str, str]:
    """Run ``command`` in its own process group; the whole group is killed if it overruns or fails."""
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        return process.returncode, stdout, stderr
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever the benchmark left running, too
        process.wait()


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """One ``python -m benchmarks --quick`` with a tiny N, all sections; its RESULTS.md and JSON."""
    out = tmp_path_factory.mktemp("bench")
    command = [sys.executable, "-m", "benchmarks", "--quick", "-n", str(N), "--caller-n", "300"]
    returncode, _, stderr = _run([*command, "--out", str(out)], _env(), timeout=240)
    assert returncode == 0, stderr[-3000:]
    return (out / "RESULTS.md").read_text(encoding="utf-8"), json.loads((out / "results.json").read_text())


def test_results_table_has_every_section_and_system(quick_run: tuple[str, dict[str, Any]]) -> None:
    markdown, _ = quick_run
    for heading in ("## Targets", "## 1. Caller cost", "## 2. End to end", "## 3. Memory", "## 4.", "## 5."):
        assert heading in markdown
    for label in (
        "floor: 3 dict copies + deque.append",
        "otel-telemetry send() (gRPC)",
        "otel-telemetry send() (HTTP/protobuf)",
        "otel-telemetry send() into an app's LoggerProvider",
        "OTel SDK Logger.emit() alone (no processor)",
        "OTel SDK Logger.emit() + BatchLogRecordProcessor + OTLP (gRPC)",
        "Segment analytics.track",
        "PostHog capture",
        "Amplitude track",
        "+ PII hashing",
        "default, with event properties varying per call",
        "+ catalog validation",
        "+ spool",
    ):
        assert f"| {label}" in markdown, label
    assert "Machine:" in markdown and "Packages:" in markdown


def test_otel_telemetry_delivers_every_event_end_to_end(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, results = quick_run
    ours = [row for row in results["e2e"] if row["key"].startswith("ours-")]
    expected = {"ours-grpc", "ours-http", "ours-grpc-distinct", "ours-grpc-full", "ours-http-full"}
    assert {row["key"] for row in ours} == expected
    for row in ours:
        assert row.get("status") is None, row
        assert row["delivered_worst"] == N
        assert all(run["delivered"] == N and run["flushed"] for run in row["runs"])
        assert row["summary"]["median"] > 0


def test_every_row_is_a_figure_or_says_why_not(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, results = quick_run
    for section in ("caller", "e2e", "memory", "steps", "scaling"):
        assert results[section], section
        for row in results[section]:
            status = row.get("status")
            if status is None:
                summary = row["summary"]
                assert summary["low"] <= summary["median"] <= summary["high"]
            else:
                assert status in ("not installed", "not available"), row
    memory = {row["key"]: row for row in results["memory"]}
    assert memory["ours-down"]["runs"][0]["queued"] >= N  # collector down: everything stays queued


def test_a_missing_peer_is_reported_not_installed(tmp_path: Path) -> None:
    shadow = tmp_path / "segment"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('segment is not installed')\n")
    task = {
        "kind": "caller",
        "spec": {"system": "segment", "sink_url": "http://127.0.0.1:9"},
        "n": 1,
        "repeats": 1,
    }
    env = _env(PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    returncode, stdout, stderr = _run([sys.executable, "-m", "benchmarks.child", json.dumps(task)], env, 60)
    assert returncode == 0, stderr
    assert json.loads(stdout.splitlines()[-1]) == {"not_installed": "segment-analytics-python"}


@given(st.lists(st.floats(min_value=0.001, max_value=1e9), min_size=1, max_size=20))
def test_summary_orders_min_median_max(samples: list[float]) -> None:
    summary = Summary.of(samples)
    assert summary.low <= summary.median <= summary.high
    assert summary.count == len(samples)
    assert ratio(summary.median, summary.median) == "1.00x"


def test_ratio_of_a_missing_figure_is_a_dash() -> None:
    assert ratio(None, 2.0) == "-"
    assert ratio(2.0, None) == "-"
    assert ratio(3.0, 1.5) == "2.00x"
