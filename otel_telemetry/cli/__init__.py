"""The ``otel-telemetry`` command line: send, serve, tail, events, stats, demo, doctor, catalog.

Each command lives in its own module and is added to :data:`main` here. Other command groups
(the event catalog's ``catalog``) are added with ``main.add_command(group)`` below.
"""

from __future__ import annotations

import click

from ..catalog.cli import catalog
from ..version import __version__
from .demo import demo
from .doctor import doctor
from .events import events
from .insights import insights
from .send import send
from .serve import serve
from .stats import stats
from .tail import tail


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    invoke_without_command=True,
)
@click.version_option(__version__, prog_name="otel-telemetry")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Product telemetry for Python apps, over OpenTelemetry.

    Start with `otel-telemetry demo`: it sends example events to a receiver inside the
    command and shows what arrived.
    """
    if ctx.invoked_subcommand is None:  # a bare `otel-telemetry` is a request for help
        click.echo(ctx.get_help())


for _command in (send, serve, tail, events, stats, insights, demo, doctor, catalog):
    main.add_command(_command)

__all__ = ["main"]
