"""``catalog check | docs | scan | infer``: through click's runner, and once as a real subprocess."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

import otel_telemetry
from otel_telemetry import Telemetry
from otel_telemetry.catalog import load_catalog
from otel_telemetry.catalog.cli import catalog
from otel_telemetry.catalog.scan import find_send_calls
from otel_telemetry.receiver import OTLPReceiver
from otel_telemetry.store import EventStore

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "telemetry-catalog.yaml"
SCAN = ROOT / "tests" / "data" / "catalog_scan"


def run(*args: str | Path) -> Any:
    return CliRunner().invoke(catalog, [str(a) for a in args], catch_exceptions=False)


# -- check ---------------------------------------------------------------------------------------


def test_check_accepts_a_valid_catalog() -> None:
    result = run("check", EXAMPLE)
    assert result.exit_code == 0
    assert "ok, 13 events (1 deprecated)" in result.output


def test_check_fails_on_a_broken_catalog_naming_file_line_and_rule(tmp_path: Path) -> None:
    broken = tmp_path / "telemetry-catalog.yaml"
    broken.write_text(EXAMPLE.read_text().replace("type: boolean", "type: bool", 1))
    result = run("check", broken)
    assert result.exit_code == 1
    line = next(i for i, text in enumerate(broken.read_text().splitlines(), 1) if "type: bool" in text)
    assert f"{broken}:{line}:" in result.output
    assert "must be one of" in result.output


# -- docs ----------------------------------------------------------------------------------------


def test_docs_writes_a_markdown_page_with_every_event_and_property(tmp_path: Path) -> None:
    out = tmp_path / "docs" / "events.md"
    result = run("docs", EXAMPLE, "-o", out)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    loaded = load_catalog(EXAMPLE)
    for name, event in loaded.events.items():
        assert f"\n## {name}\n" in text
        for props in event.properties.values():
            for key in props:
                assert f"| `{key}` |" in text
    assert "**deprecated**, use [didEnableResponsiveDimensions](#didenableresponsivedimensions)" in text
    assert "| `email` | string | no |  | hashed (salted SHA-256) |" in text
    assert "| `clientIp` | string | no |  | never sent |" in text
    assert "one of `collectionType`, `singleType`" in text


def test_docs_escape_table_breaking_text(tmp_path: Path) -> None:
    catalog_file = tmp_path / "c.yaml"
    catalog_file.write_text(
        "version: 1\nevents:\n  e:\n    description: 'a | b\n\n      c'\n    owner: x\n"
        "    eventProperties:\n      k: {type: string, enum: ['x|y']}\n"
    )
    text = run("docs", catalog_file).output
    assert "| a \\| b c |" in text
    assert "`x\\|y`" in text


# -- scan ----------------------------------------------------------------------------------------


def test_scan_reports_undeclared_unused_and_deprecated_events_and_fails() -> None:
    result = run("scan", SCAN / "app", "--catalog", SCAN / "catalog.yaml", "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    found = sorted((Path(f["where"].split(":")[0]).name, f["kind"], f["message"]) for f in report["findings"])
    expected = [
        ("catalog.yaml", "unused_event", "'neverSent'"),
        ("content.py", "required_missing", "eventProperties.status"),
        ("content.py", "undeclared_property", "eventProperties.locale"),
        ("media.py", "deprecated_event", "'didOld'"),
        ("media.py", "dynamic_event", "not a string literal"),
        ("media.py", "undeclared_event", "'didUploadFile'"),
        ("media.py", "undeclared_property", "eventProperties.x"),
    ]
    assert len(found) == len(expected), found
    for (file, kind, message), (want_file, want_kind, fragment) in zip(found, expected, strict=True):
        assert (file, kind) == (want_file, want_kind) and fragment in message, found
    assert report["calls"] == 8  # unrelated.py's sock.send / queue.send are not telemetry


def test_scan_of_code_that_matches_the_catalog_succeeds(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text(
        "import otel_telemetry\n"
        "otel_telemetry.send('didCreateEntry', {'eventProperties': {'status': 'draft'}})\n"
        "otel_telemetry.send('didSelectFile', event_properties=dict(source='url'))\n"
        "otel_telemetry.send('ping')\notel_telemetry.send('didOld')\n"
    )
    (tmp_path / "broken.py").write_text("def (:\n")
    result = run("scan", tmp_path, "--catalog", SCAN / "catalog.yaml", "--allow-unused")
    assert result.exit_code == 0, result.output
    assert "warning: event 'neverSent' is declared but never sent" in result.output
    assert "broken.py" in result.output  # reported as not scanned, without failing the scan
    strict = run("scan", tmp_path, "--catalog", SCAN / "catalog.yaml")
    assert strict.exit_code == 1


def test_the_example_app_sends_only_what_the_example_catalog_declares() -> None:
    result = run("scan", EXAMPLE.parent / "strapi_app.py", "--catalog", EXAMPLE, "--allow-unused")
    assert result.exit_code == 0, result.output
    assert "5 send() calls of 5 events; 0 error(s)" in result.output


def test_scanner_finds_literal_keys_of_nested_and_spread_payloads() -> None:
    source = (
        "from otel_telemetry import get_default\n"
        "tele = get_default()\n"
        "with Telemetry() as t2:\n"
        "    t2.send('a', {'eventProperties': {'settings': {'locale': 'en'}, 'n': 1},\n"
        "                  'userProperties': {'r': 1}})\n"
        "tele.send('b', {**base, 'eventProperties': {'k': 1}})\n"
        "tele.send('c', {'eventProperties': {**extra, 'k': 1}})\n"
        "other.send('d')\n"
        "tele.send('e', None, event_properties={'k': 1})\n"
    )
    calls = {call.event: call for call in find_send_calls(source)}
    assert set(calls) == {"a", "b", "c", "e"}
    assert calls["e"].complete == frozenset({"eventProperties", "userProperties", "groupProperties"})
    assert calls["a"].properties == {"eventProperties": ("settings.locale", "n"), "userProperties": ("r",)}
    assert "eventProperties" in calls["a"].complete
    assert calls["b"].complete == frozenset()
    assert "eventProperties" not in calls["c"].complete
    assert {c.event for c in find_send_calls(source, all_sends=True)} == {"a", "b", "c", "d", "e"}


# -- infer ---------------------------------------------------------------------------------------

SENT = [
    (
        "didCreateEntry",
        {
            "eventProperties": {"status": "draft", "count": 2, "tags": ["a", "b"]},
            "userProperties": {"role": "editor", "email": "x@y.z"},
            "groupProperties": {"plan": "pro"},
        },
    ),
    (
        "didCreateEntry",
        {
            "eventProperties": {"status": "published", "count": 3, "ratio": 0.5},
            "userProperties": {"role": "author"},
            "groupProperties": {"plan": "free"},
        },
    ),
    ("ping", None),
]


def _send_all(receiver: OTLPReceiver) -> list[ExportLogsServiceRequest]:
    with Telemetry(
        endpoint=receiver.http_endpoint,
        delivery=otel_telemetry.DeliverySettings(schedule_delay_s=0.05),
        privacy=otel_telemetry.PrivacySettings(project_id="p"),
    ) as telemetry:
        for name, payload in SENT:
            assert telemetry.send(name, payload, user_id="u1")
        assert telemetry.flush(10)
    assert receiver.wait_for(len(SENT), 10)
    return receiver.requests


def _collector_json_line(request: ExportLogsServiceRequest) -> str:
    """One line as the collector file exporter writes it: OTLP/JSON with hex trace/span ids."""

    def hex_ids(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: base64.b64decode(v).hex() if k in ("traceId", "spanId") else hex_ids(v)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [hex_ids(item) for item in node]
        return node

    return json.dumps(hex_ids(json_format.MessageToDict(request)))


def _check_inferred(path: Path) -> None:
    assert run("check", path).exit_code == 0
    inferred = load_catalog(path)
    assert set(inferred.events) == {"didCreateEntry", "ping"}
    props = inferred.events["didCreateEntry"].properties
    ep = props["eventProperties"]
    assert (ep["status"].type, ep["status"].required) == ("string", True)
    assert (ep["count"].type, ep["ratio"].type, ep["ratio"].required) == ("integer", "number", False)
    assert (ep["tags"].type, ep["tags"].items) == ("list", "string")
    assert props["userProperties"]["email"].pii == "hash"
    assert "hash" not in props["userProperties"]  # user.hash is the user id, not a property
    assert set(props["groupProperties"]) == {"plan"}  # SDK / default resource attributes left out


def test_infer_builds_a_valid_catalog_from_collector_otlp_json_files(
    receiver: OTLPReceiver, tmp_path: Path
) -> None:
    lines = tmp_path / "logs.jsonl"
    lines.write_text("\n".join(_collector_json_line(r) for r in _send_all(receiver)) + "\n")
    out = tmp_path / "inferred.yaml"
    result = run("infer", "--otlp-json", lines, "-o", out)
    assert result.exit_code == 0, result.output
    _check_inferred(out)


def test_infer_reads_the_local_event_store(receiver: OTLPReceiver, tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    with EventStore(db) as store:
        for request in _send_all(receiver):
            store.add_request("http/protobuf", request)
    out = tmp_path / "inferred.yaml"
    result = run("infer", "--db", db, "-o", out)
    assert result.exit_code == 0, result.output
    _check_inferred(out)


def test_events_pass_the_catalog_inferred_from_them(receiver: OTLPReceiver, tmp_path: Path) -> None:
    lines = tmp_path / "logs.jsonl"
    lines.write_text("\n".join(_collector_json_line(r) for r in _send_all(receiver)) + "\n")
    out = tmp_path / "inferred.yaml"
    assert run("infer", "--otlp-json", lines, "-o", out).exit_code == 0
    with Telemetry(
        endpoint=receiver.http_endpoint,
        strict=True,
        privacy=otel_telemetry.PrivacySettings(project_id="p"),
        catalog=otel_telemetry.CatalogSettings(out, "enforce"),
    ) as telemetry:
        for name, payload in SENT:
            assert telemetry.send(name, payload)
        assert telemetry.catalog_policy is not None
        assert telemetry.catalog_policy.violations == {}


def test_infer_rejects_a_file_that_is_not_otlp_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"resourceLogs": []}\nnot json\n')
    result = run("infer", "--otlp-json", bad)
    assert result.exit_code == 1
    assert f"{bad}:2: not an OTLP/JSON logs request" in result.output


def test_infer_without_a_store_says_how_to_get_one(tmp_path: Path) -> None:
    result = run("infer", "--db", tmp_path / "missing.db")
    assert result.exit_code == 1
    assert "otel-telemetry serve" in result.output


# -- as a real process ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["check", str(EXAMPLE)], 0),
        (["scan", str(SCAN / "app"), "--catalog", str(SCAN / "catalog.yaml")], 1),
    ],
)
def test_the_catalog_group_runs_as_a_subprocess_with_ci_exit_codes(args: list[str], code: int) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", "from otel_telemetry.catalog.cli import catalog; catalog()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert completed.returncode == code, completed.stderr
