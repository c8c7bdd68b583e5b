"""What ``import otel_telemetry`` and a short-lived program load (issue 16: a command-line tool
pays for every import). Timings are in ``benchmarks/short_lived.py``; these tests pin down what
is *not* imported, so that a new top-level import of a heavy library shows up here."""

from __future__ import annotations

import ast
import subprocess
import sys
from urllib.parse import urlsplit

from hypothesis import given
from hypothesis import strategies as st

from otel_telemetry.errors import TelemetryError
from otel_telemetry.settings import check_endpoint

#: Loaded only when needed: the network, protobuf, the SDK, the spool, the catalog...
HEAVY = (
    "grpc",
    "requests",
    "google.protobuf",
    "opentelemetry.sdk",
    "opentelemetry.proto",
    "opentelemetry.trace",
    "otel_telemetry.encoding",
    "otel_telemetry.mapping",
    "otel_telemetry.spool.spool",
    "otel_telemetry.catalog.model",
    "otel_telemetry.records",
    "yaml",
    "jsonschema",
    "urllib.parse",
    "ipaddress",
    "decimal",
    "uuid",
    "json",
    "hashlib",
)

PROGRAM = """
import sys
before = set(sys.modules)
import otel_telemetry
after_import = set(sys.modules)
for i in range(3):
    otel_telemetry.send("didRunCommand", {"eventProperties": {"step": i}})
print(repr({"import": sorted(after_import - before), "send": sorted(set(sys.modules) - before)}))
"""


def _loaded(**env: str) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", **env},
        check=True,
    )
    return ast.literal_eval(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_importing_and_sending_loads_nothing_heavy(clean_environment: object, tmp_path: object) -> None:
    loaded = _loaded(OTEL_TELEMETRY_STATE_DIR=str(tmp_path), OTEL_TELEMETRY_EXIT="flush")
    for phase in ("import", "send"):
        heavy = sorted(m for m in loaded[phase] if any(m == h or m.startswith(h + ".") for h in HEAVY))
        assert heavy == [], f"{phase} loaded {heavy}"


def _reference(endpoint: str) -> bool:
    """The endpoint rule with ``urlsplit`` alone (what the fast path must agree with)."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https"):
        return False
    try:
        parts.port  # noqa: B018
    except ValueError:
        return False
    return bool(parts.hostname)


_host = st.from_regex(r"[A-Za-z0-9-]{1,12}(\.[A-Za-z0-9-]{1,8}){0,3}", fullmatch=True)
_urls = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["http", "https", "HTTP", "ftp", "http:"]),
    st.one_of(_host, st.just(""), st.just("[::1]"), st.just("user:pw@h")),
    st.one_of(st.just(""), st.integers(0, 99999).map(lambda p: f":{p}"), st.just(":x"), st.just(":")),
    st.one_of(st.just(""), st.from_regex(r"[/?#][!-~]{0,20}", fullmatch=True)),
)


@given(_urls)
def test_the_quick_endpoint_check_agrees_with_urlsplit(endpoint: str) -> None:
    try:
        check_endpoint("endpoint", endpoint, "http/protobuf")
        accepted = True
    except TelemetryError:
        accepted = False
    assert accepted == _reference(endpoint), endpoint
