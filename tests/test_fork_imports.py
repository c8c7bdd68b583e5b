"""A fork at any moment leaves the child a working sender: every module our threads import for
the first time is imported while forks wait (``processes.fork_waits``). A fork in the middle of
an import leaves the child a half-initialised module for good (seen: a fork storm's children
counted every batch ``encode_error``, ``otel_telemetry.encoding`` half imported)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from otel_telemetry.receiver import OTLPReceiver

AUDIT = """
import json, sys, tempfile, threading

unguarded = []


class Audit:
    # sees each module's first import: records those made by our threads outside fork_waits
    def find_spec(self, name, path, target=None):
        if threading.current_thread().name.startswith("otel-telemetry") and name not in sys.modules:
            from otel_telemetry import _deferred

            if not _deferred._guard._is_owned():
                unguarded.append(name)
        return None


sys.meta_path.insert(0, Audit())
import otel_telemetry
from otel_telemetry import DeliverySettings, OTLPExporter, SpoolSettings, Telemetry

spool = SpoolSettings(tempfile.mkdtemp()) if sys.argv[3] == "spool" else None
exporter = OTLPExporter(endpoint=sys.argv[2], protocol=sys.argv[1])
t = Telemetry("audit", exporter=exporter, delivery=DeliverySettings(spool=spool))
t.send("first", {"eventProperties": {"n": 1}}, user_id="u1")
assert t.flush(10)
t.shutdown(5)
print(json.dumps(unguarded))
"""


@pytest.mark.parametrize("spool", ["memory", "spool"])
@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_our_threads_import_nothing_for_the_first_time_while_a_fork_could_happen(
    receiver: OTLPReceiver, tmp_path: Path, protocol: str, spool: str
) -> None:
    endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
    script = tmp_path / "audit.py"
    script.write_text(textwrap.dedent(AUDIT))
    done = subprocess.run(
        [sys.executable, str(script), protocol, endpoint, spool], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []
    assert [r.event_name for r in receiver.records] == ["first"]
