"""``otel-telemetry send EVENT``: one event from a shell script or CI job, through the library."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ..errors import TelemetryError
from ..exporters.otlp import OTLPExporter
from ..settings import PROTOCOLS, DeliverySettings
from ..telemetry import Telemetry
from .common import key_values, setup_logging

PAYLOAD_KEYS = ("eventProperties", "userProperties", "groupProperties")


def _payload(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    raw = sys.stdin.read() if text == "-" else text
    try:
        payload = json.loads(raw)
    except ValueError as error:
        raise click.BadParameter(f"not valid JSON: {error}", param_hint="--json") from None
    if not isinstance(payload, dict):
        raise click.BadParameter('must be a JSON object like {"eventProperties": {...}}', param_hint="--json")
    unknown = set(payload) - set(PAYLOAD_KEYS)
    if unknown:
        raise click.BadParameter(
            f"unknown key(s) {', '.join(sorted(unknown))}; expected {', '.join(PAYLOAD_KEYS)}",
            param_hint="--json",
        )
    return payload


@click.command()
@click.argument("event")
@click.option(
    "-e",
    "--event-property",
    "event_props",
    multiple=True,
    metavar="KEY=VALUE",
    help="An event property (repeatable). Numbers, true/false are typed; the rest are strings.",
)
@click.option(
    "-u",
    "--user-property",
    "user_props",
    multiple=True,
    metavar="KEY=VALUE",
    help="A user property (repeatable); sent as the attribute user.KEY.",
)
@click.option(
    "-g",
    "--group-property",
    "group_props",
    multiple=True,
    metavar="KEY=VALUE",
    help="A group property (repeatable); sent as a resource attribute.",
)
@click.option(
    "--json",
    "payload_json",
    metavar="PAYLOAD",
    help='A Strapi payload: {"eventProperties": {...}, "userProperties": {...}, '
    '"groupProperties": {...}}; "-" reads it from stdin. -e/-u/-g are merged over it.',
)
@click.option("--user-id", help="A user id; only its salted SHA-256 is sent (user.hash).")
@click.option("--endpoint", help="Override OTEL_EXPORTER_OTLP_ENDPOINT.")
@click.option("--protocol", type=click.Choice(PROTOCOLS), help="Override OTEL_EXPORTER_OTLP_PROTOCOL.")
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds to wait for the export.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
def send(
    event: str,
    event_props: tuple[str, ...],
    user_props: tuple[str, ...],
    group_props: tuple[str, ...],
    payload_json: str | None,
    user_id: str | None,
    endpoint: str | None,
    protocol: str | None,
    timeout_s: float,
    quiet: bool,
) -> None:
    """Send one EVENT and wait until it is exported.

    Configuration comes from the same environment variables as send() in an app
    (OTEL_EXPORTER_OTLP_*, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, ...).
    Exit status 0 means the collector accepted the event (or telemetry is disabled,
    e.g. by DO_NOT_TRACK=1); 1 means it was not exported.

    \b
    Example:
      otel-telemetry send didDeploy -e target=prod -e durationMs=5400 -g ci.provider=github
    """
    setup_logging()
    payload = _payload(payload_json)
    for key, pairs, option in (
        ("eventProperties", event_props, "-e"),
        ("userProperties", user_props, "-u"),
        ("groupProperties", group_props, "-g"),
    ):
        if pairs:
            merged = dict(payload.get(key) or {})
            merged.update(key_values(option, pairs))
            payload[key] = merged
    try:
        telemetry = Telemetry(
            exporter=OTLPExporter(endpoint=endpoint, protocol=protocol),
            strict=True,
            delivery=DeliverySettings(exit_timeout_s=0.0),
        )
    except TelemetryError as error:
        raise click.ClickException(str(error)) from None
    if telemetry.config_error is not None:
        telemetry.shutdown(0.0)
        raise click.ClickException(f"configuration error: {telemetry.config_error}")
    assert isinstance(telemetry.exporter, OTLPExporter)
    settings = telemetry.exporter.settings
    try:
        if telemetry.disabled_reason is not None:
            click.echo(f"telemetry is disabled ({telemetry.disabled_reason}): nothing sent", err=True)
            return
        try:
            accepted = telemetry.send(event, payload or None, user_id=user_id)
        except TelemetryError as error:
            raise click.ClickException(f"invalid event: {error}") from None
        if not accepted:
            dropped = telemetry.stats().dropped
            raise click.ClickException(
                f"event {event!r} was dropped: {', '.join(dropped) or 'unknown reason'}"
            )
        if not telemetry.flush(timeout_s):
            raise click.ClickException(
                f"event {event!r} was not exported to {settings.endpoint} ({settings.protocol}) "
                f"within {timeout_s:g}s. Check the endpoint with `otel-telemetry doctor`."
            )
    finally:
        telemetry.shutdown(0.0)
    if not quiet:
        click.echo(f"sent {event} to {settings.endpoint} ({settings.protocol})", err=True)
