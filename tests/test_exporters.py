"""The exporter interface: the in-memory exporter sees what a collector sees, any OpenTelemetry
SDK exporter plugs in, an app's own exporter gets retries and counting for free."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter

import otel_telemetry
from otel_telemetry import (
    Backoff,
    DeliverySettings,
    Exporter,
    ExporterSettings,
    ExportResult,
    InMemoryExporter,
    OTLPExporter,
    PrivacySettings,
    SdkExporter,
    SpoolSettings,
    Telemetry,
    TelemetryError,
)
from otel_telemetry.receiver import OTLPReceiver, ReceivedRecord

FAST = DeliverySettings(schedule_delay_s=0.05)
QUICK_RETRY = DeliverySettings(schedule_delay_s=0.05, backoff=Backoff(0.01, 0.05))
SENDS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "didCreateEntry",
        {"eventProperties": {"model": "article", "n": 3}, "userProperties": {"role": "editor"}},
        {},
    ),
    ("didSelectFile", {"groupProperties": {"database": "postgres"}}, {"user_id": "u-1", "body": "picked"}),
    ("didPublish", {"eventProperties": {"tags": ["a", "b"], "ratio": 0.5}}, {"timestamp": 1_700_000_000_000}),
]


def _comparable(record: ReceivedRecord) -> tuple[Any, ...]:
    """Everything but the capture time and the transport."""
    return (
        record.event_name,
        record.attributes,
        record.resource,
        record.scope_name,
        record.scope_version,
        record.severity_number,
        record.severity_text,
        record.body,
        record.time_unix_nano if record.time_unix_nano != record.observed_time_unix_nano else None,
    )


def _send_all(t: Telemetry) -> None:
    for name, payload, kwargs in SENDS:
        assert t.send(name, payload, **kwargs)
    assert t.flush(10)


def test_the_in_memory_exporter_sees_exactly_what_a_collector_receives(receiver: OTLPReceiver) -> None:
    privacy = PrivacySettings(project_id="same-project")
    memory = InMemoryExporter()
    with Telemetry("app", exporter=memory, privacy=privacy, delivery=FAST) as t:
        _send_all(t)
    with Telemetry(
        "app",
        exporter=OTLPExporter(endpoint=receiver.grpc_endpoint, protocol="grpc"),
        privacy=privacy,
        delivery=FAST,
    ) as t:
        _send_all(t)
    assert receiver.wait_for(len(SENDS))
    assert [_comparable(r) for r in memory.records] == [_comparable(r) for r in receiver.records]
    by_name = {r.event_name: r for r in memory.records}
    assert by_name["didCreateEntry"].resource["service.name"] == "app"
    assert by_name["didSelectFile"].resource["database"] == "postgres"
    assert by_name["didPublish"].time_unix_nano == 1_700_000_000_000
    assert memory.shut_down


def test_a_transient_failure_is_retried_and_counted_with_the_in_memory_exporter() -> None:
    memory = InMemoryExporter(results=[ExportResult(False, retryable=True, error="busy")] * 2)
    with Telemetry(exporter=memory, delivery=QUICK_RETRY) as t:
        assert t.send("e")
        assert t.flush(10)
        stats = t.stats()
    assert (stats.accepted, stats.exported, stats.retries, stats.dropped) == (1, 1, 2, {})
    assert memory.attempts == 3 and len(memory.records) == 1


def test_a_permanent_failure_is_dropped_and_counted_under_its_reason() -> None:
    memory = InMemoryExporter(results=[ExportResult(False, error="no", drop_reason="rejected")])
    with Telemetry(exporter=memory, delivery=FAST) as t:
        assert t.send("a") and t.send("b")
        assert not t.flush(10)
        stats = t.stats()
    assert stats.dropped == {"rejected": 2} and stats.exported == 0 and stats.retries == 0


@pytest.mark.parametrize("rejected", [1, 2, 990, -5])
def test_a_partial_success_never_counts_more_rejections_than_records(rejected: int) -> None:
    memory = InMemoryExporter(results=[ExportResult(True, error="partly", rejected=rejected)])
    with Telemetry(exporter=memory, delivery=FAST) as t:
        assert t.send("a") and t.send("b")
        t.flush(10)
        stats = t.stats()
    lost = min(max(rejected, 0), 2)
    assert stats.exported == 2 - lost >= 0
    assert stats.dropped == ({"rejected": lost} if lost else {})
    assert stats.accepted == stats.exported + stats.dropped_total


class Flaky(Exporter):
    """An app's own exporter whose first attempt raises, then hands batches to a list."""

    def __init__(self) -> None:
        self.calls = 0
        self.batches: list[bytes] = []
        self.lock = threading.Lock()

    def export(self, request: bytes, timeout_s: float) -> ExportResult:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("first attempt fails")
        self.batches.append(request)
        return ExportResult(True)


