"""Tests for otel_telemetry.receiver: real OTLP exporters into a real receiver, decoded from the wire.

No mocks: records go through the OpenTelemetry SDK's gRPC and HTTP exporters (or
hand-built requests for what exporters never send: JSON, garbage, faults seen raw).
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import http.client
import os
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc
import pytest
import requests
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import SEVERITY_NUMBER_WARN, LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    LogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from telemetry_helpers import reference_any_value

from otel_telemetry.receiver import Fault, OTLPReceiver, ReceivedRecord, decode_any_value, iter_records

LOGS_EXPORT = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
TRACES_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
PROTOBUF = {"Content-Type": "application/x-protobuf"}
TRACE_ID = 0x5B8EFFF798038103D269B633813FC60C
SPAN_ID = 0xEEE19B7EC3C1B174

ALL_TYPES_ATTRIBUTES: dict[str, Any] = {
    "str": "hello",
    "unicode": "héllo ✓",
    "bool": True,
    "int": -7,
    "big_int": 2**62,
    "float": 1.5,
    "bytes": b"\x00\xffbin",
    "int_array": [1, 2, 3],
    "str_array": ["a", "b"],
    "bool_array": [True, False],
    "float_array": [0.5, 2.25],
    "mixed_array": [1, "a", b"\x01"],
    "empty_array": [],
    "kvlist": {"plan": "pro", "seats": 3, "nested": {"tags": ["x", "y"], "ok": False}},
}
EXPECTED_ATTRIBUTES: dict[str, Any] = dict(ALL_TYPES_ATTRIBUTES)  # tuples/lists both decode to lists


@pytest.fixture(autouse=True)
def _no_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exporters read OTEL_* variables; keep the developer's environment out of these tests."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


@pytest.fixture
def rx() -> Iterator[OTLPReceiver]:
    with OTLPReceiver() as receiver:
        yield receiver


# -- helpers ------------------------------------------------------------------------------


def grpc_exporter(rx: OTLPReceiver, **kwargs: Any) -> GrpcLogExporter:
    return GrpcLogExporter(endpoint=rx.grpc_endpoint, insecure=True, **kwargs)


def http_exporter(rx: OTLPReceiver, **kwargs: Any) -> HttpLogExporter:
    return HttpLogExporter(endpoint=rx.http_endpoint + "/v1/logs", **kwargs)


def exporter_for(rx: OTLPReceiver, protocol: str, **kwargs: Any) -> LogRecordExporter:
    return grpc_exporter(rx, **kwargs) if protocol == "grpc" else http_exporter(rx, **kwargs)


@contextmanager
def sdk_logger(exporter: LogRecordExporter, resource: dict[str, Any] | None = None) -> Iterator[Any]:
    """An SDK logger whose records go through BatchLogRecordProcessor into ``exporter``; flushed on exit."""
    provider = LoggerProvider(resource=Resource.create(resource or {"service.name": "test-app"}))
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter, schedule_delay_millis=50))
    try:
        yield provider.get_logger("otel-telemetry.test", "9.8.7")
    finally:
        provider.shutdown()


def readable_records(count: int = 1, event_name: str = "ev") -> list[ReadableLogRecord]:
    """SDK log records captured in memory, to hand to a real exporter's export() and see its result."""
    memory = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    provider = LoggerProvider(resource=Resource.create({"service.name": "test-app"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("otel-telemetry.test")
    for index in range(count):
        logger.emit(event_name=event_name, attributes={"index": index})
    provider.shutdown()
    return list(memory.get_finished_logs())


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


def sample_request() -> ExportLogsServiceRequest:
    """A hand-built request with every field set, for the protocols no SDK exporter speaks (JSON)."""
    attributes = [
        KeyValue(key="str", value=AnyValue(string_value="v")),
        KeyValue(key="int", value=AnyValue(int_value=-(2**40))),
        KeyValue(key="float", value=AnyValue(double_value=0.25)),
        KeyValue(key="bool", value=AnyValue(bool_value=False)),
        KeyValue(key="bytes", value=AnyValue(bytes_value=b"\x00\x01\xfe")),
        KeyValue(
            key="array",
            value=AnyValue(
                array_value=ArrayValue(values=[AnyValue(int_value=1), AnyValue(string_value="x")])
            ),
        ),
        KeyValue(
            key="kv",
            value=AnyValue(
                kvlist_value=KeyValueList(values=[KeyValue(key="inner", value=AnyValue(bool_value=True))])
            ),
        ),
        KeyValue(key="empty"),
    ]
    log = LogRecord(
        time_unix_nano=1_700_000_000_123_456_789,
        observed_time_unix_nano=1_700_000_000_223_456_789,
        severity_number=SEVERITY_NUMBER_WARN,
        severity_text="WARN",
        body=AnyValue(string_value="body text"),
        attributes=attributes,
        dropped_attributes_count=2,
        flags=1,
        trace_id=TRACE_ID.to_bytes(16, "big"),
        span_id=SPAN_ID.to_bytes(8, "big"),
        event_name="user.signup",
    )
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.add(key="service.name", value=AnyValue(string_value="json-app"))
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = "scope.json"
    scope_logs.scope.version = "0.1"
    scope_logs.scope.attributes.add(key="scope.attr", value=AnyValue(int_value=5))
    scope_logs.log_records.append(log)
    return request


def to_otlp_json(request: ExportLogsServiceRequest) -> dict[str, Any]:
    """OTLP/JSON as the spec writes it: proto3 JSON, but trace/span ids in hex instead of base64."""
    document: dict[str, Any] = json_format.MessageToDict(request)
    for resource_logs in document.get("resourceLogs", []):
        for scope_logs in resource_logs.get("scopeLogs", []):
            for log in scope_logs.get("logRecords", []):
                for key in ("traceId", "spanId"):
                    if key in log:
                        log[key] = base64.b64decode(log[key]).hex()
    return document


def without_protocol(record: ReceivedRecord) -> ReceivedRecord:
    return dataclasses.replace(record, protocol="-")


def parse_status(body: bytes) -> Any:
    return status_pb2.Status.FromString(body)


def raw_grpc_export(
    rx: OTLPReceiver, payload: bytes, method: str = LOGS_EXPORT, timeout: float = 5.0
) -> bytes:
    """Send raw bytes as a gRPC Export call (no client-side protobuf), returning raw response bytes."""
    with grpc.insecure_channel(f"127.0.0.1:{rx.grpc_port}") as channel:
        result: bytes = channel.unary_unary(method)(payload, timeout=timeout)
        return result


def grpc_error(rx: OTLPReceiver, payload: bytes, timeout: float = 5.0) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        raw_grpc_export(rx, payload, timeout=timeout)
    return caught.value


def outcomes(rx: OTLPReceiver) -> list[tuple[str, str]]:
    return [(entry.protocol, entry.outcome) for entry in rx.request_log]


# -- decoding what real exporters send ----------------------------------------------------


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_sdk_exporter_records_arrive_decoded_exactly(rx: OTLPReceiver, protocol: str) -> None:
    span_context = SpanContext(TRACE_ID, SPAN_ID, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    context = trace.set_span_in_context(NonRecordingSpan(span_context))
    resource = {"service.name": "shop", "service.version": "2.0", "deployment.count": 3}
    with sdk_logger(exporter_for(rx, protocol), resource) as logger:
        logger.emit(
            event_name="user.signup",
            attributes=ALL_TYPES_ATTRIBUTES,
            body={"note": "body as map", "n": 1},
            severity_number=SeverityNumber.INFO,
            severity_text="INFO",
            timestamp=1_700_000_000_000_000_001,
            context=context,
        )
        logger.emit(event_name="second", attributes={"k": "v"})
    assert rx.wait_for(2, timeout=10)
    first, second = rx.records
    assert first.protocol == protocol
    assert first.event_name == "user.signup"
    assert first.attributes == EXPECTED_ATTRIBUTES
    assert {k: first.resource[k] for k in resource} == resource
    assert first.resource["telemetry.sdk.language"] == "python"
    assert (first.scope_name, first.scope_version) == ("otel-telemetry.test", "9.8.7")
    assert first.body == {"note": "body as map", "n": 1}
    assert (first.severity_number, first.severity_text) == (SeverityNumber.INFO.value, "INFO")
    assert first.time_unix_nano == 1_700_000_000_000_000_001
    assert first.observed_time_unix_nano > 0
    assert first.trace_id == TRACE_ID.to_bytes(16, "big")
    assert first.span_id == SPAN_ID.to_bytes(8, "big")
    assert first.flags == 1
    assert first.proto.event_name == "user.signup"
    assert (second.event_name, second.attributes, second.trace_id) == ("second", {"k": "v"}, b"")
    assert len(rx.requests) >= 1
    assert outcomes(rx)[0] == (protocol, "OK" if protocol == "grpc" else "200")


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_gzip_compressed_exports_are_decoded(rx: OTLPReceiver, protocol: str) -> None:
    compression = grpc.Compression.Gzip if protocol == "grpc" else HttpCompression.Gzip
    with sdk_logger(exporter_for(rx, protocol, compression=compression)) as logger:
        for index in range(20):
            logger.emit(event_name="compressed", attributes={"index": index, "pad": "x" * 200})
    assert rx.wait_for(20, timeout=10)
    assert sorted(r.attributes["index"] for r in rx.records) == list(range(20))
    assert {r.protocol for r in rx.records} == {protocol}


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: raw_deflate(data)),  # raw deflate, as some clients send
        ("identity", lambda data: data),
    ],
    ids=["gzip", "deflate-zlib", "deflate-raw", "identity"],
)
def test_http_content_encodings_are_honoured(rx: OTLPReceiver, encoding: str, compress: Any) -> None:
    body = compress(sample_request().SerializeToString())
    response = requests.post(
        rx.http_endpoint + "/v1/logs",
        data=body,
        headers={**PROTOBUF, "Content-Encoding": encoding},
        timeout=5,
    )
    assert response.status_code == 200
    assert rx.records[0].event_name == "user.signup"


def test_http_json_decodes_the_same_as_protobuf(rx: OTLPReceiver) -> None:
    request = sample_request()
    document = to_otlp_json(request)
    log = document["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    assert log["traceId"] == f"{TRACE_ID:032x}"  # the hex form OTLP/JSON mandates
    json_response = requests.post(rx.http_endpoint + "/v1/logs", json=document, timeout=5)
    proto_response = requests.post(
        rx.http_endpoint + "/v1/logs", data=request.SerializeToString(), headers=PROTOBUF, timeout=5
    )
    assert json_response.status_code == proto_response.status_code == 200
    assert json_response.headers["Content-Type"] == "application/json"
    assert json_response.json() == {}
    assert ExportLogsServiceResponse.FromString(proto_response.content) == ExportLogsServiceResponse()
    from_json, from_proto = rx.records
    assert (from_json.protocol, from_proto.protocol) == ("http/json", "http/protobuf")
    assert without_protocol(from_json) == without_protocol(from_proto)
    assert from_json.proto == from_proto.proto
    assert from_json.trace_id == TRACE_ID.to_bytes(16, "big")
    assert from_json.attributes["bytes"] == b"\x00\x01\xfe"
    assert from_json.attributes["empty"] is None
    assert from_json.scope_attributes == {"scope.attr": 5}
    assert from_json.dropped_attributes_count == 2


def test_http_json_accepts_integer_enums_numeric_int64_and_unknown_fields(rx: OTLPReceiver) -> None:
    document = {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "j"}}]},
                "futureField": {"ignored": True},
                "scopeLogs": [
                    {
                        "scope": {"name": "s"},
                        "logRecords": [
                            {
                                "timeUnixNano": 1700000000000000000,
                                "observedTimeUnixNano": "1700000000000000001",
                                "severityNumber": 17,
                                "eventName": "checkout",
                                "traceId": "",
                                "attributes": [{"key": "n", "value": {"intValue": "42"}}],
                                "somethingNew": 1,
                            }
                        ],
                    }
                ],
            }
        ]
    }
    response = requests.post(rx.http_endpoint + "/v1/logs", json=document, timeout=5)
    assert response.status_code == 200, response.text
    (record,) = rx.records
    assert (record.event_name, record.severity_number, record.attributes) == ("checkout", 17, {"n": 42})
    assert (record.time_unix_nano, record.observed_time_unix_nano) == (
        1700000000000000000,
        1700000000000000001,
    )
    assert record.resource == {"service.name": "j"}


