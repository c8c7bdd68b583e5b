"""`otelcol-contrib validate` on every config, when a contrib collector is on the PATH (skipped otherwise)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import CONFIG_FILES

OTELCOL = shutil.which("otelcol-contrib")
pytestmark = pytest.mark.skipif(OTELCOL is None, reason="otelcol-contrib is not on the PATH")

#: Values for the variables that have no default in the configs.
REQUIRED_ENV = {
    "GATEWAY_BEARER_TOKEN": "validate-token",
    "LB_BEARER_TOKEN": "validate-token",
    "INGEST_BEARER_TOKEN": "validate-token",
    "PII_HASH_SALT": "validate-salt",
}


def validate(config: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    assert OTELCOL is not None
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        **REQUIRED_ENV,
        "OTEL_AGENT_QUEUE_DIR": str(tmp_path / "queue"),
        "OTEL_LOCAL_EVENTS_FILE": str(tmp_path / "events.jsonl"),
    }
    return subprocess.run(
        [OTELCOL, "validate", f"--config={config}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_otelcol_contrib_validate_accepts_the_config(path: Path, tmp_path: Path) -> None:
    result = validate(path, tmp_path)
    assert result.returncode == 0, f"{path.name}:\n{result.stdout}\n{result.stderr}"


def test_otelcol_contrib_validate_rejects_a_broken_config(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(CONFIG_FILES[0].read_text().replace("service:", "servic:", 1))
    assert validate(broken, tmp_path).returncode != 0
