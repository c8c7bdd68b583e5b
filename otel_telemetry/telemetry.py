"""``Telemetry``: one configured sender. ``send()`` reads top to bottom as the path of an event:

opt-out -> capture (validate, copy) -> rate limits -> queue. The worker thread then maps it
(``mapping``), encodes it (``encoding``) and exports it (``transport``) in batches.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry.sdk.resources import OTELResourceDetector, Resource

from . import _capture_hook, processes
from . import settings as config
from .encoding import BatchEncoder, EncodedBatch, resource_proto
from .environment import default_attributes
from .errors import TelemetryError
from .event import CapturedEvent, Event, Policy, as_captured, as_queued, drop_reason_of
from .exporters.base import Exporter
from .exporters.otlp import OTLPExporter
from .exporters.provider import LoggerProviderExporter
from .identity import privacy_state_dir
from .identity import project_id as resolve_project_id
from .mapping import Mapper
from .pipeline import BatchPipeline
from .processes import fork_safe
from .ratelimit import RateLimiter
from .resources import ResourceCache
from .selfmetrics import SelfMetrics, register_self_metrics
from .settings import (
    BatchSettings,
    CatalogSettings,
    ConsentSettings,
    DefaultProperties,
    DeliverySettings,
    PrivacySettings,
    RecordSettings,
    ResourceSettings,
    SamplingSettings,
)
from .stats import Counters, TelemetryStats
from .unencodable import describe_error
from .validation import Capturer
from .values import AttrValue, Props, flatten_into
from .version import __version__

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider

    from .catalog.model import Catalog  # annotations only: a sender without a catalog never loads it
    from .consent_gate import ConsentGate
    from .consent_store import StoredChoice
    from .sampling import Sampler

logger = logging.getLogger("otel_telemetry")

SCOPE_NAME = "otel_telemetry"
#: The consent name of an app without a service name (the SDK's default service name).
DEFAULT_APP = "unknown_service"
DEFAULT_FLUSH_TIMEOUT_S = 10.0

_instances: weakref.WeakSet[Telemetry] = weakref.WeakSet()
_monotonic = time.monotonic


@atexit.register
def _flush_at_exit() -> None:
    """A script that sends and exits still delivers: flush and stop every live instance."""
    processes.deliver_all()


class Telemetry:
    """A telemetry sender: ``send()`` events, ``flush()`` them, ``shutdown()`` at the end.

    ``service_name``, ``endpoint``, ``protocol`` and ``headers`` are the common settings; the
    rest come grouped in settings objects (``otel_telemetry.settings``). Each argument left
    ``None`` is read from the standard OpenTelemetry environment variables
    (``OTEL_EXPORTER_OTLP_*``, ``OTEL_BLRP_*``, ``OTEL_SERVICE_NAME`` ...) or otel-telemetry's
    own (``OTEL_TELEMETRY_*``); see the README for the list. ``exporter`` replaces the OTLP
    exporter (e.g. ``LoggerProviderExporter(provider)`` to go through an app's own
    OpenTelemetry pipeline, ``InMemoryExporter()`` in tests).
    """

    def __init__(
        self,
        service_name: str | None = None,
        *,
        endpoint: str | None = None,
        protocol: str | None = None,
        headers: Mapping[str, str] | None = None,
        exporter: Exporter | None = None,
        batch: BatchSettings | None = None,
        delivery: DeliverySettings | None = None,
        resource: ResourceSettings | None = None,
        records: RecordSettings | None = None,
        privacy: PrivacySettings | None = None,
        policies: Sequence[Policy] = (),
        catalog: CatalogSettings | Catalog | str | os.PathLike[str] | None = None,
        strict: bool | None = None,
        disabled: bool | None = None,
        self_metrics: MeterProvider | bool | None = None,
        consent: ConsentSettings | None = None,
        notice: str | None = None,
        sampling: SamplingSettings | None = None,
        default_properties: DefaultProperties | None = None,
    ) -> None:
        # First: the spool's background sender (started below) may ask for the project id at once.
        self._project_id: str | None = None
        self._lock = fork_safe(threading.Lock())
        #: Identity and opt-out settings.
        self.privacy = _given(privacy, PrivacySettings, "privacy") or PrivacySettings.from_env()
        #: Why telemetry is off (``None`` when on): ``disabled=True`` or the user's environment.
        self.disabled_reason = (
            "disabled=True" if disabled else config.opt_out_reason(self.privacy.disable_env)
        )
        self._disabled = self.disabled_reason is not None
        self._strict = strict if strict is not None else config.strict_from_env()
        #: Where batches go.
        self.exporter = _exporter(exporter, endpoint, protocol, headers)
        # OTEL_LOGS_EXPORTER=none (set by the pytest plugin for test sessions): accept, export nothing
        self._discard = exporter is None and config.logs_exporter() == "none"
        #: The queue and its batches.
        self.batch = _given(batch, BatchSettings, "batch") or BatchSettings.from_env()
        #: Timeouts, retries and the optional spool.
        self.delivery = _given(delivery, DeliverySettings, "delivery") or DeliverySettings.from_env()
        given = _given(resource, ResourceSettings, "resource")
        resource = given or ResourceSettings.from_env()
        if service_name is not None:
            resource = replace(resource, service_name=service_name)
        #: What the resource of every event says about the app.
        self.resource = resource
        #: Attribute limits, rate limits, the event name attribute.
        self.records = _given(records, RecordSettings, "records") or RecordSettings.from_env()
        # Given in code, the resource settings rank above a LoggerProvider's resource; read from
        # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES they rank as the SDK's resource, below it.
        self._explicit_resource: dict[str, AttrValue] = {}
        self._env_resource: dict[str, AttrValue] = {}
        flatten_into(self._explicit_resource if given else self._env_resource, "", resource.attributes)
        for key, value, explicit in (
            ("service.name", resource.service_name, given is not None or service_name is not None),
            ("service.version", resource.service_version, True),
            ("deployment.environment.name", resource.environment, True),
        ):
            if value:
                (self._explicit_resource if explicit else self._env_resource)[key] = value
        self._capturer = Capturer(strict=self._strict)
        #: What the app's users decide and are told (``otel_telemetry.consent``).
        self.consent = _consent_settings(consent, notice)
        #: The name the users' choice is stored under: ``consent.app``, else the service name.
        self.app = self.consent.app or resource.service_name or DEFAULT_APP
        with processes.fork_waits():  # a lazy import: a fork must not inherit its held import lock
            from .consent_gate import ConsentGate
        self._gate: ConsentGate = ConsentGate.for_app(
            self.app, privacy_state_dir(self.privacy), self.consent, self._consent_changed
        )
        #: Per-event sampling.
        self.sampling = _given(sampling, SamplingSettings, "sampling") or SamplingSettings()
        self._sampler: Sampler | None = None
        if self.sampling.active:
            with processes.fork_waits():
                from .sampling import Sampler
            self._sampler = Sampler(self.sampling)
        #: Properties merged under every event's own.
        self.default_properties = _given(default_properties, DefaultProperties, "default_properties")
        d = self.default_properties
        self._defaults = d.groups if d is not None and (d.event or d.user or d.group) else None
        if self._defaults is not None:
            with processes.fork_waits():
                from .default_properties import merge_defaults
            self._merge_defaults = merge_defaults
        self._policies = tuple(policies)
        if not isinstance(catalog, CatalogSettings):
            catalog = (
                CatalogSettings.from_env()
                if catalog is None
                else CatalogSettings(catalog, CatalogSettings.from_env().mode)
            )
        #: The event catalog check (``catalog=`` or ``OTEL_TELEMETRY_CATALOG``), the last policy.
        self.catalog_policy = _catalog_policy(catalog, lambda: self.project_id, self._strict)
        if self.catalog_policy is not None:
            self._policies = (*self._policies, self.catalog_policy)
        r = self.records
        self._limiter = (
            RateLimiter(r.rate_limits, r.global_rate_limit) if r.rate_limits or r.global_rate_limit else None
        )
        self._counters = Counters()
        self._mapper: Mapper | None = None
        self._encoder = BatchEncoder(SCOPE_NAME, __version__)
        self._pipeline = BatchPipeline(
            self._encode,
            self._gate.wrap(self.exporter),
            self._counters,
            self.batch,
            self.delivery,
        )
        self._self_metrics: SelfMetrics | None = (
            register_self_metrics(self, self_metrics) if self_metrics and not self._disabled else None
        )
        _instances.add(self)
        if self._disabled:
            logger.debug("otel-telemetry is disabled (%s): nothing will be sent", self.disabled_reason)
        elif self.delivery.spool is not None:  # last: the worker may use any of the above at once
            self._pipeline.start_background()  # deliver what earlier runs left, even without a send

    @property
    def config_error(self) -> str | None:
        """Why the exporter's configuration cannot work (from the environment), or ``None``."""
        settings = getattr(self.exporter, "settings", None)
        return settings.config_error if isinstance(settings, config.ExporterSettings) else None

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
        timestamp: datetime | int | None = None,
    ) -> bool:
        """Record one event; True if it was accepted (or telemetry is disabled), False if dropped.

        ``timestamp`` says when the event happened (an aware datetime, a naive one read as UTC,
        or int nanoseconds since the epoch; default: now); it becomes the record's
        ``time_unix_nano`` while ``observed_time_unix_nano`` stays the time of this call.
        Never blocks on the network and never raises, except :class:`TelemetryError` for bad
        input in strict mode. Why an event was dropped is counted in :meth:`stats` and logged
        once per kind.
        """
        gate = self._gate  # the consent check, inlined: a clock read, a stat once a second
        if self._disabled or not (gate.allowed_now if _monotonic() < gate.next_check else gate.refresh()):
            return True
        stamp: Props | None = None
        if self._sampler is not None:
            kept = self._sampler.keep(event_name)
            if kept is False:
                return True
            if isinstance(kept, tuple):
                stamp = kept
        if self._defaults is not None:
            event_properties, user_properties, group_properties = self._merge_defaults(
                self._defaults, payload, event_properties, user_properties, group_properties
            )
        try:
            event = self._capturer.capture(
                event_name,
                payload,
                event_properties,
                user_properties,
                group_properties,
                user_id,
                body,
                timestamp,
            )
        except TelemetryError as error:
            if self._strict:
                raise
            self._counters.refuse("invalid", 1, str(error))
            return False
        except Exception as error:  # a bug of ours must not reach the host app
            self._counters.refuse("internal_error", 1, describe_error(error))
            return False
        if stamp is not None:
            event = (*event[:10], stamp, event[11])
        if self._policies:
            view = as_captured(event)
            checked = self._apply_policies(view, event_name)
            if checked is None:
                return False
            event = as_queued(checked, event, view)
        if self._limiter is not None and not self._limiter.allow(event_name):
            self._counters.refuse("rate_limited", 1, event_name)
            return False
        capture = _capture_hook.active
        if capture is not None:  # a test is capturing: hand the event over, nothing is queued
            return self._capture(capture, event)
        if self._discard:
            self._counters.drop_accepted("not_exported", 1, f"{config.LOGS_EXPORTER_ENV}=none")
            return True
        if self._pipeline.submit(event):
            return True
        self._counters.refuse("shutdown" if self._pipeline.closed else "queue_full")
        return False

    def _capture(self, capture: _capture_hook.Sink, event: Event) -> bool:
        """Encode one event as the worker would and give the request to the active capture."""
        try:
            requests, left_out = self._encode([event], None)
        except Exception as error:
            self._counters.refuse("encode_error", 1, describe_error(error))
            return False
        for reason, detail in left_out:  # the event cannot be sent: the test sees the drop
            self._counters.refuse(reason, 1, detail)
            return False
        for request in requests:
            capture.record_request(request.payload, self.base_resource)
        return True

    def _apply_policies(self, event: CapturedEvent, event_name: str) -> CapturedEvent | None:
        """Run the policies in order; ``None`` (the drop counted) when one refuses the event."""
        for policy in self._policies:
            try:
                checked = policy(event)
            except TelemetryError as error:
                if self._strict:
                    raise
                self._counters.refuse("invalid", 1, str(error))
                return None
            except Exception as error:
                self._counters.refuse("internal_error", 1, describe_error(error))
                return None
            if checked is None:
                self._counters.refuse(drop_reason_of(policy), 1, event_name)
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
        deadline = time.monotonic() + timeout_s
        drained = self._pipeline.flush(timeout_s)
        return self.exporter.force_flush(max(deadline - time.monotonic(), 0.0)) and drained

    def shutdown(self, timeout_s: float = DEFAULT_FLUSH_TIMEOUT_S) -> bool:
        """Export what is queued (within ``timeout_s``) and stop; later sends return False."""
        if self._disabled:
            _instances.discard(self)
            return True
        # Closed first, forgotten after: an exit path running now (a SIGTERM helper while a
        # worker's finalizer shuts down) finds this instance and waits for this shutdown.
        ok = self._pipeline.shutdown(timeout_s)
        _instances.discard(self)
        dropped = self._counters.snapshot(0).dropped_total
        if dropped:
            logger.info(
                "otel-telemetry shut down; events dropped over its lifetime: %s", dict(self._counters.dropped)
            )
        return ok

    def stats(self) -> TelemetryStats:
        """Counters of accepted, exported, retried and dropped (by reason) events."""
        stats = self._pipeline.stats()
        if self._sampler is not None:
            stats = replace(stats, sampled_out=self._sampler.sampled_out())
        return stats

    # -- identity and resource (built lazily, on the worker thread) --------------------------

    @property
    def project_id(self) -> str:
        """Strapi's project ``uuid``: the salt of user hashes and of the installation id."""
        with self._lock:
            if self._project_id is None:
                self._project_id = resolve_project_id(self.privacy)
            return self._project_id

    @property
    def base_resource(self) -> dict[str, AttrValue]:
        """The resource every event carries before its group properties are merged over it."""
        return dict(self._current_mapper().resources.base.attributes)

    def _current_mapper(self) -> Mapper:
        """The mapper, built on first use (on the worker: it reads the state directory and runs
        the resource detectors)."""
        with self._lock:
            mapper = self._mapper
        if mapper is None:
            with processes.fork_waits():  # imports, detectors: a fork waits for them
                built = self._build_mapper()
            with self._lock:
                if self._mapper is None:
                    self._mapper = built
                mapper = self._mapper
        return mapper

    def _encode(self, batch: Sequence[Event], new_id: Callable[[], str] | None) -> EncodedBatch:
        mapper = self._mapper or self._current_mapper()
        return self._encoder.encode_batch(batch, mapper, new_id, self.batch.max_request_bytes)

    def _base_attributes(self) -> dict[str, AttrValue]:
        privacy = self.privacy
        defaults: dict[str, AttrValue] = dict(
            default_attributes(
                self.project_id, config.ci_environ(), privacy_state_dir(privacy), privacy.disable_defaults
            )
        )
        installation = self._gate.state.read().installation_id  # after `telemetry reset`
        if installation and "app.installation.id" in defaults:
            defaults["app.installation.id"] = installation
        detected = _detected_resource(self._explicit_resource)
        exporter = self.exporter
        provided: dict[str, AttrValue] = (
            dict(exporter.provider.resource.attributes)
            if isinstance(exporter, LoggerProviderExporter)
            else {}
        )
        return {**defaults, **detected, **self._env_resource, **provided, **self._explicit_resource}

    def _build_mapper(self) -> Mapper:
        r = self.records
        return Mapper(
            ResourceCache(self._base_attributes(), resource_proto, self.resource.max_resources),
            self.project_id,
            attribute_count_limit=r.attribute_count_limit,
            attribute_value_length_limit=r.attribute_value_length_limit,
            event_name_attribute=r.event_name_attribute,
            on_invalid_property=self._counters.invalid_property,
        )

    # -- consent ---------------------------------------------------------------------------------

    def _consent_changed(self, before: StoredChoice, after: StoredChoice) -> None:
        """A stored choice changed (this or another process): a new installation id is used
        from the next batch on; a disable is enforced by the exporter wrapper."""
        if before.installation_id != after.installation_id:
            with self._lock:
                self._mapper = None
        if after.enabled is False and before.enabled is not False:
            logger.info("otel-telemetry: telemetry for %s was turned off by its user", self.app)
            pipeline = getattr(self, "_pipeline", None)  # None while __init__ runs
            if pipeline is not None:
                pipeline.wake()  # discard what is held now, not after a retry backoff

    def __enter__(self) -> Telemetry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        state = f"disabled ({self.disabled_reason})" if self._disabled else repr(self.exporter)
        return f"<Telemetry {state}>"


