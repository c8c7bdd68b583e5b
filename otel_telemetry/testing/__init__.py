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

To test delivery itself (what your app does when the collector is slow, refuses or is down),
:class:`OTLPReceiver` is a real OTLP collector stand-in (gRPC and HTTP, decoding the protobuf)
and :class:`Fault` scripts its answers: a status, a retry hint, a hang, a partial success. They
load gRPC, so they are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..exporters.memory import InMemoryExporter
from ._capture import Capture, TelemetryAssertionError
from ._events import SentEvent
from ._hook import capturing as capture

if TYPE_CHECKING:
    from ..receiver import Fault, OTLPReceiver

__all__ = [
    "Capture",
    "Fault",
    "InMemoryExporter",
    "OTLPReceiver",
    "SentEvent",
    "TelemetryAssertionError",
    "capture",
]


def __getattr__(name: str) -> Any:
    """``OTLPReceiver`` and ``Fault`` on first use (they import gRPC; a capture needs neither)."""
    if name in ("OTLPReceiver", "Fault"):
        from .. import receiver

        return getattr(receiver, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