# -- bad input never crashes the server ---------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-protobuf", b"\x0a\x05abc"),  # length-delimited field longer than the body
        ("application/x-protobuf", b"\xff\xff\xff\xff"),
        ("application/json", b"{not json"),
        ("application/json", b"[1, 2]"),
        ("application/json", b'{"resourceLogs": "nope"}'),
        ("application/json", b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"spanId": "zz!"}]}]}]}'),
        ("application/json", b"\xff\xfe"),
    ],
)
def test_malformed_http_body_gets_400_status_and_server_keeps_serving(
    rx: OTLPReceiver, content_type: str, body: bytes
) -> None:
    with requests.Session() as session:
        bad = session.post(rx.http_endpoint + "/v1/logs", data=body, headers={"Content-Type": content_type})
        assert bad.status_code == 400
        if content_type == "application/json":
            assert bad.json()["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        else:
            assert parse_status(bad.content).code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        good = session.post(
            rx.http_endpoint + "/v1/logs", data=sample_request().SerializeToString(), headers=PROTOBUF
        )
        assert good.status_code == 200
    assert len(rx.records) == 1
    assert outcomes(rx) == [(bad_protocol(content_type), "400"), ("http/protobuf", "200")]


def bad_protocol(content_type: str) -> str:
    return "http/json" if content_type == "application/json" else "http/protobuf"


def test_corrupt_gzip_body_gets_400(rx: OTLPReceiver) -> None:
    response = requests.post(
        rx.http_endpoint + "/v1/logs",
        data=gzip.compress(b"whatever")[:-6],
        headers={**PROTOBUF, "Content-Encoding": "gzip"},
        timeout=5,
    )
    assert response.status_code == 400
    assert "truncated" in parse_status(response.content).message


def test_oversized_and_decompression_bomb_bodies_get_413() -> None:
    with OTLPReceiver(grpc_port=None, max_message_bytes=10_000) as small:
        url = small.http_endpoint + "/v1/logs"
        too_big = requests.post(url, data=b"\x00" * 20_000, headers=PROTOBUF, timeout=5)
        bomb = requests.post(
            url,
            data=gzip.compress(b"\x00" * 1_000_000),
            headers={**PROTOBUF, "Content-Encoding": "gzip"},
            timeout=5,
        )
        assert (too_big.status_code, bomb.status_code) == (413, 413)
        assert small.records == []


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("POST", "/v1/nope", PROTOBUF, 404),
        ("POST", "/", PROTOBUF, 404),
        ("GET", "/v1/logs", {}, 405),
        ("PUT", "/v1/logs", PROTOBUF, 405),
        ("GET", "/favicon.ico", {}, 404),
        ("POST", "/v1/logs", {"Content-Type": "text/plain"}, 415),
        ("POST", "/v1/logs", {}, 415),
        ("POST", "/v1/logs", {**PROTOBUF, "Content-Encoding": "br"}, 415),
    ],
)
def test_wrong_path_method_or_content_type_get_proper_status(
    rx: OTLPReceiver, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    with requests.Session() as session:
        response = session.request(
            method, rx.http_endpoint + path, data=b"\x01\x02", headers=headers, timeout=5
        )
        assert response.status_code == status
        if status == 405:
            assert response.headers.get("Allow") == "POST"
        assert parse_status(response.content).message
        follow_up = session.post(rx.http_endpoint + "/v1/logs", data=b"", headers=PROTOBUF, timeout=5)
        assert follow_up.status_code == 200  # same keep-alive connection still in sync
    assert rx.records == []


def test_chunked_http_body_is_accepted(rx: OTLPReceiver) -> None:
    payload = sample_request().SerializeToString()
    # a generator body makes requests use Transfer-Encoding: chunked
    chunks = (payload[i : i + 7] for i in range(0, len(payload), 7))
    response = requests.post(rx.http_endpoint + "/v1/logs", data=chunks, headers=PROTOBUF, timeout=5)
    assert response.status_code == 200
    assert rx.records[0].event_name == "user.signup"


def test_http_keep_alive_connection_is_reused(rx: OTLPReceiver) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", rx.http_port, timeout=5)
    try:
        body = sample_request().SerializeToString()
        sockets = []
        for _ in range(3):
            connection.request("POST", "/v1/logs", body=body, headers=PROTOBUF)
            response = connection.getresponse()
            assert response.status == 200
            assert not response.will_close
            response.read()
            sockets.append(connection.sock)
        assert sockets[0] is not None
        assert all(sock is sockets[0] for sock in sockets)
    finally:
        connection.close()
    assert len(rx.records) == 3


def test_malformed_grpc_payload_gets_invalid_argument_and_server_keeps_serving(rx: OTLPReceiver) -> None:
    error = grpc_error(rx, b"\x0a\x05abc")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "ExportLogsServiceRequest" in error.details()
    response = raw_grpc_export(rx, sample_request().SerializeToString())
    assert ExportLogsServiceResponse.FromString(response) == ExportLogsServiceResponse()
    assert [r.event_name for r in rx.records] == ["user.signup"]
    assert outcomes(rx) == [("grpc", "INVALID_ARGUMENT"), ("grpc", "OK")]


# -- concurrency ----------------------------------------------------------------------------


def test_concurrent_senders_lose_nothing(rx: OTLPReceiver) -> None:
    per_thread = 60
    errors: list[BaseException] = []

    def send(thread_index: int) -> None:
        try:
            protocol = "grpc" if thread_index % 2 else "http/protobuf"
            with sdk_logger(exporter_for(rx, protocol)) as logger:
                for seq in range(per_thread):
                    logger.emit(event_name="load", attributes={"thread": thread_index, "seq": seq})
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert rx.wait_for(8 * per_thread, timeout=10)
    received = sorted((r.attributes["thread"], r.attributes["seq"]) for r in rx.records)
    assert received == [(t, s) for t in range(8) for s in range(per_thread)]  # none lost, none duplicated
    assert {r.protocol for r in rx.records} == {"grpc", "http/protobuf"}


# -- fault injection ------------------------------------------------------------------------


def test_http_503_fault_sends_retry_after_and_the_exporter_waits_that_long(rx: OTLPReceiver) -> None:
    rx.faults.push(Fault(http_status=503, retry_after="2"))
    raw = requests.post(rx.http_endpoint + "/v1/logs", data=b"", headers=PROTOBUF, timeout=5)
    assert raw.status_code == 503
    assert raw.headers["Retry-After"] == "2"
    status = parse_status(raw.content)
    assert status.code == grpc.StatusCode.UNAVAILABLE.value[0]
    retry_info = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(retry_info)
    assert retry_info.retry_delay.seconds == 2

    rx.clear()
    rx.faults.push(Fault(http_status=503, retry_after="2"))
    exporter = http_exporter(rx, timeout=10)
    try:
        assert exporter.export(readable_records()) == LogRecordExportResult.SUCCESS
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]
    (_, first, t1), (_, second, t2) = rx.request_log
    assert (first, second) == ("503", "200")
    assert t2 - t1 >= 1.95  # Retry-After honoured (the exporter's own backoff would be 0.8-1.2 s)
    assert len(rx.records) == 1


