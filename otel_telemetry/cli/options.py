"""Click options shared by the commands that run a local receiver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

DEFAULT_GRPC_PORT = 4317
DEFAULT_HTTP_PORT = 4318
DEFAULT_WEB_PORT = 8321


def receiver_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--host``, ``--grpc-port``, ``--http-port``, ``--no-grpc``, ``--no-http``."""
    for decorator in reversed(
        (
            click.option(
                "--host",
                default="127.0.0.1",
                show_default=True,
                help="Address to listen on (0.0.0.0 to accept other machines).",
            ),
            click.option(
                "--grpc-port",
                type=click.IntRange(0, 65535),
                default=DEFAULT_GRPC_PORT,
                show_default=True,
                help="OTLP/gRPC port (0 picks a free one).",
            ),
            click.option(
                "--http-port",
                type=click.IntRange(0, 65535),
                default=DEFAULT_HTTP_PORT,
                show_default=True,
                help="OTLP/HTTP port, protobuf and JSON (0 picks a free one).",
            ),
            click.option("--no-grpc", is_flag=True, help="Do not listen for OTLP/gRPC."),
            click.option("--no-http", is_flag=True, help="Do not listen for OTLP/HTTP."),
        )
    ):
        function = decorator(function)
    return function


def ports(grpc_port: int, http_port: int, no_grpc: bool, no_http: bool) -> tuple[int | None, int | None]:
    """The ports to pass to the receiver (None = that protocol is off)."""
    if no_grpc and no_http:
        raise click.UsageError("--no-grpc and --no-http together leave nothing to listen on")
    return (None if no_grpc else grpc_port), (None if no_http else http_port)
