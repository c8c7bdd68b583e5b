"""``Telemetry``: one configured sender. ``send()`` reads top to bottom as the path of an event:

opt-out -> capture (validate, copy) -> rate limits -> queue. The worker thread then maps it
(``mapping``), encodes it (``encoding``) and exports it (``transport``) in batches.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
import weakref
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from . import config
from . import exit as _exit
from .catalog.model import Catalog
from .catalog.settings import catalog_policy_from_settings
from .debug import DEBUG_ENV, DebugExporter
from .encoding import resource_proto
from .environment import default_attributes, disabled_defaults
from .errors import TelemetryError
from .event import CapturedEvent, Policy, as_captured, as_queued
from .identity import project_id as resolve_project_id
from .mapping import Mapper
from .optout import DEFAULT_DISABLE_ENV, disabled_reason, is_truthy
from .otlp_exporter import OTLPExporter
from .pipeline import Backoff, BatchPipeline
from .provider_exporter import ProviderExporter, sdk_resource
from .ratelimit import RateLimit, RateLimiter
from .resources import DEFAULT_MAX_RESOURCES, ResourceCache
from .selfmetrics import SelfMetrics, register_self_metrics
from .spool.settings import resolve_delivery
from .stats import Counters, TelemetryStats
from .validation import Capturer
from .values import AttrValue, flatten_into
from .version import __version__

logger = logging.getLogger("otel_telemetry")

SCOPE_NAME = "otel_telemetry"
DEFAULT_FLUSH_TIMEOUT_S = 10.0

class Telemetry:
    """A telemetry sender: ``send()`` events, ``flush()`` them, ``shutdown()`` at the end.

    Every argument left as ``None`` comes from the standard OpenTelemetry environment variables
    (``OTEL_EXPORTER_OTLP_*``, ``OTEL_BLRP_*``, ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``
    ...) or otel-telemetry's own (``OTEL_TELEMETRY_*``); see the README for the list.
    """

    def __init__(
        self,
        *,
        service_name: str | None = None,
        service_version: str | None = None,
        environment: str | None = None,
        resource_attributes: Mapping[str, Any] | None = None,
        project_id: str | None = None,
        endpoint: str | None = None,
        protocol: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
        compression: str | None = None,
        insecure: bool | None = None,
        logger_provider: LoggerProvider | None = None,
        disabled: bool | None = None,
        disable_env: str = DEFAULT_DISABLE_ENV,
        strict: bool | None = None,
        rate_limits: Mapping[str, RateLimit] | None = None,
        global_rate_limit: RateLimit | None = None,
        event_name_attribute: bool | None = None,
        disable_defaults: Collection[str] | None = None,
        max_queue_size: int | None = None,
        max_export_batch_size: int | None = None,
        schedule_delay_s: float | None = None,
        exit_timeout_s: float | None = None,
        exit: _exit.ExitSettings | None = None,
        max_resources: int = DEFAULT_MAX_RESOURCES,
        backoff: Backoff | None = None,
        policies: Sequence[Policy] = (),
        catalog: Catalog | str | os.PathLike[str] | None = None,
        catalog_mode: str | None = None,
        overflow: str | None = None,
        block_timeout_s: float | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_max_bytes: int | None = None,
        spool_fsync: str | None = None,
        spool_sync: str | None = None,
        event_ids: bool | None = None,
        self_metrics: MeterProvider | bool | None = None,
        debug: bool | None = None,
    ) -> None:
        env = os.environ
        # First: the spool's background sender (started below) may ask for the project id at once.
        self._project_id: str | None = None
        self._lock = threading.Lock()
        self.disabled_reason = disabled_reason(env, disabled=disabled, disable_env=disable_env)
        self._disabled = self.disabled_reason is not None
        self._strict = strict if strict is not None else is_truthy(env.get("OTEL_TELEMETRY_STRICT"))
        self.exporter_settings = config.resolve_exporter(
            env,
            protocol=protocol,
            endpoint=endpoint,
            headers=headers,
            timeout_s=timeout_s,
            compression=compression,
            insecure=insecure,
        )
        self.pipeline_settings = config.resolve_pipeline(
            env,
            max_queue_size=max_queue_size,
            max_export_batch_size=max_export_batch_size,
            schedule_delay_s=schedule_delay_s,
            exit_timeout_s=exit_timeout_s,
        )
        #: Overflow policy and the durable spool (``docs/delivery.md``).
        self.delivery_settings = resolve_delivery(
            env,
            overflow=overflow,
            block_timeout_s=block_timeout_s,
            spool_dir=spool_dir,
            spool_max_bytes=spool_max_bytes,
            spool_fsync=spool_fsync,
            spool_sync=spool_sync,
            event_ids=event_ids,
        )
        if logger_provider is not None and self.delivery_settings.spool is not None:
            if spool_dir is not None:
                raise TelemetryError(
                    "spool_dir", "cannot be used with logger_provider (its exporters deliver)"
                )
            logger.warning("otel-telemetry: OTEL_TELEMETRY_SPOOL_DIR is ignored with a logger_provider")
            self.delivery_settings = resolve_delivery({}, overflow=self.delivery_settings.overflow)
        d = self.delivery_settings
        self._explicit_resource: dict[str, AttrValue] = {}
        flatten_into(self._explicit_resource, "", resource_attributes or {})
        for key, value in (
            ("service.name", service_name),
            ("service.version", service_version),
            ("deployment.environment.name", environment or env.get("OTEL_TELEMETRY_ENVIRONMENT")),
        ):
            if value:
                self._explicit_resource[key] = value
        self._project_id_arg = project_id
        self._disabled_defaults = disabled_defaults(disable_defaults, env)
        self._event_name_attribute = (
            event_name_attribute
            if event_name_attribute is not None
            else is_truthy(env.get("OTEL_TELEMETRY_EVENT_NAME_ATTRIBUTE"))
        )
        self._max_resources = max_resources
        self._capturer = Capturer(strict=self._strict)
        self._policies = tuple(policies)
        #: The event catalog check (``catalog=`` or ``OTEL_TELEMETRY_CATALOG``), the last policy.
        self.catalog_policy = catalog_policy_from_settings(
            catalog, catalog_mode, env, lambda: self.project_id, strict=self._strict
        )
        if self.catalog_policy is not None:
            self._policies = (*self._policies, self.catalog_policy)
        self._limiter = (
            RateLimiter(rate_limits, global_rate_limit) if rate_limits or global_rate_limit else None
        )
        self._counters = Counters()
        self._scope = InstrumentationScope(SCOPE_NAME, __version__)
        self._provider_exporter: ProviderExporter | None = None
        self._otlp_exporter: OTLPExporter | None = None
        p = self.pipeline_settings
        exporter: OTLPExporter | ProviderExporter
        if logger_provider is not None:
            exporter = self._provider_exporter = ProviderExporter(
                logger_provider,
                lambda: self._mapper(dict(logger_provider.resource.attributes), sdk_resource),
                self._scope,
            )
        else:
            exporter = self._otlp_exporter = OTLPExporter(
                self.exporter_settings, lambda: self._mapper({}, resource_proto), SCOPE_NAME, __version__
            )
        #: Debug mode: events are printed to stderr as ``tail`` prints them; nothing is sent.
        self.debug = debug if debug is not None else is_truthy(env.get(DEBUG_ENV))
        if self.debug and self._otlp_exporter is not None:
            self._otlp_exporter.use_transport(DebugExporter())
        self._pipeline: BatchPipeline[Any] = BatchPipeline(
            exporter,
            self._counters,
            max_queue_size=p.max_queue_size,
            max_export_batch_size=p.max_export_batch_size,
            schedule_delay_s=p.schedule_delay_s,
            export_timeout_s=min(p.export_timeout_s, self.exporter_settings.timeout_s),
            backoff=backoff,
            overflow=d.overflow,
            block_timeout_s=d.block_timeout_s,
            spool=d.spool,
            event_ids=d.event_ids,
        )
        self._self_metrics: SelfMetrics | None = (
            register_self_metrics(self, self_metrics) if self_metrics and not self._disabled else None
        )
        self.exit_timeout_s = p.exit_timeout_s
        #: What happens at exit (``docs/short-lived.md``).
        self.exit_settings = exit if exit is not None else _exit.ExitSettings.from_env(env)
        can_hand_off = not self._disabled and not self.debug and self._otlp_exporter is not None
        self_ref = weakref.ref(self)
        self._exiting = _exit.Exiting(
            pipeline=self._pipeline,
            counters=self._counters,
            settings=self.exit_settings,
            exporter=self._handoff_exporter_settings() if can_hand_off else None,
            encoding=lambda: _handoff_encoding(self_ref),
            spool_dir=str(d.spool.directory) if d.spool is not None else None,
            timeout_s=self.exit_timeout_s,
            shutdown=lambda timeout_s: _shutdown(self_ref, timeout_s),
        )
        _exit.track(self._exiting)
        weakref.finalize(self, _exit.dropped, self._exiting).atexit = False
        if self._disabled:
            logger.debug("otel-telemetry is disabled (%s): nothing will be sent", self.disabled_reason)
        elif d.spool is not None:  # last: the worker may use any of the above at once
            self._pipeline.start_background()  # deliver what earlier runs left, even without a send

    # -- the hot path ------------------------------------------------------------------------

    def send(
        self,
        event_name: str,
        payload: Mapping[str, Any] | None = None,
        /,
        *,
        event_properties: Mapping[str, Any] | None = None,
        user_properties: Mapping[str, Any] | None = None,
        group_properties: Mapping[str, Any] | None = None,
        user_id: str | int | None = None,
        body: str | None = None,
    ) -> bool:
        """Record one event; True if it was accepted (or telemetry is disabled), False if dropped.

        Never blocks on the network and never raises, except :class:`TelemetryError` for bad
        input in strict mode. Why an event was dropped is counted in :meth:`stats` and logged
        once per kind.
        """
        if self._disabled:
            return True
        try:
            event = self._capturer.capture(
                event_name, payload, event_properties, user_properties, group_properties, user_id, body
            )
        except TelemetryError as error:
            if self._strict:
                raise
            self._counters.drop("invalid", 1, str(error))
            return False
        except Exception as error:  # a bug of ours must not reach the host app
            self._counters.drop("internal_error", 1, repr(error))
            return False
        if self._policies:
            view = as_captured(event)
            checked = self._apply_policies(view, event_name)
            if checked is None:
                return False
            event = as_queued(checked, event, view)
        if self._limiter is not None and not self._limiter.allow(event_name):
            self._counters.drop("rate_limited", 1, event_name)
            return False
        if self._pipeline.submit(event):
            return True
        self._counters.drop("shutdown" if self._pipeline.closed else "queue_full")
        return False

    def _apply_policies(self, event: CapturedEvent, event_name: str) -> CapturedEvent | None:
        """Run the policies in order; ``None`` (the drop counted) when one refuses the event."""
        for policy in self._policies:
            try:
                checked = policy(event)
            except TelemetryError as error:
                if self._strict:
                    raise
                self._counters.drop("invalid", 1, str(error))
                return None
            except Exception as error:
                self._counters.drop("internal_error", 1, repr(error))
                return None
            if checked is None:
                self._counters.drop(getattr(policy, "drop_reason", "policy"), 1, event_name)
                return None
            event = checked
        return event

    # -- lifecycle ---------------------------------------------------------------------------

    def flush(self, timeout_s: float = DEFAULT_FLUSH_TIMEOUT_S) -> bool:
        """Wait until everything accepted so far is exported; returns within ``timeout_s``.

        True when it all was exported; False on timeout (collector down) or if some was lost.
        """
        if self._disabled:
            return True
        if self._provider_exporter is None:
            return self._pipeline.flush(timeout_s)
        deadline = time.monotonic() + timeout_s
        drained = self._pipeline.flush(timeout_s)
        return self._provider_exporter.force_flush(max(deadline - time.monotonic(), 0.0)) and drained

    def shutdown(self, timeout_s: float = DEFAULT_FLUSH_TIMEOUT_S) -> bool:
        """Export what is queued (within ``timeout_s``) and stop; later sends return False."""
        _exit.untrack(self._exiting)
        if self._disabled:
            return True
        ok = self._pipeline.shutdown(timeout_s)
        dropped = self._counters.snapshot(0).dropped_total
        if dropped:
            logger.info(
                "otel-telemetry shut down; events dropped over its lifetime: %s", dict(self._counters.dropped)
            )
        return ok

    def stats(self) -> TelemetryStats:
        """Counters of accepted, exported, retried and dropped (by reason) events."""
        return self._pipeline.stats()

    # -- exit (``exit.py``: hand-off of what is pending) -------------------------------------

    @property
    def exit_mode(self) -> str:
        """What happens at exit if it came now: ``handoff`` or ``flush`` (``docs/short-lived.md``)."""
        return _exit.chosen_mode(self._exiting)

    def _handoff_exporter_settings(self) -> dict[str, Any]:
        """The exporter settings as plain data, for the detached sender."""
        return {**dataclasses.asdict(self.exporter_settings), "headers": dict(self.exporter_settings.headers)}

    def _handoff_encoding_settings(self) -> dict[str, Any]:
        """What the detached sender needs to encode events as this instance would."""
        return {
            "telemetry": {
                "resource_attributes": dict(self._explicit_resource),
                "project_id": self.project_id,
                "event_name_attribute": self._event_name_attribute,
                "disable_defaults": sorted(self._disabled_defaults),
                "max_resources": self._max_resources,
            },
            "event_ids": self.delivery_settings.event_ids,
        }

    # -- identity and resource (built lazily, on the worker thread) --------------------------

    @property
    def project_id(self) -> str:
        """Strapi's project ``uuid``: the salt of user hashes and of the installation id."""
        with self._lock:
            if self._project_id is None:
                self._project_id = resolve_project_id(self._project_id_arg, os.environ)
            return self._project_id

    @property
    def base_resource(self) -> dict[str, AttrValue]:
        """The resource every event carries before its group properties are merged over it."""
        mapper = self._current_mapper()
        return dict(mapper.resources.base.attributes)

    def _current_mapper(self) -> Mapper:
        exporter = self._provider_exporter or self._otlp_exporter
        assert exporter is not None
        return exporter.mapper

    def _base_attributes(self, provider_attributes: Mapping[str, Any]) -> dict[str, AttrValue]:
        defaults: dict[str, AttrValue] = dict(
            default_attributes(self.project_id, os.environ, self._disabled_defaults)
        )
        detected = _detected_resource(self._explicit_resource)
        return {**defaults, **detected, **provider_attributes, **self._explicit_resource}

    def _mapper(self, provider_attributes: Mapping[str, Any], encode: Any) -> Mapper:
        p = self.pipeline_settings
        return Mapper(
            ResourceCache(self._base_attributes(provider_attributes), encode, self._max_resources),
            self.project_id,
            attribute_count_limit=p.attribute_count_limit,
            attribute_value_length_limit=p.attribute_value_length_limit,
            event_name_attribute=self._event_name_attribute,
            on_invalid_property=self._counters.invalid_property,
        )

    def __enter__(self) -> Telemetry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        state = f"disabled ({self.disabled_reason})" if self._disabled else self.exporter_settings.endpoint
        return f"<Telemetry {self.exporter_settings.protocol} {state}>"


def _detected_resource(explicit: Mapping[str, AttrValue]) -> dict[str, AttrValue]:
    """The SDK's resource (detectors, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_SERVICE_NAME``).

    ``Resource.create`` runs detectors on a thread pool, which refuses work once the interpreter
    is exiting; a script that sends and exits at once gets the environment detector alone.
    """
    try:
        return dict(Resource.create(dict(explicit)).attributes)  # type: ignore[arg-type]
    except RuntimeError:
        fallback: dict[str, AttrValue] = dict(OTELResourceDetector().detect().attributes)  # type: ignore[arg-type]
        return {**fallback, **explicit}


def _handoff_encoding(ref: weakref.ref[Telemetry]) -> dict[str, Any]:
    telemetry = ref()
    if telemetry is None:
        raise OSError("the instance is gone")  # counted handoff_error
    return telemetry._handoff_encoding_settings()


def _shutdown(ref: weakref.ref[Telemetry], timeout_s: float) -> bool:
    telemetry = ref()
    return telemetry.shutdown(timeout_s) if telemetry is not None else True
