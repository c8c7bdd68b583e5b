"""A SQLite store of received events, for ``otel-telemetry serve``, ``events`` and ``stats``.

``docs/store-schema.md`` documents the schema; :mod:`.schema` is its executable form.
"""

from .query import EventQuery, PropertyFilter, parse_property_filter
from .schema import SCHEMA_VERSION
from .sqlite import EventStore, NotAnEventStore, StoredEvent, default_db_path

__all__ = [
    "SCHEMA_VERSION",
    "EventQuery",
    "EventStore",
    "NotAnEventStore",
    "PropertyFilter",
    "StoredEvent",
    "default_db_path",
    "parse_property_filter",
]
