"""Runtime traps are named where they can be seen: at start-up (a log line, once per process
tree) and by ``otel-telemetry doctor``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from process_tree import run_python, tree_env, write_script

from otel_telemetry.receiver import OTLPReceiver
from otel_telemetry.traps import find_traps


def _names(**kwargs: object) -> dict[str, bool]:
    return {t.name: t.action for t in find_traps(**kwargs)}  # type: ignore[arg-type]


def test_a_plain_process_has_no_traps() -> None:
    assert _names(modules={}, argv=["app.py"], environ={}) == {}


@pytest.mark.parametrize(
    ("opt", "environ", "expected"),
    [
        ({}, {}, {"uwsgi-threads": True}),
        ({"enable-threads": True}, {}, {}),
        ({b"threads": b"4"}, {}, {}),
        ({}, {"UWSGI_ENABLE_THREADS": "1"}, {}),
    ],
)
def test_uwsgi_without_threads_needs_action(
    opt: dict[object, object], environ: dict[str, str], expected: object
) -> None:
    uwsgi = SimpleNamespace(opt=opt)  # the module uWSGI injects, as a stand-in (pure logic)
    assert _names(modules={"uwsgi": uwsgi}, argv=["uwsgi"], environ=environ) == expected


def test_gunicorn_preload_is_named_as_handled() -> None:
    assert _names(modules={}, argv=["gunicorn", "--preload", "app:app"], environ={}) == {
        "gunicorn-preload": False
    }
    assert _names(modules={}, argv=["x"], environ={"GUNICORN_CMD_ARGS": "--preload"}) == {
        "gunicorn-preload": False
    }
    assert _names(modules={}, argv=["gunicorn", "app:app"], environ={}) == {}


def test_a_gevent_patched_process_with_grpc_is_told_at_start_up(
    receiver: OTLPReceiver, tmp_path: Path
) -> None:
    pytest.importorskip("gevent")
    code = """
    from gevent import monkey
    monkey.patch_all()
    import logging
    logging.basicConfig()
    import otel_telemetry
    otel_telemetry.send("job")
    """
    script = write_script(tmp_path, "green.py", code)
    for protocol, told in (("grpc", True), ("http/protobuf", False)):
        result = run_python([str(script)], tree_env(receiver, protocol))
        assert ("init_gevent()" in result.stderr) is told, result.stderr


def test_doctor_names_the_traps_it_can_see(receiver: OTLPReceiver) -> None:
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_endpoint,
        "GUNICORN_CMD_ARGS": "--preload",
    }
    env["UWSGI_MODULE"] = "app"
    result = subprocess.run(
        [sys.executable, "-m", "otel_telemetry", "doctor", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    traps = {t["name"]: t["action"] for t in json.loads(result.stdout)["traps"]}
    assert traps == {"uwsgi-threads": True, "gunicorn-preload": False}
