"""A SQLite store of received events, for ``otel-telemetry serve``, ``events`` and ``stats``.

``docs/store-schema.md`` documents the schema; :mod:`.schema` is its executable form.
"""

import os

from .chdb import ChdbStore
from .query import EventQuery, PropertyFilter, parse_property_filter
from .schema import SCHEMA_VERSION
from .sqlite import EventStore, NotAnEventStore, StoredEvent, default_db_path


def open_store(db: str | os.PathLike[str]) -> EventStore | ChdbStore:
    """The store ``serve`` writes into: ``chdb:PATH`` (a chDB directory, the ``[clickhouse]`` extra)
    or a SQLite file (``sqlite:PATH`` or a bare path)."""
    text = os.fspath(db)
    if text.lower().startswith("chdb:"):
        return ChdbStore(text[len("chdb:") :])
    if text.lower().startswith("sqlite:"):
        text = text[len("sqlite:") :]
    return EventStore(text)


__all__ = [
    "SCHEMA_VERSION",
    "ChdbStore",
    "EventQuery",
    "EventStore",
    "NotAnEventStore",
    "PropertyFilter",
    "StoredEvent",
    "default_db_path",
    "open_store",
    "parse_property_filter",
]
