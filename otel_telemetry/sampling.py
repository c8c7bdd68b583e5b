"""Per-event sampling: keep a share of a frequent event and say so on each kept record.

``SamplingSettings(sample_rates={"didReceiveRequest": 0.1})`` keeps about one
``didReceiveRequest`` in ten. The decision is made first in ``send()``, before anything is
copied, so a sampled-out event costs one dict lookup and one random number; it is counted
(``stats().sampled_out``), not dropped as a failure. Each kept record of a sampled event
carries ``otel_telemetry.sample_rate`` (the probability it was kept with), so a backend scales
counts back by ``1 / rate`` (the insights do). Events the app marks as lifecycle events are
never sampled.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import TYPE_CHECKING

from .values import Props, freeze

if TYPE_CHECKING:
    from .settings import SamplingSettings

#: The attribute stamped on each kept record of a sampled event.
SAMPLE_RATE_ATTRIBUTE = "otel_telemetry.sample_rate"


class Sampler:
    """Decides per event; built once from ``SamplingSettings``."""

    def __init__(self, settings: SamplingSettings) -> None:
        rates, default_rate = settings.sample_rates, settings.default_rate
        lifecycle, seed = settings.lifecycle, settings.seed
        self._rates = {name: float(rate) for name, rate in rates.items() if name not in lifecycle}
        self._default = float(default_rate)
        self._lifecycle = lifecycle
        self._random = random.Random(seed).random
        #: The frozen annotation each rate stamps (built once per rate).
        self._stamps: dict[float, Props] = {}
        for rate in (*self._rates.values(), self._default):
            if rate < 1.0:
                frozen = freeze({SAMPLE_RATE_ATTRIBUTE: rate})
                assert frozen is not None
                self._stamps[rate] = frozen
        self._lock = threading.Lock()
        self._sampled_out: Counter[str] = Counter()

    def rate(self, name: str) -> float:
        """The probability ``name`` is kept with (1.0: always, e.g. a lifecycle event)."""
        rate = self._rates.get(name)
        if rate is not None:
            return rate
        return 1.0 if name in self._lifecycle else self._default

    def keep(self, name: str) -> Props | bool:
        """False: sampled out (counted). True: kept, not sampled. Props: kept, stamp these."""
        rate = self.rate(name)
        if rate >= 1.0:
            return True
        if self._random() < rate:
            return self._stamps[rate]
        with self._lock:
            self._sampled_out[name] += 1
        return False

    def sampled_out(self) -> dict[str, int]:
        """Events left out by sampling so far, by event name."""
        with self._lock:
            return dict(self._sampled_out)
