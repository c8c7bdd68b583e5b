"""``otel-telemetry catalog``: check a catalog file, document it, scan code against it, infer one.

Exit codes: 0 when all is well, 1 when the check failed (a broken catalog, code that sends
undeclared events or properties), 2 for a usage error (click's).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .loader import CatalogError, load_catalog
from .model import Catalog

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _load(path: Path) -> Catalog:
    try:
        return load_catalog(path)
    except CatalogError as error:
        for problem in error.problems:
            click.echo(f"{problem}", err=True)
        click.echo(f"{path}: {len(error.problems)} problem(s); see docs/catalog.md for the format", err=True)
        sys.exit(1)
    except (OSError, UnicodeDecodeError) as error:
        raise click.ClickException(f"cannot read {path}: {error}") from None


@click.group()
def catalog() -> None:
    """The event catalog: every event and property declared, validated, documented."""


@catalog.command()
@click.argument("files", nargs=-1, required=True, type=_FILE)
def check(files: tuple[Path, ...]) -> None:
    """Check catalog files; list every problem with its line.

    Exit 0 when every file is valid, 1 otherwise.
    """
    failed = False
    for path in files:
        try:
            loaded = load_catalog(path)
        except CatalogError as error:
            failed = True
            for problem in error.problems:
                click.echo(f"{problem}", err=True)
            click.echo(f"{path}: {len(error.problems)} problem(s)", err=True)
            continue
        except (OSError, UnicodeDecodeError) as error:
            raise click.ClickException(f"cannot read {path}: {error}") from None
        deprecated = sum(1 for event in loaded.events.values() if event.deprecated)
        properties = sum(
            len(props) for event in loaded.events.values() for props in event.properties.values()
        )
        click.echo(
            f"{path}: ok, {len(loaded.events)} events ({deprecated} deprecated), {properties} properties"
        )
    if failed:
        sys.exit(1)


@catalog.command()
@click.argument("file", type=_FILE)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Markdown file to write (default: standard output).",
)
def docs(file: Path, output: Path | None) -> None:
    """Write the Markdown page documenting the catalog FILE."""
    from .docs import render_markdown

    text = render_markdown(_load(file))
    if output is None:
        click.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}", err=True)


@catalog.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--catalog", "catalog_file", required=True, type=_FILE, help="The catalog file.")
@click.option(
    "--allow-unused",
    is_flag=True,
    help="Declared events that no scanned code sends are warnings, not errors.",
)
@click.option("--all-sends", is_flag=True, help="Count every <x>.send('literal', ...) call, whatever <x> is.")
@click.option("--json", "as_json", is_flag=True, help="Print findings as JSON.")
def scan(
    sources: tuple[Path, ...], catalog_file: Path, allow_unused: bool, all_sends: bool, as_json: bool
) -> None:
    """Compare the send() calls in Python code with the catalog.

    Finds send("event", ...) calls in the Python files under SOURCES (parsed with ast).
    Fails (exit 1) on events sent but not declared, literal property keys not declared, required
    properties missing from a literal payload, and declared events never sent (unless
    --allow-unused). Deprecated events and non-literal event names are warnings.
    """
    from .scan import compare, scan_paths

    loaded = _load(catalog_file)
    report = compare(scan_paths(sources, all_sends), loaded, allow_unused=allow_unused)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "files": report.files,
                    "calls": len(report.calls),
                    "unparsable": report.unparsable,
                    "findings": [
                        {"where": f.where, "severity": f.severity, "kind": f.kind, "message": f.message}
                        for f in report.findings
                    ],
                },
                indent=2,
            )
        )
    else:
        for finding in report.findings:
            click.echo(str(finding))
        for problem in report.unparsable:
            click.echo(f"{problem}: warning: not scanned", err=True)
        events = len({call.event for call in report.calls if call.event})
        warnings = len(report.findings) - len(report.errors)
        click.echo(
            f"scanned {report.files} files: {len(report.calls)} send() calls of {events} events; "
            f"{len(report.errors)} error(s), {warnings} warning(s)",
            err=True,
        )
    if report.errors:
        sys.exit(1)


@catalog.command()
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="SQLite events database of `otel-telemetry serve` "
    "[default: $OTEL_TELEMETRY_DB, else the state directory's].",
)
@click.option(
    "--otlp-json",
    "json_files",
    multiple=True,
    type=_FILE,
    help="OTLP/JSON lines file (the collector file exporter's output); repeatable. Used instead of --db.",
)
@click.option(
    "--limit", type=click.IntRange(1), default=1_000_000, show_default=True, help="Most events read."
)
@click.option("--title", default=None, help="Title of the inferred catalog.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="YAML file to write (default: standard output).",
)
def infer(
    db_path: Path | None, json_files: tuple[Path, ...], limit: int, title: str | None, output: Path | None
) -> None:
    """Infer a first catalog from received events.

    Every event and property seen, typed.
    Reads the local event store (what `otel-telemetry serve` received), or OTLP/JSON lines
    files. Descriptions and owners are TODO: edit the result, then `catalog check` it.
    """
    from collections.abc import Iterator
    from itertools import islice

    from .infer import (
        InferError,
        Observation,
        infer_catalog,
        observations_from_otlp_json,
        observations_from_store,
        to_yaml,
    )

    observations: Iterator[Observation]
    if json_files:
        observations = islice(observations_from_otlp_json(json_files), limit)
        origin = ", ".join(str(p) for p in json_files)
    else:
        from ..store import default_db_path

        path = db_path or default_db_path()
        if not path.exists():
            raise click.ClickException(
                f"no events database at {path}. "
                "Run `otel-telemetry serve` first, or pass --db or --otlp-json."
            )
        observations = observations_from_store(path, limit)
        origin = str(path)
    try:
        inferred = infer_catalog(observations, title=title)
    except InferError as error:
        raise click.ClickException(str(error)) from None
    if not inferred.events:
        raise click.ClickException(f"no events (log records with an event name) in {origin}")
    text = to_yaml(
        inferred,
        f"Inferred by `otel-telemetry catalog infer` from {origin}.\n"
        "Fill in every TODO (description, owner), tighten types and allowed values, then run\n"
        "`otel-telemetry catalog check` on this file.",
    )
    if output is None:
        click.echo(text, nl=False)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}: {len(inferred.events)} events", err=True)
