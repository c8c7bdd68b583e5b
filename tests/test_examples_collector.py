"""examples/collector_roundtrip.py runs app -> rotel -> receiver in one command and reports what arrived."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "collector_roundtrip.py"


def run_example(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        cwd=EXAMPLE.parents[1],
    )


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_roundtrip_example_prints_every_event_that_crossed_the_collector(protocol: str) -> None:
    result = run_example("--protocol", protocol, "--events", "4")
    out = result.stdout
    assert result.returncode == 0, f"{out}\n{result.stderr}"
    assert re.search(r"rotel-agent pid \d+: OTLP in grpc 127\.0\.0\.1:\d+, http 127\.0\.0\.1:\d+", out)
    assert f"sent 4 events over {protocol} to rotel (delivered to rotel: True)" in out
    assert "received 4 events through rotel:" in out
    lines = [line for line in out.splitlines() if line.startswith("  did")]
    assert [line.split()[0] for line in lines] == [
        "didCreateEntry", "didUpdateEntry", "didPublishEntry", "didCreateEntry",
    ]  # fmt: skip
    for seq, line in enumerate(lines):
        assert f"'seq': {seq}," in line
        assert "'user.hash': '" in line and "user-" not in line  # the user id only as its hash
        assert "'service.name': 'roundtrip-app'" in line
        assert f"'projectType': '{('Community', 'Enterprise')[seq % 2]}'" in line
    assert out.rstrip().endswith("OK: every event arrived with its name, attributes and resource")


def test_roundtrip_example_leaves_no_collector_running() -> None:
    result = run_example("--events", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    pid = int(re.search(r"rotel-agent pid (\d+)", result.stdout).group(1))  # type: ignore[union-attr]
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
