"""The mapping contract (docs/mapping.md), proven through a real OTLP receiver on every protocol."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import json
import time
import uuid

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from telemetry_helpers import PROTOCOLS, send_and_receive

import otel_telemetry
from otel_telemetry.receiver import OTLPReceiver

PAYLOAD = {
    "eventProperties": {"model": "article", "containsRelationalFields": True, "count": 3},
    "userProperties": {"role": "editor", "plan": "pro"},
    "groupProperties": {"projectType": "Community", "database": "postgres"},
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_event_name_goes_to_the_log_record_event_name_field(receiver: OTLPReceiver, protocol: str) -> None:
    before = time.time_ns()
    [record] = send_and_receive(receiver, ("didCreateEntry", PAYLOAD), protocol=protocol)
    after = time.time_ns()
    assert record.event_name == "didCreateEntry"
    assert record.proto.event_name == "didCreateEntry"  # OTLP LogRecord field 12
    assert record.severity_number == 9 and record.severity_text == "INFO"
    assert before <= record.time_unix_nano <= after
    assert record.body is None
    assert "otel.event.name" not in record.attributes
    assert record.scope_name == "otel_telemetry"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_event_and_user_properties_become_attributes_and_groups_the_resource(
    receiver: OTLPReceiver, protocol: str
) -> None:
    [record] = send_and_receive(receiver, ("didCreateEntry", PAYLOAD), protocol=protocol)
    assert record.attributes == {
        "model": "article",
        "containsRelationalFields": True,
        "count": 3,
        "user.role": "editor",
        "user.plan": "pro",
    }
    assert record.resource["projectType"] == "Community"
    assert record.resource["database"] == "postgres"
    assert record.resource["service.name"] == "test-app"


def test_pythonic_keyword_form_is_the_same_as_the_payload_form(receiver: OTLPReceiver) -> None:
    records = send_and_receive(
        receiver,
        ("didCreateEntry", PAYLOAD),
        (
            "didCreateEntry",
            None,
            {
                "event_properties": PAYLOAD["eventProperties"],
                "user_properties": PAYLOAD["userProperties"],
                "group_properties": PAYLOAD["groupProperties"],
            },
        ),
    )
    assert records[0].attributes == records[1].attributes
    assert records[0].resource == records[1].resource


def test_body_and_event_name_attribute_are_optional(receiver: OTLPReceiver) -> None:
    [record] = send_and_receive(
        receiver,
        ("ping", None, {"body": "daily ping"}),
        records=otel_telemetry.RecordSettings(event_name_attribute=True),
    )
    assert record.body == "daily ping"
    assert record.attributes["otel.event.name"] == "ping"


def _expected_hash(t_project: str, user: str) -> str:
    return hashlib.sha256(f"{t_project}:{user}".encode()).hexdigest()


@pytest.mark.parametrize(
    "sends",
    [
        ("e", None, {"user_id": "admin@example.com"}),
        ("e", {"userId": "admin@example.com"}),
        ("e", {"userProperties": {"userId": "admin@example.com"}}),
    ],
    ids=["user_id argument", "Strapi userId", "userProperties.userId"],
)
def test_user_ids_are_sent_only_as_a_salted_hash(receiver: OTLPReceiver, sends: tuple[object, ...]) -> None:
    [record] = send_and_receive(
        receiver, sends, privacy=otel_telemetry.PrivacySettings(project_id="project-123")
    )
    assert record.attributes["user.hash"] == _expected_hash("project-123", "admin@example.com")
    wire = b"".join(r.SerializeToString() for r in receiver.requests)
    assert b"admin@example.com" not in wire


def test_project_id_is_persisted_per_install_when_not_given(receiver: OTLPReceiver) -> None:
    a = otel_telemetry.Telemetry(disabled=False)
    b = otel_telemetry.Telemetry()
    assert a.project_id == b.project_id
    assert uuid.UUID(a.project_id)
    a.shutdown(0.1)
    b.shutdown(0.1)


def test_project_id_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TELEMETRY_PROJECT_ID", "from-env")
    assert otel_telemetry.Telemetry().project_id == "from-env"


def test_events_with_different_group_properties_get_their_own_resource_in_one_batch(
    receiver: OTLPReceiver,
) -> None:
    records = send_and_receive(
        receiver,
        ("a", {"groupProperties": {"database": "postgres"}}),
        ("b", {"groupProperties": {"database": "mysql"}}),
        ("c", {"groupProperties": {"database": "postgres"}}),
        ("d", {}),
        delivery=otel_telemetry.DeliverySettings(max_export_batch_size=100),
    )
    by_name = {r.event_name: r for r in records}
    assert by_name["a"].resource["database"] == "postgres"
    assert by_name["b"].resource["database"] == "mysql"
    assert by_name["c"].resource["database"] == "postgres"
    assert "database" not in by_name["d"].resource
    [request] = receiver.requests  # one batch ...
    assert len(request.resource_logs) == 3  # ... three resources: postgres, mysql, base


def test_group_resources_are_bounded_and_rebuilt_after_eviction(receiver: OTLPReceiver) -> None:
    sends = [("e", {"groupProperties": {"tenant": i % 5}}) for i in range(20)]
    records = send_and_receive(receiver, *sends, resource=otel_telemetry.ResourceSettings(max_resources=2))
    assert [r.resource["tenant"] for r in records] == [i % 5 for i in range(20)]


def test_default_resource_carries_anonymous_environment_facts(receiver: OTLPReceiver) -> None:
    [record] = send_and_receive(
        receiver,
        ("e", {}),
        resource=otel_telemetry.ResourceSettings(service_version="1.2.3", environment="staging"),
    )
    resource = record.resource
    assert resource["os.type"] in ("linux", "darwin", "windows", "freebsd")
    assert resource["process.runtime.name"] == "cpython"
    assert resource["service.version"] == "1.2.3"
    assert resource["deployment.environment.name"] == "staging"
    assert len(resource["app.installation.id"]) in (36, 64)
    assert "host.arch" in resource and "os.version" in resource


def test_each_default_fact_can_be_turned_off(receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TELEMETRY_DISABLE_DEFAULTS", "os.version, app.installation.id")
    [record] = send_and_receive(receiver, ("e", {}))
    assert "os.version" not in record.resource and "app.installation.id" not in record.resource
    assert "os.type" in record.resource
    receiver.clear()
    [record] = send_and_receive(
        receiver, ("e", {}), privacy=otel_telemetry.PrivacySettings(disable_defaults=frozenset({"all"}))
    )
    assert not {"os.type", "host.arch", "app.installation.id"} & record.resource.keys()


def test_ci_is_detected_from_the_environment(receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    [record] = send_and_receive(receiver, ("e", {}))
    assert record.resource["otel_telemetry.ci.name"] == "github_actions"


class Color(enum.Enum):
    RED = "red"


def test_value_rules_for_python_types(receiver: OTLPReceiver) -> None:
    cyclic: dict[str, object] = {"x": 1}
    cyclic["self"] = cyclic
    props = {
        "nested": {"a": {"b": 1}, "c": "d"},
        "strings": ["a", "b"],
        "ints": [1, 2, 3],
        "mixed": [1, "a", None],
        "objects": [{"k": 1}],
        "empty": [],
        "none": None,
        "raw": b"\x00\xff",
        "when": dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc),
        "day": dt.date(2026, 11, 26),
        "price": decimal.Decimal("12.50"),
        "color": Color.RED,
        "tags": {"b", "a"},
        "nan": float("nan"),
        "inf": float("inf"),
        "big": 2**70,
        "id": uuid.UUID(int=1),
        "cyclic": cyclic,
    }
    [record] = send_and_receive(receiver, ("e", {"eventProperties": props}))
    a = record.attributes
    assert a["nested.a.b"] == 1 and a["nested.c"] == "d"
    assert a["strings"] == ["a", "b"] and a["ints"] == [1, 2, 3]
    assert json.loads(a["mixed"]) == [1, "a", None]
    assert json.loads(a["objects"]) == [{"k": 1}]
    assert a["empty"] == []
    assert "none" not in a
    assert a["raw"] == b"\x00\xff"
    assert a["when"] == "2026-11-26T12:00:00+00:00"
    assert a["day"] == "2026-11-26"
    assert a["price"] == "12.50"
    assert a["color"] == "red"
    assert a["tags"] == ["a", "b"]
    assert a["nan"] == "NaN" and a["inf"] == "Infinity"
    assert a["big"] == str(2**70)
    assert a["id"] == "00000000-0000-0000-0000-000000000001"
    assert a["cyclic.x"] == 1 and a["cyclic.self"] == "<cycle>"


def test_caller_may_mutate_its_payload_after_send(receiver: OTLPReceiver) -> None:
    props: dict[str, object] = {"list": [1, 2], "nested": {"k": "before"}, "flat": "before"}
    with otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint=receiver.grpc_endpoint, protocol="grpc"),
        delivery=otel_telemetry.DeliverySettings(schedule_delay_s=5),
    ) as t:
        t.send("e", {"eventProperties": props})
        props["flat"] = "after"
        props["list"].append(3)  # type: ignore[attr-defined]
        props["nested"]["k"] = "after"  # type: ignore[index]
        assert t.flush(10)
    [record] = receiver.records
    assert record.attributes == {"list": [1, 2], "nested.k": "before", "flat": "before"}


def test_attribute_count_and_length_limits_follow_the_environment(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "3")
    monkeypatch.setenv("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "4")
    props = {f"k{i}": "abcdefgh" for i in range(5)}
    [record] = send_and_receive(receiver, ("e", {"eventProperties": props}))
    assert record.attributes == {"k0": "abcd", "k1": "abcd", "k2": "abcd"}
    assert record.dropped_attributes_count == 2


def test_generic_attribute_limits_apply_when_log_specific_ones_are_unset(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_ATTRIBUTE_COUNT_LIMIT", "1")
    [record] = send_and_receive(receiver, ("e", {"eventProperties": {"a": 1, "b": 2}}))
    assert record.attributes == {"a": 1}
    assert record.dropped_attributes_count == 1


def test_reserved_prefixes_in_event_properties_are_left_out_and_counted(receiver: OTLPReceiver) -> None:
    with otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint=receiver.grpc_endpoint, protocol="grpc")
    ) as t:
        assert t.send(
            "e", {"eventProperties": {"user.role": "spoof", "ok": 1}, "userProperties": {"role": "x"}}
        )
        assert t.flush(10)
        assert t.stats().invalid_properties == 1
    [record] = receiver.records
    assert record.attributes == {"ok": 1, "user.role": "x"}


def test_records_inside_an_active_span_carry_its_trace_and_span_ids(receiver: OTLPReceiver) -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        context = span.get_span_context()
        records = send_and_receive(receiver, ("inside", {}))
    assert records[0].trace_id == context.trace_id.to_bytes(16, "big")
    assert records[0].span_id == context.span_id.to_bytes(8, "big")
    assert records[0].flags == int(context.trace_flags)
    receiver.clear()
    [outside] = send_and_receive(receiver, ("outside", {}))
    assert outside.trace_id == b"" and outside.span_id == b""
    assert trace.get_current_span() is trace.INVALID_SPAN or not trace.get_current_span().is_recording()
