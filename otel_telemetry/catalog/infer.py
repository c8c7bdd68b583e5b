"""A first catalog inferred from events already received: every event and property seen, typed.

Records come from the local event store (``otel-telemetry serve`` keeps them in SQLite) or from
OTLP/JSON lines files, as the collector's ``file`` exporter writes them (one
``ExportLogsServiceRequest`` per line). The result is a starting point for a person to edit:
descriptions and owners are ``TODO``, a property is required when every record of its event
had it, and keys that name personal data (e-mail, phone, IP address) are marked ``pii: hash``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..mapping import USER_HASH, USER_PREFIX
from .model import GROUPS, Catalog, EventSpec, PropertySpec

#: Resource attributes set by otel-telemetry or the OpenTelemetry SDK, not by the app's groupProperties.
SDK_RESOURCE_PREFIXES = (
    "service.",
    "telemetry.",
    "os.",
    "host.",
    "process.",
    "container.",
    "deployment.",
    "otel_telemetry.",
    "app.installation.",
    "k8s.",
    "cloud.",
)
_PII_NAMES = re.compile(r"(?i)(e-?mail|phone|ip_?addr|^ip$|client_?ip|remote_?addr)")
TODO = "TODO"

#: One received event: its name, record attributes and resource attributes.
Observation = tuple[str, Mapping[str, Any], Mapping[str, Any]]


class InferError(ValueError):
    """An input that is not what ``infer`` reads (names the file and line)."""


def observations_from_otlp_json(paths: Iterable[str | Path]) -> Iterator[Observation]:
    """The log records of OTLP/JSON lines files (the collector ``file`` exporter's format)."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    from ..receiver import iter_records
    from ..receiver.otlp_json import parse_otlp_json

    for path in paths:
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    request = parse_otlp_json(line.encode("utf-8"), ExportLogsServiceRequest)
                except (ValueError, RecursionError) as error:
                    raise InferError(f"{path}:{number}: not an OTLP/JSON logs request: {error}") from None
                for record in iter_records(request, "file"):
                    yield record.event_name, record.attributes, record.resource


def observations_from_store(db_path: str | Path, limit: int = 1_000_000) -> Iterator[Observation]:
    """The events kept by ``otel-telemetry serve`` in its SQLite store (oldest first)."""
    from ..store import EventQuery, EventStore

    store = EventStore(db_path)
    try:
        for event in store.events(EventQuery(limit=limit, newest_first=False)):
            yield event.event_name, event.attributes, event.resource
    finally:
        store.close()


def _flat(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _flat(f"{prefix}.{key}" if prefix else str(key), inner, out)
    elif value is not None:
        out[prefix] = value


def split_groups(attributes: Mapping[str, Any], resource: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The payload groups of a record: ``user.*`` -> userProperties, app resource -> groupProperties."""
    groups: dict[str, dict[str, Any]] = {group: {} for group in GROUPS}
    flat: dict[str, Any] = {}
    _flat("", attributes, flat)
    for key, value in flat.items():
        if key == USER_HASH or key.startswith(("otel.", "otel_telemetry.")):
            continue
        if key.startswith(USER_PREFIX):
            groups["userProperties"][key[len(USER_PREFIX) :]] = value
        else:
            groups["eventProperties"][key] = value
    flat_resource: dict[str, Any] = {}
    _flat("", resource, flat_resource)
    for key, value in flat_resource.items():
        if not key.startswith(SDK_RESOURCE_PREFIXES):
            groups["groupProperties"][key] = value
    return groups


def type_of(value: Any) -> tuple[str, str | None]:
    """(catalog type, list item type) of a received value; ``("list", None)`` for an empty list."""
    if isinstance(value, bool):
        return "boolean", None
    if isinstance(value, int):
        return "integer", None
    if isinstance(value, float):
        return "number", None
    if isinstance(value, (list, tuple)):
        if not value:
            return "list", None
        items = {type_of(item) for item in value}
        if len(items) == 1:
            ((item_type, _),) = items
            if item_type != "list":
                return "list", item_type
        if items <= {("integer", None), ("number", None)}:
            return "list", "number"
        return "list", "string"
    return "string", None


def _widen(types: Counter[tuple[str, str | None]]) -> tuple[str, str | None, str]:
    """One type for all the values seen (integers and numbers widen to number), and a note when
    they disagreed; empty lists fit any list type."""
    kinds = set(types)
    if len(kinds) == 1 and ("list", None) not in kinds:
        ((kind, items_type),) = kinds
        return kind, items_type, ""
    if all(kind == "list" for kind, _ in kinds):
        items = {item for _, item in kinds if item is not None}
        if len(items) <= 1:
            return "list", items.pop() if items else "string", ""
        if items <= {"integer", "number"}:
            return "list", "number", ""
    elif kinds <= {("integer", None), ("number", None)}:
        return "number", None, ""
    (kind, item), _ = next(
        (entry for entry in types.most_common() if entry[0] != ("list", None)), (("string", None), 0)
    )
    if kind == "list" and item is None:
        item = "string"
    seen = ", ".join(f"{k if i is None else f'list<{i}>'} x{n}" for (k, i), n in types.most_common())
    return kind, item, f" Values of several types were seen ({seen})."


@dataclass
class _EventStats:
    count: int = 0
    keys: dict[str, dict[str, Counter[tuple[str, str | None]]]] = field(
        default_factory=lambda: {group: {} for group in GROUPS}
    )


def infer_catalog(observations: Iterable[Observation], *, title: str | None = None) -> Catalog:
    """A catalog of every event seen, every property typed; records without an event name are skipped."""
    events: dict[str, _EventStats] = {}
    for name, attributes, resource in observations:
        if not name:
            continue
        stats = events.setdefault(name, _EventStats())
        stats.count += 1
        for group, values in split_groups(attributes, resource).items():
            seen = stats.keys[group]
            for key, value in values.items():
                seen.setdefault(key, Counter())[type_of(value)] += 1
    specs: dict[str, EventSpec] = {}
    for name in sorted(events, key=str.lower):
        stats = events[name]
        groups: dict[str, dict[str, PropertySpec]] = {}
        for group in GROUPS:
            props: dict[str, PropertySpec] = {}
            for key in sorted(stats.keys[group]):
                types = stats.keys[group][key]
                kind, items, note = _widen(types)
                present = sum(types.values())
                pii = "hash" if group != "groupProperties" and _PII_NAMES.search(key) else "allow"
                props[key] = PropertySpec(
                    name=key,
                    type=kind,
                    items=items,
                    required=present == stats.count,
                    description=f"{TODO}: describe. Seen in {present} of {stats.count} events.{note}",
                    pii=pii,
                )
            if props:
                groups[group] = props
        specs[name] = EventSpec(
            name=name,
            description=f"{TODO}: describe. Seen {stats.count} time(s).",
            owner=TODO,
            properties=groups,
        )
    return Catalog(events=specs, title=title or "Inferred telemetry catalog")


def to_yaml(catalog: Catalog, header: str = "") -> str:
    """The catalog as a YAML document (keys in catalog order), with an optional comment header.

    Needs PyYAML (the ``[catalog]`` extra); the ``otel-telemetry`` script says so when it is missing.
    """
    import yaml

    body = yaml.safe_dump(catalog.to_dict(), sort_keys=False, allow_unicode=True, width=100)
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comment + body
