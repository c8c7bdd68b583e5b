"""A click command-line tool whose users see and control its telemetry.

    python examples/cli_consent.py run build          # sends one event (the notice comes first, once)
    python examples/cli_consent.py telemetry status   # on or off and why, what is collected, where it goes
    python examples/cli_consent.py telemetry disable  # stored; running copies stop within ~2 s
    python examples/cli_consent.py telemetry enable
    python examples/cli_consent.py telemetry show --last 5
    python examples/cli_consent.py telemetry reset    # a new installation id

Where events go comes from the standard variables (OTEL_EXPORTER_OTLP_ENDPOINT, ..._PROTOCOL);
the users' choice is stored in the state directory (OTEL_TELEMETRY_STATE_DIR, else
~/.local/state/otel-telemetry). A typer app adds the group the same way:
`typer.main.get_command(app).add_command(consent.click_group(APP))`.
"""

import time

import click

from otel_telemetry import (
    DefaultProperties,
    PrivacySettings,
    RecordSettings,
    SamplingSettings,
    Telemetry,
    consent,
)

APP = "acme-cli"
NOTICE = (
    "acme-cli collects anonymous usage data (which commands run, never file names or contents) "
    "to improve the tool.\nSee what is collected: acme-cli telemetry status; "
    "turn it off: acme-cli telemetry disable (or set DO_NOT_TRACK=1)."
)

telemetry = Telemetry(
    APP,
    # from_env(...): these fields over the environment's (OTEL_TELEMETRY_DISABLE_DEFAULTS still counts)
    privacy=PrivacySettings.from_env(notice=NOTICE, opted_out_event="didDisableTelemetry", sent_log=100),
    records=RecordSettings.from_env(
        # one request event in ten is enough; the server's start and stop are always sent
        sampling=SamplingSettings(sample_rates={"didReceiveRequest": 0.1}, lifecycle={"didStartServer"}),
        default_properties=DefaultProperties(event={"cliVersion": "1.4.0"}),
    ),
)


@click.group()
def cli() -> None:
    """acme-cli: an example tool."""


cli.add_command(consent.click_group(APP, telemetry=telemetry))


@cli.command()
@click.argument("task", default="build")
def run(task: str) -> None:
    """Run a task (and send one event about it)."""
    telemetry.send("didRunCommand", {"eventProperties": {"task": task}})
    click.echo(f"ran {task}")


@cli.command()
@click.option("--seconds", default=30.0, help="How long to serve.")
@click.option("--interval", default=0.05, help="Seconds between two jobs.")
def serve(seconds: float, interval: float) -> None:
    """A long-running process: one job and one request event per interval."""
    telemetry.send("didStartServer")
    click.echo("serving", err=True)
    end = time.monotonic() + seconds
    job = 0
    while time.monotonic() < end:
        job += 1
        telemetry.send("didProcessJob", {"eventProperties": {"job": job}})
        telemetry.send("didReceiveRequest", {"eventProperties": {"path": "/"}})
        time.sleep(interval)
    stats = telemetry.stats()
    click.echo(f"jobs={job} exported={stats.exported} dropped={stats.dropped} sampled={stats.sampled_out}")


if __name__ == "__main__":
    cli()
