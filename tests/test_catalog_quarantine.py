"""The quarantine snippet: merged over gateway.yaml it is a valid collector config that routes on the
attribute otel-telemetry really sends in warn mode."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from collector.collector_config import check_config

import otel_telemetry
from otel_telemetry import Telemetry
from otel_telemetry.catalog import VIOLATIONS_ATTRIBUTE, catalog_from_dict
from otel_telemetry.receiver import OTLPReceiver

CONFIG = Path(__file__).resolve().parent.parent / "collector-config"
SNIPPET = CONFIG / "snippets" / "quarantine.yaml"


def merge(base: Any, override: Any) -> Any:
    """The collector's merge of several --config files: maps merge key by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = merge(base[key], value) if key in base else value
        return merged
    return override


def merged_gateway(snippet: dict[str, Any]) -> str:
    gateway_text = (CONFIG / "gateway.yaml").read_text()
    merged = merge(yaml.safe_load(gateway_text), snippet)
    markers = "".join(f"{m}\n" for m in re.findall(r"#\s*deliberately unused:.*", gateway_text))
    return markers + yaml.safe_dump(merged, sort_keys=False)


def test_gateway_with_the_quarantine_snippet_passes_every_static_collector_check() -> None:
    snippet = yaml.safe_load(SNIPPET.read_text())
    assert check_config(merged_gateway(snippet)) == []


def test_the_check_fails_if_the_snippet_did_not_put_its_router_in_front() -> None:
    snippet = yaml.safe_load(SNIPPET.read_text())
    del snippet["service"]["pipelines"]["logs/in"]
    problems = check_config(merged_gateway(snippet))
    assert problems, "routing/quarantine would feed pipelines that nothing sends to"


def test_the_snippet_routes_on_the_attribute_warn_mode_sets(receiver: OTLPReceiver) -> None:
    snippet = yaml.safe_load(SNIPPET.read_text())
    (route,) = snippet["connectors"]["routing/quarantine"]["table"]
    assert route["condition"] == f'attributes["{VIOLATIONS_ATTRIBUTE}"] != nil'
    assert route["pipelines"] == ["logs/quarantine"]
    catalog = catalog_from_dict(
        {
            "version": 1,
            "events": {
                "didA": {"description": "a", "owner": "o"},
                "didOld": {"description": "o", "owner": "o", "status": "deprecated", "replaced_by": "didA"},
            },
        }
    )
    with Telemetry(
        endpoint=receiver.http_endpoint,
        privacy=otel_telemetry.PrivacySettings(project_id="p"),
        catalog=otel_telemetry.CatalogSettings(catalog, "warn"),
    ) as t:
        t.send("didA")
        t.send("didA", {"eventProperties": {"extra": 1}})
        t.send("didOld")
        t.send("didUnknown")
        assert t.flush(10)
    assert receiver.wait_for(4, 10)
    quarantined = {
        (r.event_name, tuple(r.attributes[VIOLATIONS_ATTRIBUTE]))
        for r in receiver.records
        if VIOLATIONS_ATTRIBUTE in r.attributes
    }
    assert quarantined == {
        ("didA", ("unplanned_property:eventProperties.extra",)),
        ("didUnknown", ("unplanned_event",)),
    }