def _consent_settings(consent: ConsentSettings | None, notice: str | None) -> ConsentSettings:
    settings = _given(consent, ConsentSettings, "consent") or ConsentSettings.from_env()
    if notice is None:
        return settings
    if settings.notice is not None:
        raise TelemetryError("notice", "is given twice (notice= and consent=ConsentSettings(notice=...))")
    return replace(settings, notice=notice)


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


T = TypeVar("T")


def _given(value: T | None, kind: type[T], name: str) -> T | None:
    """``value`` when it is a ``kind`` (or None); anything else is a TelemetryError naming it."""
    if value is not None and not isinstance(value, kind):
        raise TelemetryError(name, f"must be a {kind.__name__}, not {type(value).__name__}")
    return value


def _exporter(
    exporter: Exporter | None, endpoint: str | None, protocol: str | None, headers: Mapping[str, str] | None
) -> Exporter:
    """``exporter``, or the OTLP exporter configured from the environment and the shortcuts."""
    if exporter is not None:
        for name, value in (("endpoint", endpoint), ("protocol", protocol), ("headers", headers)):
            if value is not None:
                raise TelemetryError(
                    name, "cannot be combined with exporter= (configure the exporter instead)"
                )
        missing = [
            m for m in ("export", "force_flush", "shutdown") if not callable(getattr(exporter, m, None))
        ]
        if missing:
            raise TelemetryError(
                "exporter",
                f"{exporter!r} has no {', '.join(missing)}(): an exporter implements export(request, "
                "timeout_s); subclass otel_telemetry.Exporter for force_flush() and shutdown()",
            )
        return exporter
    return OTLPExporter(
        config.ExporterSettings.from_env(protocol=protocol, endpoint=endpoint, headers=headers)
    )


def _catalog_policy(settings: CatalogSettings, project_id: Callable[[], str], strict: bool) -> Policy | None:
    if settings.source is None and not settings.required:
        return None  # no catalog: the catalog package is not even imported
    with processes.fork_waits():  # a lazy import: a fork must not inherit its held import lock
        from .catalog.policy import catalog_policy
    return catalog_policy(settings, project_id, strict=strict)
