"""``otel-telemetry stats``: counts per event name (optionally per time bucket) from the store."""

from __future__ import annotations

from pathlib import Path

import click

from .common import db_option, echo_json_lines, iso_time, open_existing_store, parse_duration, table
from .filters import build_query, filter_options


@click.command()
@filter_options
@click.option(
    "--bucket", metavar="DURATION", help="Also count per time bucket of this size: 10s, 1m, 1h, 1d."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@db_option
def stats(
    names: tuple[str, ...],
    where: tuple[str, ...],
    since: str | None,
    until: str | None,
    bucket: str | None,
    as_json: bool,
    db_path: Path | None,
) -> None:
    """Count stored events per event name (and per time bucket with --bucket).

    \b
    Examples:
      otel-telemetry stats --since 7d
      otel-telemetry stats --name didReceiveRequest --bucket 1h --json
    """
    query = build_query(names, where, since, until)
    bucket_s = parse_duration("--bucket", bucket) if bucket else None
    store = open_existing_store(db_path)
    try:
        if bucket_s is None:
            counts = store.counts_by_name(query)
            series = []
        else:
            counts = []
            series = store.counts_over_time(bucket_s, query)
    finally:
        store.close()
    if bucket_s is None:
        if as_json:
            echo_json_lines(
                {"event": n, "count": c, "first": iso_time(first), "last": iso_time(last)}
                for n, c, first, last in counts
            )
        elif not counts:
            click.echo("no events match", err=True)
        else:
            click.echo(
                table(
                    ("event", "count", "first (UTC)", "last (UTC)"),
                    ((n, str(c), iso_time(first), iso_time(last)) for n, c, first, last in counts),
                )
            )
            click.echo(f"\n{sum(c for _, c, _, _ in counts)} events, {len(counts)} names")
    elif as_json:
        echo_json_lines({"bucket": iso_time(b), "event": n, "count": c} for b, n, c in series)
    elif not series:
        click.echo("no events match", err=True)
    else:
        click.echo(
            table(("bucket (UTC)", "event", "count"), ((iso_time(b), n, str(c)) for b, n, c in series))
        )