@pytest.mark.parametrize("status", [429, 400, 500])
def test_http_status_faults_are_sent_as_is(rx: OTLPReceiver, status: int) -> None:
    rx.faults.push(Fault(http_status=status, message=f"scripted {status}"))
    response = requests.post(rx.http_endpoint + "/v1/logs", json={}, timeout=5)
    assert response.status_code == status
    assert response.json()["message"] == f"scripted {status}"
    assert "Retry-After" not in response.headers
    assert rx.records == []
    assert outcomes(rx) == [("http/json", str(status))]


def test_http_400_fault_is_not_retried_by_the_exporter(rx: OTLPReceiver) -> None:
    rx.faults.push(Fault(http_status=400))
    exporter = http_exporter(rx, timeout=5)
    try:
        assert exporter.export(readable_records()) == LogRecordExportResult.FAILURE
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]
    assert outcomes(rx) == [("http/protobuf", "400")]
    assert rx.records == []


def test_grpc_unavailable_fault_carries_retry_info_as_the_spec_describes(rx: OTLPReceiver) -> None:
    rx.faults.push(Fault(grpc_code=grpc.StatusCode.UNAVAILABLE, retry_delay_s=1.5, message="busy"))
    error = grpc_error(rx, sample_request().SerializeToString())
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert error.details() == "busy"
    trailing = dict(error.trailing_metadata())
    status = status_pb2.Status.FromString(trailing["grpc-status-details-bin"])
    assert (status.code, status.message) == (grpc.StatusCode.UNAVAILABLE.value[0], "busy")
    retry_info = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(retry_info)
    assert retry_info.retry_delay.ToNanoseconds() == 1_500_000_000
    # the Python OTLP exporter reads a bare RetryInfo from this key instead
    assert error_details_pb2.RetryInfo.FromString(trailing["google.rpc.retryinfo-bin"]) == retry_info
    assert rx.records == []


