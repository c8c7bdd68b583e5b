"""The event catalog: every event and property declared, validated at send time, documented.

A catalog file (``telemetry-catalog.yaml``) lists each event with its description, owner,
status and the properties allowed in its ``eventProperties``, ``userProperties`` and
``groupProperties``. ``Telemetry(catalog=..., catalog_mode="enforce" | "warn" | "off")`` checks
every ``send()`` against it (:class:`CatalogPolicy`); ``otel-telemetry catalog`` checks the file,
writes its documentation, scans source code for ``send()`` calls and infers a first catalog.
See ``docs/catalog.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .checker import VIOLATION_TYPES, Violation
    from .loader import CatalogError, CatalogProblem, catalog_from_dict, load_catalog, parse_catalog
    from .model import Catalog, EventSpec, PropertySpec
    from .policy import (
        DEPRECATED_ATTRIBUTE,
        REPLACED_BY_ATTRIBUTE,
        VIOLATIONS_ATTRIBUTE,
        CatalogPolicy,
    )

#: Public name -> the submodule that defines it. Loaded on first use, so that ``Telemetry``
#: (which needs only :class:`Catalog`) does not load the loader and checker of an app that has
#: no catalog.
_HOME = {
    "VIOLATION_TYPES": "checker",
    "Violation": "checker",
    "CatalogError": "loader",
    "CatalogProblem": "loader",
    "catalog_from_dict": "loader",
    "load_catalog": "loader",
    "parse_catalog": "loader",
    "Catalog": "model",
    "EventSpec": "model",
    "PropertySpec": "model",
    "DEPRECATED_ATTRIBUTE": "policy",
    "REPLACED_BY_ATTRIBUTE": "policy",
    "VIOLATIONS_ATTRIBUTE": "policy",
    "CatalogPolicy": "policy",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})


__all__ = [
    "DEPRECATED_ATTRIBUTE",
    "REPLACED_BY_ATTRIBUTE",
    "VIOLATIONS_ATTRIBUTE",
    "VIOLATION_TYPES",
    "Catalog",
    "CatalogError",
    "CatalogPolicy",
    "CatalogProblem",
    "EventSpec",
    "PropertySpec",
    "Violation",
    "catalog_from_dict",
    "load_catalog",
    "parse_catalog",
]
