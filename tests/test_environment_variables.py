"""Every standard OpenTelemetry variable the exporter, queue and resource honour, end to end."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import otel_telemetry
from otel_telemetry import DeliverySettings, ExporterSettings
from otel_telemetry.receiver import Fault, OTLPReceiver


def _send_one(**options: object) -> otel_telemetry.Telemetry:
    t = otel_telemetry.Telemetry(**options)  # type: ignore[arg-type]
    assert t.send("didCreateEntry", {"eventProperties": {"model": "article"}})
    assert t.flush(10)
    t.shutdown(5)
    return t


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf", "http/json"])
def test_protocol_and_base_endpoint_come_from_the_generic_variables(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch, protocol: str
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    base = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", base)
    t = _send_one()
    assert receiver.wait_for(1, 5)
    assert receiver.records[0].protocol == protocol
    expected = base if protocol == "grpc" else base + "/v1/logs"
    assert t.exporter.settings.endpoint == expected


def test_logs_specific_variables_win_over_generic_ones(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")  # nothing listens there
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", receiver.http_endpoint + "/v1/logs")
    _send_one()
    assert receiver.wait_for(1, 5)
    assert receiver.records[0].protocol == "http/protobuf"


def test_logs_endpoint_is_used_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://collector:9999/custom/path")
    assert ExporterSettings.from_env().endpoint == "http://collector:9999/custom/path"


def test_defaults_follow_the_otlp_specification() -> None:
    http = ExporterSettings.from_env({})
    assert (http.protocol, http.endpoint, http.timeout_s, http.compression) == (
        "http/protobuf",
        "http://localhost:4318/v1/logs",
        10.0,
        "none",
    )
    assert ExporterSettings.from_env({}, protocol="grpc").endpoint == "http://localhost:4317"
    assert ExporterSettings() == http


@pytest.mark.parametrize("compression", ["gzip", "deflate"])
def test_compression_variable_compresses_http_requests(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch, compression: str
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", compression)
    _send_one(exporter=otel_telemetry.OTLPExporter(endpoint=receiver.http_endpoint, protocol="http/protobuf"))
    assert receiver.wait_for(1, 5)
    assert receiver.request_headers[0]["content-encoding"] == compression


def test_gzip_compression_over_grpc_is_delivered(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "gzip")
    t = _send_one(exporter=otel_telemetry.OTLPExporter(endpoint=receiver.grpc_endpoint, protocol="grpc"))
    assert receiver.wait_for(1, 5)
    # grpcio decompresses below the servicer and does not expose grpc-encoding to it.
    assert t.exporter.settings.compression == "gzip"


def test_timeout_is_in_milliseconds_and_a_hung_attempt_is_retried(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "300")
    receiver.faults.push(Fault(hang_s=5))
    t = otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint=receiver.http_endpoint, protocol="http/protobuf"),
        delivery=DeliverySettings(backoff=otel_telemetry.Backoff(0.05, 0.1)),
    )
    assert t.exporter.settings.timeout_s == pytest.approx(0.3)
    assert t.send("e")
    assert t.flush(10)
    t.shutdown(1)
    assert receiver.wait_for(1, 5)
    assert t.stats().retries >= 1


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_headers_variables_reach_the_collector(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch, protocol: str
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20abc,x-tenant=acme")
    endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
    _send_one(
        exporter=otel_telemetry.OTLPExporter(endpoint=endpoint, protocol=protocol, headers={"X-Extra": "yes"})
    )
    [headers] = receiver.request_headers
    assert headers["authorization"] == "Bearer abc"
    assert headers["x-tenant"] == "acme"
    assert headers["x-extra"] == "yes"


def test_headers_variables_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20abc,x-tenant=acme")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "x-logs=1")
    settings = ExporterSettings.from_env(headers={"X-Extra": "yes"})
    assert settings.headers == {"x-logs": "1", "x-extra": "yes"}  # logs-specific replaces generic
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_LOGS_HEADERS")
    assert ExporterSettings.from_env().headers == {"authorization": "Bearer abc", "x-tenant": "acme"}


def test_tls_file_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "key", "cert")}
    for path in files.values():
        path.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(files["ca"]))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY", str(files["key"]))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", str(files["cert"]))
    s = ExporterSettings.from_env(endpoint="https://collector:4318")
    assert (s.certificate_file, s.client_key_file, s.client_certificate_file) == (
        str(files["ca"]),
        str(files["key"]),
        str(files["cert"]),
    )
    assert s.secure and s.config_error is None


@pytest.mark.parametrize(
    ("endpoint", "insecure_env", "expected"),
    [
        ("http://c:4317", None, True),
        ("https://c:4317", "true", False),
        ("c:4317", None, False),
        ("c:4317", "true", True),
    ],
)
def test_grpc_insecure_follows_the_scheme_then_the_variable(
    monkeypatch: pytest.MonkeyPatch, endpoint: str, insecure_env: str | None, expected: bool
) -> None:
    if insecure_env:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_INSECURE", insecure_env)
    assert ExporterSettings.from_env(protocol="grpc", endpoint=endpoint).secure is not expected


def test_batch_processor_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_BLRP_MAX_QUEUE_SIZE", "100")
    monkeypatch.setenv("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "10")
    monkeypatch.setenv("OTEL_BLRP_SCHEDULE_DELAY", "250")
    monkeypatch.setenv("OTEL_BLRP_EXPORT_TIMEOUT", "2000")
    d = DeliverySettings.from_env()
    assert (d.max_queue_size, d.max_export_batch_size, d.schedule_delay_s, d.export_timeout_s) == (
        100,
        10,
        0.25,
        2.0,
    )


def test_max_export_batch_size_splits_requests(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "3")
    with otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint=receiver.grpc_endpoint, protocol="grpc")
    ) as t:
        for i in range(7):
            t.send("e", {"eventProperties": {"i": i}})
        assert t.flush(10)
    sizes = [
        sum(len(s.log_records) for rl in r.resource_logs for s in rl.scope_logs) for r in receiver.requests
    ]
    assert sum(sizes) == 7 and max(sizes) <= 3


def test_schedule_delay_exports_without_a_flush(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_BLRP_SCHEDULE_DELAY", "50")
    t = otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint=receiver.grpc_endpoint, protocol="grpc")
    )
    t.send("e")
    assert receiver.wait_for(1, 10)  # no flush() call: the worker exported on its schedule
    t.shutdown(1)


def test_max_queue_size_refuses_and_counts_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_BLRP_MAX_QUEUE_SIZE", "5")
    monkeypatch.setenv("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "5")
    monkeypatch.setenv("OTEL_BLRP_SCHEDULE_DELAY", "60000")
    t = otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint="http://127.0.0.1:1", protocol="http/protobuf")
    )
    results = [t.send("e") for _ in range(20)]
    # At most one batch in flight (being retried against the dead endpoint) plus a full queue.
    assert 5 <= results.count(True) <= 10
    assert t.stats().dropped["queue_full"] == results.count(False)
    t.shutdown(0.2)


def test_service_name_and_resource_attributes_variables(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=growth,deployment.environment.name=prod")
    _send_one(exporter=otel_telemetry.OTLPExporter(endpoint=receiver.grpc_endpoint, protocol="grpc"))
    assert receiver.wait_for(1, 5)
    resource = receiver.records[0].resource
    assert resource["service.name"] == "from-env"
    assert resource["team"] == "growth"
    assert resource["deployment.environment.name"] == "prod"


def test_explicit_service_name_wins_over_the_variable(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    _send_one(
        exporter=otel_telemetry.OTLPExporter(endpoint=receiver.grpc_endpoint, protocol="grpc"),
        service_name="explicit",
    )
    assert receiver.wait_for(1, 5)
    assert receiver.records[0].resource["service.name"] == "explicit"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd-ish"),
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "-3"),
        ("OTEL_BLRP_SCHEDULE_DELAY", "x"),
    ],
)
def test_a_malformed_variable_is_logged_and_replaced_by_its_default(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with caplog.at_level(logging.WARNING, logger="otel_telemetry"):
        t = otel_telemetry.Telemetry()
    assert any(name in r.message and "ignoring" in r.message for r in caplog.records)
    assert t.send("e") is True
    t.shutdown(0.1)


def test_a_malformed_argument_raises_a_clear_error() -> None:
    with pytest.raises(otel_telemetry.TelemetryError, match="protocol: must be one of"):
        otel_telemetry.Telemetry(exporter=otel_telemetry.OTLPExporter(protocol="smtp"))
    with pytest.raises(otel_telemetry.TelemetryError, match="max_queue_size"):
        DeliverySettings(max_queue_size=0)
