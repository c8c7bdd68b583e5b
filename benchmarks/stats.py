"""Summaries of repeated measurements: min / median / max, and ratios between them."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    """min / median / max of the repeats of one figure."""

    low: float
    median: float
    high: float
    count: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Summary:
        return cls(min(samples), statistics.median(samples), max(samples), len(samples))

    def fmt(self, digits: int = 2) -> str:
        """``median [min-max]``."""
        if self.count == 1:
            return f"{self.median:,.{digits}f}"
        return f"{self.median:,.{digits}f} [{self.low:,.{digits}f}-{self.high:,.{digits}f}]"


def ratio(value: float | None, baseline: float | None) -> str:
    """``value / baseline`` as ``"3.1x"``; ``"-"`` when either is missing."""
    if value is None or baseline is None or baseline == 0:
        return "-"
    return f"{value / baseline:.2f}x"
