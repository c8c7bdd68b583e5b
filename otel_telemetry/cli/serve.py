"""``otel-telemetry serve``: a local OTLP receiver that stores events in SQLite and shows them."""

from __future__ import annotations

from pathlib import Path

import click

from ..store import default_db_path
from .common import db_option, setup_logging
from .local import LocalBackend, stop_on_sigterm, wait_for_interrupt
from .options import DEFAULT_WEB_PORT, ports, receiver_options


@click.command()
@receiver_options
@db_option
@click.option(
    "--web-port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_WEB_PORT,
    show_default=True,
    help="Port of the events web page (0 picks a free one).",
)
@click.option(
    "--web-host",
    default="127.0.0.1",
    show_default=True,
    help="Address of the web page; it has no authentication, so it stays local unless you say so.",
)
@click.option(
    "--web-allow-host",
    "web_allow_hosts",
    multiple=True,
    metavar="NAME",
    help="Also answer the web page under this host name (repeatable; '*' for any). Only local names "
    "and --web-host are answered otherwise, which keeps hostile pages out (DNS rebinding).",
)
@click.option("--no-web", is_flag=True, help="Store events but do not serve the web page.")
def serve(
    host: str,
    grpc_port: int,
    http_port: int,
    no_grpc: bool,
    no_http: bool,
    db_path: Path | None,
    web_port: int,
    web_host: str,
    web_allow_hosts: tuple[str, ...],
    no_web: bool,
) -> None:
    """Receive events over OTLP, store them in SQLite and show them on a web page.

    Point an app at it with OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 (the
    default endpoint, so usually nothing to set). Query the database later with
    `otel-telemetry events`, `stats` and `insights`. `--db chdb:DIR` stores into chDB
    (ClickHouse in-process, the production table; needs the [clickhouse] extra) instead of
    SQLite; the web page reads SQLite stores only. Stop with Ctrl-C.
    """
    setup_logging()
    stop = stop_on_sigterm()
    grpc, http = ports(grpc_port, http_port, no_grpc, no_http)
    path = db_path or default_db_path()
    with LocalBackend(
        host,
        grpc,
        http,
        db_path=path,
        web_port=None if no_web else web_port,
        web_host=web_host,
        web_allow_hosts=web_allow_hosts,
        keep_records=False,
    ) as backend:
        click.echo("otel-telemetry is receiving events:", err=True)
        for line in backend.describe():
            click.echo(f"  {line}", err=True)
        click.echo("Press Ctrl-C to stop.", err=True)
        wait_for_interrupt(stop)
    click.echo("stopped", err=True)
