"""``otel-telemetry insights trends|breakdown|funnel|retention``: answers from the stored events.

A readable table by default; ``--json`` prints the documented shapes (docs/insights.md).
``--db`` takes the SQLite store, ``chdb:PATH`` or a ClickHouse URL (see ``insights.sources``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import click

from ..insights import InsightsError, breakdown, funnel, open_source, retention, trends
from ..insights.funnel import MAX_WINDOW_S
from ..store import default_db_path

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _common(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--where``, ``--since``, ``--until``, ``--db``, ``--json`` for every insight."""
    for decorator in reversed(
        (
            click.option(
                "-w",
                "--where",
                multiple=True,
                metavar="KEY=VALUE",
                help="Only events whose KEY is (KEY=VALUE) or is not (KEY!=VALUE) VALUE; repeatable. "
                "KEY is a log attribute (model, user.role) or else a resource attribute "
                "(service.version, database).",
            ),
            click.option("--since", metavar="TIME", help="From: an ISO date or time, or 30d, 12h ago."),
            click.option("--until", metavar="TIME", help="Up to (a date: that whole day), or 30d, 12h ago."),
            click.option(
                "--db",
                metavar="DB",
                help="A SQLite store, chdb:PATH, or clickhouse://user:pw@host:8123/db "
                "[default: $OTEL_TELEMETRY_DB, else events.db in the state directory].",
            ),
            click.option("--json", "as_json", is_flag=True, help="The answer as JSON (docs/insights.md)."),
        )
    ):
        function = decorator(function)
    return function


def _answer(
    db: str | None, as_json: bool, ask: Callable[[Any], dict[str, Any]], show: Callable[..., str]
) -> None:
    try:
        with open_source(db or str(default_db_path())) as source:
            answer = ask(source)
    except InsightsError as error:
        raise click.ClickException(str(error)) from None
    except Exception as error:  # a database error: one line, not a traceback
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise click.ClickException(f"the query failed: {first}") from None
    click.echo(json.dumps(answer, ensure_ascii=False) if as_json else show(answer))


def parse_window(text: str) -> float:
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise click.BadParameter(f"expected a duration like 7d, 12h, 30m or seconds, got {text!r}")
    seconds = float(match.group(1)) * _UNIT_S[match.group(2) or "s"]
    if seconds > MAX_WINDOW_S:
        raise click.BadParameter(f"at most {MAX_WINDOW_S // 86400}d (100 years), got {text!r}")
    return seconds


# -- tables ------------------------------------------------------------------------------------


