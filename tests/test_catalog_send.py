"""The catalog inside ``Telemetry.send``: events through a real OTLP receiver in each mode, PII never
arriving raw, and the ``catalog=`` / ``OTEL_TELEMETRY_CATALOG*`` settings."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import otel_telemetry
from otel_telemetry import OTLPExporter, Telemetry, TelemetryError
from otel_telemetry.catalog import VIOLATIONS_ATTRIBUTE, CatalogError
from otel_telemetry.identity import salted_hash
from otel_telemetry.receiver import OTLPReceiver

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "telemetry-catalog.yaml"
PROJECT = "4f0c2d4e-0000-4000-8000-000000000001"
GOOD = {
    "eventProperties": {"model": "api::article.article", "kind": "singleType", "fieldCount": 2},
    "userProperties": {"role": "Editor"},
}
BAD = {
    "eventProperties": {"model": "api::article.article", "kind": "table", "fieldCount": "2", "secretField": 1}
}


def telemetry(
    receiver: OTLPReceiver, mode: str | None, protocol: str = "http/protobuf", **kw: object
) -> Telemetry:
    endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
    return Telemetry(
        exporter=OTLPExporter(endpoint=endpoint, protocol=protocol),
        delivery=otel_telemetry.DeliverySettings(schedule_delay_s=0.05),
        privacy=otel_telemetry.PrivacySettings(project_id=PROJECT),
        catalog=otel_telemetry.CatalogSettings(kw.pop("catalog", EXAMPLE), mode),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf", "http/json"])
def test_warn_mode_delivers_violating_events_marked_with_their_violations(
    receiver: OTLPReceiver, protocol: str
) -> None:
    with telemetry(receiver, "warn", protocol) as t:
        assert t.send("didCreateEntry", GOOD)
        assert t.send("didCreateEntry", BAD)
        assert t.flush(10)
        assert t.stats().dropped == {}
    assert receiver.wait_for(2, 10)
    good, bad = sorted(receiver.records, key=lambda r: VIOLATIONS_ATTRIBUTE in r.attributes)
    assert VIOLATIONS_ATTRIBUTE not in good.attributes
    assert sorted(bad.attributes[VIOLATIONS_ATTRIBUTE]) == [
        "type_mismatch:eventProperties.fieldCount",
        "unplanned_property:eventProperties.secretField",
        "value_not_allowed:eventProperties.kind",
    ]
    assert bad.attributes["secretField"] == 1  # warn mode loses nothing


def test_enforce_mode_drops_violating_events_and_counts_them_as_catalog_drops(receiver: OTLPReceiver) -> None:
    with telemetry(receiver, "enforce") as t:
        assert t.send("didCreateEntry", GOOD)
        assert not t.send("didCreateEntry", BAD)
        assert not t.send("didSomethingUnplanned")
        assert t.send("didChangeMediaSettings")  # deprecated: still delivered
        assert t.flush(10)
        stats = t.stats()
        assert t.catalog_policy is not None
        violations = dict(t.catalog_policy.violations)
    assert stats.dropped == {"catalog": 2}
    assert violations == {
        "type_mismatch": 1,
        "unplanned_property": 1,
        "value_not_allowed": 1,
        "unplanned_event": 1,
        "deprecated_event": 1,
    }
    assert receiver.wait_for(2, 10)
    assert sorted(r.event_name for r in receiver.records) == ["didChangeMediaSettings", "didCreateEntry"]
    deprecated = next(r for r in receiver.records if r.event_name == "didChangeMediaSettings")
    assert deprecated.attributes["otel_telemetry.deprecated"] is True
    assert deprecated.attributes["otel_telemetry.replaced_by"] == "didEnableResponsiveDimensions"


def test_strict_enforce_raises_to_the_caller(receiver: OTLPReceiver) -> None:
    with telemetry(receiver, "enforce", strict=True) as t:
        with pytest.raises(TelemetryError) as raised:
            t.send("didCreateEntry", BAD)
        assert raised.value.field.startswith("eventProperties.")
        assert t.send("didCreateEntry", GOOD)


def test_off_mode_sends_everything_unmarked(receiver: OTLPReceiver) -> None:
    with telemetry(receiver, "off") as t:
        assert t.send("didCreateEntry", BAD)
        assert t.send("didSomethingUnplanned")
        assert t.flush(10)
    assert receiver.wait_for(2, 10)
    assert all(VIOLATIONS_ATTRIBUTE not in r.attributes for r in receiver.records)


_raw = st.text(min_size=1, max_size=40).map(lambda text: f"pii-{text}")


@pytest.mark.parametrize("mode", ["enforce", "warn", "off"])
def test_values_marked_pii_never_reach_the_receiver_raw(receiver: OTLPReceiver, mode: str) -> None:
    sent: list[str] = []
    with telemetry(receiver, mode) as t:

        @settings(max_examples=40, deadline=None, database=None)
        @given(email=_raw, ip=_raw, event=st.sampled_from(["didReceiveRequest", "didUnplanned", "ping"]))
        def send_one(email: str, ip: str, event: str) -> None:
            sent.extend((email, ip))
            t.send(
                event,
                {"eventProperties": {"url": "/a", "clientIp": ip}, "userProperties": {"email": email}},
            )

        send_one()
        assert t.flush(20)
    records = receiver.records
    assert records
    wire = b"".join(r.proto.SerializeToString() + r.resource_proto.SerializeToString() for r in records)
    for value in sent:
        assert value.encode() not in wire
    hashed = {salted_hash(value, PROJECT) for value in sent}
    for record in records:
        assert "clientIp" not in record.attributes
        assert record.attributes["user.email"] in hashed


# -- settings ------------------------------------------------------------------------------------


def test_the_example_app_run_with_the_example_catalog_enforced_loses_no_event(receiver: OTLPReceiver) -> None:
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_endpoint,
        "OTEL_TELEMETRY_CATALOG": str(EXAMPLE),
        "OTEL_TELEMETRY_CATALOG_MODE": "enforce",
        "OTEL_TELEMETRY_STRICT": "true",
    }
    app = EXAMPLE.parent / "strapi_app.py"
    result = subprocess.run(
        [sys.executable, str(app)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert receiver.wait_for(8, 10)
    assert len(receiver.records) == 8
    assert all(VIOLATIONS_ATTRIBUTE not in r.attributes for r in receiver.records)


def test_the_catalog_and_its_mode_come_from_the_environment(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TELEMETRY_CATALOG", str(EXAMPLE))
    monkeypatch.setenv("OTEL_TELEMETRY_CATALOG_MODE", "enforce")
    with Telemetry(
        endpoint=receiver.http_endpoint, privacy=otel_telemetry.PrivacySettings(project_id=PROJECT)
    ) as t:
        assert t.catalog_policy is not None and t.catalog_policy.mode == "enforce"
        assert not t.send("didSomethingUnplanned")


def test_without_a_catalog_there_is_no_policy_and_a_mode_alone_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Telemetry(
        endpoint="http://127.0.0.1:9", privacy=otel_telemetry.PrivacySettings(project_id=PROJECT)
    ) as t:
        assert t.catalog_policy is None
    assert "catalog" not in caplog.text
    with Telemetry(
        endpoint="http://127.0.0.1:9",
        privacy=otel_telemetry.PrivacySettings(project_id=PROJECT),
        catalog=otel_telemetry.CatalogSettings(None, "enforce"),
    ) as t:
        assert t.catalog_policy is None
    assert "catalog_mode='enforce' but no catalog" in caplog.text


def test_the_default_mode_is_warn_and_a_bad_mode_variable_is_ignored_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_TELEMETRY_CATALOG", str(EXAMPLE))
    with Telemetry(
        endpoint="http://127.0.0.1:9", privacy=otel_telemetry.PrivacySettings(project_id=PROJECT)
    ) as t:
        assert t.catalog_policy is not None and t.catalog_policy.mode == "warn"
    monkeypatch.setenv("OTEL_TELEMETRY_CATALOG_MODE", "block")
    with Telemetry(
        endpoint="http://127.0.0.1:9", privacy=otel_telemetry.PrivacySettings(project_id=PROJECT)
    ) as t:
        assert t.catalog_policy is not None and t.catalog_policy.mode == "warn"
    assert "OTEL_TELEMETRY_CATALOG_MODE='block'" in caplog.text


def test_a_broken_catalog_in_the_environment_is_logged_and_does_not_break_the_app(
    receiver: OTLPReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "catalog.yaml"
    broken.write_text("version: 1\nevents:\n  e: {owner: x}\n")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00version")
    for path in (tmp_path / "missing.yaml", binary):
        monkeypatch.setenv("OTEL_TELEMETRY_CATALOG", str(path))
        with Telemetry(
            endpoint=receiver.http_endpoint, privacy=otel_telemetry.PrivacySettings(project_id=PROJECT)
        ) as t:
            assert t.catalog_policy is None
    monkeypatch.setenv("OTEL_TELEMETRY_CATALOG", str(broken))
    caplog.set_level(logging.ERROR, logger="otel_telemetry")
    with Telemetry(
        endpoint=receiver.http_endpoint, privacy=otel_telemetry.PrivacySettings(project_id=PROJECT)
    ) as t:
        assert t.catalog_policy is None
        assert t.send("anything")
        assert t.flush(10)
    assert [r.event_name for r in receiver.records] == ["anything"]
    assert f"{broken}:3:" in caplog.text and "missing required key 'description'" in caplog.text


def test_a_broken_explicit_catalog_raises_naming_line_and_rule(tmp_path: Path) -> None:
    broken = tmp_path / "catalog.yaml"
    broken.write_text("version: 1\nevents:\n  e: {owner: x}\n")
    with pytest.raises(CatalogError) as raised:
        Telemetry(endpoint="http://127.0.0.1:9", catalog=broken)
    assert isinstance(raised.value, TelemetryError)
    assert str(raised.value).startswith(f"{broken}:3:3: events.e: missing required key 'description'")
    with pytest.raises(TelemetryError) as missing:
        Telemetry(endpoint="http://127.0.0.1:9", catalog=tmp_path / "nope.yaml")
    assert missing.value.field == "catalog"
    with pytest.raises(TelemetryError) as mode:
        Telemetry(endpoint="http://127.0.0.1:9", catalog=otel_telemetry.CatalogSettings(EXAMPLE, "strict"))
    assert mode.value.field == "catalog_mode"


_json_like = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=6), st.binary(max_size=3)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.text(max_size=6), st.integers()), inner, max_size=3),
    ),
    max_leaves=10,
)


@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_arbitrary_payloads_never_raise_from_send_nor_fail_inside_the_catalog(
    receiver: OTLPReceiver, mode: str
) -> None:
    with telemetry(receiver, mode) as t:

        @settings(max_examples=150, deadline=None, database=None)
        @given(
            name=st.sampled_from(["didCreateEntry", "didReceiveRequest", "didUnplanned"]),
            payload=st.dictionaries(
                st.sampled_from(["eventProperties", "userProperties", "groupProperties"]),
                st.dictionaries(
                    st.sampled_from(["model", "kind", "url", "email", "clientIp", "x"]), _json_like
                ),
            ),
        )
        def send_one(name: str, payload: dict[str, object]) -> None:
            assert isinstance(t.send(name, payload), bool)

        send_one()
        assert t.flush(20)
        assert "internal_error" not in t.stats().dropped