def test_an_apps_own_exporter_gets_retries_for_free_and_an_exception_is_a_retry() -> None:
    flaky = Flaky()
    with Telemetry(exporter=flaky, delivery=QUICK_RETRY) as t:
        assert t.send("e", {"eventProperties": {"k": "v"}})
        assert t.flush(10)
        assert t.stats().retries == 1
    assert flaky.calls == 2 and len(flaky.batches) == 1


def test_any_exporter_works_through_the_spool(tmp_path: Path) -> None:
    memory = InMemoryExporter()
    delivery = dataclasses.replace(FAST, spool=SpoolSettings(tmp_path))
    with Telemetry(exporter=memory, delivery=delivery) as t:
        for i in range(20):
            assert t.send("e", {"eventProperties": {"i": i}})
        assert t.flush(10)
    assert sorted(r.attributes["i"] for r in memory.records) == list(range(20))
    assert all("otel_telemetry.event.id" in r.attributes for r in memory.records)
    assert memory.shut_down  # the spool's sender released the exporter at shutdown


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_an_sdk_exporter_from_opentelemetry_exporter_otlp_delivers_to_a_real_receiver(
    receiver: OTLPReceiver, protocol: str
) -> None:
    sdk = (
        GrpcLogExporter(endpoint=receiver.grpc_endpoint, insecure=True)
        if protocol == "grpc"
        else HttpLogExporter(endpoint=receiver.http_endpoint + "/v1/logs")
    )
    with Telemetry("sdk-app", exporter=SdkExporter(sdk), delivery=FAST) as t:
        _send_all(t)
    assert receiver.wait_for(len(SENDS))
    by_name = {r.event_name: r for r in receiver.records}
    assert by_name["didCreateEntry"].attributes == {"model": "article", "n": 3, "user.role": "editor"}
    assert by_name["didSelectFile"].body == "picked"
    assert by_name["didSelectFile"].resource["database"] == "postgres"
    assert by_name["didSelectFile"].resource["service.name"] == "sdk-app"
    assert by_name["didPublish"].time_unix_nano == 1_700_000_000_000
    assert by_name["didPublish"].attributes["tags"] == ["a", "b"]
    assert all(r.scope_name == "otel_telemetry" for r in receiver.records)


def test_endpoint_with_an_exporter_is_a_type_error_naming_both() -> None:
    with pytest.raises(TypeError) as raised:
        Telemetry(exporter=InMemoryExporter(), endpoint="http://collector:4318")
    assert "endpoint=" in str(raised.value) and "exporter=" in str(raised.value)
    with pytest.raises(TypeError, match="protocol="):
        OTLPExporter(ExporterSettings(), protocol="grpc")  # settings are complete


class OnlyExport:
    """Implements ``export`` but does not subclass ``Exporter``."""

    def export(self, request: bytes, timeout_s: float) -> ExportResult:
        return ExportResult(True)


@pytest.mark.parametrize("exporter", ["http://collector:4318", OnlyExport()])
def test_exporter_must_be_an_exporter(exporter: Any) -> None:
    with pytest.raises(TelemetryError) as raised:
        Telemetry(exporter=exporter)
    assert raised.value.field == "exporter"
    assert "subclass otel_telemetry.Exporter" in raised.value.rule


def test_the_module_level_functions_take_an_exporter() -> None:
    memory = InMemoryExporter()
    otel_telemetry.configure("module-app", exporter=memory, delivery=FAST)
    try:
        assert otel_telemetry.send("e", {"eventProperties": {"x": 1}})
        assert otel_telemetry.flush(10)
    finally:
        otel_telemetry.shutdown()
    [record] = memory.records
    assert (record.event_name, record.attributes, record.resource["service.name"]) == (
        "e",
        {"x": 1},
        "module-app",
    )


@pytest.mark.parametrize(
    ("service_name", "expected"), [(None, "app-with-otel"), ("explicit", "explicit")], ids=["env", "argument"]
)
def test_a_logger_providers_resource_ranks_above_the_environment_and_below_arguments(
    monkeypatch: pytest.MonkeyPatch, service_name: str | None, expected: str
) -> None:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=growth,tier=env")
    sdk = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource({"service.name": "app-with-otel", "tier": "provider"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(sdk))
    exporter = otel_telemetry.LoggerProviderExporter(provider)
    with Telemetry(service_name, exporter=exporter, delivery=FAST) as t:
        assert t.send("e", {"groupProperties": {"db": "pg"}})
        assert t.flush(10)
    [log] = sdk.get_finished_logs()
    resource = dict(log.resource.attributes)
    assert resource["service.name"] == expected
    assert (resource["tier"], resource["team"], resource["db"]) == ("provider", "growth", "pg")
    assert log.log_record.event_name == "e"
