"""What the request middleware sends, shared by WSGI and ASGI: Strapi's ``didReceiveRequest``.

Strapi's metrics middleware sends ``didReceiveRequest`` for API requests (not static files:
URLs containing a dot are skipped; only GET/POST/PUT/DELETE), at most 1,000 per day per
process. We send ``{url, success, statusCode}`` after the response, with the path only (query
strings often carry personal data).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from datetime import datetime, timezone

from .. import _default
from ..processes import fork_safe
from ..telemetry import Telemetry

DEFAULT_EVENT = "didReceiveRequest"
DEFAULT_DAILY_CAP = 1000
DEFAULT_METHODS = frozenset({"GET", "POST", "PUT", "DELETE"})


class DailyCap:
    """At most ``limit`` events per calendar day (UTC); the count restarts when the day changes."""

    def __init__(self, limit: int = DEFAULT_DAILY_CAP, clock: Callable[[], float] = time.time) -> None:
        if limit < 0:
            raise ValueError("limit must be >= 0")
        self.limit = limit
        self._clock = clock
        self._day: object = None
        self._used = 0
        self._lock = fork_safe(threading.Lock())

    def allow(self) -> bool:
        """True (and counted) if another event fits in today's cap."""
        day = datetime.fromtimestamp(self._clock(), timezone.utc).date()
        with self._lock:
            if day != self._day:
                self._day, self._used = day, 0
            if self._used >= self.limit:
                return False
            self._used += 1
            return True


class RequestEvents:
    """Decides which requests are reported and sends the event; never raises."""

    def __init__(
        self,
        telemetry: Telemetry | None = None,
        *,
        event_name: str = DEFAULT_EVENT,
        daily_cap: int | None = DEFAULT_DAILY_CAP,
        methods: Collection[str] = DEFAULT_METHODS,
        skip_static: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._telemetry = telemetry
        self.event_name = event_name
        self._cap = DailyCap(daily_cap, clock) if daily_cap is not None else None
        self._methods = frozenset(m.upper() for m in methods)
        self._skip_static = skip_static

    def wanted(self, method: str, path: str) -> bool:
        """Whether a request is reported at all (before the cap)."""
        if method.upper() not in self._methods:
            return False
        return not (self._skip_static and "." in path.rsplit("/", 1)[-1])

    def record(self, method: str, path: str, status: int) -> bool:
        """Send the event for a finished request if it is wanted and under the cap."""
        if not self.wanted(method, path):
            return False
        if self._cap is not None and not self._cap.allow():
            return False
        telemetry = self._telemetry or _default.get_default()
        try:
            return telemetry.send(
                self.event_name,
                {"eventProperties": {"url": path, "success": 200 <= status < 400, "statusCode": status}},
            )
        except Exception:  # strict mode on a bad event must not break the app's response
            return False