def test_grpc_exporter_honours_retry_info_delay(rx: OTLPReceiver) -> None:
    rx.faults.push(Fault(grpc_code=grpc.StatusCode.UNAVAILABLE, retry_delay_s=0.2))
    exporter = grpc_exporter(rx, timeout=10)
    try:
        assert exporter.export(readable_records()) == LogRecordExportResult.SUCCESS
    finally:
        exporter.shutdown()
    (_, first, t1), (_, second, t2) = rx.request_log
    assert (first, second) == ("UNAVAILABLE", "OK")
    assert 0.18 <= t2 - t1 < 0.75  # RetryInfo's 0.2 s, not the exporter's own 0.8-1.2 s backoff
    assert len(rx.records) == 1


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault(http_status=429), grpc.StatusCode.RESOURCE_EXHAUSTED),
        (Fault(http_status=503), grpc.StatusCode.UNAVAILABLE),
        (Fault(http_status=400), grpc.StatusCode.INVALID_ARGUMENT),
        (Fault(grpc_code=grpc.StatusCode.PERMISSION_DENIED), grpc.StatusCode.PERMISSION_DENIED),
    ],
)
def test_faults_map_to_the_equivalent_grpc_status(
    rx: OTLPReceiver, fault: Fault, code: grpc.StatusCode
) -> None:
    rx.faults.push(fault)
    assert grpc_error(rx, b"").code() == code
    assert outcomes(rx) == [("grpc", code.name)]


