"""``--name``, ``--where``, ``--since``, ``--until`` for the commands that query the store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..errors import TelemetryError
from ..store import EventQuery, parse_property_filter
from .common import parse_time


def filter_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Adds the four filter options."""
    for decorator in reversed(
        (
            click.option(
                "-n",
                "--name",
                "names",
                multiple=True,
                metavar="EVENT",
                help="Only this event name (repeatable: any of them).",
            ),
            click.option(
                "-w",
                "--where",
                "where",
                multiple=True,
                metavar="KEY=VALUE",
                help="Only events with this property (repeatable: all of them). KEY is as stored: "
                "an event property, user.KEY, or a group/resource attribute; KEY alone "
                "means the property is present.",
            ),
            click.option("--since", metavar="TIME", help="From this time: 15m, 2h, 7d ago, or an ISO time."),
            click.option(
                "--until", metavar="TIME", help="Before this time: 15m, 2h, 7d ago, or an ISO time."
            ),
        )
    ):
        function = decorator(function)
    return function


def build_query(
    names: tuple[str, ...], where: tuple[str, ...], since: str | None, until: str | None, limit: int = 100
) -> EventQuery:
    """The store query for the filter options."""
    try:
        properties = tuple(parse_property_filter(text) for text in where)
    except TelemetryError as error:
        raise click.BadParameter(str(error), param_hint="--where") from None
    return EventQuery(
        names=names,
        properties=properties,
        since_ns=parse_time("--since", since),
        until_ns=parse_time("--until", until),
        limit=limit,
    )
