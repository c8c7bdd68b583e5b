"""A realistic product history for the demo: weeks of a Strapi-like CMS fleet, sent with ``timestamp=``.

The plan is pure (a seeded :class:`random.Random`), so it is the same on every run: dozens of
installations join over the weeks, each is active on some days and may stop coming back
(retention), a new version rolls out a few days after each release (version adoption), and on
an active day a project goes some way through the content funnel
``didStartServer`` → ``willCreateEntry`` → ``didCreateEntry`` → ``didPublishEntry``.
:func:`send_history` sends it through the library as each installation would: one
``Telemetry`` per installation and version (an upgrade is a restart), every event with the
``timestamp`` it happened at.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ..exporters.otlp import OTLPExporter
from ..settings import DeliverySettings, PrivacySettings, ResourceSettings
from ..telemetry import Telemetry

WEEKS = 6
INSTALLATIONS = 40
#: (version, release day counted from the first day of the history)
RELEASES = (("4.14.2", -60), ("4.15.0", 14), ("4.15.1", 31))
FUNNEL = ("didStartServer", "willCreateEntry", "didCreateEntry", "didPublishEntry")
DATABASES = (("postgres", 0.5), ("sqlite", 0.3), ("mysql", 0.2))
MODELS = ("article", "category", "author", "page")


@dataclass(frozen=True)
class PlannedEvent:
    """One event of the history: what, when, and by whom."""

    name: str
    when: datetime
    payload: dict[str, Any]
    user_id: str | None


@dataclass
class Installation:
    """One simulated installation (a project on a machine) and the events it sends, per version."""

    project_id: str
    installation_id: str
    group: dict[str, Any]
    events: dict[str, list[PlannedEvent]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(len(events) for events in self.events.values())


def _version_on(day: int, upgrade_days: list[int]) -> str:
    version = RELEASES[0][0]
    for (name, _), upgraded in zip(RELEASES[1:], upgrade_days, strict=True):
        if day >= upgraded:
            version = name
    return version


def _day(rng: random.Random, installation: Installation, version: str, when: datetime) -> None:
    """One active day: a server start, then some way down the funnel, and a few API requests."""
    editor = f"editor-{rng.randrange(1, 4)}"
    model = rng.choice(MODELS)
    steps: list[tuple[str, dict[str, Any], str | None]] = [
        ("didStartServer", {"startupMs": rng.randrange(900, 4000)}, None)
    ]
    for step, chance in zip(FUNNEL[1:], (0.75, 0.8, 0.6), strict=True):
        if rng.random() >= chance:
            break
        steps.append((step, {"model": model}, editor))
    steps.extend(
        ("didReceiveRequest", {"url": f"/api/{model}s", "statusCode": rng.choice((200, 200, 200, 404))}, None)
        for _ in range(rng.randrange(0, 4))
    )
    moment = when + timedelta(hours=rng.uniform(7, 12))
    for name, properties, user in steps:
        role = "Editor" if user else "system"
        payload = {
            "eventProperties": properties,
            "userProperties": {"role": role},
            "groupProperties": installation.group,
        }
        installation.events.setdefault(version, []).append(PlannedEvent(name, moment, payload, user))
        moment += timedelta(minutes=rng.uniform(1, 20))


def first_day(end: datetime) -> datetime:
    """The Monday :data:`WEEKS` weeks before ``end``'s week: whole weeks, whatever today is."""
    start = (end - timedelta(weeks=WEEKS)).replace(hour=0, minute=0, second=0, microsecond=0)
    return start - timedelta(days=start.weekday())


def plan_history(end: datetime, seed: int = 7) -> list[Installation]:
    """The installations and their events from :func:`first_day` to ``end``."""
    rng = random.Random(seed)
    first = first_day(end)
    days = (end - first).days
    fleet = []
    for index in range(INSTALLATIONS):
        joined = 0 if index < INSTALLATIONS // 3 else rng.randrange(0, days - 3)
        lifetime = rng.expovariate(1 / 30)  # days until it stops coming back
        activity = rng.uniform(0.35, 0.85)
        upgrades = [release + 1 + int(rng.expovariate(1 / 4)) for _, release in RELEASES[1:]]
        database = rng.choices([d for d, _ in DATABASES], [w for _, w in DATABASES])[0]
        group = {"projectType": rng.choice(("Community", "Community", "Enterprise")), "database": database}
        project, machine = (str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(2))
        installation = Installation(project, machine, group)
        for day in range(joined, days):  # up to yesterday: every event is in the past
            if day == joined or (day - joined <= lifetime and rng.random() < activity):
                _day(rng, installation, _version_on(day, upgrades), first + timedelta(days=day))
        fleet.append(installation)
    return fleet


def send_history(fleet: list[Installation], endpoint: str, protocol: str) -> Iterator[tuple[int, bool]]:
    """Send each installation's events, one ``Telemetry`` per installation and version.

    Yields (events accepted, exported) per ``Telemetry``; exported is what ``flush`` said.
    """
    for installation in fleet:
        for version, events in installation.events.items():
            telemetry = Telemetry(
                exporter=OTLPExporter(endpoint=endpoint, protocol=protocol),
                resource=ResourceSettings(
                    "demo-cms",
                    service_version=version,
                    environment="production",
                    # Each is its own machine: set the id rather than derive it from this machine's id.
                    attributes={"app.installation.id": installation.installation_id},
                ),
                privacy=PrivacySettings(project_id=installation.project_id),
                delivery=DeliverySettings(schedule_delay_s=0.01, exit_timeout_s=0.0),
            )
            try:
                accepted = sum(
                    telemetry.send(e.name, e.payload, user_id=e.user_id, timestamp=e.when) for e in events
                )
                yield accepted, telemetry.flush(10.0)
            finally:
                telemetry.shutdown(0.0)


def history_end() -> datetime:
    """Now, in UTC: the history ends today."""
    return datetime.now(timezone.utc)
