"""``otel-telemetry demo``: see events arrive, and an insight, within a minute of ``pip install``.

Starts the receiver in this process on free ports, sends Strapi-style events through the real
OTLP exporter (``Telemetry`` pointed at it) and prints what arrived; then backfills weeks of a
fleet's history (:mod:`.demo_history`, sent with ``send(..., timestamp=...)``) and prints the
version adoption insight over it.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from ..exporters.otlp import OTLPExporter
from ..insights import open_source, trends
from ..render import properties_line
from ..settings import PROTOCOLS, DeliverySettings, ResourceSettings
from ..store import EventQuery, EventStore
from ..telemetry import Telemetry
from .common import setup_logging, table
from .demo_history import INSTALLATIONS, WEEKS, history_end, plan_history, send_history
from .insights import show_trends
from .local import LocalBackend, stop_on_sigterm, wait_for_interrupt

#: The insight the demo prints: version adoption, as `otel-telemetry insights` asks it.
ADOPTION = "otel-telemetry insights trends --by service.version --count installations --interval week"
#: The same question in the web page's Insights view (its state lives in the URL fragment).
ADOPTION_VIEW = "#insights?insight=trends&by=service.version&count=installations&interval=week"

#: (event, payload, user id): what a Strapi-like CMS sends during a short editing session.
DEMO_GROUP = {"projectType": "Community", "useTypescriptOnServer": True, "database": "postgres"}
DEMO_EVENTS: list[tuple[str, dict[str, Any], str | None]] = [
    (
        "didStartServer",
        {"eventProperties": {"startupMs": 1840, "plugins": ["i18n", "upload", "graphql"]}},
        None,
    ),
    ("didSelectFile", {"eventProperties": {"mimeType": "image/png", "sizeKb": 312}}, "editor-17"),
    ("willCreateEntry", {"eventProperties": {"model": "article", "hasDraftAndPublish": True}}, "editor-17"),
    ("didCreateEntry", {"eventProperties": {"model": "article", "hasDraftAndPublish": True}}, "editor-17"),
    ("willCreateEntry", {"eventProperties": {"model": "category", "hasDraftAndPublish": False}}, "editor-17"),
    ("didCreateEntry", {"eventProperties": {"model": "category", "hasDraftAndPublish": False}}, "editor-17"),
    ("didSelectFile", {"eventProperties": {"mimeType": "application/pdf", "sizeKb": 2048}}, "admin-1"),
    ("willCreateEntry", {"eventProperties": {"model": "article", "hasDraftAndPublish": True}}, "admin-1"),
    ("didNotCreateEntry", {"eventProperties": {"model": "article", "error": "ValidationError"}}, "admin-1"),
    (
        "didReceiveRequest",
        {"eventProperties": {"url": "/api/articles", "success": True, "statusCode": 200}},
        None,
    ),
    (
        "didReceiveRequest",
        {"eventProperties": {"url": "/api/articles/7", "success": False, "statusCode": 404}},
        None,
    ),
    ("ping", {}, None),
]


def send_demo_events(telemetry: Telemetry) -> int:
    """Send :data:`DEMO_EVENTS`; returns how many were accepted."""
    accepted = 0
    for name, payload, user_id in DEMO_EVENTS:
        full = {
            **payload,
            "userProperties": {"role": "Editor" if user_id else "system"},
            "groupProperties": DEMO_GROUP,
        }
        accepted += telemetry.send(name, full, user_id=user_id)
    return accepted


def show_history(endpoint: str, protocol: str, store: EventStore) -> None:
    """Backfill the fleet's history through the library, then print version adoption over it."""
    fleet = plan_history(history_end())
    planned = sum(installation.total for installation in fleet)
    before = store.count()
    sent = list(send_history(fleet, endpoint, protocol))
    accepted = sum(count for count, _ in sent)
    # An export is acknowledged only once stored, so every flush that succeeded is in the store.
    if accepted != planned or store.count() != before + planned:
        raise click.ClickException(
            f"only {store.count() - before} of the {planned} history events arrived; "
            "run `otel-telemetry doctor`"
        )
    click.echo(
        f"\n4. Backfilled {WEEKS} weeks of a fleet's history: {accepted} events from {INSTALLATIONS} "
        "installations, sent with send(..., timestamp=...)"
    )
    with open_source(store.path) as src:
        answer = trends(src, interval="week", by="service.version", count="installations")
    click.echo(f"\n5. Version adoption, as `{ADOPTION}` shows it:\n")
    click.echo(show_trends(answer, "service.version"))


