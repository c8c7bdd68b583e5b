"""examples/collector_roundtrip.py runs app -> rotel -> receiver in one command and reports what arrived.

It also holds the one finder of the interpreter's shared libpython (rotel-agent links it without a
run path); the rotel tests start rotel with it too (tests/collector/rotel.py).
"""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from collector.rotel import RotelAgent, needs_shared_libpython, roundtrip_example

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


@needs_shared_libpython
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


@needs_shared_libpython
def test_roundtrip_example_leaves_no_collector_running() -> None:
    result = run_example("--events", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    pid = int(re.search(r"rotel-agent pid (\d+)", result.stdout).group(1))  # type: ignore[union-attr]
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


# ---------------------------------------------------------------- finding libpython for rotel-agent
def loaded_libpython(pid: int) -> set[Path]:
    """The libpython files a running process has mapped."""
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {Path(line.split()[-1]) for line in maps if "/libpython3" in line}


@needs_shared_libpython
def test_rotel_agent_runs_on_this_interpreters_own_libpython(tmp_path: Path) -> None:
    """Not whichever libpython3.X the system has: the running interpreter's, found via sysconfig."""
    own = roundtrip_example.libpython_dir() / sysconfig.get_config_var("INSTSONAME")
    assert own.is_file()
    with RotelAgent(tmp_path, "http://127.0.0.1:9") as agent:
        assert agent.pid is not None
        assert {path.resolve() for path in loaded_libpython(agent.pid)} == {own.resolve()}


def test_a_static_build_gets_one_clear_line(tmp_path: Path) -> None:
    static = {"Py_ENABLE_SHARED": 0, "LDLIBRARY": "libpython3.12.a", "INSTSONAME": "libpython3.12.a"}
    with pytest.raises(roundtrip_example.NoSharedPython, match="built without a shared libpython") as error:
        roundtrip_example.libpython_dir({**static, "LIBDIR": str(tmp_path)})
    assert "\n" not in str(error.value) and "--enable-shared" in str(error.value)


def test_a_shared_build_whose_library_is_gone_names_the_file_and_the_directory(tmp_path: Path) -> None:
    shared = {"Py_ENABLE_SHARED": 1, "INSTSONAME": "libpython3.12.so.1.0", "LIBDIR": str(tmp_path)}
    with pytest.raises(roundtrip_example.NoSharedPython) as error:
        roundtrip_example.libpython_dir(shared)
    assert f"libpython3.12.so.1.0 is not in {tmp_path}" in str(error.value)


@pytest.mark.parametrize("multiarch", ["", "x86_64-linux-gnu"])
def test_the_library_is_found_in_libdir_or_its_multiarch_directory(tmp_path: Path, multiarch: str) -> None:
    (tmp_path / multiarch).mkdir(exist_ok=True)
    (tmp_path / multiarch / "libpython3.12.so.1.0").write_bytes(b"")
    config = {"Py_ENABLE_SHARED": 1, "INSTSONAME": "libpython3.12.so.1.0", "LIBDIR": str(tmp_path)}
    assert (
        roundtrip_example.libpython_dir({**config, "MULTIARCH": "x86_64-linux-gnu"}) == tmp_path / multiarch
    )


def test_the_example_on_a_static_build_exits_2_with_one_line_and_starts_nothing() -> None:
    """A static build cannot be had here; its sysconfig says Py_ENABLE_SHARED=0, which this sets."""
    run_as_static = (
        "import runpy, sys, sysconfig; sysconfig.get_config_vars()['Py_ENABLE_SHARED'] = 0; "
        f"sys.argv = [{str(EXAMPLE)!r}]; runpy.run_path({str(EXAMPLE)!r}, run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", run_as_static], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("cannot run rotel-agent: Python 3.") and "without a shared libpython" in line
