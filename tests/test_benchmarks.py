"""The benchmark harness runs end to end on a tiny N (speed is for the benchmark, not asserted here)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telemetry_helpers import reference_any_value  # noqa: E402

from benchmarks.stats import Summary, ratio  # noqa: E402

N = 600


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


def _run(command: list[str], env: dict[str, str], timeout: float) -> tuple[int, str, str]:
    """Run ``command`` in its own process group; the whole group is killed if it overruns or fails."""
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        return process.returncode, stdout, stderr
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever the benchmark left running, too
        process.wait()


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """One ``python -m benchmarks --quick`` with a tiny N, all sections; its RESULTS.md and JSON."""
    out = tmp_path_factory.mktemp("bench")
    command = [sys.executable, "-m", "benchmarks", "--quick", "-n", str(N), "--caller-n", "300"]
    returncode, _, stderr = _run([*command, "--out", str(out)], _env(), timeout=240)
    assert returncode == 0, stderr[-3000:]
    return (out / "RESULTS.md").read_text(encoding="utf-8"), json.loads((out / "results.json").read_text())


def test_results_table_has_every_section_and_system(quick_run: tuple[str, dict[str, Any]]) -> None:
    markdown, _ = quick_run
    for heading in ("## Targets", "## 1. Caller cost", "## 2. End to end", "## 3. Memory", "## 4.", "## 5."):
        assert heading in markdown
    for label in (
        "floor: 3 dict copies + deque.append",
        "otel-telemetry send() (gRPC)",
        "otel-telemetry send() (HTTP/protobuf)",
        "otel-telemetry send() into an app's LoggerProvider",
        "OTel SDK Logger.emit() alone (no processor)",
        "OTel SDK Logger.emit() + BatchLogRecordProcessor + OTLP (gRPC)",
        "Segment analytics.track",
        "PostHog capture",
        "Amplitude track",
        "+ PII hashing",
        "default, with event properties varying per call",
        "+ catalog validation",
        "+ spool",
    ):
        assert f"| {label}" in markdown, label
    assert "Machine:" in markdown and "Packages:" in markdown


def test_otel_telemetry_delivers_every_event_end_to_end(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, results = quick_run
    ours = [row for row in results["e2e"] if row["key"].startswith("ours-")]
    expected = {"ours-grpc", "ours-http", "ours-grpc-distinct", "ours-grpc-full", "ours-http-full"}
    assert {row["key"] for row in ours} == expected
    for row in ours:
        assert row.get("status") is None, row
        assert row["delivered_worst"] == N
        assert all(run["delivered"] == N and run["flushed"] for run in row["runs"])
        assert row["summary"]["median"] > 0


def test_every_row_is_a_figure_or_says_why_not(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, results = quick_run
    for section in ("caller", "e2e", "memory", "steps", "scaling"):
        assert results[section], section
        for row in results[section]:
            status = row.get("status")
            if status is None:
                summary = row["summary"]
                assert summary["low"] <= summary["median"] <= summary["high"]
            else:
                assert status in ("not installed", "not available"), row
    memory = {row["key"]: row for row in results["memory"]}
    assert memory["ours-down"]["runs"][0]["queued"] >= N  # collector down: everything stays queued


def test_a_missing_peer_is_reported_not_installed(tmp_path: Path) -> None:
    shadow = tmp_path / "segment"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('segment is not installed')\n")
    task = {
        "kind": "caller",
        "spec": {"system": "segment", "sink_url": "http://127.0.0.1:9"},
        "n": 1,
        "repeats": 1,
    }
    env = _env(PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    returncode, stdout, stderr = _run([sys.executable, "-m", "benchmarks.child", json.dumps(task)], env, 60)
    assert returncode == 0, stderr
    assert json.loads(stdout.splitlines()[-1]) == {"not_installed": "segment-analytics-python"}


@given(st.lists(st.floats(min_value=0.001, max_value=1e9), min_size=1, max_size=20))
def test_summary_orders_min_median_max(samples: list[float]) -> None:
    summary = Summary.of(samples)
    assert summary.low <= summary.median <= summary.high
    assert summary.count == len(samples)
    assert ratio(summary.median, summary.median) == "1.00x"


def test_ratio_of_a_missing_figure_is_a_dash() -> None:
    assert ratio(None, 2.0) == "-"
    assert ratio(2.0, None) == "-"
    assert ratio(3.0, 1.5) == "2.00x"


# -- the performance edits keep behaviour identical --------------------------------------------
# The benchmark-driven fast paths (encoding.py, values.py, resources.py) are checked here against
# the straightforward implementations they replace.

_scalars = st.one_of(
    st.text(max_size=8),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.binary(max_size=8),
)
_attr_values = st.one_of(
    _scalars,
    st.lists(st.text(max_size=4), max_size=3).map(tuple),
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=3).map(tuple),
    st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=3).map(tuple),
    st.lists(st.booleans(), max_size=3).map(tuple),
)


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
        st.dictionaries(st.text(min_size=1, max_size=5), _attr_values, max_size=6),
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


_props = st.recursive(
    st.one_of(_scalars, st.none(), st.lists(st.text(max_size=3), max_size=3)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers(0, 3)), inner, max_size=3),
    ),
    max_leaves=8,
)


@given(
    st.dictionaries(st.one_of(st.text(max_size=5), st.integers(0, 5)), _props, max_size=6),
    st.text(max_size=3),
)
def test_flatten_fast_path_matches_the_general_rules(props: dict[Any, Any], prefix: str) -> None:
    from otel_telemetry.values import flatten_into

    fast: dict[str, Any] = {"pre": "existing"}
    general: dict[str, Any] = {"pre": "existing"}
    flatten_into(fast, prefix, props)
    flatten_into(general, prefix, props, set())  # an explicit ``seen`` bypasses the fast path
    assert list(fast.items()) == list(general.items())


def _mutate_all(value: Any) -> None:
    """Change every mutable container inside ``value`` in place."""
    if isinstance(value, list):
        for item in value:
            _mutate_all(item)
        value.append("mutated")
    elif isinstance(value, dict):
        for item in value.values():
            _mutate_all(item)
        value["mutated"] = True
    elif isinstance(value, set):
        value.add("mutated")


@given(st.dictionaries(st.text(max_size=5), _props, max_size=6))
def test_freeze_keeps_the_attributes_the_caller_sent_even_if_it_mutates_them_afterwards(
    props: dict[str, Any],
) -> None:
    import copy

    from otel_telemetry.values import flatten_into, freeze, thaw

    def attributes(p: dict[str, Any]) -> list[tuple[str, Any, type]]:
        out: dict[str, Any] = {}
        flatten_into(out, "", p)
        return [(k, v, type(v)) for k, v in out.items()]

    original = copy.deepcopy(props)
    copied = thaw(freeze(props)) if props else {}
    assert attributes(copied) == attributes(original)
    for value in props.values():
        _mutate_all(value)
    assert attributes(copied) == attributes(original)


@given(
    st.lists(st.dictionaries(st.sampled_from("abc"), st.one_of(st.booleans(), st.integers(0, 2)), max_size=3))
)
def test_resource_cache_separates_groups_that_differ_in_value_or_type(groups: list[dict[str, Any]]) -> None:
    from otel_telemetry.resources import ResourceCache
    from otel_telemetry.values import freeze

    cache = ResourceCache({"service.name": "s"}, dict)
    for group in groups:
        handle = cache.get(freeze(group) if group else None)
        assert handle.attributes == {"service.name": "s", **group}
        assert [type(v) for v in handle.attributes.values()] == [str, *map(type, group.values())]


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


@given(st.dictionaries(st.text(max_size=6), _attr_values, max_size=8))
def test_resource_proto_equals_the_message_built_attribute_by_attribute(attributes: dict[str, Any]) -> None:
    from opentelemetry.proto.common.v1.common_pb2 import KeyValue
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource

    from otel_telemetry.encoding import resource_proto

    expected = Resource(
        attributes=[KeyValue(key=k, value=reference_any_value(v)) for k, v in attributes.items()]
    )
    assert resource_proto(attributes).SerializeToString() == expected.SerializeToString()
