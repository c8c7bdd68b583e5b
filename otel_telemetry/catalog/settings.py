"""Which catalog a ``Telemetry`` uses: ``catalog=`` / ``catalog_mode=``, else the environment.

``OTEL_TELEMETRY_CATALOG`` (a file path) and ``OTEL_TELEMETRY_CATALOG_MODE`` (``enforce``,
``warn`` or ``off``; default ``warn``). As everywhere in otel-telemetry, a bad explicit argument
raises :class:`~otel_telemetry.TelemetryError`, while a bad environment value is logged and
ignored (it must not crash the host application).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..errors import TelemetryError
from .model import MODES, Catalog

if TYPE_CHECKING:
    from .policy import CatalogPolicy

logger = logging.getLogger("otel_telemetry")

CATALOG_ENV = "OTEL_TELEMETRY_CATALOG"
CATALOG_MODE_ENV = "OTEL_TELEMETRY_CATALOG_MODE"
DEFAULT_MODE = "warn"


def resolve_mode(explicit: str | None, environ: Mapping[str, str]) -> str:
    """The catalog mode: the argument, else ``OTEL_TELEMETRY_CATALOG_MODE``, else ``warn``."""
    if explicit is not None:
        if explicit not in MODES:
            raise TelemetryError("catalog_mode", f"must be one of {', '.join(MODES)}, not {explicit!r}")
        return explicit
    raw = environ.get(CATALOG_MODE_ENV, "").strip().lower()
    if not raw:
        return DEFAULT_MODE
    if raw not in MODES:
        logger.warning(
            "otel-telemetry: ignoring %s=%r (expected one of %s); using %r",
            CATALOG_MODE_ENV,
            raw,
            ", ".join(MODES),
            DEFAULT_MODE,
        )
        return DEFAULT_MODE
    return raw


def catalog_policy_from_settings(
    catalog: Catalog | str | os.PathLike[str] | None,
    mode: str | None,
    environ: Mapping[str, str],
    project_id_fn: Callable[[], str],
    *,
    strict: bool = False,
) -> CatalogPolicy | None:
    """The catalog policy a ``Telemetry`` appends to its policies, or ``None`` without a catalog."""
    chosen_mode = resolve_mode(mode, environ)
    from .loader import CatalogError
    from .policy import CatalogPolicy

    if catalog is not None:
        try:
            return CatalogPolicy(catalog, chosen_mode, project_id_fn, strict=strict)
        except OSError as error:
            where = catalog.source if isinstance(catalog, Catalog) else os.fspath(catalog)
            raise TelemetryError("catalog", f"cannot read {where!r}: {error.strerror}") from error
    path = environ.get(CATALOG_ENV, "").strip()
    if not path:
        if mode is not None and mode != "off":
            logger.warning(
                "otel-telemetry: catalog_mode=%r but no catalog (catalog= or %s): events are not checked",
                mode,
                CATALOG_ENV,
            )
        return None
    try:
        return CatalogPolicy(path, chosen_mode, project_id_fn, strict=strict)
    except Exception as error:  # from the environment: never crash the host app
        if not isinstance(error, (OSError, CatalogError)):
            logger.debug("otel-telemetry: unexpected error loading the catalog", exc_info=True)
        logger.error(
            "otel-telemetry: ignoring %s=%r, the catalog cannot be used:\n%s", CATALOG_ENV, path, error
        )
        return None