def test_grpc_fault_maps_to_the_equivalent_http_status(rx: OTLPReceiver) -> None:
    rx.faults.push(Fault(grpc_code=grpc.StatusCode.RESOURCE_EXHAUSTED, retry_delay_s=3))
    response = requests.post(rx.http_endpoint + "/v1/logs", data=b"", headers=PROTOBUF, timeout=5)
    assert (response.status_code, response.headers["Retry-After"]) == (429, "3")


def test_faults_are_consumed_one_per_request_then_the_default_applies(rx: OTLPReceiver) -> None:
    rx.set_default_fault(Fault(http_status=503))
    rx.faults.push(Fault(http_status=429))
    rx.faults.push(Fault(http_status=400), times=2)
    url = rx.http_endpoint + "/v1/logs"
    with requests.Session() as session:
        statuses = [session.post(url, data=b"", headers=PROTOBUF).status_code for _ in range(5)]
        assert statuses == [429, 400, 400, 503, 503]
        rx.set_default_fault(None)
        assert session.post(url, data=b"", headers=PROTOBUF).status_code == 200
    assert rx.signal_counts == {"logs": 1}


def test_partial_success_fault_accepts_and_reports_rejected_count(rx: OTLPReceiver) -> None:
    rx.faults.push(Fault(rejected=1, message="one was too big"))
    response = raw_grpc_export(rx, sample_request().SerializeToString())
    partial = ExportLogsServiceResponse.FromString(response).partial_success
    assert (partial.rejected_log_records, partial.error_message) == (1, "one was too big")
    assert len(rx.records) == 1


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_hang_fault_gives_no_answer_until_the_client_times_out(rx: OTLPReceiver, protocol: str) -> None:
    rx.faults.push(Fault(hang_s=30))
    started = time.monotonic()
    if protocol == "grpc":
        assert grpc_error(rx, b"", timeout=0.5).code() == grpc.StatusCode.DEADLINE_EXCEEDED
    else:
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.post(rx.http_endpoint + "/v1/logs", data=b"", headers=PROTOBUF, timeout=0.5)
    assert 0.45 <= time.monotonic() - started < 5
    assert outcomes(rx) == [(protocol, "hang")]
    assert rx.records == []


