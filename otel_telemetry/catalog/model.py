"""The event catalog as Python values: events, their property groups, and each property's rules.

A :class:`Catalog` is built from a document that already passed the JSON Schema and the checks
of :mod:`otel_telemetry.catalog.loader`; it is immutable and can be turned back into a document
(``to_dict``), which is how ``catalog infer`` writes a first catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

#: The three property groups of a Strapi payload, in the order they are documented.
GROUPS = ("eventProperties", "userProperties", "groupProperties")
SCALAR_TYPES = ("string", "integer", "number", "boolean")
TYPES = (*SCALAR_TYPES, "list")
PII_ACTIONS = ("allow", "hash", "drop")
MODES = ("enforce", "warn", "off")

PropertyType = Literal["string", "integer", "number", "boolean", "list"]
Pii = Literal["allow", "hash", "drop"]
Group = Literal["eventProperties", "userProperties", "groupProperties"]
#: Property specs of one event: group -> property key (dotted for nested maps) -> spec.
PropertyGroups = Mapping[str, Mapping[str, "PropertySpec"]]


@dataclass(frozen=True)
class PropertySpec:
    """One allowed property: its type, whether it is required, allowed values, PII handling."""

    name: str
    type: str
    items: str | None = None
    required: bool = False
    description: str = ""
    enum: tuple[Any, ...] | None = None
    pattern: str | None = None
    pii: str = "allow"
    examples: tuple[Any, ...] = ()

    @property
    def type_label(self) -> str:
        """``string``, ``list<integer>`` ...: how the type is shown in docs and messages."""
        return f"list<{self.items}>" if self.type == "list" else self.type

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> PropertySpec:
        """A spec from its (validated) catalog document entry."""
        enum = data.get("enum")
        return cls(
            name=name,
            type=data["type"],
            items=data.get("items"),
            required=bool(data.get("required", False)),
            description=data.get("description", ""),
            enum=tuple(enum) if enum is not None else None,
            pattern=data.get("pattern"),
            pii=data.get("pii", "allow"),
            examples=tuple(data.get("examples", ())),
        )

    def to_dict(self) -> dict[str, Any]:
        """The catalog document entry of this spec (defaults left out)."""
        out: dict[str, Any] = {"type": self.type}
        if self.items is not None:
            out["items"] = self.items
        if self.required:
            out["required"] = True
        if self.description:
            out["description"] = self.description
        if self.enum is not None:
            out["enum"] = list(self.enum)
        if self.pattern is not None:
            out["pattern"] = self.pattern
        if self.pii != "allow":
            out["pii"] = self.pii
        if self.examples:
            out["examples"] = list(self.examples)
        return out


def _groups_from_dict(data: Mapping[str, Any]) -> dict[str, dict[str, PropertySpec]]:
    return {
        group: {key: PropertySpec.from_dict(key, spec) for key, spec in (data.get(group) or {}).items()}
        for group in GROUPS
        if data.get(group)
    }


def _groups_to_dict(groups: PropertyGroups) -> dict[str, Any]:
    return {
        group: {key: spec.to_dict() for key, spec in groups[group].items()}
        for group in GROUPS
        if groups.get(group)
    }


@dataclass(frozen=True)
class EventSpec:
    """One planned event: what it means, who owns it, whether it is deprecated, its properties."""

    name: str
    description: str
    owner: str
    status: str = "active"
    replaced_by: str | None = None
    since: str | None = None
    properties: PropertyGroups = field(default_factory=dict)

    @property
    def deprecated(self) -> bool:
        """True when the event should no longer be sent (see ``replaced_by``)."""
        return self.status == "deprecated"

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> EventSpec:
        """A spec from its (validated) catalog document entry."""
        return cls(
            name=name,
            description=data["description"],
            owner=data["owner"],
            status=data.get("status", "active"),
            replaced_by=data.get("replaced_by"),
            since=data.get("since"),
            properties=_groups_from_dict(data),
        )

    def to_dict(self) -> dict[str, Any]:
        """The catalog document entry of this event (defaults left out)."""
        out: dict[str, Any] = {"description": self.description, "owner": self.owner}
        if self.status != "active":
            out["status"] = self.status
            out["replaced_by"] = self.replaced_by
        if self.since is not None:
            out["since"] = self.since
        out.update(_groups_to_dict(self.properties))
        return out


@dataclass(frozen=True)
class Catalog:
    """Every planned event, plus the properties allowed on all of them (``common``)."""

    events: Mapping[str, EventSpec]
    common: PropertyGroups = field(default_factory=dict)
    title: str | None = None
    description: str | None = None
    #: Where the catalog was read from (for messages), if from a file.
    source: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | None = None) -> Catalog:
        """A catalog from a document that passed validation (use ``loader.catalog_from_dict``)."""
        return cls(
            events={name: EventSpec.from_dict(name, spec) for name, spec in data["events"].items()},
            common=_groups_from_dict(data.get("common") or {}),
            title=data.get("title"),
            description=data.get("description"),
            source=source,
        )

    def to_dict(self) -> dict[str, Any]:
        """The catalog document (what ``load_catalog`` reads back to an equal catalog)."""
        out: dict[str, Any] = {"version": 1}
        if self.title:
            out["title"] = self.title
        if self.description:
            out["description"] = self.description
        if any(self.common.values()):
            out["common"] = _groups_to_dict(self.common)
        out["events"] = {name: spec.to_dict() for name, spec in self.events.items()}
        return out

    def properties_of(self, event: EventSpec) -> dict[str, dict[str, PropertySpec]]:
        """The properties allowed on ``event``: the common ones, overridden by the event's own."""
        merged: dict[str, dict[str, PropertySpec]] = {}
        for group in GROUPS:
            combined = {**(self.common.get(group) or {}), **(event.properties.get(group) or {})}
            if combined:
                merged[group] = combined
        return merged
