"""Catalog files: valid ones load, broken ones are reported with their line and the rule they break."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from otel_telemetry import TelemetryError
from otel_telemetry.catalog import Catalog, CatalogError, catalog_from_dict, load_catalog, parse_catalog
from otel_telemetry.catalog.loader import schema

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "telemetry-catalog.yaml"

GOOD = """\
version: 1
events:
  didCreateEntry:
    description: An entry was created.
    owner: content
    eventProperties:
      status:
        type: string
        enum: [draft, published]
"""


def problems_of(text: str, fmt: str = "yaml") -> list[tuple[int | None, str, str]]:
    with pytest.raises(CatalogError) as raised:
        parse_catalog(text, "cat.yaml", fmt)
    return [(p.line, p.field, p.rule) for p in raised.value.problems]


def test_the_shipped_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())


def test_the_example_strapi_catalog_is_valid_and_has_strapis_events() -> None:
    catalog = load_catalog(EXAMPLE)
    for name in (
        "didSelectFile",
        "willCreateEntry",
        "didCreateEntry",
        "didReceiveRequest",
        "ping",
        "didInitializePluginUpload",
    ):
        assert name in catalog.events
    assert any(event.deprecated for event in catalog.events.values())


def test_a_catalog_round_trips_through_its_document() -> None:
    catalog = load_catalog(EXAMPLE)
    again = catalog_from_dict(catalog.to_dict(), catalog.source or "")
    assert again.events == catalog.events
    assert again.common == catalog.common


def test_the_same_catalog_reads_from_json(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(yaml.safe_load(GOOD), indent=2))
    assert load_catalog(path).events["didCreateEntry"].properties["eventProperties"]["status"].enum == (
        "draft",
        "published",
    )


@pytest.mark.parametrize(
    ("text", "line", "field", "rule"),
    [
        (
            GOOD.replace("type: string", "type: strng"),
            8,
            "events.didCreateEntry.eventProperties.status.type",
            "must be one of",
        ),
        (
            GOOD.replace("    owner: content\n", ""),
            3,
            "events.didCreateEntry",
            "missing required key 'owner'",
        ),
        (
            GOOD.replace("    owner: content\n", "    owner: content\n    ownr: x\n"),
            6,
            "events.didCreateEntry.ownr",
            "unknown key",
        ),
        (GOOD.replace("version: 1", "version: 2"), 1, "version", "must be 1"),
        (
            GOOD.replace("An entry was created.", "''"),
            4,
            "events.didCreateEntry.description",
            "must not be empty",
        ),
        (GOOD + "    status: deprecated\n", 3, "events.didCreateEntry", "missing required key 'replaced_by'"),
        (
            GOOD + "    status: deprecated\n    replaced_by: didNothing\n",
            11,
            "events.didCreateEntry.replaced_by",
            "names no event of this catalog",
        ),
        (
            GOOD + "    replaced_by: didCreateEntry\n",
            10,
            "events.didCreateEntry.replaced_by",
            "only a deprecated event",
        ),
        (
            GOOD.replace("enum: [draft, published]", "pattern: '[a-'"),
            9,
            "events.didCreateEntry.eventProperties.status.pattern",
            "not a valid regular expression",
        ),
        (
            GOOD.replace("enum: [draft, published]", "enum: [draft, 3]"),
            9,
            "events.didCreateEntry.eventProperties.status.enum[1]",
            "is not of type string",
        ),
        (
            GOOD.replace("type: string", "type: list"),
            7,
            "events.didCreateEntry.eventProperties.status",
            "missing required key 'items'",
        ),
        (
            GOOD.replace("type: string", "type: integer\n        items: string").replace(
                "[draft, published]", "[1]"
            ),
            9,
            "events.didCreateEntry.eventProperties.status.items",
            "only allowed with type: list",
        ),
        (
            GOOD.replace("type: string", "type: integer").replace("enum: [draft, published]", "pattern: x"),
            9,
            "events.didCreateEntry.eventProperties.status.pattern",
            "applies to strings only",
        ),
        (
            GOOD.replace("      status:", "      user.id:"),
            7,
            'events.didCreateEntry.eventProperties["user.id"]',
            "may not start with",
        ),
        (
            GOOD + "      status.x:\n        type: string\n",
            10,
            'events.didCreateEntry.eventProperties["status.x"]',
            "cannot also be a map",
        ),
        (
            GOOD + "  didCreateEntry:\n    description: again\n    owner: x\n",
            10,
            "events.didCreateEntry",
            "duplicate key (first defined on line 3)",
        ),
        (GOOD.replace("        enum: [draft, published]", "       enum: [draft"), 9, "", "not valid YAML"),
        ("", 1, "", "the file is empty"),
        ("- 1\n", 1, "", "must be of type object"),
        (
            GOOD.replace("required", "x").replace("enum: [draft, published]", "required: yes please"),
            9,
            "events.didCreateEntry.eventProperties.status.required",
            "must be of type boolean",
        ),
    ],
)
def test_a_broken_catalog_names_the_line_the_field_and_the_rule(
    text: str, line: int, field: str, rule: str
) -> None:
    found = problems_of(text)
    assert any(p_line == line and p_field == field and rule in p_rule for p_line, p_field, p_rule in found), (
        found
    )


def test_every_problem_is_reported_not_just_the_first() -> None:
    text = GOOD.replace("type: string", "type: strng").replace("owner: content", "owner: ''")
    assert len(problems_of(text)) == 2


def test_a_broken_json_catalog_names_the_line() -> None:
    text = json.dumps(yaml.safe_load(GOOD), indent=2).replace('"string"', '"strng"')
    found = problems_of(text, "json")
    assert found[0][0] == 9 and found[0][1].endswith("status.type")
    assert problems_of('{"version": 1,\n "events": {,}}', "json")[0][0] == 2
    assert "duplicate key" in problems_of('{"version": 1, "version": 1, "events": {}}', "json")[0][2]


def test_the_error_is_a_telemetry_error_whose_message_lists_file_line_and_rule() -> None:
    with pytest.raises(TelemetryError) as raised:
        parse_catalog(GOOD.replace("type: string", "type: strng"), "telemetry-catalog.yaml")
    assert str(raised.value).startswith("telemetry-catalog.yaml:8:9: events.didCreateEntry.eventProperties")


def test_a_document_nested_deeper_than_python_recurses_is_a_catalog_error() -> None:
    for fmt, text in (("yaml", "[" * 5000 + "]" * 5000), ("json", "[" * 5000 + "]" * 5000)):
        with pytest.raises(CatalogError):
            parse_catalog(text, "deep", fmt)


def test_a_catalog_built_in_code_is_checked_like_a_file() -> None:
    with pytest.raises(CatalogError):
        catalog_from_dict({"version": 1, "events": {"x": {"description": "d"}}})
    assert isinstance(catalog_from_dict({"version": 1, "events": {}}), Catalog)
