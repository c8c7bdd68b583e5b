"""retention: cohorts by the period of their first start event, and how many came back.

An installation (or user) belongs to the cohort of the period (UTC day, or week from Monday)
of its first ``start_event`` in the range (any event when None); it counts as returned in a
period if it sent ``return_event`` (any event when None) in it.

``{"period": "week", "cohorts": [{"start": "2026-11-02", "size": N, "returned": [N0, N1, ...]}]}``:
a cohort per period of the range (size 0 included), ``returned[i]`` counts the cohort's members
active in the i-th period from the cohort's own (index 0), up to the range's last period.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from .selection import Selection, check_choice
from .sources import GroupKey, Source
from .timerange import NS, buckets, check_interval, iso_date

_LENGTH_S = {"day": 86400, "week": 604800}


def retention(
    src: Source,
    *,
    start_event: str | None = None,
    return_event: str | None = None,
    period: str = "week",
    count: str = "installations",
    where: Any = (),
    since: str | date | None = None,
    until: str | date | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Cohorts and their returns (see the module docstring)."""
    check_interval("--period", period, tuple(_LENGTH_S))
    check_choice("--count", count, ("installations", "users"))
    names = (
        []
        if start_event is None or return_event is None
        else list(dict.fromkeys([start_event, return_event]))
    )
    sel = Selection.parse((), where, since, until, now)
    b = src.builder()
    actor = b.actor(count)
    condition = sel.where(b, names=names)
    # the base: which periods each installation was active in (per event name when one is asked for)
    by_name = start_event is not None or return_event is not None
    keys = [GroupKey(actor, "a"), GroupKey(b.bucket(period), "p", nullable=False)]
    if by_name:
        keys.append(GroupKey(b.name, "n", nullable=False))
    start_filter = f"AND n = {b.bind(start_event)} " if start_event is not None else ""
    return_filter = f"AND n = {b.bind(return_event)} " if return_event is not None else ""
    with src.grouped(b, keys, condition, weighted=False) as table:
        ctes = [
            f"c AS (SELECT a AS ca, MIN(p) AS cp FROM {table} WHERE a IS NOT NULL {start_filter}GROUP BY a)",
            f"r AS (SELECT DISTINCT a AS ra, p AS rp FROM {table} WHERE a IS NOT NULL {return_filter})",
        ]
        head = f"WITH {', '.join(ctes)} "
        sizes = {
            int(p): int(n) for p, n in src.rows(f"{head}SELECT cp, COUNT(*) FROM c GROUP BY cp", b.params)
        }
        returned = src.rows(
            f"{head}SELECT c.cp, r.rp, COUNT(*) FROM c JOIN r ON r.ra = c.ca "
            "WHERE r.rp >= c.cp GROUP BY c.cp, r.rp",
            b.params,
        )
    starts = buckets(period, *sel.bounds(min(sizes) * NS if sizes else None))
    length = _LENGTH_S[period]
    back: dict[tuple[int, int], int] = {(int(c), int(p)): int(n) for c, p, n in returned}
    cohorts = []
    for start in starts:
        offsets = range(0, (starts[-1] - start) // length + 1)
        cohorts.append(
            {
                "start": iso_date(start),
                "size": sizes.get(start, 0),
                "returned": [back.get((start, start + k * length), 0) for k in offsets],
            }
        )
    return {"period": period, "cohorts": cohorts}
