"""breakdown KEY: the distribution of a property's values, with each value's share.

``{"key": K, "count": C, "rows": [{"value": V, "count": N, "share": 0.42}, ...]}``, largest
first (ties by value; events without the key, ``value`` null, last among equals). ``share`` is
the value's count over the count of all the selected events (for distinct counts: over the
distinct installations or users of the selection, so shares can add up to more than 1 when an
installation had several values).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from .selection import COUNTS, Selection, check_choice, rounded, share
from .sources import GroupKey, Source


def breakdown(
    src: Source,
    key: str,
    *,
    events: Sequence[str] = (),
    count: str = "events",
    where: Sequence[str] = (),
    since: str | date | None = None,
    until: str | date | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The values of ``key`` among the selected events (see the module docstring for the shape)."""
    check_choice("--count", count, COUNTS)
    sel = Selection.parse(events, where, since, until, now)
    b = src.builder()
    if count == "users":
        b.per_record()
    keys = [GroupKey(b.attr(key), "v")] + ([GroupKey(b.actor(count), "a")] if count != "events" else [])
    condition = sel.where(b)
    measure = "SUM(w)" if count == "events" else b.count_distinct("a")
    with src.grouped(b, keys, condition, weighted=count == "events") as table:
        rows = src.rows(f"SELECT v, {measure} FROM {table} GROUP BY v", b.params)
        if count == "events":
            total = rounded(sum(float(row[1] or 0) for row in rows))
        else:
            total = rounded(src.rows(f"SELECT {measure} FROM {table}", b.params)[0][0])
    counted = sorted(
        ((row[0], rounded(row[1])) for row in rows),
        key=lambda item: (-item[1], item[0] is None, "" if item[0] is None else str(item[0])),
    )
    return {
        "key": key,
        "count": count,
        "rows": [{"value": v, "count": n, "share": share(n, total)} for v, n in counted if n > 0],
    }
