"""What a plain ``pip install otel-telemetry`` gives: ``send()`` without the tools, and a clear line
saying which extra brings a tool that is missing.

The import checks run in a fresh interpreter of this environment. The install check builds the
package from a copy of this source tree into a new virtual environment without extras and sends
an event from there to a real receiver in this process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_telemetry.receiver import OTLPReceiver

ROOT = Path(__file__).resolve().parent.parent

#: Loaded only by the tools (``[cli]``, ``[catalog]``), a catalog, or the transport in use.
TOOL_MODULES = ("click", "yaml", "jsonschema", "grpc", "requests")
TOOL_PACKAGES = (
    "otel_telemetry.cli",
    "otel_telemetry.receiver",
    "otel_telemetry.store",
    "otel_telemetry.web",
)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PYTHON", "DO_NOT_TRACK"))}


def _loaded_after(python: str, code: str) -> set[str]:
    """Top-level and otel_telemetry modules loaded by ``code`` in a fresh ``python``."""
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    result = subprocess.run(
        [python, "-c", probe], capture_output=True, text=True, timeout=60, env=_clean_env(), check=True
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def _tools_in(modules: set[str]) -> list[str]:
    return sorted(
        m
        for m in modules
        if m.partition(".")[0] in TOOL_MODULES or any(m == p or m.startswith(p + ".") for p in TOOL_PACKAGES)
    )


def test_importing_otel_telemetry_loads_no_tool_and_no_network_library() -> None:
    loaded = _loaded_after(sys.executable, "import otel_telemetry\notel_telemetry.Telemetry")
    assert "otel_telemetry.telemetry" in loaded  # the probe saw the import
    assert _tools_in(loaded) == []
    assert "otel_telemetry.catalog.loader" not in loaded  # an app without a catalog never reads one


def test_import_otel_telemetry_alone_loads_only_send() -> None:
    """The rest loads on first use of any other name (docs/short-lived.md)."""
    loaded = _loaded_after(sys.executable, "import otel_telemetry")
    ours = sorted(m for m in loaded if m.startswith("otel_telemetry"))
    assert ours == [
        "otel_telemetry",
        "otel_telemetry._deferred",
        "otel_telemetry._lazy",
        "otel_telemetry._procfacts",
        "otel_telemetry.version",
    ]
    assert not {"typing", "logging", "dataclasses", "pathlib"} & loaded - _loaded_after(
        sys.executable, "pass"
    )


# -- a fresh environment without extras ---------------------------------------------------------


def _bin(environment: Path, name: str) -> Path:
    return environment / ("Scripts" if os.name == "nt" else "bin") / name


@pytest.fixture(scope="module")
def plain_install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A new virtual environment with ``pip install <this source>`` and no extras."""
    base = tmp_path_factory.mktemp("plain-install")
    source = base / "source"  # a copy, so the build leaves nothing in the work tree
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "otel_telemetry", source / "otel_telemetry", ignore=shutil.ignore_patterns("__pycache__")
    )
    environment = base / "venv"
    venv.EnvBuilder(with_pip=True).create(environment)
    subprocess.run(
        [str(_bin(environment, "python")), "-m", "pip", "install", "-q", str(source)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
        env=_clean_env(),
    )
    yield environment


def _run(environment: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a program of ``environment`` outside the work tree (``python -c`` would import from it)."""
    return subprocess.run(
        [str(_bin(environment, args[0])), *args[1:]],
        cwd=environment,
        capture_output=True,
        text=True,
        timeout=120,
        env=_clean_env(),
    )


def test_a_plain_install_has_no_tool_dependencies(plain_install: Path) -> None:
    code = (
        "import importlib.util as u, otel_telemetry\n"
        "print(otel_telemetry.__file__)\n"
        "print([m for m in ('click', 'yaml') if u.find_spec(m)])"
    )
    where, missing = _run(plain_install, "python", "-c", code).stdout.splitlines()
    assert Path(where).is_relative_to(plain_install)  # the installed copy, not the work tree
    assert missing == "[]"


def test_send_from_a_plain_install_reaches_a_real_receiver(plain_install: Path, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.json"  # a JSON catalog needs no extra
    catalog.write_text(
        json.dumps({"version": 1, "events": {"didInstall": {"description": "installed", "owner": "team"}}})
    )
    script = textwrap.dedent(
        """
        import sys
        import otel_telemetry

        exporter = otel_telemetry.OTLPExporter(endpoint=sys.argv[1], protocol=sys.argv[2])
        t = otel_telemetry.Telemetry("plain", exporter=exporter,
                                     catalog=otel_telemetry.CatalogSettings(sys.argv[3], mode="enforce"))
        assert t.send("didInstall", {"eventProperties": {}})
        assert not t.send("notInTheCatalog")
        assert t.flush(10)
        t.shutdown(5)
        """
    )
    with OTLPReceiver(host="127.0.0.1", grpc_port=0, http_port=0) as rx:
        for protocol, endpoint in (("grpc", rx.grpc_endpoint), ("http/protobuf", rx.http_endpoint)):
            result = _run(plain_install, "python", "-c", script, endpoint, protocol, str(catalog))
            assert result.returncode == 0, result.stderr
        assert rx.wait_for(2, timeout=10)
        assert [(r.event_name, r.protocol) for r in rx.records] == [
            ("didInstall", "grpc"),
            ("didInstall", "http/protobuf"),
        ]


def test_a_yaml_catalog_without_the_extra_is_a_clear_error(plain_install: Path, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("version: 1\nevents: {}\n")
    script = (
        "import sys, otel_telemetry\n"
        "try:\n"
        "    otel_telemetry.Telemetry(endpoint='http://127.0.0.1:1', catalog=sys.argv[1])\n"
        "except otel_telemetry.TelemetryError as error:\n"
        "    print(error)\n"
    )
    result = _run(plain_install, "python", "-c", script, str(catalog))
    assert result.returncode == 0, result.stderr
    assert "needs PyYAML, from the [catalog] extra: pip install 'otel-telemetry[catalog]'" in result.stdout


def test_the_command_line_without_the_extra_says_how_to_install_it(plain_install: Path) -> None:
    for command in (("otel-telemetry", "demo"), ("python", "-m", "otel_telemetry", "--help")):
        result = _run(plain_install, *command)
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr == (
            "otel-telemetry: the otel-telemetry command line needs click, "
            "from the [cli] extra: pip install 'otel-telemetry[cli]'\n"
        )