def test_short_hang_is_a_slow_collector_that_then_accepts(rx: OTLPReceiver) -> None:
    rx.faults.push(Fault(hang_s=0.3))
    started = time.monotonic()
    response = requests.post(
        rx.http_endpoint + "/v1/logs", data=sample_request().SerializeToString(), headers=PROTOBUF, timeout=5
    )
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3
    assert outcomes(rx) == [("http/protobuf", "hang")]
    assert len(rx.records) == 1


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_stop_is_prompt_even_with_a_hanging_request(protocol: str) -> None:
    rx = OTLPReceiver().start()
    client_errors: list[BaseException] = []
    try:
        rx.faults.push(Fault(hang_s=30))

        def call() -> None:
            try:
                if protocol == "grpc":
                    raw_grpc_export(rx, b"", timeout=20)
                else:
                    requests.post(rx.http_endpoint + "/v1/logs", data=b"", headers=PROTOBUF, timeout=20)
            except BaseException as exc:
                client_errors.append(exc)

        client = threading.Thread(target=call)
        client.start()
        assert rx.wait_for_requests(1, timeout=5)  # the request is being held
        # an idle keep-alive connection must not hold stop() up either
        idle = http.client.HTTPConnection("127.0.0.1", rx.http_port, timeout=20)
        idle.request("POST", "/v1/logs", body=b"", headers=PROTOBUF)
        idle.getresponse().read()
    finally:
        started = time.monotonic()
        rx.stop()
        stop_took = time.monotonic() - started
    client.join(5)
    idle.close()
    assert stop_took < 1.5
    assert not client.is_alive()
    assert len(client_errors) == 1  # the held request ends with an error, not an answer
    assert not rx.running


