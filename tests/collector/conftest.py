"""Fixtures for the collector tests: the config files, and rotel collectors that are always stopped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .rotel import RotelAgent

CONFIG_DIR = Path(__file__).resolve().parents[2] / "collector-config"
CONFIG_FILES = sorted(CONFIG_DIR.glob("*.yaml"))

RotelFactory = Callable[..., RotelAgent]


@pytest.fixture
def rotel_factory(tmp_path: Path) -> Iterator[RotelFactory]:
    """``rotel_factory(exporter_endpoint, **options)`` -> a started RotelAgent.

    Every agent made here is stopped (process group killed) when the test ends,
    whether it passed, failed or raised.
    """
    agents: list[RotelAgent] = []

    def make(exporter_endpoint: str, *, start: bool = True, **options: Any) -> RotelAgent:
        agent = RotelAgent(tmp_path / f"rotel-{len(agents)}", exporter_endpoint, **options)
        agents.append(agent)
        return agent.start() if start else agent

    try:
        yield make
    finally:
        for agent in agents:
            agent.stop()
