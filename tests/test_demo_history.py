"""The demo's history is realistic: weeks long, dozens of installations, a rollout, a funnel, returns.

The plan is checked directly (it is pure and seeded); ``test_cli`` runs the demo end to end.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from itertools import pairwise

from otel_telemetry.cli.demo_history import FUNNEL, INSTALLATIONS, RELEASES, WEEKS, first_day, plan_history

END = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)


def test_the_history_spans_weeks_of_dozens_of_installations_and_is_the_same_every_run() -> None:
    fleet = plan_history(END)
    assert len(fleet) == INSTALLATIONS >= 24
    assert len({i.installation_id for i in fleet}) == len({i.project_id for i in fleet}) == INSTALLATIONS
    times = [e.when for i in fleet for events in i.events.values() for e in events]
    first = min(times)
    assert first.weekday() == 0 and END - timedelta(weeks=WEEKS + 1) < first < END - timedelta(weeks=WEEKS)
    assert max(times) < END
    assert [i.events for i in plan_history(END)] == [i.events for i in fleet]


def test_each_installation_upgrades_in_release_order_and_the_new_versions_spread() -> None:
    fleet = plan_history(END)
    order = [name for name, _ in RELEASES]
    first = first_day(END)
    for installation in fleet:
        spans = sorted(
            (min(e.when for e in events), max(e.when for e in events), v)
            for v, events in installation.events.items()
        )
        assert [order.index(v) for _, _, v in spans] == sorted(order.index(v) for _, _, v in spans)
        for (_, last, _), (start, _, _) in pairwise(spans):
            assert last < start  # one version at a time: an upgrade is a restart
        for when, _, version in spans:
            release_day = dict(RELEASES)[version]
            assert when >= first + timedelta(days=release_day)
    on_newest = sum(RELEASES[-1][0] in i.events for i in fleet)
    on_oldest_only = sum(set(i.events) == {RELEASES[0][0]} for i in fleet)
    assert on_newest >= 5 and on_oldest_only >= 5


def test_active_days_go_down_the_funnel_in_order_and_fewer_reach_each_step() -> None:
    fleet = plan_history(END)
    reached: dict[str, int] = defaultdict(int)
    for installation in fleet:
        for events in installation.events.values():
            steps = [e for e in events if e.name in FUNNEL]
            assert all(a.when <= b.when for a, b in pairwise(steps))
            for step in FUNNEL:
                reached[step] += any(e.name == step for e in steps)
    counts = [reached[step] for step in FUNNEL]
    assert counts == sorted(counts, reverse=True) and counts[-1] > 0 and counts[-1] < counts[0]


def test_some_installations_come_back_week_after_week_and_some_stop() -> None:
    fleet = plan_history(END)
    weeks_active = []
    for installation in fleet:
        times = [e.when for events in installation.events.values() for e in events]
        weeks_active.append(len({(t - END).days // 7 for t in times}))
    assert sum(w >= 4 for w in weeks_active) >= 5
    assert sum(w <= 2 for w in weeks_active) >= 5


def test_in_the_last_whole_week_the_newest_release_leads_whatever_the_weekday() -> None:
    for offset in range(7):
        end = END + timedelta(days=offset)
        last_week = first_day(end) + timedelta(weeks=WEEKS - 1)
        on: dict[str, set[str]] = defaultdict(set)
        for installation in plan_history(end):
            for version, events in installation.events.items():
                if any(last_week <= e.when < last_week + timedelta(weeks=1) for e in events):
                    on[version].add(installation.installation_id)
        old, middle, new = (len(on[name]) for name, _ in RELEASES)
        assert new > middle > old, (end, old, middle, new)
