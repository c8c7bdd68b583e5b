"""The default instance behind the module-level ``send()``, configured from the environment."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import _deferred
from .processes import fork_safe
from .telemetry import DEFAULT_FLUSH_TIMEOUT_S, Telemetry

if TYPE_CHECKING:  # not imported at run time: ``import otel_telemetry`` stays cheap
    from datetime import datetime

    from opentelemetry.metrics import MeterProvider

    from .catalog.model import Catalog
    from .counters import TelemetryStats
    from .event import Policy
    from .exporters.base import Exporter
    from .settings import (
        CatalogSettings,
        DeliverySettings,
        PrivacySettings,
        RecordSettings,
        ResourceSettings,
    )

_lock = fork_safe(threading.Lock())
_instance: Telemetry | None = None


def get_default() -> Telemetry:
    """The default instance, created from the environment on first use (and given the events
    that waited for it, :mod:`otel_telemetry._deferred`)."""
    global _instance
    if _deferred.waiting():
        _deferred.materialize()
    instance = _instance
    if instance is None:
        with _lock:
            if _instance is None:
                _instance = Telemetry()
            instance = _instance
    return instance


def configure(
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
) -> Telemetry:
    """Replace the default instance with ``Telemetry(...)`` of these arguments (the same ones).

    The previous default, if any, is flushed and shut down first (with the events that waited
    for it, :mod:`otel_telemetry._deferred`).
    """
    global _instance
    if _deferred.waiting():
        _deferred.materialize()
    new = Telemetry(
        service_name,
        endpoint=endpoint,
        exporter=exporter,
        delivery=delivery,
        resource=resource,
        records=records,
        privacy=privacy,
        policies=policies,
        catalog=catalog,
        strict=strict,
        disabled=disabled,
        debug=debug,
        self_metrics=self_metrics,
    )
    with _lock:
        old, _instance = _instance, new
    if old is not None:
        old.shutdown()
    return new


def send(
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
    """``Telemetry.send`` on the default instance."""
    return get_default().send(
        event_name,
        payload,
        event_properties=event_properties,
        user_properties=user_properties,
        group_properties=group_properties,
        user_id=user_id,
        body=body,
        timestamp=timestamp,
    )


def flush(timeout_s: float = DEFAULT_FLUSH_TIMEOUT_S) -> bool:
    """``Telemetry.flush`` on the default instance."""
    return get_default().flush(timeout_s)


def shutdown(timeout_s: float = DEFAULT_FLUSH_TIMEOUT_S) -> bool:
    """``Telemetry.shutdown`` on the default instance; a later ``send()`` starts a new one."""
    global _instance
    if _deferred.waiting():
        _deferred.materialize()
    with _lock:
        instance, _instance = _instance, None
    return instance.shutdown(timeout_s) if instance is not None else True


def stats() -> TelemetryStats:
    """``Telemetry.stats`` of the default instance."""
    return get_default().stats()
