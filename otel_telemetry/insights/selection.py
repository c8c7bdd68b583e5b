"""Which events an insight looks at: names, ``--where`` conditions and the time range, and what it
counts (``--count``).

``KEY=VALUE`` keeps events whose KEY (log attribute first, then resource attribute) is VALUE
as text; ``KEY!=VALUE`` keeps the others, including events without KEY.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from .errors import InsightsError
from .sql import Builder
from .timerange import NS, TimeRange, to_ns, utc_now

COUNTS = ("events", "installations", "users")
ACTORS = {"installation": "installations", "user": "users"}


@dataclass(frozen=True)
class Condition:
    key: str
    value: str
    negated: bool


def parse_condition(text: str) -> Condition:
    """``"KEY=VALUE"`` or ``"KEY!=VALUE"``."""
    bang = text.find("!=")
    equals = text.find("=")
    if bang != -1 and equals == bang + 1:
        key, value, negated = text[:bang], text[bang + 2 :], True
    elif equals != -1:
        key, value, negated = text[:equals], text[equals + 1 :], False
    else:
        raise InsightsError(f"bad --where {text!r}: expected KEY=VALUE or KEY!=VALUE")
    if not key.strip():
        raise InsightsError(f"bad --where {text!r}: the key is empty")
    return Condition(key.strip(), value, negated)


def check_choice(option: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise InsightsError(f"bad {option} {value!r}: expected one of {', '.join(allowed)}")
    return value


@dataclass(frozen=True)
class Selection:
    """Names (empty: every event), conditions and range of one insight."""

    events: tuple[str, ...]
    conditions: tuple[Condition, ...]
    range: TimeRange
    now_ns: int

    @classmethod
    def parse(
        cls,
        events: Sequence[str],
        where: Sequence[str],
        since: str | date | None,
        until: str | date | None,
        now: datetime | None,
    ) -> Selection:
        if isinstance(events, str):
            events = (events,)
        if isinstance(where, str):
            where = (where,)
        now = now or utc_now()
        names = tuple(dict.fromkeys(str(name) for name in events))
        return cls(
            names,
            tuple(parse_condition(str(text)) for text in where),
            TimeRange.parse(since, until, now),
            to_ns(now),
        )

    def where(self, b: Builder, *, names: Sequence[str] | None = None) -> str:
        """The WHERE condition (``1 = 1`` when there is none). ``names`` overrides the event names."""
        clauses = []
        chosen = self.events if names is None else tuple(names)
        if chosen:
            clauses.append(b.event_in(list(chosen)))
        if self.range.since_ns is not None:
            clauses.append(b.since(self.range.since_ns))
        clauses.append(b.until(self.until_ns))
        for condition in self.conditions:
            value = b.attr(condition.key)
            bound = b.bind(condition.value)
            clauses.append(
                f"COALESCE({value} != {bound}, 1) = 1" if condition.negated else f"{value} = {bound}"
            )
        return " AND ".join(clauses) or "1 = 1"

    def bounds(self, first_ns: int | None) -> tuple[int, int]:
        """``[since, until)`` in ns: as given, else from ``first_ns`` (the first matching event's
        bucket, None when nothing matches: then the range is the last instant before until)."""
        until = self.until_ns
        if self.range.since_ns is not None:
            return self.range.since_ns, until
        if first_ns is None or first_ns >= until:
            return until - 1, until
        return first_ns, until

    @property
    def until_ns(self) -> int:
        """The end of the range: ``--until``, else now (events stamped later are not counted)."""
        return self.range.until_ns if self.range.until_ns is not None else self.now_ns


def rounded(value: Any) -> int:
    """A count from SQL (a weighted sum may be fractional) as an integer."""
    return 0 if value is None else round(float(value))


def share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def seconds_to_ns(seconds: float) -> int:
    return round(seconds * NS)
