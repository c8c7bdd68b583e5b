"""What a catalog costs per ``send()``: a ready policy and events, and a timing helper for benchmarks.

``benchmark_policy()`` gives a :class:`CatalogPolicy` over a representative catalog (20 events,
8 properties each, enums, patterns, a hashed property) and one captured event per scenario;
``policy_cost_ns()`` times ``policy(event)`` for each scenario with ``time.perf_counter_ns``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..event import CapturedEvent
from .loader import catalog_from_dict
from .policy import CatalogPolicy

SCENARIOS = ("conforming", "pii_hash", "unplanned_property", "unplanned_event", "nested")


def benchmark_catalog_document(events: int = 20) -> dict[str, Any]:
    """A catalog document of ``events`` events shaped like a real product's."""
    props: dict[str, Any] = {
        "model": {"type": "string", "required": True, "pattern": "^[a-z][a-z0-9-]*$"},
        "status": {"type": "string", "enum": ["draft", "published"]},
        "count": {"type": "integer"},
        "duration_ms": {"type": "number"},
        "success": {"type": "boolean"},
        "locales": {"type": "list", "items": "string"},
        "settings.locale": {"type": "string"},
        "settings.size": {"type": "integer"},
    }
    return {
        "version": 1,
        "common": {
            "userProperties": {"role": {"type": "string"}, "email": {"type": "string", "pii": "hash"}},
            "groupProperties": {"projectType": {"type": "string", "enum": ["Community", "Enterprise"]}},
        },
        "events": {
            f"didEvent{i}": {"description": "benchmark event", "owner": "bench", "eventProperties": props}
            for i in range(events)
        },
    }


def _event(name: str, ep: dict[str, Any] | None, up: dict[str, Any] | None = None) -> CapturedEvent:
    return CapturedEvent(name, 0, ep, up, {"projectType": "Community"}, None, 0, 0, 0, None)


def benchmark_policy(mode: str = "warn") -> tuple[CatalogPolicy, dict[str, CapturedEvent]]:
    """A policy over :func:`benchmark_catalog_document` and one event per scenario of :data:`SCENARIOS`."""
    policy = CatalogPolicy(catalog_from_dict(benchmark_catalog_document()), mode, lambda: "bench-project")
    base = {"model": "article", "status": "draft", "count": 3, "duration_ms": 12.5, "success": True}
    events = {
        "conforming": _event("didEvent7", dict(base), {"role": "editor"}),
        "pii_hash": _event("didEvent7", dict(base), {"role": "editor", "email": "someone@example.com"}),
        "unplanned_property": _event("didEvent7", {**base, "unknown": 1}),
        "unplanned_event": _event("didSomethingElse", dict(base)),
        "nested": _event("didEvent7", {**base, "settings": {"locale": "en", "size": 2}}),
    }
    return policy, events


def policy_cost_ns(iterations: int = 20_000, mode: str = "warn") -> dict[str, float]:
    """Mean nanoseconds of one ``policy(event)`` call, per scenario (plus ``baseline``: a no-op call)."""
    policy, events = benchmark_policy(mode)
    results: dict[str, float] = {}

    def noop(event: CapturedEvent) -> CapturedEvent:
        return event

    calls: list[tuple[str, Callable[[CapturedEvent], CapturedEvent | None]]] = [("baseline", noop)]
    calls += [(scenario, policy) for scenario in SCENARIOS]
    for name, call in calls:
        event = events["conforming" if name == "baseline" else name]
        for _ in range(min(iterations, 1000)):  # warm caches (hashes, regexes)
            call(event)
        start = time.perf_counter_ns()
        for _ in range(iterations):
            call(event)
        results[name] = (time.perf_counter_ns() - start) / iterations
    return results
