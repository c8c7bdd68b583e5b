"""Test your telemetry: capture what ``send()`` would export, and assert on it.

::

    from otel_telemetry.testing import capture

    with capture() as events:
        app.create_article()
    events.assert_sent("didCreateEntry", model="article")

While a capture is active, every sender in the process (the module-level default and any
``Telemetry``) runs the whole capture path (validation, policies and the event catalog, rate
limits, mapping and encoding) and hands the encoded event to the capture: nothing is queued and
nothing leaves the process. Each :class:`SentEvent` reads both ways: as the OpenTelemetry
record (``name``, ``attributes``, ``resource``) and as the Strapi payload (``to_payload()``).
With pytest, the plugin (``telemetry_events`` fixture) does this per test:
``docs/testing.md``.
"""

from __future__ import annotations

from ..exporters.memory import InMemoryExporter
from ._capture import Capture, TelemetryAssertionError
from ._events import SentEvent
from ._hook import capturing as capture

__all__ = ["Capture", "InMemoryExporter", "SentEvent", "TelemetryAssertionError", "capture"]
