"""The shipped collector-config/*.yaml files: every static check, and what each file is for."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from .collector_config import Problem, check_config, env_vars_used, expand_env, load_catalog, ottl_texts
from .conftest import CONFIG_DIR, CONFIG_FILES

README = CONFIG_DIR / "README.md"


def load(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((CONFIG_DIR / name).read_text())
    assert isinstance(doc, dict)
    return doc


def pipeline(doc: dict[str, Any], name: str) -> dict[str, list[str]]:
    return doc["service"]["pipelines"][name]  # type: ignore[no-any-return]


def test_the_directory_has_one_file_per_deployment() -> None:
    assert {p.name for p in CONFIG_FILES} == {
        "local.yaml",
        "agent.yaml",
        "gateway.yaml",
        "gateway-scaled.yaml",
        "gateway-kafka.yaml",
    }


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_config_file_passes_every_static_check(path: Path) -> None:
    problems = check_config(path.read_text())
    assert problems == [], "\n".join(map(str, problems))


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_every_environment_variable_is_documented_in_the_file_and_the_readme(path: Path) -> None:
    text = path.read_text()
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    readme = README.read_text()
    for name in env_vars_used(text):
        assert name in header, f"{path.name}: ${{env:{name}}} is not described in the header comment"
        assert name in readme, f"{path.name}: ${{env:{name}}} is not in collector-config/README.md"


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_header_names_the_supported_collector_versions(path: Path) -> None:
    cat = load_catalog()
    assert f"otelcol-contrib {cat.min_version} - {cat.max_version}" in path.read_text()


def test_readme_names_versions_and_the_keys_that_changed_across_them() -> None:
    readme = README.read_text()
    cat = load_catalog()
    for needle in (
        cat.min_version,
        cat.max_version,
        "`logging`",
        "`debug`",
        "0.111.0",  # logging exporter -> debug
        "routing processor",
        "routing connector",
        "0.120.0",
        "`otlp_grpc`",
        "`otlp_http`",
        "0.144.0",  # exporter renames, old names kept as aliases
        "`log.event_name`",
        "0.128.0",
        "`log_conditions`",
        "0.146.0",
        "--disable-batching",
    ):
        assert needle in readme, f"README does not mention {needle}"
    for path in CONFIG_FILES:
        assert f"`{path.name}`" in readme, f"README does not describe {path.name}"
    assert re.search(r"app\s*-+>.*agent.*-+>.*gateway", readme, re.S), (
        "README lacks the app -> agent -> gateway path"
    )


def test_local_receives_otlp_on_the_standard_ports_and_prints_and_writes_events() -> None:
    doc = load("local.yaml")
    protocols = doc["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    assert doc["exporters"]["debug"]["verbosity"] == "detailed"  # the level that prints EventName
    assert doc["exporters"]["file"]["format"] == "json"
    assert set(pipeline(doc, "logs")["exporters"]) == {"debug", "file"}


def test_agent_forwards_through_a_persistent_queue_that_retries_without_giving_up() -> None:
    doc = load("agent.yaml")
    logs = pipeline(doc, "logs")
    assert logs["processors"][0] == "memory_limiter"
    assert "resourcedetection" in logs["processors"] and logs["processors"][-1] == "batch"
    [exporter_id] = logs["exporters"]
    exporter = doc["exporters"][exporter_id]
    assert exporter_id.split("/")[0] == "otlp"
    queue = exporter["sending_queue"]
    assert queue["enabled"] is True
    assert queue["storage"].split("/")[0] == "file_storage"
    assert queue["storage"] in doc["service"]["extensions"]
    assert exporter["retry_on_failure"]["max_elapsed_time"] in ("0", "0s", 0)
    assert exporter["auth"]["authenticator"].startswith("bearertokenauth")
    assert doc["processors"]["resourcedetection"]["override"] is False  # app resource wins


def test_gateway_authenticates_filters_scrubs_and_routes_events_to_analytics() -> None:
    doc = load("gateway.yaml")
    for proto in ("grpc", "http"):
        server = doc["receivers"]["otlp"]["protocols"][proto]
        assert server["auth"]["authenticator"].startswith("bearertokenauth")
        assert {"cert_file", "key_file"} <= set(server["tls"])
    assert "health_check" in doc["service"]["extensions"]

    router_id = pipeline(doc, "logs/in")["exporters"][0]
    router = doc["connectors"][router_id]
    [route] = router["table"]
    assert route["context"] == "log" and "event_name" in route["condition"]
    analytics = pipeline(doc, route["pipelines"][0])
    other = pipeline(doc, router["default_pipelines"][0])
    assert router_id in analytics["receivers"] and router_id in other["receivers"]
    assert {e.split("/")[0] for e in analytics["exporters"]} == {"clickhouse", "otlphttp"}
    assert not {e.split("/")[0] for e in other["exporters"]} & {"clickhouse"}
    assert analytics["processors"][0].startswith("filter")
    assert any(p.startswith("transform") for p in analytics["processors"])
    assert any(p.startswith("transform") for p in other["processors"])  # PII scrubbing for every log
    assert "debug" not in analytics["exporters"] + other["exporters"]  # defined, deliberately unused


def test_gateway_ottl_uses_the_event_name_and_attribute_paths_it_documents() -> None:
    text = (CONFIG_DIR / "gateway.yaml").read_text()
    statements = [s for _, s in ottl_texts(text)]
    joined = "\n".join(statements)
    for path in (
        "log.event_name",
        'log.attributes["otel.event.name"]',
        'log.attributes["user.id"]',
        'log.attributes["user.hash"]',
        "resource.attributes",
    ):
        assert path in joined, f"gateway OTTL never uses {path}"


def test_scaled_gateway_balances_on_a_routing_attribute_over_dns() -> None:
    doc = load("gateway-scaled.yaml")
    lb = doc["exporters"]["loadbalancing"]
    assert lb["routing_key"] == "attributes"
    assert "user.hash" in lb["routing_attributes"]
    assert set(lb["resolver"]) == {"dns"}
    assert "endpoint" not in lb["protocol"]["otlp"]
    assert pipeline(doc, "logs")["exporters"] == ["loadbalancing"]


def test_kafka_path_produces_and_consumes_the_same_topic_with_backpressure_on_the_drain() -> None:
    doc = load("gateway-kafka.yaml")
    produced, consumed = doc["exporters"]["kafka"]["logs"], doc["receivers"]["kafka"]["logs"]
    assert produced == consumed
    assert produced["encoding"] == "otlp_proto"
    drain = pipeline(doc, "logs/drain")
    assert drain["receivers"] == ["kafka"]
    assert "batch" not in drain["processors"]  # an async batch would commit offsets before export
    for exporter_id in drain["exporters"]:
        assert doc["exporters"][exporter_id]["sending_queue"]["enabled"] is False
    assert doc["receivers"]["kafka"]["message_marking"] == {"after": True, "on_error": False}
    assert pipeline(doc, "logs/ingest")["exporters"] == ["kafka"]


# -- the gateway's PII rules ---------------------------------------------------------------------
# The keys the gateway deletes are chosen by the regular expressions of its `delete_key` and
# `delete_matching_keys` statements. Those patterns are checked here with Python's `re`, which reads
# the syntax they use (`(?i)`, groups, alternation, classes, anchors) as Go's RE2 does. The OTTL
# around them is the collector's to run (`otelcol-contrib validate` checks it, where installed).

_DELETE = re.compile(r'(delete_key|delete_matching_keys)\((\w+)\.attributes, "((?:\\.|[^"\\])*)"\)')


def deleted_by_gateway(context: str) -> Callable[[str], bool]:
    """Whether gateway.yaml's transform statements in ``context`` delete an attribute named ``key``."""
    problems: list[Problem] = []
    doc = expand_env(load("gateway.yaml"), {"PII_HASH_SALT": "salt"}, "", problems)
    assert problems == []
    exact: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    for processor in doc["processors"].values():
        for group in (processor or {}).get("log_statements") or []:
            for statement in group["statements"] if group["context"] == context else []:
                match = _DELETE.fullmatch(statement)
                if match is None:
                    continue
                editor, target, literal = match.groups()
                assert target == context, statement
                value = re.sub(r"\\(.)", r"\1", literal)  # the OTTL string literal's escapes
                if editor == "delete_key":
                    exact.add(value)
                else:
                    assert not re.search(r"\(\?[=!<]|\\[1-9]", value), f"not RE2 syntax: {value}"
                    patterns.append(re.compile(value))
    assert exact and patterns, f"no delete statements found in the {context} context"
    return lambda key: key in exact or any(p.search(key) for p in patterns)


def test_gateway_deletes_user_ids_contact_data_and_secrets_and_keeps_product_attributes() -> None:
    deleted = deleted_by_gateway("log")
    pii = [
        "user.id", "enduser.id", "user.email", "user.name", "user.phone", "user.address", "user.ip",
        "password", "user.password_hash", "auth.token", "api_key", "apikey", "Authorization",
        "credit_card", "db.secret",
    ]  # fmt: skip
    kept = [
        "user.hash", "user.role", "model", "maxTokens", "tokenizer", "user.emailVerified",
        "secretary_count", "passwordless", "hasSecret", "otel.event.name",
    ]  # fmt: skip
    assert [key for key in pii if not deleted(key)] == []
    assert [key for key in kept if deleted(key)] == []


def test_gateway_deletes_host_ip_and_secrets_from_the_resource_and_keeps_group_properties() -> None:
    deleted = deleted_by_gateway("resource")
    assert [key for key in ("host.ip", "db.password", "api_key", "auth.token") if not deleted(key)] == []
    kept = ("service.name", "projectType", "database", "host.name", "os.type")
    assert [key for key in kept if deleted(key)] == []
