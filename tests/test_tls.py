"""TLS: OTEL_EXPORTER_OTLP_CERTIFICATE makes both transports trust a collector's private CA."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import otel_telemetry
from otel_telemetry.receiver import OTLPReceiver

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


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
    with otel_telemetry.Telemetry(endpoint=endpoint, protocol=protocol) as t:
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
        endpoint=endpoint,
        protocol=protocol,
        delivery=otel_telemetry.DeliverySettings(backoff=otel_telemetry.Backoff(0.05, 0.1)),
    )
    assert t.send("e")
    assert t.flush(1.0) is False  # the system CAs do not trust the self-signed certificate
    assert tls_receiver.records == []
    assert t.stats().retries >= 1
    t.shutdown(0.2)
