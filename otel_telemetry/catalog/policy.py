"""``CatalogPolicy``: the event catalog enforced inside ``send()``, as a :data:`~otel_telemetry.event.Policy`.

Modes: ``enforce`` drops an event that breaks the catalog (or raises ``TelemetryError`` in
strict mode); ``warn`` sends it with an ``otel_telemetry.violations`` attribute listing what
it broke, so a collector can route it to quarantine; ``off`` checks nothing. In every mode the
catalog's PII rules (``pii: hash`` / ``pii: drop``) are applied before the event is queued, so
a raw value marked as personal data never reaches the exporter; a key marked PII for one event is
treated the same in events that do not declare it (and in unplanned events). A deprecated event is counted
but never dropped nor quarantined (it is still planned): it is marked ``otel_telemetry.deprecated``
(and ``otel_telemetry.replaced_by``) instead.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from .._log import logger
from ..errors import TelemetryError
from ..event import CapturedEvent
from ..identity import project_id as resolve_project_id
from ..identity import salted_hash
from ..processes import fork_safe
from ..settings import CatalogSettings, PrivacySettings
from .checker import BLOCKING, DEPRECATED_EVENT, UNPLANNED_EVENT, EventChecker, Violation, strictest_pii
from .model import MODES, Catalog

#: The record attribute that lists an event's violations in ``warn`` mode (a string array such as
#: ``["type_mismatch:eventProperties.count"]``); a collector routes records that have it to quarantine.
VIOLATIONS_ATTRIBUTE = "otel_telemetry.violations"
#: Set (``true``) on a deprecated event, with its replacement in ``otel_telemetry.replaced_by``.
DEPRECATED_ATTRIBUTE = "otel_telemetry.deprecated"
REPLACED_BY_ATTRIBUTE = "otel_telemetry.replaced_by"
_HASH_CACHE_MAX = 65_536


class CatalogPolicy:
    """Validates each event against a compiled catalog; counts violations in :attr:`violations`.

    ``catalog`` is a :class:`Catalog` or the path of a catalog file; ``project_id_fn`` returns
    the salt of ``pii: hash`` (``Telemetry.project_id``; by default the project id from the
    environment / state directory), called once, when the first value is hashed.
    """

    #: What ``Telemetry`` counts a dropped event under in ``stats().dropped``.
    drop_reason = "catalog"

    def __init__(
        self,
        catalog: Catalog | str | os.PathLike[str],
        mode: str = "warn",
        project_id_fn: Callable[[], str] | None = None,
        *,
        strict: bool = False,
    ) -> None:
        if mode not in MODES:
            raise TelemetryError("catalog_mode", f"must be one of {', '.join(MODES)}, not {mode!r}")
        if not isinstance(catalog, Catalog):
            from .loader import load_catalog

            catalog = load_catalog(catalog)
        self.catalog = catalog
        self.mode = mode
        self._validate = mode != "off"
        self._enforce = mode == "enforce"
        self._strict = strict
        self._project_id_fn = project_id_fn or (lambda: resolve_project_id(PrivacySettings.from_env()))
        self._salt: str | None = None
        self._hashes: dict[str, str] = {}
        pii = strictest_pii([catalog.common, *(spec.properties for spec in catalog.events.values())])
        self._checkers = {
            name: EventChecker(
                name,
                catalog.properties_of(spec),
                deprecated=spec.deprecated,
                deprecated_by=spec.replaced_by,
                fallback_pii=pii,
            )
            for name, spec in catalog.events.items()
        }
        #: Unplanned events get the common rules and every PII rule of the catalog.
        self._unplanned = EventChecker("", catalog.common, report_unplanned=False, fallback_pii=pii)
        self._unplanned_violation = Violation(UNPLANNED_EVENT, "event", "not in the catalog")
        #: Violations seen so far, by type (``unplanned_event``, ``type_mismatch`` ...).
        self.violations: Counter[str] = Counter()
        self._lock = fork_safe(threading.Lock())
        self._logged: set[str] = set()

    # -- PII ------------------------------------------------------------------------------

    def _hash(self, text: str) -> str:
        digest = self._hashes.get(text)
        if digest is None:
            salt = self._salt
            if salt is None:
                salt = self._salt = self._project_id_fn()
            if len(self._hashes) >= _HASH_CACHE_MAX:
                self._hashes.clear()
            digest = self._hashes[text] = salted_hash(text, salt)
        return digest

    # -- checking -------------------------------------------------------------------------

    def check(self, event: CapturedEvent) -> tuple[CapturedEvent, list[Violation]]:
        """The event with PII rules applied, and its violations (empty in ``off`` mode).

        This is the whole per-``send()`` cost; benchmarks call it directly.
        """
        violations: list[Violation] = []
        checker = self._checkers.get(event.name)
        if checker is None:
            checker = self._unplanned
            violations.append(self._unplanned_violation)
        ep, up, gp = event.event_properties, event.user_properties, event.group_properties
        new_ep, new_up, new_gp = checker.check(ep, up, gp, violations, self._hash)
        if not self._validate:
            violations.clear()
        if new_ep is ep and new_up is up and new_gp is gp:
            return event, violations
        return (
            event._replace(
                event_properties=_as_dict(new_ep),
                user_properties=_as_dict(new_up),
                group_properties=_as_dict(new_gp),
            ),
            violations,
        )

    def __call__(self, event: CapturedEvent) -> CapturedEvent | None:
        """The policy step: the event to send, or ``None`` to drop it (enforce mode)."""
        checked, violations = self.check(event)
        if not violations:
            return checked
        self._count(event.name, violations)
        if self._enforce:
            blocking = next((v for v in violations if v.kind in BLOCKING), None)
            if blocking is not None:
                if self._strict:
                    raise TelemetryError(
                        blocking.field if blocking.field != "event" else "event_name",
                        f"{blocking.kind} in catalog event {event.name!r}: {blocking.rule}",
                    )
                return None
        annotations = dict(checked.annotations or {})
        labels = tuple(dict.fromkeys(v.label for v in violations if v.kind in BLOCKING))
        if labels:
            annotations[VIOLATIONS_ATTRIBUTE] = labels
        if any(v.kind == DEPRECATED_EVENT for v in violations):  # planned, so not quarantined
            annotations[DEPRECATED_ATTRIBUTE] = True
            spec = self.catalog.events.get(event.name)
            if spec is not None and spec.replaced_by:
                annotations[REPLACED_BY_ATTRIBUTE] = spec.replaced_by
        return checked._replace(annotations=annotations)

    def _count(self, event_name: str, violations: list[Violation]) -> None:
        with self._lock:
            self.violations.update(v.kind for v in violations)
            fresh = [v for v in violations if v.kind not in self._logged]
            self._logged.update(v.kind for v in fresh)
        for violation in fresh:
            logger.warning(
                "otel-telemetry catalog (%s mode): event %r: %s %s: %s; further %s violations are "
                "counted in CatalogPolicy.violations but not logged",
                self.mode,
                event_name,
                violation.kind,
                violation.field,
                violation.rule,
                violation.kind,
            )

    def __repr__(self) -> str:
        return f"<CatalogPolicy {self.mode} {len(self._checkers)} events from {self.catalog.source}>"


def _as_dict(props: Any) -> dict[str, Any] | None:
    return props if props is None or type(props) is dict else dict(props)


def catalog_policy(
    settings: CatalogSettings, project_id_fn: Callable[[], str], *, strict: bool = False
) -> CatalogPolicy | None:
    """The policy for ``settings`` (``None`` without a catalog).

    A catalog that cannot be loaded raises :class:`TelemetryError` when ``settings.required``
    (given in code); from the environment it is logged and events go unchecked.
    """
    source = settings.source
    if source is None:
        if settings.required and settings.mode != "off":
            logger.warning(
                "otel-telemetry: catalog_mode=%r but no catalog (CatalogSettings.source or "
                "OTEL_TELEMETRY_CATALOG): events are not checked",
                settings.mode,
            )
        return None
    from .loader import CatalogError

    try:
        return CatalogPolicy(source, settings.mode, project_id_fn, strict=strict)
    except OSError as error:
        where = source.source if isinstance(source, Catalog) else os.fspath(source)
        if settings.required:
            raise TelemetryError("catalog", f"cannot read {where!r}: {error.strerror}") from error
        logger.error("otel-telemetry: ignoring the catalog %r, it cannot be read: %s", where, error)
        return None
    except Exception as error:
        if settings.required:
            raise
        if not isinstance(error, CatalogError):
            logger.debug("otel-telemetry: unexpected error loading the catalog", exc_info=True)
        logger.error("otel-telemetry: ignoring the catalog %r, it cannot be used:\n%s", source, error)
        return None