# -- callback, other signals, lifecycle -------------------------------------------------------


def test_on_request_callback_sees_every_accepted_request() -> None:
    seen: list[tuple[str, int]] = []

    def on_request(protocol: str, request: ExportLogsServiceRequest) -> None:
        seen.append((protocol, len(list(iter_records(request, protocol)))))

    with OTLPReceiver(on_request=on_request) as rx:
        rx.faults.push(Fault(http_status=503))  # rejected requests never reach the callback
        payload = sample_request().SerializeToString()
        assert requests.post(rx.http_endpoint + "/v1/logs", data=payload, headers=PROTOBUF).status_code == 503
        raw_grpc_export(rx, payload)
        assert requests.post(rx.http_endpoint + "/v1/logs", data=payload, headers=PROTOBUF).status_code == 200
    assert seen == [("grpc", 1), ("http/protobuf", 1)]


def test_on_request_exception_becomes_a_retryable_503_or_unavailable_and_nothing_is_stored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(protocol: str, request: ExportLogsServiceRequest) -> None:
        raise RuntimeError("disk full")

    with OTLPReceiver(on_request=broken) as rx:
        payload = sample_request().SerializeToString()
        response = requests.post(rx.http_endpoint + "/v1/logs", data=payload, headers=PROTOBUF, timeout=5)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert "disk full" in parse_status(response.content).message
        error = grpc_error(rx, payload)
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert rx.records == [] and rx.requests == []
        assert outcomes(rx) == [("http/protobuf", "503"), ("grpc", "UNAVAILABLE")]
    assert "on_request callback failed" in caplog.text


def test_traces_and_metrics_are_accepted_and_counted_but_not_stored(rx: OTLPReceiver) -> None:
    rx.set_default_fault(Fault(http_status=503))  # faults are for logs only
    response = requests.post(rx.http_endpoint + "/v1/traces", data=b"", headers=PROTOBUF, timeout=5)
    assert response.status_code == 200
    assert ExportTraceServiceResponse.FromString(response.content) == ExportTraceServiceResponse()
    assert requests.post(rx.http_endpoint + "/v1/metrics", json={}, timeout=5).status_code == 200
    raw_grpc_export(rx, ExportTraceServiceRequest().SerializeToString(), method=TRACES_EXPORT)
    assert rx.signal_counts == {"traces": 2, "metrics": 1}
    assert rx.records == []


