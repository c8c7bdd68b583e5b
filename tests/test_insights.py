"""Insights answer product questions correctly: a fixed dataset with hand-computed answers, on the
SQLite store and on chDB (the exporter's ClickHouse table), stored through the real stores.

The dataset (tests/insights_data.py, FIXED), 2026-11-02 being a Monday:

    installation A (postgres): 1.0 in week 1, 1.1 in week 2;  B (sqlite): 1.0;  C (postgres): 1.1
    11-02 10:00 A didStart            11-02 11:00 A didCreateEntry model=article u1 role=admin
    11-03 09:00 B didStart            11-03 09:30 B didCreateEntry model=page u2
    11-03 10:00 B didPublish page u2  11-04 12:00 C didStart
    11-05 00:00 C didPing (sample rate 0.25: counts 4)
    11-09 08:00 A didStart            11-09 09:00 A didCreateEntry article u1
    11-10 10:00 A didPublish article u1   11-11 10:00 C didCreateEntry article u3 count=3
    11-17 10:00 B didStart            11-18 10:00 B didCreateEntry article u2
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from insights_data import FIXED, requests_for

from otel_telemetry.insights import InsightsError, Source, breakdown, funnel, open_source, retention, trends
from otel_telemetry.store import EventStore

WEEKS = ["2026-11-02T00:00:00Z", "2026-11-09T00:00:00Z", "2026-11-16T00:00:00Z"]
RANGE = {"since": "2026-11-02", "until": "2026-11-22"}
NOW = datetime(2026, 11, 25, 12, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def sqlite_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "events.db"
    with EventStore(path) as store:
        for request in requests_for(FIXED, batch=4):
            store.add_request("grpc", request)
    return path


@pytest.fixture(scope="module")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    pytest.importorskip("chdb", reason="chDB is the optional [clickhouse] extra")
    from otel_telemetry.store import ChdbStore

    path = tmp_path_factory.mktemp("chdb") / "events"
    with ChdbStore(path) as store:  # the session stays open for the module: chDB starts once
        for request in requests_for(FIXED, batch=4):
            store.add_request("grpc", request)
        yield path


@pytest.fixture(scope="module", params=["sqlite", "chdb"])
def src(request: pytest.FixtureRequest) -> Iterator[Source]:
    if request.param == "sqlite":
        db = str(request.getfixturevalue("sqlite_db"))
    else:
        db = f"chdb:{request.getfixturevalue('chdb_dir')}"
    with open_source(db) as source:
        yield source


def points(values: list[int], starts: list[str] = WEEKS) -> list[list[Any]]:
    return [[start, value] for start, value in zip(starts, values, strict=True)]


# -- trends -------------------------------------------------------------------------------------


def test_trends_counts_an_event_per_week_with_every_bucket(src: Source) -> None:
    assert trends(src, ["didStart"], interval="week", **RANGE) == {
        "interval": "week",
        "count": "events",
        "series": [{"event": "didStart", "group": None, "total": 5, "points": points([3, 1, 1])}],
    }


def test_version_adoption_is_installations_by_service_version(src: Source) -> None:
    answer = trends(src, ["didStart"], interval="week", by="service.version", count="installations", **RANGE)
    assert answer["series"] == [
        # A and B started on 1.0 in week 1, B again in week 3; C (week 1) and A (week 2) on 1.1.
        {"event": "didStart", "group": "1.0", "total": 2, "points": points([2, 0, 1])},
        {"event": "didStart", "group": "1.1", "total": 2, "points": points([1, 1, 0])},
    ]


def test_distinct_totals_are_over_the_whole_range_not_the_sum_of_buckets(src: Source) -> None:
    answer = trends(src, interval="week", count="users", **RANGE)
    # u1 and u2 in week 1, u1 and u3 in week 2, u2 in week 3: 5 user-weeks, 3 users.
    assert answer["series"] == [{"event": None, "group": None, "total": 3, "points": points([2, 2, 1])}]


def test_trends_per_day_hour_and_month_buckets_are_utc(src: Source) -> None:
    days = trends(src, interval="day", since="2026-11-02", until="2026-11-05T00:00:00Z")
    assert days["series"][0]["points"] == [
        ["2026-11-02T00:00:00Z", 2],
        ["2026-11-03T00:00:00Z", 3],
        ["2026-11-04T00:00:00Z", 1],
    ]
    hours = trends(src, ["didStart"], interval="hour", since="2026-11-03T08:00Z", until="2026-11-03T11:00Z")
    assert hours["series"][0]["points"] == [
        ["2026-11-03T08:00:00Z", 0],
        ["2026-11-03T09:00:00Z", 1],
        ["2026-11-03T10:00:00Z", 0],
    ]
    months = trends(src, interval="month", since="2026-10-15", until="2026-12-31", now=NOW)
    assert months["series"][0]["points"] == [
        ["2026-10-01T00:00:00Z", 0],
        ["2026-11-01T00:00:00Z", 16],
        ["2026-12-01T00:00:00Z", 0],
    ]


def test_a_range_without_since_starts_at_the_first_event_and_ends_now(src: Source) -> None:
    answer = trends(src, ["didStart"], interval="week", now=NOW)
    assert [p[0] for p in answer["series"][0]["points"]] == [*WEEKS, "2026-11-23T00:00:00Z"]


def test_several_events_get_a_series_each_even_without_data(src: Source) -> None:
    answer = trends(src, ["didPublish", "neverSent"], interval="week", **RANGE)
    assert answer["series"] == [
        {"event": "didPublish", "group": None, "total": 2, "points": points([1, 1, 0])},
        {"event": "neverSent", "group": None, "total": 0, "points": points([0, 0, 0])},
    ]


def test_sampled_events_count_as_one_over_their_rate(src: Source) -> None:
    answer = trends(src, ["didPing"], interval="day", since="2026-11-05", until="2026-11-05")
    assert answer["series"][0]["points"] == [["2026-11-05T00:00:00Z", 4]]
    # distinct counts are not scaled: one installation sent it
    answer = trends(
        src, ["didPing"], interval="day", count="installations", since="2026-11-05", until="2026-11-05"
    )
    assert answer["series"][0]["total"] == 1


def test_where_looks_in_log_attributes_then_resource_attributes(src: Source) -> None:
    def weekly(*where: str) -> list[Any]:
        return trends(src, ["didCreateEntry"], interval="week", where=where, **RANGE)["series"][0]["points"]

    assert weekly("model=article") == points([1, 2, 1])
    assert weekly("database=postgres") == points([1, 2, 0])  # resource attribute
    assert weekly("user.role!=admin") == points([1, 2, 1])  # events without the key are kept
    assert weekly("model=article", "service.version=1.1") == points([0, 2, 0])
    assert weekly("count=3") == points([0, 1, 0])  # an integer compares as its text


def test_by_keeps_the_top_ten_values_and_sums_the_rest_as_other(src: Source) -> None:
    answer = trends(src, interval="week", by="user.hash", **RANGE)
    groups = [(s["group"], s["total"]) for s in answer["series"]]
    assert groups == [(None, 9), ("u1", 3), ("u2", 3), ("u3", 1)]  # 16 events: 9 without user.hash


# -- breakdown ----------------------------------------------------------------------------------


def test_breakdown_of_a_property_with_shares(src: Source) -> None:
    assert breakdown(src, "model") == {
        "key": "model",
        "count": "events",
        "rows": [
            {"value": None, "count": 9, "share": 0.5625},  # 5 events + didPing counted 4 times
            {"value": "article", "count": 5, "share": 0.3125},
            {"value": "page", "count": 2, "share": 0.125},
        ],
    }


def test_breakdown_of_installations_shares_are_of_all_installations(src: Source) -> None:
    answer = breakdown(src, "model", events=["didCreateEntry"], count="installations")
    assert answer["rows"] == [
        {"value": "article", "count": 3, "share": 1.0},
        {"value": "page", "count": 1, "share": 0.3333},
    ]
    assert breakdown(src, "database", count="installations")["rows"] == [
        {"value": "postgres", "count": 2, "share": 0.6667},
        {"value": "sqlite", "count": 1, "share": 0.3333},
    ]


# -- funnel -------------------------------------------------------------------------------------


def test_funnel_counts_installations_through_ordered_steps_within_the_window(src: Source) -> None:
    steps = ["didStart", "didCreateEntry", "didPublish"]
    # A publishes 8 days after its first start: out of the 7-day window; C creates on day 7.
    assert funnel(src, steps) == {
        "per": "installation",
        "window_s": 604800,
        "steps": [
            {"event": "didStart", "count": 3, "conversion": 1.0},
            {"event": "didCreateEntry", "count": 3, "conversion": 1.0},
            {"event": "didPublish", "count": 1, "conversion": 0.3333},
        ],
    }
    assert [s["count"] for s in funnel(src, steps, window_s=86400)["steps"]] == [3, 2, 1]
    assert [s["count"] for s in funnel(src, steps, window_s=9 * 86400)["steps"]] == [3, 3, 2]


def test_funnel_per_user_and_order_matters(src: Source) -> None:
    answer = funnel(src, ["didCreateEntry", "didPublish"], per="user")
    assert [(s["count"], s["conversion"]) for s in answer["steps"]] == [(3, 1.0), (1, 0.3333)]
    # nobody published before creating
    assert [s["count"] for s in funnel(src, ["didPublish", "didCreateEntry"], window_s=3600)["steps"]] == [
        2,
        0,
    ]
    # a repeated step must happen again, later
    assert [s["count"] for s in funnel(src, ["didStart", "didStart"], window_s=30 * 86400)["steps"]] == [3, 2]


def test_funnel_where_and_range(src: Source) -> None:
    answer = funnel(src, ["didStart", "didCreateEntry"], where=["database=postgres"], since="2026-11-04")
    assert [s["count"] for s in answer["steps"]] == [2, 2]  # C from 11-04, A from 11-09


# -- retention ----------------------------------------------------------------------------------


def test_weekly_retention_of_installations(src: Source) -> None:
    assert retention(src, period="week", **RANGE) == {
        "period": "week",
        "cohorts": [
            {"start": "2026-11-02", "size": 3, "returned": [3, 2, 1]},
            {"start": "2026-11-09", "size": 0, "returned": [0, 0]},
            {"start": "2026-11-16", "size": 0, "returned": [0]},
        ],
    }


def test_retention_with_start_and_return_events(src: Source) -> None:
    answer = retention(src, start_event="didCreateEntry", return_event="didPublish", period="week", **RANGE)
    assert answer["cohorts"] == [
        {"start": "2026-11-02", "size": 2, "returned": [1, 1, 0]},  # A and B; B published in week 1, A in 2
        {"start": "2026-11-09", "size": 1, "returned": [0, 0]},  # C
        {"start": "2026-11-16", "size": 0, "returned": [0]},
    ]


def test_daily_retention_of_users(src: Source) -> None:
    answer = retention(src, period="day", count="users", since="2026-11-02", until="2026-11-04")
    assert answer["cohorts"] == [
        {"start": "2026-11-02", "size": 1, "returned": [1, 0, 0]},
        {"start": "2026-11-03", "size": 1, "returned": [1, 0]},
        {"start": "2026-11-04", "size": 0, "returned": [0]},
    ]


# -- mistakes get one clear line ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("ask", "message"),
    [
        (lambda s: trends(s, by="modle"), "unknown key 'modle'"),
        (lambda s: trends(s, where=["nope=1"]), "unknown key 'nope'"),
        (lambda s: breakdown(s, "nope"), "unknown key 'nope'"),
        (lambda s: trends(s, where=["model"]), "expected KEY=VALUE or KEY!=VALUE"),
        (lambda s: trends(s, since="yesterday"), "bad --since 'yesterday'"),
        (lambda s: trends(s, until="2026-13-45"), "bad --until"),
        (lambda s: trends(s, since="2026-11-05", until="2026-11-01"), "empty range"),
        (lambda s: trends(s, interval="fortnight"), "bad --interval 'fortnight'"),
        (lambda s: trends(s, count="sessions"), "bad --count 'sessions'"),
        (
            lambda s: trends(s, interval="hour", since="2020-01-01", until="2026-01-01"),
            "more than 5000 hours",
        ),
        (lambda s: funnel(s, ["didStart"]), "at least 2 steps"),
        (lambda s: funnel(s, ["a", "b"], per="team"), "bad --per 'team'"),
        (lambda s: funnel(s, ["a", "b"], window_s=0), "bad --window"),
        (lambda s: retention(s, period="month"), "bad --period 'month'"),
        (lambda s: retention(s, count="events"), "bad --count 'events'"),
    ],
)
def test_mistakes_raise_a_one_line_insights_error(src: Source, ask: Any, message: str) -> None:
    with pytest.raises(InsightsError) as error:
        ask(src)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_unknown_key_suggests_close_keys(src: Source) -> None:
    with pytest.raises(InsightsError, match="did you mean model"):
        breakdown(src, "modle")


def test_missing_databases_are_insights_errors(tmp_path: Path) -> None:
    with pytest.raises(InsightsError, match="no events database"):
        open_source(tmp_path / "missing.db")
    with pytest.raises(InsightsError, match="no chDB database"):
        open_source(f"chdb:{tmp_path / 'missing'}")
    not_a_store = tmp_path / "other.db"
    not_a_store.write_bytes(b"not sqlite at all, just bytes" * 100)
    with pytest.raises(InsightsError, match="not an otel-telemetry events database"):
        open_source(not_a_store)


def test_by_keeps_ten_values_and_other_gets_the_rest_including_a_real_other(tmp_path: Path) -> None:
    from insights_data import install, ns

    resource = install("A", "1.0", "postgres")
    events = []
    for value, times in [(f"v{i:02d}", 20 - i) for i in range(12)] + [("other", 30)]:
        events += [(ns("2026-11-02T10:00:00Z"), "ev", {"plan": value}, resource)] * times
    path = tmp_path / "top.db"
    with EventStore(path) as store:
        for request in requests_for(events, batch=100):
            store.add_request("grpc", request)
    with open_source(path) as source:
        answer = trends(source, ["ev"], by="plan", since="2026-11-02", until="2026-11-02")
    groups = [(s["group"], s["total"]) for s in answer["series"]]
    # v00..v09 have 20..11 events; v10 (10), v11 (9) and the real value "other" (30) are "other"
    assert groups == [(f"v{i:02d}", 20 - i) for i in range(10)] + [("other", 10 + 9 + 30)]


# -- far-off, reversed and malformed ranges ------------------------------------------------------

NS = 1_000_000_000
EPOCH = datetime(1970, 1, 1)
#: The accepted range, stated independently of the code: 1970-01-01 to 2262-04-11, UTC.
LATEST_NS = 106_751 * 86400 * NS  # 2262-04-11T00:00:00Z
NOW_NS = int(NOW.timestamp()) * NS
ACCEPTED = "--since and --until must be from 1970-01-01T00:00:00Z to 2262-04-11T00:00:00Z"
UNITS_NS = {"m": 60 * NS, "h": 3600 * NS, "d": 86400 * NS, "w": 7 * 86400 * NS}


def ns_of(when: datetime) -> int:
    """Unix ns of a datetime of any year (naive = UTC), by integer arithmetic that cannot overflow."""
    offset = when.utcoffset() or timedelta(0)
    delta = when.replace(tzinfo=None) - EPOCH - offset
    return (delta.days * 86400 + delta.seconds) * NS + delta.microseconds * 1000


offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
malformed = st.one_of(
    st.sampled_from(["yesterday", "-5d", "5.5d", "+3d", "1e3d", "12 days", "2026-13-01", "2026-02-30",
                     "2026/11/02", "d", "20261102T25", "2026-11-02T10:00+25:00", "\x00"]),
    st.text(alphabet="abcxyz -:/", min_size=1).filter(lambda t: t.strip() not in ("", "now")),
)  # fmt: skip


@st.composite
def time_values(draw: st.DrawFn, end: bool) -> tuple[Any, int | None]:
    """(a --since/--until value, the instant it names in ns, or None when it is not a time)."""
    kind = draw(st.sampled_from(["date", "date object", "time", "datetime", "relative", "now", "bad"]))
    if kind in ("date", "date object"):
        day = draw(st.dates())
        instant = ns_of(datetime(day.year, day.month, day.day)) + (86400 * NS if end else 0)
        return (day.isoformat() if kind == "date" else day), instant
    if kind in ("time", "datetime"):
        when = draw(st.datetimes(timezones=st.one_of(st.none(), offsets)))
        return (when.isoformat() if kind == "time" else when), ns_of(when)
    if kind == "relative":
        n, unit = draw(st.integers(0, 10**22)), draw(st.sampled_from(sorted(UNITS_NS)))
        return f"{n}{unit}", NOW_NS - n * UNITS_NS[unit]
    if kind == "now":
        return "now", NOW_NS
    return draw(malformed), None


def expected_refusal(since: tuple[Any, int | None], until: tuple[Any, int | None]) -> str | None:
    """What the insights must say about a range (None: it is answered)."""
    for option, (value, instant) in (("--since", since), ("--until", until)):
        if value is None:
            continue
        if instant is None:
            return f"bad {option} {value!r}: expected an ISO date or time"
        if not 0 <= instant <= LATEST_NS:
            return f"bad {option} {value!r}: out of range"
    if since[1] is not None and since[1] >= (until[1] if until[0] is not None else NOW_NS):
        return "empty range: --since"
    return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    since=st.one_of(st.just((None, None)), time_values(end=False)),
    until=st.one_of(st.just((None, None)), time_values(end=True)),
    insight=st.sampled_from(["trends", "breakdown", "funnel"]),
)
def test_any_range_is_answered_or_refused_naming_the_option_and_the_accepted_range(
    src: Source, since: tuple[Any, int | None], until: tuple[Any, int | None], insight: str
) -> None:
    if since[0] is None:
        since = (None, None)
    if until[0] is None:
        until = (None, None)
    asked = {"since": since[0], "until": until[0], "now": NOW}
    ask = {
        "trends": lambda: trends(src, interval="month", **asked),
        "breakdown": lambda: breakdown(src, "model", **asked),
        "funnel": lambda: funnel(src, ["didStart", "didCreateEntry"], **asked),
    }[insight]
    refusal = expected_refusal(since, until)
    if refusal is None:
        answer = ask()
        if insight == "trends" and since[1] is not None:
            first, last = answer["series"][0]["points"][0][0], answer["series"][0]["points"][-1][0]
            end_ns = until[1] if until[1] is not None else NOW_NS
            assert first[:7] == datetime.fromtimestamp(since[1] // NS, timezone.utc).strftime("%Y-%m")
            assert last[:7] == datetime.fromtimestamp((end_ns - 1) // NS, timezone.utc).strftime("%Y-%m")
        return
    with pytest.raises(InsightsError) as error:
        ask()
    message = str(error.value)
    assert message.startswith(refusal), (message, refusal)
    assert "\n" not in message
    if "out of range" in refusal:
        assert ACCEPTED in message


@pytest.mark.parametrize(
    ("asked", "message"),
    [
        ({"since": "9999-01-01"}, "bad --since '9999-01-01': out of range; " + ACCEPTED),
        ({"since": "1000000d"}, "bad --since '1000000d': out of range; " + ACCEPTED),
        ({"until": "9999-12-31"}, "bad --until '9999-12-31': out of range; " + ACCEPTED),
        ({"until": "2262-04-11"}, "bad --until '2262-04-11': out of range (as --until, a date means the end"),
        ({"since": "1969-12-31T23:59:59Z"}, "bad --since '1969-12-31T23:59:59Z': out of range"),
        ({"since": datetime(1900, 1, 1)}, "bad --since datetime.datetime(1900, 1, 1, 0, 0): out of range"),
        ({"since": "2030-01-01"}, "empty range: --since 2030-01-01T00:00:00Z is not before now"),
        ({"since": 17}, "bad --since 17: expected a string, a datetime or a date"),
        ({"now": datetime(2300, 1, 1)}, "bad now '2300-01-01T00:00:00+00:00': out of range"),
    ],
)
def test_far_off_and_reversed_ranges_are_named_refusals(
    src: Source, asked: dict[str, Any], message: str
) -> None:
    with pytest.raises(InsightsError) as error:
        retention(src, **{"now": NOW, **asked})
    assert str(error.value).startswith(message)


def test_the_ends_of_the_accepted_range_are_answered(src: Source) -> None:
    wide = trends(src, interval="month", since="1970-01-01", until="2262-04-10", now=NOW)
    points = wide["series"][0]["points"]
    assert [points[0][0], points[-1][0]] == ["1970-01-01T00:00:00Z", "2262-04-01T00:00:00Z"]
    assert len(points) == (2262 - 1970) * 12 + 4
    everything = trends(src, interval="month", now=NOW)["series"][0]["total"]
    assert wide["series"][0]["total"] == everything > 0
    steps = funnel(src, ["didStart", "didCreateEntry"], since=date(1970, 1, 1), until="2262-04-11T00:00Z")
    assert steps["steps"][1]["count"] == 3


@pytest.mark.parametrize("window_s", [0, -1, float("inf"), float("nan"), 1e30, 36525 * 86400 + 1, "7d", True])
def test_a_funnel_window_outside_100_years_is_refused(src: Source, window_s: Any) -> None:
    with pytest.raises(InsightsError, match=r"bad --window .*longer than 0 and at most 3155760000"):
        funnel(src, ["didStart", "didCreateEntry"], window_s=window_s)
