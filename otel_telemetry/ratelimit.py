"""Rate limits: Strapi's "limited events" (once per 24 h per name), generalised.

A :class:`RateLimit` allows ``count`` events per ``window_s`` seconds. Per-name limits use a
fixed window per event name; the global cap is a token bucket, so a steady stream is smoothed
rather than cut off at window edges.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .errors import TelemetryError
from .processes import fork_safe

DAY_S = 86_400.0


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` events every ``window_s`` seconds."""

    count: int
    window_s: float = DAY_S

    def __post_init__(self) -> None:
        if self.count < 0:
            raise TelemetryError("RateLimit.count", "must be >= 0")
        if not self.window_s > 0:
            raise TelemetryError("RateLimit.window_s", "must be > 0")


#: Strapi's limited events: each at most once per day.
ONCE_PER_DAY = RateLimit(1, DAY_S)


class RateLimiter:
    """Decides whether one more event may pass; thread-safe, O(1) per call."""

    def __init__(
        self,
        per_event: Mapping[str, RateLimit] | None = None,
        global_limit: RateLimit | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_event = dict(per_event or {})
        self._global = global_limit
        self._clock = clock
        self._lock = fork_safe(threading.Lock())
        self._windows: dict[str, tuple[float, int]] = {}
        self._tokens = float(global_limit.count) if global_limit else 0.0
        self._refilled_at = clock()

    def allow(self, event_name: str) -> bool:
        """True if the event may be sent now; a denied event consumes nothing."""
        limit = self._per_event.get(event_name)
        if limit is None and self._global is None:
            return True
        with self._lock:
            now = self._clock()
            if limit is not None:
                start, used = self._windows.get(event_name, (now, 0))
                if now - start >= limit.window_s:
                    start, used = now, 0
                if used >= limit.count:
                    return False
            if self._global is not None:
                rate = self._global.count / self._global.window_s
                self._tokens = min(float(self._global.count), self._tokens + (now - self._refilled_at) * rate)
                self._refilled_at = now
                if self._tokens < 1.0:
                    return False
                self._tokens -= 1.0
            if limit is not None:
                self._windows[event_name] = (start, used + 1)
            return True
