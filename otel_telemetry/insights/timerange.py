"""``--since``/``--until`` and time buckets: UTC, weeks starting on Monday.

A time is an ISO date (``2026-11-02``: midnight UTC; as ``until`` the whole day is included),
an ISO time (``2026-11-02T15:00``, UTC unless it says otherwise), a relative time before now
(``30d``, ``12h``, ``15m``, ``2w``) or ``now``. Every time must lie in [:data:`EARLIEST`,
:data:`LATEST`]: event times are 64-bit nanoseconds since 1970 (on SQLite and in ClickHouse's
``DateTime64(9)``), so a time outside cannot be compared with them; it is refused here, naming
the option and the accepted range, rather than failing inside the query engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from .errors import InsightsError

NS = 1_000_000_000
INTERVALS = ("hour", "day", "week", "month")
#: The longest list of buckets an insight answers with.
MAX_BUCKETS = 5000

_RELATIVE = re.compile(r"^\s*(\d+)\s*(m|h|d|w)\s*$")
_UNIT = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")
#: 1970-01-05, the first Monday of the Unix epoch.
_MONDAY_S = 4 * 86400
#: The accepted range of ``--since``/``--until``: OTLP times start at the epoch, and 2^63 - 1 ns
#: is 2262-04-11T23:47:16Z (whole days keep the rule easy to state).
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2262, 4, 11, tzinfo=timezone.utc)
ACCEPTED = (
    f"--since and --until must be from {EARLIEST:%Y-%m-%dT%H:%M:%SZ} to {LATEST:%Y-%m-%dT%H:%M:%SZ} "
    "(event times are 64-bit nanoseconds since 1970)"
)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def parse_time(option: str, value: str | date | None, now: datetime, *, end: bool = False) -> int | None:
    """A ``--since``/``--until`` value as Unix nanoseconds (None when not given).

    ``end=True`` (for ``until``) makes a bare date mean the end of that day. A value that is not
    a time, or a time outside [:data:`EARLIEST`, :data:`LATEST`], is an :class:`InsightsError`
    naming ``option``.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        when = _parse_datetime(option, value, now, end)
    except OverflowError:  # datetime arithmetic past year 1 or 9999 (1000000d, 9999-12-31 as until)
        when = None
    if when is None or not EARLIEST <= when <= LATEST:
        after = " (as --until, a date means the end of that day)" if end and _day_in_range(value) else ""
        raise InsightsError(f"bad {option} {value!r}: out of range{after}; {ACCEPTED}")
    return to_ns(when)


def _day_in_range(value: str | date) -> bool:
    """``value`` is a date whose start is in range (so only its end, as ``until``, is not)."""
    if isinstance(value, datetime) or not (isinstance(value, date) or _DATE.match(value)):
        return False
    day = value if isinstance(value, date) else date.fromisoformat(value.strip())
    return EARLIEST.date() <= day <= LATEST.date()


def _parse_datetime(option: str, value: str | date, now: datetime, end: bool) -> datetime:
    """The aware datetime ``value`` names (may raise OverflowError for far-off times)."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        midnight = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
        return midnight + timedelta(days=1) if end else midnight
    if not isinstance(value, str):
        raise InsightsError(f"bad {option} {value!r}: expected a string, a datetime or a date")
    text = value.strip()
    if text == "now":
        return now
    match = _RELATIVE.match(text)
    if match:
        return now - int(match.group(1)) * _UNIT[match.group(2)]
    try:
        if _DATE.match(text):
            return _parse_datetime(option, date.fromisoformat(text), now, end)
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InsightsError(
            f"bad {option} {value!r}: expected an ISO date or time (2026-11-02, 2026-11-02T15:00Z) "
            "or a time before now (30d, 12h, 15m, 2w)"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def to_ns(when: datetime) -> int:
    """An aware or naive (= UTC) datetime as Unix nanoseconds."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    delta = when - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86400 + delta.seconds) * NS + delta.microseconds * 1000


def check_interval(option: str, interval: str, allowed: tuple[str, ...] = INTERVALS) -> str:
    if interval not in allowed:
        raise InsightsError(f"bad {option} {interval!r}: expected one of {', '.join(allowed)}")
    return interval


def bucket_start(interval: str, seconds: int) -> int:
    """The start (Unix seconds) of the bucket holding ``seconds``."""
    if interval == "hour":
        return seconds - seconds % 3600
    if interval == "day":
        return seconds - seconds % 86400
    if interval == "week":
        return seconds - (seconds - _MONDAY_S) % 604800
    when = datetime.fromtimestamp(seconds, timezone.utc)
    return int(datetime(when.year, when.month, 1, tzinfo=timezone.utc).timestamp())


def next_bucket(interval: str, start: int) -> int:
    if interval == "hour":
        return start + 3600
    if interval == "day":
        return start + 86400
    if interval == "week":
        return start + 604800
    when = datetime.fromtimestamp(start, timezone.utc)
    year, month = (when.year + 1, 1) if when.month == 12 else (when.year, when.month + 1)
    return int(datetime(year, month, 1, tzinfo=timezone.utc).timestamp())


@dataclass(frozen=True)
class TimeRange:
    """``[since_ns, until_ns)``; either end may be open (None)."""

    since_ns: int | None
    until_ns: int | None

    @classmethod
    def parse(cls, since: str | date | None, until: str | date | None, now: datetime | None) -> TimeRange:
        now = now or utc_now()
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        if not EARLIEST <= now <= LATEST:
            raise InsightsError(f"bad now {now.isoformat()!r}: out of range; {ACCEPTED}")
        start = parse_time("--since", since, now)
        end = parse_time("--until", until, now, end=True)
        if start is not None and end is not None and start >= end:
            raise InsightsError(f"empty range: --since {iso(start)} is not before --until {iso(end)}")
        if start is not None and end is None and start >= to_ns(now):
            raise InsightsError(
                f"empty range: --since {iso(start)} is not before now ({iso(to_ns(now))}), "
                "where the range ends without --until"
            )
        return cls(start, end)


def buckets(interval: str, since_ns: int, until_ns: int) -> list[int]:
    """Every bucket start (Unix seconds) from the one holding ``since_ns`` to the one holding the
    last nanosecond before ``until_ns``."""
    last = (until_ns - 1) // NS
    out = []
    start = bucket_start(interval, since_ns // NS)
    while start <= last:
        out.append(start)
        if len(out) > MAX_BUCKETS:
            raise InsightsError(
                f"the range holds more than {MAX_BUCKETS} {interval}s: narrow it with --since/--until "
                "or use a longer --interval"
            )
        start = next_bucket(interval, start)
    return out


def iter_iso(starts: list[int]) -> Iterator[str]:
    for start in starts:
        yield datetime.fromtimestamp(start, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso(time_ns: int) -> str:
    """Unix nanoseconds as ``2026-11-02T15:00:00Z`` (to the second)."""
    return datetime.fromtimestamp(time_ns // NS, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_date(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d")