@click.command()
@click.option(
    "--protocol",
    type=click.Choice(PROTOCOLS),
    default="http/protobuf",
    show_default=True,
    help="OTLP protocol the demo sends with.",
)
@click.option(
    "--serve",
    "keep_serving",
    is_flag=True,
    help="Afterwards keep the receiver and the web page up until Ctrl-C.",
)
@click.option(
    "--web-port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port of the web page with --serve (0 picks a free one).",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep the demo events in this SQLite file [default: a temporary file].",
)
def demo(protocol: str, keep_serving: bool, web_port: int, db_path: Path | None) -> None:
    """Send example Strapi-style events to a receiver inside this command and show them.

    Nothing leaves this machine: the receiver listens on free 127.0.0.1 ports and the events
    go to a temporary SQLite database.
    """
    setup_logging()
    stop = stop_on_sigterm()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="otel-telemetry-demo-") as tmp:
        path = db_path or Path(tmp) / "events.db"
        with LocalBackend(
            "127.0.0.1", 0, 0, db_path=path, web_port=web_port if keep_serving else None
        ) as backend:
            rx = backend.receiver
            endpoint = rx.grpc_endpoint if protocol == "grpc" else rx.http_endpoint
            click.echo(f"1. Receiver listening on {endpoint} ({protocol})")
            telemetry = Telemetry(
                exporter=OTLPExporter(endpoint=endpoint, protocol=protocol),
                resource=ResourceSettings("demo-cms", service_version="4.15.0", environment="development"),
                delivery=DeliverySettings(schedule_delay_s=0.05, exit_timeout_s=0.0),
            )
            try:
                if telemetry.disabled_reason is not None:
                    raise click.ClickException(
                        f"telemetry is disabled here ({telemetry.disabled_reason}), so the demo has nothing "
                        "to show. The demo only sends to a receiver inside this command; unset it to try."
                    )
                accepted = send_demo_events(telemetry)
                click.echo(f"2. Sent {accepted} events with otel_telemetry.Telemetry.send()")
                exported = telemetry.flush(10.0)
                base = telemetry.base_resource
            finally:
                telemetry.shutdown(0.0)
            if not exported or not rx.wait_for(accepted, 5.0):
                raise click.ClickException(
                    f"only {len(rx.records)} of {accepted} events arrived; "
                    "run `otel-telemetry doctor` or report a bug"
                )
            assert backend.store is not None
            store = backend.store
            counts = store.counts_by_name()
            total = sum(c for _, c, _, _ in counts)
            click.echo(
                f"3. Received and stored {total} events in {path if db_path else 'a temporary database'}:\n"
            )
            click.echo(table(("event", "count"), ((n, str(c)) for n, c, _, _ in counts)))
            [created] = store.events(EventQuery(names=("didCreateEntry",), limit=1))
            click.echo("\nOne event as the Strapi payload it was sent as (otel_telemetry.to_payload):")
            click.echo(json.dumps(created.payload(base), indent=2, ensure_ascii=False))
            click.echo(
                f"(plus {len(base)} resource attributes every event carries: service.name, os.type, ...)"
            )
            line = f"{created.event_name}  {properties_line(created.payload())}"
            click.echo(f"\nAs a line of `otel-telemetry tail`:  {line}")
            show_history(endpoint, protocol, store)
            click.echo(f"\nDone in {time.monotonic() - started:.2f}s. Next:")
            click.echo(
                "  otel-telemetry demo --serve       # the same, then its events and insights on a web page"
            )
            click.echo(
                "  otel-telemetry serve              # receive your app's events on :4317/:4318, "
                "web page on :8321"
            )
            click.echo(
                "  python -c \"import otel_telemetry as t; t.send('hello', {'eventProperties': "
                "{'from': 'python'}}); t.flush()\""
            )
            if keep_serving and backend.web is not None:
                click.echo(f"\nWeb page: {backend.web.url}  (Ctrl-C to stop)")
                click.echo(f"The version adoption above, as a chart: {backend.web.url}{ADOPTION_VIEW}")
                wait_for_interrupt(stop)
