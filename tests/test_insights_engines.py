"""Two independent engines check each other: on generated datasets and questions, SQLite (the
local store, typed JSON) and chDB (the exporter's ClickHouse table, maps of text) give identical
answers for every insight; and keys or values a user types, however hostile, never change the
query (the answers match a plain-Python count).

chDB runs one directory per process: the module keeps one store open and empties its table
before each example.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from insights_data import requests_for

from otel_telemetry.insights import InsightsError, breakdown, funnel, open_source, retention, trends
from otel_telemetry.store import EventStore
from otel_telemetry.store.rows import as_text

pytest.importorskip("chdb", reason="chDB is the optional [clickhouse] extra")

from otel_telemetry.store import ChdbStore
from otel_telemetry.store.chdb import chdb_session, release_chdb_session

NOW = datetime(2026, 12, 25, tzinfo=timezone.utc)
START = int(datetime(2026, 10, 26, tzinfo=timezone.utc).timestamp())
NAMES = ["didStart", "didCreateEntry", "didPublish", "ping"]
HOSTILE = [
    "'",
    '"',
    "\\",
    "') OR 1=1 --",
    '"; DROP TABLE otel_events; --',
    "{p0:String}",
    ":p0",
    "?",
    "$.x",
    'a"b',
    "a\\nb",
    "tab\there",
    "line\nbreak",
    "%s",
    "é ü 中",
    "",
    " ",
]
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
KEYS = ["model", "user.role", "plan", "count", "flag", "ratio", *HOSTILE[:6]]
values = st.one_of(
    st.sampled_from(["article", "page", "user", *HOSTILE]),
    text,
    st.integers(-3, 1_000_000),
    st.booleans(),
    st.sampled_from([0.5, 1.5, -2.25, 3.0, 0.1, 1e20]),
)


@st.composite
def datasets(draw: st.DrawFn) -> list[tuple[int, str, dict[str, Any], dict[str, Any]]]:
    installations = [
        {
            "service.name": "shop",
            "service.version": draw(st.sampled_from(["1.0", "1.1", "2.0"])),
            "app.installation.id": f"i{i}",
            "database": draw(st.sampled_from(["postgres", "sqlite", "mysql"])),
        }
        for i in range(draw(st.integers(1, 6)))
    ]
    events = []
    for _ in range(draw(st.integers(0, 40))):
        attributes = draw(st.dictionaries(st.sampled_from(KEYS), values, max_size=4))
        if draw(st.booleans()):
            # users are numbered as text on SQLite (otel_users): "3" and 3 are one user, as on ClickHouse
            attributes["user.hash"] = draw(st.one_of(st.sampled_from(["u1", "u2", "u3", "3"]), values))
        if draw(st.integers(0, 9)) == 0:
            attributes["otel_telemetry.sample_rate"] = draw(st.sampled_from([0.5, 0.25, 1.0, 2.0, 0]))
        seconds = START + draw(st.integers(0, 50 * 86400))
        events.append(
            (
                seconds * 1_000_000_000 + draw(st.integers(0, 999_999_999)),
                draw(st.sampled_from(NAMES)),
                attributes,
                draw(st.sampled_from(installations)),
            )
        )
    return events


times = st.one_of(
    st.none(),
    st.sampled_from(["2026-11-02", "2026-11-10T12:00:00Z", "2026-11-20", "30d", "400h"]),
    st.sampled_from(["1970-01-01", "2262-04-10", "2262-04-11T00:00:00Z", "9999-01-01", "1000000d"]),
)


@st.composite
def questions(draw: st.DrawFn) -> list[tuple[str, Any, dict[str, Any]]]:
    keys = st.sampled_from([*KEYS, "service.version", "database", "user.hash"])
    where = st.lists(
        st.builds(lambda k, op, v: f"{k}{op}{v}", keys, st.sampled_from(["=", "!="]), values.map(as_text)),
        max_size=2,
    )
    since, until = draw(times), draw(times)
    common = {"where": draw(where), "since": since, "until": until, "now": NOW}
    events = draw(st.lists(st.sampled_from(NAMES), max_size=2, unique=True))
    count = draw(st.sampled_from(["events", "installations", "users"]))
    return [
        (
            "trends",
            trends,
            {
                "events": events,
                "interval": draw(st.sampled_from(["day", "week", "month"])),
                "by": draw(st.one_of(st.none(), keys)),
                "count": count,
                **common,
            },
        ),
        ("breakdown", breakdown, {"key": draw(keys), "events": events, "count": count, **common}),
        (
            "funnel",
            funnel,
            {
                "steps": draw(st.lists(st.sampled_from(NAMES), min_size=2, max_size=3)),
                "window_s": draw(st.sampled_from([3600, 86400, 604800, 30 * 86400])),
                "per": draw(st.sampled_from(["installation", "user"])),
                **common,
            },
        ),
        (
            "retention",
            retention,
            {
                "start_event": draw(st.one_of(st.none(), st.sampled_from(NAMES))),
                "return_event": draw(st.one_of(st.none(), st.sampled_from(NAMES))),
                "period": draw(st.sampled_from(["day", "week"])),
                "count": draw(st.sampled_from(["installations", "users"])),
                **common,
            },
        ),
    ]


class Engines:
    """A fresh SQLite file and the emptied chDB table, both filled through the real stores."""

    def __init__(self, directory: Path, chdb: ChdbStore) -> None:
        self.directory = directory
        self.chdb = chdb
        self.counter = itertools.count()

    def load(self, events: list[Any]) -> tuple[str, str]:
        path = self.directory / f"events-{next(self.counter)}.db"
        session = chdb_session(str(self.chdb.path))
        try:
            session.query(f"TRUNCATE TABLE {self.chdb.table}")
        finally:
            release_chdb_session(str(self.chdb.path))
        with EventStore(path) as store:
            for request in requests_for(events, batch=7):
                store.add_request("grpc", request)
        for request in requests_for(events, batch=100):  # one chDB insert: each costs a query
            self.chdb.add_request("grpc", request)
        return str(path), f"chdb:{self.chdb.path}"


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engines]:
    directory = tmp_path_factory.mktemp("engines")
    with ChdbStore(directory / "chdb") as chdb:
        yield Engines(directory, chdb)


def answer(db: str, ask: Any, kwargs: dict[str, Any]) -> Any:
    with open_source(db) as src:
        try:
            if ask is trends:
                return ask(src, kwargs.pop("events"), **kwargs)
            if ask is breakdown:
                return ask(src, kwargs.pop("key"), **kwargs)
            if ask is funnel:
                return ask(src, kwargs.pop("steps"), **kwargs)
            return ask(src, **kwargs)
        except InsightsError as error:  # both must refuse, for the same reason
            return ("error", str(error).split(" (did you mean")[0])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=datasets(), asked=questions())
def test_sqlite_and_chdb_give_identical_answers(
    engines: Engines, events: list[Any], asked: list[tuple[str, Any, dict[str, Any]]]
) -> None:
    sqlite_db, chdb_db = engines.load(events)
    for name, ask, kwargs in asked:
        on_sqlite = answer(sqlite_db, ask, dict(kwargs))
        on_chdb = answer(chdb_db, ask, dict(kwargs))
        assert on_sqlite == on_chdb, (name, kwargs)


keys = st.one_of(st.sampled_from(HOSTILE), text)
hostile_values = st.one_of(st.sampled_from(HOSTILE), text)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.tuples(keys, hostile_values), min_size=1, max_size=12),
    probe=st.tuples(keys, hostile_values),
)
def test_hostile_keys_and_values_are_data_never_sql(
    engines: Engines, rows: list[tuple[str, str]], probe: tuple[str, str]
) -> None:
    base = START * 1_000_000_000
    resource = {"app.installation.id": "i1"}
    events = [(base + i, "ev", {key: value}, resource) for i, (key, value) in enumerate(rows)]
    key, value = probe
    expected_breakdown: dict[str | None, int] = {}
    for _, _, attributes, _ in events:
        found = attributes.get(key)
        expected_breakdown[found] = expected_breakdown.get(found, 0) + 1
    known = any(key in attributes for _, _, attributes, _ in events)
    for db in engines.load(events):
        with open_source(db) as src:
            if not known:
                with pytest.raises(InsightsError, match="unknown key"):
                    breakdown(src, key)
                continue
            got = {row["value"]: row["count"] for row in breakdown(src, key)["rows"]}
            assert got == expected_breakdown, db
            if key != key.strip() or not key or "=" in key or key.endswith("!"):
                continue  # not writable as KEY=VALUE (the syntax splits at the first = or !=)
            matched = trends(src, ["ev"], interval="month", where=[f"{key}={value}"], since="2026-10-01")
            assert matched["series"][0]["total"] == expected_breakdown.get(value, 0), db
            unmatched = trends(src, ["ev"], interval="month", where=[f"{key}!={value}"], since="2026-10-01")
            assert unmatched["series"][0]["total"] == len(events) - expected_breakdown.get(value, 0), db
