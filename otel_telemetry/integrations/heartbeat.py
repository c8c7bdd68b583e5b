"""``Heartbeat``: Strapi's daily ``ping`` — one event per interval from a background thread.

A heartbeat shows an installation is alive even when nobody uses it. The thread is a daemon (it
never keeps the app alive). It runs in the process that started it: forked workers do not
inherit the thread, which is what you want (one ping per installation, not one per worker);
start it in the parent (gunicorn: the master with ``--preload``, or ``when_ready``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from .. import _default
from ..telemetry import Telemetry
from ..threads import background_thread

DAY_S = 86_400.0


class Heartbeat:
    """Sends ``event_name`` (default ``ping``) now and then every ``interval_s`` seconds.

    ``properties`` is a payload dict, or a callable returning one (evaluated at each beat, e.g.
    to report the number of content types).
    """

    def __init__(
        self,
        telemetry: Telemetry | None = None,
        *,
        event_name: str = "ping",
        interval_s: float = DAY_S,
        properties: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
        send_on_start: bool = True,
    ) -> None:
        if not interval_s > 0:
            raise ValueError("interval_s must be > 0")
        self._telemetry = telemetry
        self.event_name = event_name
        self.interval_s = interval_s
        self._properties = properties
        self._send_on_start = send_on_start
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.beats = 0

    def beat(self) -> bool:
        """Send one heartbeat now; never raises."""
        try:
            props = self._properties() if callable(self._properties) else self._properties
            telemetry = self._telemetry or _default.get_default()
            sent = telemetry.send(self.event_name, dict(props) if props else None)
        except Exception:
            return False
        self.beats += 1
        return sent

    def _run(self) -> None:
        if self._send_on_start:
            self.beat()
        while not self._stop.wait(self.interval_s):
            self.beat()

    def start(self) -> Heartbeat:
        """Start the background thread (once)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = background_thread(self._run, "otel-telemetry-heartbeat")
            self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread; the next beat is not sent."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
