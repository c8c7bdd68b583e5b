"""trends: counts per time bucket, one series per event (and per value of ``by``, top 10 + other).

``{"interval": "day", "count": "events", "series": [{"event": E or null, "group": V or null,
"total": N, "points": [["2026-11-02T00:00:00Z", N], ...]}]}``: every bucket of the range is
present, zeros included; ``total`` is over the whole range (for distinct counts, distinct over the
whole range, not the sum of the points). ``event`` is null when no event was named (every event
counted together); ``group`` is null without ``by`` and for events without the key; the values
past the top 10 are summed in the group ``"other"`` (a real value ``"other"`` joins it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from .selection import COUNTS, Selection, check_choice, rounded
from .sources import GroupKey, Source
from .sql import Builder
from .timerange import INTERVALS, NS, buckets, check_interval, iter_iso

TOP = 10
OTHER = "other"


def _rank_key(item: tuple[Any, float]) -> tuple[float, bool, str]:
    value, measure = item
    return (-measure, value is None, "" if value is None else str(value))


def top_values(rows: Sequence[tuple[Any, ...]], limit: int = TOP) -> tuple[list[str | None], bool]:
    """The ``limit`` values with the largest counts (ties by value; absent last) and whether others remain."""
    ranked = sorted(((row[0], float(row[1] or 0)) for row in rows), key=_rank_key)
    candidates = [value for value, _ in ranked if value != OTHER]
    top = candidates[:limit]
    return top, len(ranked) > len(top)


def _group_case(b: Builder, group: str, top: list[str | None]) -> tuple[str, str]:
    """(the value when it is a top value else NULL, 1 when it is not a top value else 0)."""
    tests = []
    values = [value for value in top if value is not None]
    if values:
        tests.append(b.in_list(group, values))
    if None in top:
        tests.append(f"{group} IS NULL")
    is_top = " OR ".join(tests) or "1 = 0"
    return f"CASE WHEN {is_top} THEN {group} END", f"CASE WHEN {is_top} THEN 0 ELSE 1 END"


def trends(
    src: Source,
    events: Sequence[str] = (),
    *,
    interval: str = "day",
    by: str | None = None,
    count: str = "events",
    where: Sequence[str] = (),
    since: str | date | None = None,
    until: str | date | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Counts per ``interval`` bucket (see the module docstring for the shape)."""
    check_interval("--interval", interval, INTERVALS)
    check_choice("--count", count, COUNTS)
    sel = Selection.parse(events, where, since, until, now)
    b = src.builder()
    if count == "users":
        b.per_record()
    keys = [GroupKey(b.bucket(interval), "bk", nullable=False)]
    if sel.events:
        keys.append(GroupKey(b.name, "n", nullable=False))
    if by:
        keys.append(GroupKey(b.attr(by), "g"))
    if count != "events":
        keys.append(GroupKey(b.actor(count), "a"))
    condition = sel.where(b)
    measure = "SUM(w)" if count == "events" else b.count_distinct("a")
    names = ["n"] if sel.events else []
    with src.grouped(b, keys, condition, weighted=count == "events") as table:
        top: list[str | None] = []
        has_other = False
        groups: list[str] = []
        if by:
            top, has_other = top_values(src.rows(f"SELECT g, {measure} FROM {table} GROUP BY g", b.params))
            groups = list(_group_case(b, "g", top))
        select = ", ".join([*names, *groups])
        group_by = "".join(f", {i + 2}" for i in range(len(names) + len(groups)))
        # The base has one row per (bucket, event, value, installation): within a bucket an
        # installation is counted once unless "other" merges values.
        per_bucket = "COUNT(a)" if count != "events" and not has_other else measure
        rows = src.rows(
            f"SELECT bk, {select + ', ' if select else ''}{per_bucket} FROM {table} GROUP BY 1{group_by}",
            b.params,
        )
        totals: dict[tuple[Any, ...], int] = {}
        if count != "events" and rows:  # distinct over the whole range: not the sum of the buckets
            by_all = ", ".join(str(i + 1) for i in range(len(names) + len(groups)))
            total_rows = src.rows(
                f"SELECT {select + ', ' if select else ''}{measure} FROM {table}"
                f"{' GROUP BY ' + by_all if by_all else ''}",
                b.params,
            )
            totals = {tuple(row[:-1]): rounded(row[-1]) for row in total_rows}
    per_series: dict[tuple[Any, ...], dict[int, float]] = {}
    for row in rows:
        per_series.setdefault(tuple(row[1:-1]), {})[int(row[0])] = float(row[-1] or 0)
    first = min((int(row[0]) for row in rows), default=None)
    starts = buckets(interval, *sel.bounds(None if first is None else first * NS))

    series = []
    event_list: list[str | None] = list(sel.events) if sel.events else [None]
    group_list: list[tuple[str | None, int]] = (
        [(value, 0) for value in top] + ([(None, 1)] if has_other else []) if by else []
    )
    for event in event_list:
        prefix: tuple[Any, ...] = (event,) if sel.events else ()
        combos = [(*prefix, value, other) for value, other in group_list] if by else [prefix]
        for key in combos:
            points = per_series.get(key)
            if by and points is None:
                continue
            points = points or {}
            total = totals.get(key, 0) if count != "events" else rounded(sum(points.values()))
            series.append(
                {
                    "event": event,
                    "group": (OTHER if key[-1] else key[-2]) if by else None,
                    "total": total,
                    "points": [
                        [iso, rounded(points.get(start, 0))]
                        for iso, start in zip(iter_iso(starts), starts, strict=True)
                    ],
                }
            )
    return {"interval": interval, "count": count, "series": series}
