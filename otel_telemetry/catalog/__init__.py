"""The event catalog: every event and property declared, validated at send time, documented.

A catalog file (``telemetry-catalog.yaml``) lists each event with its description, owner,
status and the properties allowed in its ``eventProperties``, ``userProperties`` and
``groupProperties``. ``Telemetry(catalog=..., catalog_mode="enforce" | "warn" | "off")`` checks
every ``send()`` against it (:class:`CatalogPolicy`); ``otel-telemetry catalog`` checks the file,
writes its documentation, scans source code for ``send()`` calls and infers a first catalog.
See ``docs/catalog.md``.
"""

from __future__ import annotations

from .checker import VIOLATION_TYPES, Violation
from .loader import CatalogError, CatalogProblem, catalog_from_dict, load_catalog, parse_catalog
from .model import Catalog, EventSpec, PropertySpec
from .policy import DEPRECATED_ATTRIBUTE, REPLACED_BY_ATTRIBUTE, VIOLATIONS_ATTRIBUTE, CatalogPolicy

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
