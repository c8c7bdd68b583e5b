"""The encoder (``encoding.py``) writes exactly the bytes the protobuf messages would.

The hand-written wire encoder and its caches are a benchmark-driven fast path; these properties
check it against the request built message by message (the straightforward implementation it
replaced), for arbitrary records and resources.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from telemetry_helpers import reference_any_value
from value_strategies import attribute_values


def _reference_request(records: list[Any], scope: tuple[str, str]) -> Any:
    """The request built message by message, as the encoder did before it wrote bytes itself."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
    from opentelemetry.proto.logs.v1.logs_pb2 import SeverityNumber

    by_resource: dict[int, list[Any]] = {}
    for record in records:
        by_resource.setdefault(id(record.resource), []).append(record)
    request = ExportLogsServiceRequest()
    for group in by_resource.values():
        resource_logs = request.resource_logs.add()
        resource_logs.resource.CopyFrom(group[0].resource.proto)
        scope_logs = resource_logs.scope_logs.add()
        scope_logs.scope.CopyFrom(InstrumentationScope(name=scope[0], version=scope[1]))
        for r in group:
            log = scope_logs.log_records.add(
                time_unix_nano=r.time_ns,
                observed_time_unix_nano=r.observed_time_ns or r.time_ns,
                severity_number=SeverityNumber.SEVERITY_NUMBER_INFO,
                severity_text="INFO",
                event_name=r.name,
                dropped_attributes_count=r.dropped_attributes,
            )
            log.attributes.extend(
                [KeyValue(key=k, value=reference_any_value(v)) for k, v in r.attributes.items()]
            )
            if r.trace_id:
                log.trace_id = r.trace_id.to_bytes(16, "big")
                log.span_id = r.span_id.to_bytes(8, "big")
                log.flags = r.trace_flags
            if r.body is not None:
                log.body.CopyFrom(AnyValue(string_value=r.body))
    return request


@st.composite
def _mapped_batches(draw: st.DrawFn) -> list[Any]:
    from otel_telemetry.encoding import resource_proto
    from otel_telemetry.mapping import MappedRecord
    from otel_telemetry.resources import ResourceHandle

    resources = [
        ResourceHandle({"i": i}, resource_proto({"service.name": f"s{i}", "i": i})) for i in range(3)
    ]
    records = st.builds(
        MappedRecord,
        st.text(min_size=1, max_size=8),
        st.integers(0, 2**64 - 1),
        st.dictionaries(st.text(min_size=1, max_size=5), attribute_values, max_size=6),
        st.integers(0, 300),
        st.sampled_from(resources),
        st.one_of(st.just(0), st.integers(1, 2**128 - 1)),
        st.integers(0, 2**64 - 1),
        st.integers(0, 255),
        st.one_of(st.none(), st.text(max_size=5)),
        st.integers(0, 2**64 - 1),
    )
    return draw(st.lists(records, max_size=8))


@given(_mapped_batches())
def test_encoder_writes_the_same_bytes_as_building_the_protobuf_messages(records: list[Any]) -> None:
    from otel_telemetry.encoding import BatchEncoder

    encoder = BatchEncoder("otel_telemetry", "1.2.3")
    expected = _reference_request(records, ("otel_telemetry", "1.2.3"))
    assert encoder.encode_bytes(records) == expected.SerializeToString()
    assert encoder.encode(records) == expected
    assert encoder.encode_bytes(records) == expected.SerializeToString()  # again, from the caches


_shared_encoder: list[Any] = []


@given(_mapped_batches())
def test_encoder_caches_never_mix_up_values_that_compare_equal(records: list[Any]) -> None:
    """One encoder across all examples: ``(1, 0)`` vs ``(True, False)``, ``0.0`` vs ``-0.0`` ... ."""
    from otel_telemetry.encoding import BatchEncoder

    if not _shared_encoder:
        _shared_encoder.append(BatchEncoder("otel_telemetry", "1.2.3"))
    expected = _reference_request(records, ("otel_telemetry", "1.2.3"))
    assert _shared_encoder[0].encode_bytes(records) == expected.SerializeToString()


def test_encoder_keeps_bools_apart_from_ints_and_negative_zero_apart_from_zero() -> None:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    from otel_telemetry.encoding import BatchEncoder, resource_proto
    from otel_telemetry.mapping import MappedRecord
    from otel_telemetry.receiver import decode_attributes
    from otel_telemetry.resources import ResourceHandle

    handle = ResourceHandle({}, resource_proto({}))
    first = {"flags": (True, False), "zero": 0.0, "zeros": (0.0,)}
    second = {"flags": (1, 0), "zero": -0.0, "zeros": (-0.0,)}
    records = [MappedRecord("e", 1, attributes, 0, handle, 0, 0, 0, None) for attributes in (first, second)]
    request = ExportLogsServiceRequest.FromString(BatchEncoder("s", "1").encode_bytes(records))
    decoded = [decode_attributes(r.attributes) for r in request.resource_logs[0].scope_logs[0].log_records]
    assert [type(v) for v in decoded[0]["flags"]] == [bool, bool]
    assert [type(v) for v in decoded[1]["flags"]] == [int, int]
    assert [str(d["zero"]) for d in decoded] == ["0.0", "-0.0"]
    assert [str(d["zeros"][0]) for d in decoded] == ["0.0", "-0.0"]


@given(st.dictionaries(st.text(max_size=6), attribute_values, max_size=8))
def test_resource_proto_equals_the_message_built_attribute_by_attribute(attributes: dict[str, Any]) -> None:
    from opentelemetry.proto.common.v1.common_pb2 import KeyValue
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource

    from otel_telemetry.encoding import resource_proto

    expected = Resource(
        attributes=[KeyValue(key=k, value=reference_any_value(v)) for k, v in attributes.items()]
    )
    assert resource_proto(attributes).SerializeToString() == expected.SerializeToString()
