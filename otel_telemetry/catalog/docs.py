"""Markdown documentation of a catalog: the page a product manager reads to know what is tracked.

One summary table of every event, then a section per event with its description, owner,
status (and replacement) and a table per property group: type, required, allowed values,
PII handling and description. Common properties get their own section.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .model import GROUPS, Catalog, EventSpec, PropertySpec

_GROUP_TITLES = {
    "eventProperties": "Event properties (what happened)",
    "userProperties": "User properties (who; sent as `user.*` attributes)",
    "groupProperties": "Group properties (the app or environment; sent as resource attributes)",
}
_PII_TEXT = {"allow": "", "hash": "hashed (salted SHA-256)", "drop": "never sent"}


def _cell(text: Any) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    safe = _cell(text).replace("`", "'")
    return f"`{safe}`"


def anchor(name: str) -> str:
    """The GitHub-style heading anchor of an event section (``didCreateEntry`` -> ``didcreateentry``)."""
    return re.sub(r"[^\w\- ]", "", name.lower()).replace(" ", "-")


def _rules(spec: PropertySpec) -> str:
    parts: list[str] = []
    if spec.enum is not None:
        parts.append("one of " + ", ".join(_code(v) for v in spec.enum))
    if spec.pattern is not None:
        parts.append(f"matches {_code(spec.pattern)}")
    if spec.examples:
        parts.append("e.g. " + ", ".join(_code(v) for v in spec.examples))
    return "; ".join(parts)


def _property_table(props: Mapping[str, PropertySpec]) -> list[str]:
    lines = [
        "| Property | Type | Required | Allowed values | Personal data | Description |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for key in sorted(props, key=lambda k: (not props[k].required, k)):
        spec = props[key]
        lines.append(
            f"| {_code(key)} | {spec.type_label} | {'yes' if spec.required else 'no'} | {_rules(spec)} "
            f"| {_PII_TEXT[spec.pii]} | {_cell(spec.description)} |"
        )
    return lines


def _groups(groups: Mapping[str, Mapping[str, PropertySpec]], level: str) -> list[str]:
    lines: list[str] = []
    for group in GROUPS:
        props = groups.get(group)
        if props:
            lines += ["", f"{level} {_GROUP_TITLES[group]}", "", *_property_table(props)]
    return lines


def _status(event: EventSpec) -> str:
    if not event.deprecated:
        return "active"
    if event.replaced_by:
        return f"**deprecated**, use [{event.replaced_by}](#{anchor(event.replaced_by)})"
    return "**deprecated**"


def render_markdown(catalog: Catalog) -> str:
    """The Markdown page documenting every event and property of ``catalog``."""
    title = catalog.title or "Telemetry events"
    lines = [f"# {title}", ""]
    if catalog.description:
        lines += [" ".join(catalog.description.split()), ""]
    source = f" from `{catalog.source}`" if catalog.source else ""
    lines += [
        f"_Generated{source} by `otel-telemetry catalog docs`; edit the catalog, not this page._",
        "",
        f"{len(catalog.events)} events. Each is sent as an OpenTelemetry log record whose `event_name` is "
        "the event name; event properties become record attributes, user properties `user.*` "
        "attributes, group properties resource attributes.",
        "",
        "| Event | Status | Owner | Description |",
        "| --- | --- | --- | --- |",
    ]
    names = sorted(catalog.events, key=str.lower)
    for name in names:
        event = catalog.events[name]
        lines.append(
            f"| [{_cell(name)}](#{anchor(name)}) | {_status(event)} | {_cell(event.owner)} "
            f"| {_cell(event.description)} |"
        )
    if any(catalog.common.values()):
        lines += [
            "",
            "## Properties of every event",
            "",
            "Any event may carry these, in addition to its own.",
            *_groups(catalog.common, "###"),
        ]
    for name in names:
        event = catalog.events[name]
        lines += ["", f"## {name}", "", " ".join(event.description.split()), ""]
        lines += [f"- Owner: {event.owner}", f"- Status: {_status(event)}"]
        if event.since:
            lines.append(f"- Since: {event.since}")
        if any(event.properties.values()):
            lines += _groups(event.properties, "###")
        else:
            lines += ["", "No properties of its own."]
    return "\n".join(lines) + "\n"
