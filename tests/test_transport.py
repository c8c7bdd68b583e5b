"""The transports (``transport.py``, gRPC and HTTP) against a real receiver: which answers are
retried and after how long (``Retry-After``, gRPC ``RetryInfo``), which are final, and TLS to a
collector with a private CA."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_delivery import FAST, delivery, send_seq, seqs, telemetry
from test_faults import MODES, spool_for

import otel_telemetry
from otel_telemetry import (
    Backoff,
    DeliverySettings,
    OTLPExporter,
    PrivacySettings,
    SpoolSettings,
    Telemetry,
)
from otel_telemetry.receiver import Fault, OTLPReceiver
from otel_telemetry.spool.spool import REJECTED_DIR

# -- retry hints and final answers -------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
@pytest.mark.parametrize("mode", MODES)
def test_retry_after_on_503_then_429_is_honoured_then_all_arrive(
    tmp_path: Path, receiver: OTLPReceiver, protocol: str, mode: dict[str, Any]
) -> None:
    receiver.faults.push(Fault(http_status=503, retry_after="2"))
    receiver.faults.push(Fault(http_status=429, retry_after="1"))
    endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
    spool = spool_for(mode, tmp_path)
    t = Telemetry(
        exporter=OTLPExporter(endpoint=endpoint, protocol=protocol),
        privacy=PrivacySettings(project_id="p"),
        delivery=DeliverySettings(
            schedule_delay_s=FAST.schedule_delay_s,
            backoff=Backoff(0.01, 0.05),  # if the hints were ignored, retries would come at once
            spool=SpoolSettings(spool) if spool else None,
        ),
    )
    try:
        assert all(send_seq(t, 50))
        assert t.flush(30.0)  # a flush does not hurry a wait the collector asked for
    finally:
        t.shutdown(5.0)
    log = receiver.request_log
    outcomes = [entry.outcome for entry in log]
    if protocol == "grpc":
        assert outcomes == ["UNAVAILABLE", "RESOURCE_EXHAUSTED", "OK"]
    else:
        assert outcomes == ["503", "429", "200"]
    assert 1.9 <= log[1].at - log[0].at < 20.0
    assert 0.9 <= log[2].at - log[1].at < 20.0
    assert sorted(seqs(receiver)) == list(range(50))
    assert t.stats().retries == 2


@pytest.mark.parametrize("mode", MODES)
def test_a_permanent_rejection_is_not_retried_and_is_counted(
    tmp_path: Path, receiver: OTLPReceiver, mode: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    receiver.faults.push(Fault(http_status=400, message="bad data"))
    with telemetry(
        receiver.grpc_port,
        delivery=delivery(spool_for(mode, tmp_path), max_export_batch_size=10),
    ) as t:
        assert all(send_seq(t, 10))
        assert not t.flush(10.0)  # the first batch was lost (counted)
        assert all(send_seq(t, 10, start=10))
        assert t.flush(10.0)
        stats = t.stats()
    assert stats.dropped == {"rejected": 10}
    assert [entry.outcome for entry in receiver.request_log] == ["INVALID_ARGUMENT", "OK"]
    assert sorted(seqs(receiver)) == list(range(10, 20))
    assert "rejected" in caplog.text and "bad data" in caplog.text
    if mode.get("spool"):
        kept = list((tmp_path / "spool" / REJECTED_DIR).glob("*.txt"))
        assert len(kept) == 1 and "bad data" in kept[0].read_text()
        assert kept[0].with_suffix(".otlp").stat().st_size > 0


# -- TLS ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and localhost, made by the openssl command."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


@pytest.fixture
def tls_receiver(certificate: tuple[str, str]) -> Iterator[OTLPReceiver]:
    with OTLPReceiver(grpc_port=0, http_port=0, tls=certificate) as rx:
        yield rx


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_the_certificate_variable_lets_events_reach_a_tls_collector(
    tls_receiver: OTLPReceiver, certificate: tuple[str, str], monkeypatch: pytest.MonkeyPatch, protocol: str
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", certificate[0])
    endpoint = tls_receiver.grpc_endpoint if protocol == "grpc" else tls_receiver.http_endpoint
    assert endpoint.startswith("https://")
    with otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint=endpoint, protocol=protocol)
    ) as t:
        assert t.send("didCreateEntry", {"eventProperties": {"secure": True}})
        assert t.flush(10)
    assert tls_receiver.wait_for(1, 5)
    assert tls_receiver.records[0].attributes == {"secure": True}


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_an_untrusted_certificate_is_refused_and_the_event_kept_for_retry(
    tls_receiver: OTLPReceiver, protocol: str, tmp_path: Path
) -> None:
    endpoint = tls_receiver.grpc_endpoint if protocol == "grpc" else tls_receiver.http_endpoint
    t = otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint=endpoint, protocol=protocol),
        delivery=otel_telemetry.DeliverySettings(backoff=otel_telemetry.Backoff(0.05, 0.1)),
    )
    assert t.send("e")
    assert t.flush(1.0) is False  # the system CAs do not trust the self-signed certificate
    assert tls_receiver.records == []
    assert t.stats().retries >= 1
    t.shutdown(0.2)
