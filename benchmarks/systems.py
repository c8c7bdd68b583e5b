"""The systems under test, each behind the same small interface, built inside a child process.

A :class:`System` has ``send`` (one event, payload pre-built), ``flush(timeout_s)`` and
``close()``. Peers that are not installed raise :class:`NotInstalled`, reported as such.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from benchmarks import payload as p

#: Same queue for every OTel pipeline: otel-telemetry's default, so a 100,000 burst fits.
QUEUE_SIZE = 131_072


class NotInstalled(Exception):
    """The system's package is not installed (``pip install -e '.[bench]'``)."""


@dataclass
class System:
    """One configured system: ``send()`` records the representative event."""

    send: Callable[[], Any]
    flush: Callable[[float], bool] = lambda timeout_s: True
    close: Callable[[], None] = lambda: None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Spec:
    """What the parent tells a child: which system, where to send, how to configure it."""

    system: str
    grpc_endpoint: str = ""
    http_endpoint: str = ""
    sink_url: str = ""
    options: dict[str, Any] = field(default_factory=dict)


def version(distribution: str) -> str:
    """Installed version of ``distribution``, or ``"not installed"``."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _bounded(flush: Callable[[], Any]) -> Callable[[float], bool]:
    """``flush`` on a side thread, waited for at most ``timeout_s`` (some SDKs' flush never returns)."""

    def bounded(timeout_s: float) -> bool:
        done = threading.Event()

        def run() -> None:
            try:
                flush()
            finally:
                done.set()

        threading.Thread(target=run, daemon=True).start()
        return done.wait(timeout_s)

    return bounded


def floor(spec: Spec) -> System:
    """The least any in-process hand-off can cost: copy the three property dicts, append to a deque."""
    queue: deque[Any] = deque()
    ep, up, gp = p.EVENT_PROPERTIES, p.USER_PROPERTIES, p.GROUP_PROPERTIES
    name = p.EVENT_NAME

    def send() -> None:
        queue.append((name, ep.copy(), up.copy(), gp.copy()))

    return System(send, close=queue.clear)


def otel_telemetry(spec: Spec) -> System:
    """``Telemetry.send(name, payload)`` with default settings, over the protocol in options."""
    from otel_telemetry import OTLPExporter, Telemetry

    protocol = spec.options.get("protocol", "grpc")
    endpoint = spec.grpc_endpoint if protocol == "grpc" else spec.http_endpoint
    kwargs = dict(spec.options.get("telemetry", {}))
    telemetry = Telemetry(
        service_name="bench", exporter=OTLPExporter(endpoint=endpoint, protocol=protocol), **kwargs
    )
    send, name, payload = telemetry.send, p.EVENT_NAME, p.PAYLOAD
    distinct = spec.options.get("distinct", 0)
    if distinct:  # no two events alike: "fields" counts up, in a payload built per call as apps do
        counter, ep = itertools.count(), p.EVENT_PROPERTIES

        def send_distinct() -> bool:
            return send(name, {**payload, "eventProperties": {**ep, "fields": next(counter)}})

        return System(
            send_distinct, telemetry.flush, lambda: telemetry.shutdown(5.0), {"telemetry": telemetry}
        )
    extra_kwargs = spec.options.get("send_kwargs")
    if extra_kwargs:

        def send_with() -> bool:
            return send(name, payload, **extra_kwargs)

        return System(send_with, telemetry.flush, lambda: telemetry.shutdown(5.0), {"telemetry": telemetry})
    extra = {"telemetry": telemetry}
    return System(lambda: send(name, payload), telemetry.flush, lambda: telemetry.shutdown(5.0), extra)


def _sdk_provider(spec: Spec, processor: bool) -> Any:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    provider = LoggerProvider(resource=Resource({"service.name": "bench", **p.GROUP_PROPERTIES}))
    if processor:
        protocol = spec.options.get("protocol", "grpc")
        exporter: Any
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

            exporter = OTLPLogExporter(endpoint=spec.grpc_endpoint, insecure=True)
        else:
            from opentelemetry.exporter.otlp.proto.http._log_exporter import (
                OTLPLogExporter as HTTPLogExporter,
            )

            exporter = HTTPLogExporter(endpoint=spec.http_endpoint + "/v1/logs")
        provider.add_log_record_processor(BatchLogRecordProcessor(exporter, max_queue_size=QUEUE_SIZE))
    return provider


def otel_sdk(spec: Spec) -> System:
    """The raw SDK: ``Logger.emit(event_name=..., attributes=...)``; with BatchLogRecordProcessor
    (queue as otel-telemetry's) and the SDK's OTLP exporter unless ``options["emit_only"]``."""
    provider = _sdk_provider(spec, processor=not spec.options.get("emit_only"))
    emit = provider.get_logger("bench").emit
    name, attributes = p.EVENT_NAME, p.otel_attributes()
    return System(
        lambda: emit(event_name=name, attributes=attributes),
        lambda timeout_s: bool(provider.force_flush(int(timeout_s * 1000))),
        provider.shutdown,
    )


def otel_telemetry_provider(spec: Spec) -> System:
    """otel-telemetry attached to an app's existing LoggerProvider (BLRP + SDK OTLP exporter)."""
    from otel_telemetry import LoggerProviderExporter, Telemetry

    provider = _sdk_provider(spec, processor=True)
    telemetry = Telemetry("bench", exporter=LoggerProviderExporter(provider))
    send, name, payload = telemetry.send, p.EVENT_NAME, p.PAYLOAD

    def close() -> None:
        telemetry.shutdown(5.0)
        provider.shutdown()

    return System(lambda: send(name, payload), telemetry.flush, close, {"telemetry": telemetry})


def segment(spec: Spec) -> System:
    """Segment's ``Client.track`` (defaults but a queue >= N), to the local sink."""
    try:
        from segment.analytics import Client
    except ImportError as exc:
        raise NotInstalled("segment-analytics-python") from exc
    client = Client("bench-write-key", host=spec.sink_url, max_queue_size=QUEUE_SIZE)
    track = client.track
    ep, context = p.EVENT_PROPERTIES, {"traits": p.USER_PROPERTIES, "groups": p.GROUP_PROPERTIES}
    return System(
        lambda: track(p.USER_ID, p.EVENT_NAME, ep, context), _bounded(client.flush), client.shutdown
    )


def posthog(spec: Spec) -> System:
    """PostHog's ``capture`` (defaults but a queue >= N), to the local sink."""
    try:
        from posthog import Posthog
    except ImportError as exc:
        raise NotInstalled("posthog") from exc
    client = Posthog("bench-key", host=spec.sink_url, max_queue_size=QUEUE_SIZE)
    capture = client.capture
    properties = {**p.EVENT_PROPERTIES, "$set": p.USER_PROPERTIES, **p.GROUP_PROPERTIES}
    return System(
        lambda: capture(p.EVENT_NAME, distinct_id=p.USER_ID, properties=properties),
        _bounded(client.flush),
        client.shutdown,
    )


def amplitude(spec: Spec) -> System:
    """Amplitude's ``track(BaseEvent(...))`` with defaults, to the local sink."""
    try:
        from amplitude import Amplitude, BaseEvent, Config
    except ImportError as exc:
        raise NotInstalled("amplitude-analytics") from exc
    client = Amplitude("bench-key", configuration=Config(server_url=spec.sink_url + "/2/httpapi"))
    track = client.track

    def send() -> None:
        track(
            BaseEvent(
                event_type=p.EVENT_NAME,
                user_id=p.USER_ID,
                event_properties=p.EVENT_PROPERTIES,
                user_properties=p.USER_PROPERTIES,
                groups={"project": "p1"},
                group_properties=p.GROUP_PROPERTIES,
            )
        )

    return System(send, _bounded(client.flush), client.shutdown)


#: key -> (label, package whose version is shown, factory)
SYSTEMS: dict[str, tuple[str, str, Callable[[Spec], System]]] = {
    "floor": ("floor: 3 dict copies + deque.append", "", floor),
    "otel-telemetry": ("otel-telemetry send()", "otel-telemetry", otel_telemetry),
    "otel-telemetry-provider": (
        "otel-telemetry send() into an app's LoggerProvider",
        "otel-telemetry",
        otel_telemetry_provider,
    ),
    "sdk-emit": ("OTel SDK Logger.emit() alone (no processor)", "opentelemetry-sdk", otel_sdk),
    "sdk": ("OTel SDK Logger.emit() + BatchLogRecordProcessor + OTLP", "opentelemetry-sdk", otel_sdk),
    "segment": ("Segment analytics.track", "segment-analytics-python", segment),
    "posthog": ("PostHog capture", "posthog", posthog),
    "amplitude": ("Amplitude track", "amplitude-analytics", amplitude),
}


def build(spec: Spec) -> System:
    """The system ``spec`` names, configured; raises NotInstalled for a missing peer."""
    options = dict(spec.options)
    if spec.system == "sdk-emit":
        options["emit_only"] = True
    factory = SYSTEMS[spec.system][2]
    return factory(Spec(spec.system, spec.grpc_endpoint, spec.http_endpoint, spec.sink_url, options))
