"""Filters over stored events, compiled to parameterised SQL.

A property filter ``key=value`` matches an event whose log attributes or resource attributes
have ``key`` (exactly as stored: ``plan``, ``user.plan``, ``deployment.environment.name``) with
that value, compared as text (``true``/``false`` for booleans, ``3``/``1.5`` for numbers).
``key`` alone matches events that have the key at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import TelemetryError

#: A JSON value rendered as the text a person would type on the command line.
_AS_TEXT = "CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(j.value AS TEXT) END"


@dataclass(frozen=True)
class PropertyFilter:
    """``key`` equals ``value`` (or, with ``value=None``, is present) in attributes or resource."""

    key: str
    value: str | None = None


def parse_property_filter(text: str) -> PropertyFilter:
    """``"key=value"`` or ``"key"`` -> :class:`PropertyFilter`; the key may not be empty."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not key:
        raise TelemetryError("filter", f"expected key=value or key, got {text!r}")
    return PropertyFilter(key, value if sep else None)


@dataclass(frozen=True)
class EventQuery:
    """Which events to return: by name, properties, time range (ns) and id cursor."""

    names: tuple[str, ...] = ()
    properties: tuple[PropertyFilter, ...] = ()
    since_ns: int | None = None
    until_ns: int | None = None
    after_id: int | None = None
    limit: int = 100
    newest_first: bool = True

    def where(self) -> tuple[str, list[Any]]:
        """The ``WHERE`` clause (possibly ``"1"``) and its parameters, over ``otel_log_records AS l``
        joined with ``otel_resources AS r``."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.names:
            clauses.append(f"l.EventName IN ({', '.join('?' for _ in self.names)})")
            params.extend(self.names)
        if self.since_ns is not None:
            clauses.append("l.Timestamp >= ?")
            params.append(self.since_ns)
        if self.until_ns is not None:
            clauses.append("l.Timestamp < ?")
            params.append(self.until_ns)
        if self.after_id is not None:
            clauses.append("l.Id > ?")
            params.append(self.after_id)
        for prop in self.properties:
            matches = []
            for column in ("l.LogAttributes", "r.ResourceAttributes"):
                if prop.value is None:
                    matches.append(f"EXISTS (SELECT 1 FROM json_each({column}) AS j WHERE j.key = ?)")
                    params.append(prop.key)
                else:
                    matches.append(
                        f"EXISTS (SELECT 1 FROM json_each({column}) AS j WHERE j.key = ? AND {_AS_TEXT} = ?)"
                    )
                    params.extend((prop.key, prop.value))
            clauses.append("(" + " OR ".join(matches) + ")")
        return (" AND ".join(clauses) or "1"), params