def render(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> str:
    """A text table; columns flagged in ``right`` (numbers) are right-aligned."""
    cells = [list(headers), *(list(row) for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(
            cell.rjust(width) if flag else cell.ljust(width)
            for cell, width, flag in zip(row, widths, right, strict=True)
        ).rstrip()

    out = [line(cells[0]), "  ".join("-" * width for width in widths)]
    out.extend(line(row) for row in cells[1:])
    return "\n".join(out)


def _value(value: Any) -> str:
    return "(none)" if value is None else str(value)


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def _bucket_label(iso: str, interval: str) -> str:
    if interval == "hour":
        return iso[:13].replace("T", " ") + ":00"
    return iso[:7] if interval == "month" else iso[:10]


def show_trends(answer: dict[str, Any], by: str | None) -> str:
    series = answer["series"]
    if not series:
        return "no events match"
    events = {s["event"] for s in series}

    def label(s: dict[str, Any]) -> str:
        if by is None:
            return s["event"] or "all events"
        group = _value(s["group"])
        return group if len(events) == 1 else f"{s['event'] or 'all events'} {group}"

    interval, count = answer["interval"], answer["count"]
    headers = [f"{interval} (UTC)", *(label(s) for s in series)]
    rows = [
        [_bucket_label(point[0], interval), *(str(s["points"][i][1]) for s in series)]
        for i, point in enumerate(series[0]["points"])
    ]
    rows.append(["total", *(str(s["total"]) for s in series)])
    title = f"{count} per {interval}"
    if by:
        title += f" by {by}"
    if len(events) == 1 and by:
        title += f", {next(iter(events)) or 'all events'}"
    if count != "events":
        title += " (total: distinct over the whole range)"
    return title + "\n\n" + render(headers, rows, [False, *([True] * len(series))])


def show_breakdown(answer: dict[str, Any]) -> str:
    if not answer["rows"]:
        return "no events match"
    rows = [[_value(r["value"]), str(r["count"]), _percent(r["share"])] for r in answer["rows"]]
    title = f"{answer['count']} by {answer['key']}"
    return title + "\n\n" + render([answer["key"], answer["count"], "share"], rows, [False, True, True])


def show_funnel(answer: dict[str, Any]) -> str:
    rows = [
        [str(i + 1), s["event"], str(s["count"]), _percent(s["conversion"])]
        for i, s in enumerate(answer["steps"])
    ]
    hours = answer["window_s"] / 3600
    window = f"{hours / 24:g} days" if hours >= 24 else f"{hours:g} hours"
    title = f"funnel per {answer['per']}, within {window} of the first step"
    return (
        title
        + "\n\n"
        + render(["step", "event", f"{answer['per']}s", "conversion"], rows, [True, False, True, True])
    )


def show_retention(answer: dict[str, Any]) -> str:
    cohorts = answer["cohorts"]
    if not cohorts:
        return "no events match"
    period = answer["period"]
    longest = max(len(c["returned"]) for c in cohorts)
    headers = ["cohort", "size", *(f"{period} {i}" for i in range(longest))]
    rows = []
    for cohort in cohorts:
        size = cohort["size"]
        cells = [f"{n} ({n / size * 100:.0f}%)" if size else str(n) for n in cohort["returned"]]
        rows.append([cohort["start"], str(size), *cells, *([""] * (longest - len(cells)))])
    title = f"retention by {period}: cohorts by their first {period}, returning in later {period}s"
    return title + "\n\n" + render(headers, rows, [False, *([True] * (longest + 1))])


# -- commands ----------------------------------------------------------------------------------


@click.group()
def insights() -> None:
    """Answers from the stored events: trends, breakdown, funnel, retention.

    \b
    Examples:
      otel-telemetry insights trends didCreateEntry --interval week --since 30d
      otel-telemetry insights trends --by service.version --count installations
      otel-telemetry insights breakdown database --count installations
      otel-telemetry insights funnel didStart didCreateEntry didPublish --window 7d
      otel-telemetry insights retention --period week --start-event didStart
    """


@insights.command("trends")
@click.argument("events", nargs=-1, metavar="[EVENT]...")
@click.option(
    "--interval",
    default="day",
    show_default=True,
    metavar="hour|day|week|month",
    help="hour, day, week (from Monday) or month (UTC).",
)
@click.option("--by", metavar="KEY", help="One series per value of KEY (top 10, then other).")
@click.option(
    "--count",
    default="events",
    show_default=True,
    metavar="events|installations|users",
    help="events, installations or users.",
)
@_common
def trends_command(
    events: tuple[str, ...],
    interval: str,
    by: str | None,
    count: str,
    where: tuple[str, ...],
    since: str | None,
    until: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Counts per time bucket for EVENTs (every event when none is named)."""
    _answer(
        db,
        as_json,
        lambda src: trends(
            src, events, interval=interval, by=by, count=count, where=where, since=since, until=until
        ),
        lambda answer: show_trends(answer, by),
    )


@insights.command("breakdown")
@click.argument("key")
@click.option(
    "-e", "--event", "events", multiple=True, metavar="EVENT", help="Only these events (repeatable)."
)
@click.option(
    "--count",
    default="events",
    show_default=True,
    metavar="events|installations|users",
    help="events, installations or users.",
)
@_common
def breakdown_command(
    key: str,
    events: tuple[str, ...],
    count: str,
    where: tuple[str, ...],
    since: str | None,
    until: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """The values of KEY and each one's share."""
    _answer(
        db,
        as_json,
        lambda src: breakdown(src, key, events=events, count=count, where=where, since=since, until=until),
        show_breakdown,
    )


@insights.command("funnel")
@click.argument("steps", nargs=-1, required=True, metavar="STEP1 STEP2 [STEP]...")
@click.option(
    "--window",
    default="7d",
    show_default=True,
    metavar="DURATION",
    help="Time from the first step to the last.",
)
@click.option(
    "--per",
    default="installation",
    show_default=True,
    metavar="installation|user",
    help="installation or user.",
)
@_common
def funnel_command(
    steps: tuple[str, ...],
    window: str,
    per: str,
    where: tuple[str, ...],
    since: str | None,
    until: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """How many went through the STEPs in order, and each step's conversion."""
    window_s = parse_window(window)
    _answer(
        db,
        as_json,
        lambda src: funnel(src, steps, window_s=window_s, per=per, where=where, since=since, until=until),
        show_funnel,
    )


@insights.command("retention")
@click.option("--start-event", metavar="EVENT", help="Cohorts by their first EVENT [default: any event].")
@click.option("--return-event", metavar="EVENT", help="Returning means sending EVENT [default: any event].")
@click.option(
    "--period", default="week", show_default=True, metavar="day|week", help="day or week (from Monday), UTC."
)
@click.option(
    "--count",
    default="installations",
    show_default=True,
    metavar="installations|users",
    help="installations or users.",
)
@_common
def retention_command(
    start_event: str | None,
    return_event: str | None,
    period: str,
    count: str,
    where: tuple[str, ...],
    since: str | None,
    until: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Cohorts by the period of their first start event, and how many came back in each later period."""
    _answer(
        db,
        as_json,
        lambda src: retention(
            src,
            start_event=start_event,
            return_event=return_event,
            period=period,
            count=count,
            where=where,
            since=since,
            until=until,
        ),
        show_retention,
    )
