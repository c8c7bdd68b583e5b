"""``otel-telemetry events``: query the stored events."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..render import properties_line
from .common import db_option, echo_json_lines, iso_time, open_existing_store, table
from .filters import build_query, filter_options


@click.command()
@filter_options
@click.option(
    "-l",
    "--limit",
    type=click.IntRange(1, 1_000_000),
    default=50,
    show_default=True,
    help="At most this many events (the newest).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object per line: id, time, protocol, the Strapi payload and the OTel record.",
)
@click.option("--payload", "as_payload", is_flag=True, help="Print each event as its Strapi payload (JSON).")
@db_option
def events(
    names: tuple[str, ...],
    where: tuple[str, ...],
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
    as_payload: bool,
    db_path: Path | None,
) -> None:
    """List stored events, newest first.

    \b
    Examples:
      otel-telemetry events --name didCreateEntry --since 1h
      otel-telemetry events --where model=article --where user.plan=pro --json
    """
    query = build_query(names, where, since, until, limit)
    store = open_existing_store(db_path)
    try:
        found = store.events(query)
    finally:
        store.close()
    if as_json:
        echo_json_lines(
            {
                "id": e.id,
                "time": iso_time(e.time_unix_nano),
                "protocol": e.protocol,
                **e.payload(),
                "record": e.record(),
            }
            for e in found
        )
    elif as_payload:
        for e in found:
            click.echo(json.dumps(e.payload(), indent=2, ensure_ascii=False))
    elif not found:
        click.echo("no events match", err=True)
    else:
        rows = [
            (
                str(e.id),
                iso_time(e.time_unix_nano),
                e.event_name,
                e.service_name or "",
                properties_line(e.payload()),
            )
            for e in found
        ]
        click.echo(table(("id", "time (UTC)", "event", "service", "properties"), rows))
