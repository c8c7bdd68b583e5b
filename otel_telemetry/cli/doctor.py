"""``otel-telemetry doctor``: where will events go, and does that endpoint answer OTLP?"""

from __future__ import annotations

import json
from typing import Any

import click

from ..errors import TelemetryError
from ..exporters.base import ExportResult
from ..exporters.otlp import OTLPExporter
from ..settings import DeliverySettings
from ..telemetry import Telemetry
from ..transport import make_transport
from ..traps import find_traps
from .common import setup_logging

SECRET_HINTS = ("auth", "key", "token", "secret", "password", "cookie")


def redact(headers: dict[str, str]) -> dict[str, str]:
    """Header values that look like credentials are shown as ``***``."""
    return {k: "***" if any(hint in k.lower() for hint in SECRET_HINTS) else v for k, v in headers.items()}


@click.command()
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds to wait for the endpoint.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as one JSON object.")
def doctor(timeout_s: float, as_json: bool) -> None:
    """Show the configuration send() would use and check that the endpoint answers OTLP.

    Reads the same environment variables as an app does, then sends an empty OTLP logs
    export request to the endpoint. Exit status 0 when events would be delivered; 1 when
    the endpoint does not accept OTLP logs or telemetry is disabled.
    """
    setup_logging()
    try:
        telemetry = Telemetry(delivery=DeliverySettings(exit_timeout_s=0.0))
    except TelemetryError as error:
        raise click.ClickException(f"invalid configuration: {error}") from None
    try:
        assert isinstance(telemetry.exporter, OTLPExporter)
        settings = telemetry.exporter.settings
        resource = telemetry.base_resource
    finally:
        telemetry.shutdown(0.0)
    findings: dict[str, Any] = {
        "disabled": telemetry.disabled_reason,
        "protocol": settings.protocol,
        "endpoint": settings.endpoint,
        "headers": redact(dict(settings.headers)),
        "timeout_s": settings.timeout_s,
        "compression": settings.compression,
        "insecure": not settings.secure,
        "service.name": resource.get("service.name"),
        "config_error": settings.config_error,
    }
    if settings.config_error is not None:
        outcome = ExportResult(False, error=f"configuration error: {settings.config_error}")
    else:
        transport = make_transport(settings)
        try:
            outcome = transport.send(b"", timeout_s)  # an empty ExportLogsServiceRequest
        finally:
            transport.close()
    traps = find_traps(protocol=settings.protocol)
    findings["traps"] = [{"name": t.name, "message": t.message, "action": t.action} for t in traps]
    findings["reachable"] = outcome.ok
    findings["error"] = outcome.error or None
    healthy = outcome.ok and telemetry.disabled_reason is None
    if as_json:
        click.echo(json.dumps(findings, default=str))
    else:
        if telemetry.disabled_reason:
            click.echo(f"✗ telemetry is disabled by {telemetry.disabled_reason}: send() sends nothing")
        else:
            click.echo("✓ telemetry is enabled")
        click.echo(f"  events go to  {settings.endpoint}  over {settings.protocol}")
        click.echo(f"  service.name  {findings['service.name']}")
        click.echo(
            f"  timeout {settings.timeout_s:g}s, compression {settings.compression}"
            + (f", headers {', '.join(findings['headers'])}" if settings.headers else "")
        )
        if settings.config_error is not None:
            click.echo(f"✗ configuration error: {settings.config_error}")
        elif outcome.ok:
            click.echo(f"✓ {settings.endpoint} accepted an empty OTLP logs request")
        else:
            click.echo(f"✗ {settings.endpoint} did not accept an OTLP logs request: {outcome.error}")
            click.echo(
                "  Is a collector running there? For a local one: `otel-telemetry serve`. "
                "Set OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_PROTOCOL to change where events go."
            )
    for trap in [] if as_json else traps:  # process-model traps (docs/processes.md)
        click.echo(f"{'!' if trap.action else 'i'} {trap.message}")
    if not healthy:
        raise SystemExit(1)
