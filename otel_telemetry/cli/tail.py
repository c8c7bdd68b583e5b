"""``otel-telemetry tail``: a local OTLP receiver printing each event as it arrives."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import click
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from ..mapping import to_payload
from ..receiver import ReceivedRecord, iter_records
from ..render import record_line, record_time
from ..store import default_db_path
from .common import db_option, iso_time, setup_logging
from .local import LocalBackend, stop_on_sigterm, wait_for_interrupt
from .options import ports, receiver_options


def record_json(record: ReceivedRecord) -> str:
    """One JSON object: time, protocol and the Strapi payload."""
    payload = to_payload(record.event_name, record.attributes, record.resource)
    data = {"time": iso_time(record_time(record)), "protocol": record.protocol, **payload}
    return json.dumps(data, ensure_ascii=False, default=str)


@click.command()
@receiver_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line instead of text.")
@click.option(
    "--store/--no-store",
    default=False,
    show_default=True,
    help="Also store the events in the SQLite database (see --db).",
)
@db_option
def tail(
    host: str,
    grpc_port: int,
    http_port: int,
    no_grpc: bool,
    no_http: bool,
    as_json: bool,
    store: bool,
    db_path: Path | None,
) -> None:
    """Receive events over OTLP and print one line per event as it arrives.

    Listening addresses go to stderr, events to stdout, so `tail --json | jq` works.
    Stop with Ctrl-C.
    """
    setup_logging()
    stop = stop_on_sigterm()
    broken_pipe = threading.Event()
    grpc, http = ports(grpc_port, http_port, no_grpc, no_http)
    lock = threading.Lock()
    render = record_json if as_json else record_line

    def on_request(protocol: str, request: ExportLogsServiceRequest) -> None:
        lines = [render(record) for record in iter_records(request, protocol)]
        with lock:
            try:
                for line in lines:
                    sys.stdout.write(line + "\n")
                sys.stdout.flush()
            except BrokenPipeError:  # `tail | head`: the reader is gone, so stop
                broken_pipe.set()
                stop.set()

    path = (db_path or default_db_path()) if store else None
    with LocalBackend(host, grpc, http, db_path=path, on_request=on_request, keep_records=False) as backend:
        click.echo("otel-telemetry tail: listening on", err=True)
        for line in backend.describe():
            click.echo(f"  {line}", err=True)
        wait_for_interrupt(stop)
    if broken_pipe.is_set():  # as the Python docs advise: no BrokenPipeError again at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
