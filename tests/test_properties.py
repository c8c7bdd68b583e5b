"""Property-based tests: arbitrary payloads never break send(), and arrive as documented."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import otel_telemetry
from otel_telemetry.receiver import OTLPReceiver

RESERVED = ("user.", "otel.", "otel_telemetry.")

keys = st.text(min_size=1, max_size=12).filter(lambda k: "." not in k and not k.startswith(RESERVED))
scalars = st.one_of(
    st.text(max_size=20),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.none(),
)
homogeneous_lists = st.one_of(
    st.lists(st.text(max_size=5), max_size=4),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=4),
    st.lists(st.booleans(), max_size=4),
)
values = st.recursive(
    st.one_of(scalars, homogeneous_lists),
    lambda inner: st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)
groups = st.dictionaries(keys, values, max_size=5)


def expected_attributes(props: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """An independent statement of the documented rules for this subset of values."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        if value is None:
            continue
        if isinstance(value, dict):
            out.update(expected_attributes(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@pytest.fixture(scope="module")
def module_receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver(host="127.0.0.1", grpc_port=0, http_port=0) as rx:
        yield rx


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=groups, user=groups, group=groups)
def test_payloads_round_trip_through_a_real_receiver(
    module_receiver: OTLPReceiver, event: dict[str, Any], user: dict[str, Any], group: dict[str, Any]
) -> None:
    group = {f"g_{k}": v for k, v in group.items()}
    module_receiver.clear()
    with otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint=module_receiver.grpc_endpoint, protocol="grpc")
    ) as t:
        payload = {"eventProperties": event, "userProperties": user, "groupProperties": group}
        assert t.send("roundTrip", payload) is True
        assert t.flush(10)
        base = t.base_resource
    assert module_receiver.wait_for(1, 10)
    [record] = module_receiver.records
    back = otel_telemetry.to_payload(
        record.event_name, record.attributes, record.resource, base_resource=base
    )
    assert back == {
        "event": "roundTrip",
        "eventProperties": expected_attributes(event),
        "userProperties": expected_attributes(user),
        "groupProperties": expected_attributes(group),
    }


anything = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(),
        st.binary(max_size=8),
        st.datetimes(),
        st.decimals(),
        st.uuids(),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.sets(st.one_of(st.integers(), st.text(max_size=3)), max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers(), st.none()), inner, max_size=4),
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.one_of(st.text(max_size=300), st.integers(), st.none()), payload=anything, extra=anything)
def test_send_never_raises_in_lenient_mode_and_accounts_for_every_event(
    module_receiver: OTLPReceiver, name: Any, payload: Any, extra: Any
) -> None:
    module_receiver.clear()
    with otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint=module_receiver.grpc_endpoint, protocol="grpc")
    ) as t:
        results = [
            t.send(name, payload),
            t.send("e", {"eventProperties": payload, "userProperties": extra, "groupProperties": extra}),
            t.send("e", event_properties={"v": payload, "w": extra}),
        ]
        assert all(isinstance(r, bool) for r in results)
        assert t.flush(10)
        stats = t.stats()
    accepted = sum(results)
    assert stats.exported == accepted
    assert stats.dropped.get("invalid", 0) == len(results) - accepted
    assert stats.dropped.get("internal_error", 0) == 0
    assert module_receiver.wait_for(accepted, 10)
    for record in module_receiver.records:
        for value in record.attributes.values():
            assert not (isinstance(value, float) and not math.isfinite(value)), (
                "NaN/Infinity must become strings"
            )
