"""funnel STEP1 STEP2 ...: how many installations (or users) went through the steps in order.

An installation enters at its first STEP1 in the range; it reaches step k if it sent STEPk after
reaching step k-1 (at the same instant or later; strictly later when STEPk repeats an earlier
step), no later than ``window_s`` after its STEP1. Taking the earliest match at every step is
optimal, so this counts whether such an ordered path exists.

``{"per": "installation", "window_s": 604800, "steps": [{"event": E, "count": N,
"conversion": 0.6}, ...]}``: ``conversion`` is the count over the first step's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from .errors import InsightsError
from .selection import ACTORS, Selection, check_choice, seconds_to_ns, share
from .sources import Source

#: The longest ``--window``: 100 years keeps "first step + window" within 64-bit nanoseconds for
#: any event time up to 2160 (ClickHouse's Int64 would wrap around past that, SQLite's would not).
MAX_WINDOW_S = 36525 * 86400


def check_window(window_s: object) -> None:
    """``--window``: a number of seconds in (0, :data:`MAX_WINDOW_S`]."""
    number = isinstance(window_s, int | float) and not isinstance(window_s, bool)
    if not number or not 0 < window_s <= MAX_WINDOW_S:  # type: ignore[operator]
        raise InsightsError(
            f"bad --window {window_s!r}: it must be a number of seconds longer than 0 and at most "
            f"{MAX_WINDOW_S} (36525 days)"
        )


def funnel(
    src: Source,
    steps: Sequence[str],
    *,
    window_s: float = 604800,
    per: str = "installation",
    where: Sequence[str] = (),
    since: str | date | None = None,
    until: str | date | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Counts and conversion of each step (see the module docstring)."""
    steps = [str(step) for step in ([steps] if isinstance(steps, str) else steps)]
    if len(steps) < 2:
        raise InsightsError("a funnel needs at least 2 steps")
    check_choice("--per", per, tuple(ACTORS))
    check_window(window_s)
    sel = Selection.parse((), where, since, until, now)
    b = src.builder()
    b.per_record()
    actor = b.installation() if per == "installation" else b.user()
    condition = sel.where(b, names=list(dict.fromkeys(steps)))
    window = b.bind(seconds_to_ns(window_s), "Int64")
    # ``ev``: the installation, name and time of every event of a step, staged once. Level k
    # carries, per installation, when it reached steps 0..k (NULL: not reached).
    ev_select = f"SELECT {actor} AS a, {b.name} AS n, {b.time_ns} AS ts FROM {b.source()} WHERE {condition}"
    with src.staged(b, ev_select, index=("a", "n", "ts")) as ev:
        step0 = b.bind(steps[0])
        ctes = [f"s0 AS (SELECT a, MIN(ts) AS t0 FROM {ev} WHERE n = {step0} AND a IS NOT NULL GROUP BY a)"]
        for k in range(1, len(steps)):
            after = ">" if steps[k] in steps[:k] else ">="
            carried = ", ".join(f"s.t{i} AS t{i}" for i in range(k))
            reached = f"e.ts {after} s.t{k - 1} AND e.ts <= s.t0 + {window}"
            ctes.append(
                f"s{k} AS (SELECT s.a AS a, {carried}, MIN(CASE WHEN {reached} THEN e.ts END) AS t{k} "
                f"FROM s{k - 1} AS s LEFT JOIN {ev} AS e ON e.a = s.a AND e.n = {b.bind(steps[k])} "
                f"GROUP BY s.a, {', '.join(f's.t{i}' for i in range(k))})"
            )
        counts_sql = ", ".join(["COUNT(*)", *(f"COUNT(t{k})" for k in range(1, len(steps)))])
        row = src.rows(f"WITH {', '.join(ctes)} SELECT {counts_sql} FROM s{len(steps) - 1}", b.params)[0]
    counts = [int(value) for value in row]
    first = counts[0]
    return {
        "per": per,
        "window_s": int(window_s) if float(window_s).is_integer() else window_s,
        "steps": [
            {"event": step, "count": n, "conversion": share(n, first)}
            for step, n in zip(steps, counts, strict=True)
        ],
    }
