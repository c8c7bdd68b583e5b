"""``Telemetry``: one configured sender. ``send()`` reads top to bottom as the path of an event:

opt-out -> capture (validate, copy) -> rate limits -> queue. The worker thread then maps it
(``mapping``), encodes it (``encoding``) and exports it (``transport``) in batches.
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import _capture_hook, processes
from . import exit as _exit
from . import settings as config
from ._log import logger
from .counters import Counters, TelemetryStats
from .encoder import EventEncoder
from .errors import TelemetryError
from .event import CapturedEvent, Event, Policy, as_captured, as_queued, drop_reason_of
from .exporters.base import Exporter
from .exporters.otlp import OTLPExporter
from .pipeline import BatchPipeline
from .ratelimit import RateLimiter
from .settings import (
    CatalogSettings,
    DeliverySettings,
    PrivacySettings,
    RecordSettings,
    ResourceSettings,
)
from .unencodable import describe_error
from .validation import Capturer
from .values import AttrValue, Props, flatten_into

if TYPE_CHECKING:
    from datetime import datetime

    from opentelemetry.metrics import MeterProvider

    from .catalog.model import Catalog
    from .consent_gate import ConsentGate
    from .consent_store import StoredChoice
    from .sampling import Sampler
    from .selfmetrics import SelfMetrics

#: The consent name of an app without a service name (the SDK's default service name).
DEFAULT_APP = "unknown_service"
DEFAULT_FLUSH_TIMEOUT_S = 10.0

_monotonic = time.monotonic
#: Live instances (``processes``, ``signals`` and ``serverless`` flush them); weak: a dropped
#: instance is still collected.
_instances: weakref.WeakSet[Telemetry] = weakref.WeakSet()


class Telemetry:
    """A telemetry sender: ``send()`` events, ``flush()`` them, ``shutdown()`` at the end.

    ``service_name`` and ``endpoint`` are the common settings; the rest come grouped by
    concern in settings objects (``otel_telemetry.settings``): ``delivery`` (queue, batches,
    retries, spool, exit), ``resource``, ``records`` (limits, rate limits, sampling, default
    properties), ``privacy`` (identity, opt-out, consent) and ``catalog``. Each argument left
    ``None`` is read from the standard OpenTelemetry environment variables
    (``OTEL_EXPORTER_OTLP_*``, ``OTEL_BLRP_*``, ``OTEL_SERVICE_NAME`` ...) or otel-telemetry's
    own (``OTEL_TELEMETRY_*``); see the README for the list. ``endpoint`` is a shortcut for
    ``exporter=OTLPExporter(endpoint=...)``, which also takes ``protocol`` and ``headers``;
    ``exporter`` replaces the OTLP exporter (e.g. ``LoggerProviderExporter(provider)`` to go
    through an app's own OpenTelemetry pipeline, ``InMemoryExporter()`` in tests).
    """

    def __init__(
        self,
        service_name: str | None = None,
        *,
        endpoint: str | None = None,
        exporter: Exporter | None = None,
        delivery: DeliverySettings | None = None,
        resource: ResourceSettings | None = None,
        records: RecordSettings | None = None,
        privacy: PrivacySettings | None = None,
        policies: Sequence[Policy] = (),
        catalog: CatalogSettings | Catalog | str | os.PathLike[str] | None = None,
        strict: bool | None = None,
        disabled: bool | None = None,
        debug: bool | None = None,
        self_metrics: MeterProvider | bool | None = None,
    ) -> None:
        #: Identity, opt-out and consent: what the app's users control and are told.
        self.privacy = _given(privacy, PrivacySettings, "privacy") or PrivacySettings.from_env()
        #: Why telemetry is off (``None`` when on): ``disabled=True`` or the user's environment.
        self.disabled_reason = (
            "disabled=True" if disabled else config.opt_out_reason(self.privacy.disable_env)
        )
        self._disabled = self.disabled_reason is not None
        self._strict = strict if strict is not None else config.strict_from_env()
        #: Debug mode: each event is printed to stderr as ``tail`` prints it, nothing is sent.
        self.debug = debug if debug is not None else config.debug_from_env()
        #: Where batches go (in debug mode: to standard error).
        self.exporter = _exporter(exporter, endpoint)
        if self.debug:
            from .debug import DebugExporter

            self.exporter = DebugExporter()
        # OTEL_LOGS_EXPORTER=none (set by the pytest plugin for test sessions): accept, export nothing
        self._discard = exporter is None and not self.debug and config.logs_exporter() == "none"
        #: The queue and its batches, timeouts, retries, the optional spool, and exit.
        self.delivery = _given(delivery, DeliverySettings, "delivery") or DeliverySettings.from_env()
        given = _given(resource, ResourceSettings, "resource")
        resource = given or ResourceSettings.from_env()
        if service_name is not None:
            resource = replace(resource, service_name=service_name)
        #: What the resource of every event says about the app.
        self.resource = resource
        #: Attribute limits, rate limits, sampling, default properties, the event name attribute.
        self.records = records = _given(records, RecordSettings, "records") or RecordSettings.from_env()
        self._counters = Counters()
        # Given in code, the resource settings rank above a LoggerProvider's resource; read from
        # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES they rank as the SDK's resource, below it.
        explicit_resource: dict[str, AttrValue] = {}
        env_resource: dict[str, AttrValue] = {}
        flatten_into(explicit_resource if given else env_resource, "", resource.attributes)
        for key, value, explicit in (
            ("service.name", resource.service_name, given is not None or service_name is not None),
            ("service.version", resource.service_version, True),
            ("deployment.environment.name", resource.environment, True),
        ):
            if value:
                (explicit_resource if explicit else env_resource)[key] = value
        self._capturer = Capturer(strict=self._strict)
        #: The name the users' choice is stored under: ``privacy.app``, else the service name.
        self.app = self.privacy.app or resource.service_name or DEFAULT_APP
        with processes.fork_waits():  # a lazy import: a fork must not inherit its held import lock
            from .consent_gate import ConsentGate

        # the gate and the encoder hold no reference to this instance (it must stay collectable)
        pipelines: list[BatchPipeline] = []
        self._gate: ConsentGate = ConsentGate.for_app(
            self.app,
            _state_dir(self.privacy),
            self.privacy,
            lambda before, after: _consent_changed(encoding, pipelines, self_app, before, after),
        )
        self_app = self.app
        gate = self._gate
        # an exporter into an app's own LoggerProvider: its resource is the base resource
        provider_resource = getattr(getattr(self.exporter, "provider", None), "resource", None)
        # mapping and encoding, on the worker thread
        self._encoding = encoding = EventEncoder(
            explicit_resource,
            env_resource,
            resource.max_resources,
            self.records,
            self.privacy,
            self._counters,
            (lambda: provider_resource.attributes) if provider_resource is not None else None,
            installation=lambda: gate.state.read().installation_id,
            max_request_bytes=self.delivery.max_request_bytes,
        )
        self._sampler: Sampler | None = None
        if records.sampling.active:
            with processes.fork_waits():
                from .sampling import Sampler
            self._sampler = Sampler(records.sampling)
        d = records.default_properties
        self._defaults = d.groups if d.event or d.user or d.group else None
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
        #: The event catalog settings (``catalog=`` or ``OTEL_TELEMETRY_CATALOG``).
        self.catalog = catalog
        #: The event catalog check (``catalog=`` or ``OTEL_TELEMETRY_CATALOG``), the last policy.
        self.catalog_policy = _catalog_policy(catalog, lambda: encoding.project_id, self._strict)
        if self.catalog_policy is not None:
            self._policies = (*self._policies, self.catalog_policy)
        r = self.records
        self._limiter = (
            RateLimiter(r.rate_limits, r.global_rate_limit) if r.rate_limits or r.global_rate_limit else None
        )
        self._pipeline = BatchPipeline(
            encoding.encode,
            self._gate.wrap(self.exporter),
            self._counters,
            self.delivery,
        )
        pipelines.append(self._pipeline)
        self._self_metrics: SelfMetrics | None = None
        if self_metrics and not self._disabled:
            from .selfmetrics import register_self_metrics

            self._self_metrics = register_self_metrics(self, self_metrics)
        _instances.add(self)
        self._exiting = self._exit_record()
        _exit.track(self._exiting)
        # dropped by the app: its pipeline delivers what it accepted, then its threads stop
        weakref.finalize(self, _exit.dropped, self._exiting).atexit = False
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
            requests, left_out = self._encoding.encode([event], None)
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
            _exit.untrack(self._exiting)
            return True
        # Closed first, forgotten after: an exit path running now (a SIGTERM helper while a
        # worker's finalizer shuts down) finds this instance and waits for this shutdown.
        ok = self._pipeline.shutdown(timeout_s)
        _instances.discard(self)
        _exit.untrack(self._exiting)
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

    # -- identity and resource (built lazily, on the worker thread: ``encoder.py``) ---------

    @property
    def project_id(self) -> str:
        """Strapi's project ``uuid``: the salt of user hashes and of the installation id."""
        return self._encoding.project_id

    @property
    def base_resource(self) -> dict[str, AttrValue]:
        """The resource every event carries before its group properties are merged over it."""
        return dict(self._encoding.mapper().resources.base.attributes)

    # -- exit (``exit.py``) --------------------------------------------------------------------

    @property
    def exit_mode(self) -> str:
        """What happens at exit if it came now: ``handoff`` or ``flush`` (``docs/short-lived.md``)."""
        return _exit.chosen_mode(self._exiting)

    def _exit_record(self) -> _exit.Exiting:
        """What the exit handler needs, without a reference to this instance."""
        exporter = self.exporter
        settings = getattr(exporter, "settings", None)
        portable = (
            os.name == "posix"  # the hand-off needs flock and posix_spawn
            and not self._disabled
            and type(exporter) is OTLPExporter
            and isinstance(settings, config.ExporterSettings)
            and settings.config_error is None
            # a spool, or a record of sent events, belongs to this app's own exporter path
            # (``telemetry disable`` deletes the spool, ``telemetry show`` reads the record)
            and self.delivery.spool is None
            and not self.privacy.sent_log
        )
        encoding = self._encoding
        gate = self._gate
        ids = self.delivery.with_event_ids
        spool = self.delivery.spool
        ref = weakref.ref(self)
        return _exit.Exiting(
            pipeline=self._pipeline,
            counters=self._counters,
            settings=self.delivery,
            root=self.delivery.handoff.directory or _state_dir(self.privacy) / "handoff",
            exporter=_portable_exporter(settings) if portable and settings is not None else None,
            encoding=lambda: {"encoder": encoding.portable_settings(), "event_ids": ids},
            spool_dir=str(spool.directory) if spool is not None else None,
            timeout_s=self.delivery.exit_timeout_s,
            shutdown=lambda timeout_s: _shutdown(ref, timeout_s),
            allowed=lambda: gate.refresh(show_notice=False),
        )

    def __enter__(self) -> Telemetry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        state = f"disabled ({self.disabled_reason})" if self._disabled else repr(self.exporter)
        return f"<Telemetry {state}>"


T = TypeVar("T")


def _given(value: T | None, kind: type[T], name: str) -> T | None:
    """``value`` when it is a ``kind`` (or None); anything else is a TelemetryError naming it."""
    if value is not None and not isinstance(value, kind):
        raise TelemetryError(name, f"must be a {kind.__name__}, not {type(value).__name__}")
    return value


def _exporter(exporter: Exporter | None, endpoint: str | None) -> Exporter:
    """``exporter``, or the OTLP exporter configured from the environment and ``endpoint``."""
    if exporter is not None:
        if endpoint is not None:
            raise TypeError(
                "Telemetry() takes endpoint= or exporter=, not both: endpoint= is a shortcut for "
                "exporter=OTLPExporter(endpoint=...); give the endpoint to the exporter instead"
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
    return OTLPExporter(endpoint=endpoint)


def _catalog_policy(settings: CatalogSettings, project_id: Callable[[], str], strict: bool) -> Policy | None:
    if settings.source is None and not settings.required:
        return None  # no catalog: the catalog package is not even imported
    with processes.fork_waits():  # a lazy import: a fork must not inherit its held import lock
        from .catalog.policy import catalog_policy
    return catalog_policy(settings, project_id, strict=strict)


def _consent_changed(
    encoding: EventEncoder,
    pipelines: list[BatchPipeline],
    app: str,
    before: StoredChoice,
    after: StoredChoice,
) -> None:
    """A stored choice changed (this or another process): a new installation id is used from the
    next batch on; a disable is enforced by the exporter wrapper."""
    if before.installation_id != after.installation_id:
        encoding.reset_mapper()
    if after.enabled is False and before.enabled is not False:
        logger.info("otel-telemetry: telemetry for %s was turned off by its user", app)
        for pipeline in pipelines:  # empty while __init__ runs
            pipeline.wake()  # discard what is held now, not after a retry backoff


def _shutdown(ref: weakref.ref[Telemetry], timeout_s: float) -> bool:
    telemetry = ref()
    return telemetry.shutdown(timeout_s) if telemetry is not None else True


def _state_dir(privacy: PrivacySettings) -> Path:
    return privacy.state_dir if privacy.state_dir is not None else config.state_dir()


def _portable_exporter(settings: config.ExporterSettings) -> dict[str, Any]:
    """The exporter settings as plain data, for the detached sender."""
    return {
        "protocol": settings.protocol,
        "endpoint": settings.endpoint,
        "headers": dict(settings.headers),
        "timeout_s": settings.timeout_s,
        "compression": settings.compression,
        "insecure": settings.insecure,
        "certificate_file": settings.certificate_file,
        "client_key_file": settings.client_key_file,
        "client_certificate_file": settings.client_certificate_file,
    }