def test_a_disabled_protocol_is_not_started() -> None:
    with OTLPReceiver(grpc_port=None) as http_only:
        assert (http_only.grpc_enabled, http_only.http_enabled) == (False, True)
        assert http_only.http_endpoint.startswith("http://127.0.0.1:")
        with pytest.raises(RuntimeError):
            _ = http_only.grpc_endpoint
    with OTLPReceiver(http_port=None) as grpc_only:
        assert grpc_only.grpc_endpoint == f"http://127.0.0.1:{grpc_only.grpc_port}"
        with pytest.raises(RuntimeError):
            _ = grpc_only.http_port


def test_keep_records_false_keeps_nothing_but_still_counts_and_calls_back() -> None:
    seen: list[str] = []

    def on_request(protocol: str, request: ExportLogsServiceRequest) -> None:
        seen.append(protocol)

    with OTLPReceiver(on_request=on_request, keep_records=False) as rx:
        raw_grpc_export(rx, sample_request().SerializeToString())
        assert rx.wait_for(1, timeout=5)
        assert rx.wait_for_requests(1, timeout=5)
        assert (rx.records, rx.requests, rx.request_log) == ([], [], [])
        assert rx.signal_counts == {"logs": 1}
    assert seen == ["grpc"]


@pytest.mark.parametrize("busy", ["grpc", "http"])
def test_a_busy_port_fails_start_with_oserror_and_leaves_nothing_running(busy: str) -> None:
    with OTLPReceiver() as first:
        second = (
            OTLPReceiver(grpc_port=first.grpc_port)
            if busy == "grpc"
            else OTLPReceiver(http_port=first.http_port)
        )
        with pytest.raises(OSError):
            second.start()
        assert not second.running
        raw_grpc_export(first, b"")  # the first receiver is unaffected


def test_a_receiver_needs_at_least_one_protocol() -> None:
    with pytest.raises(ValueError):
        OTLPReceiver(grpc_port=None, http_port=None)


def test_clear_forgets_received_data_and_wait_for_times_out(rx: OTLPReceiver) -> None:
    raw_grpc_export(rx, sample_request().SerializeToString())
    assert rx.wait_for(1, timeout=1)
    rx.clear()
    assert (rx.records, rx.requests, rx.request_log) == ([], [], [])
    started = time.monotonic()
    assert not rx.wait_for(1, timeout=0.2)
    assert time.monotonic() - started >= 0.2


def test_a_receiver_cannot_be_restarted_and_stop_is_idempotent() -> None:
    rx = OTLPReceiver().start()
    rx.stop()
    rx.stop()
    with pytest.raises(RuntimeError):
        rx.start()


def test_fault_rejects_nonsense_values() -> None:
    for kwargs in ({"http_status": 200}, {"grpc_code": grpc.StatusCode.OK}, {"hang_s": -1}, {"rejected": -2}):
        with pytest.raises(ValueError):
            Fault(**kwargs)


# -- decode_any_value -------------------------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
)
_values = st.recursive(
    _scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=20
)


@settings(max_examples=150, deadline=None)
@given(_values)
def test_decode_any_value_round_trips_every_anyvalue_kind_through_the_wire(value: Any) -> None:
    wire = reference_any_value(value).SerializeToString()
    assert decode_any_value(AnyValue.FromString(wire)) == value


def test_iter_records_flattens_resource_and_scope_in_wire_order() -> None:
    request = ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                scope_logs=[
                    ScopeLogs(log_records=[LogRecord(event_name="a"), LogRecord(event_name="b")]),
                    ScopeLogs(log_records=[LogRecord(event_name="c")]),
                ]
            ),
            ResourceLogs(scope_logs=[ScopeLogs(log_records=[LogRecord(event_name="d")])]),
        ]
    )
    request.resource_logs[1].resource.attributes.add(key="r", value=AnyValue(string_value="2"))
    records = list(iter_records(request, "grpc"))
    assert [r.event_name for r in records] == ["a", "b", "c", "d"]
    assert [r.resource for r in records] == [{}, {}, {}, {"r": "2"}]
    assert records[0].body is None
