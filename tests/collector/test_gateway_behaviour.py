"""What gateway.yaml's routing, filter and transform *do* to records, run with the OTTL evaluator.

The statements are taken from the shipped file (after the collector's ``${env:...}``
and ``$$`` expansion), so changing the file changes what these tests see.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest
import yaml

import otel_telemetry
from otel_telemetry.receiver import OTLPReceiver

from . import ottl
from .collector_config import Problem, expand_env
from .conftest import CONFIG_DIR
from .ottl_eval import LogRecord, eval_condition, run_statement

SALT = "s3cret-salt"


def gateway_config() -> dict[str, Any]:
    problems: list[Problem] = []
    doc = expand_env(
        yaml.safe_load((CONFIG_DIR / "gateway.yaml").read_text()), {"PII_HASH_SALT": SALT}, "", problems
    )
    assert problems == []
    return doc  # type: ignore[no-any-return]


class Gateway:
    """gateway.yaml's log path: logs/in -> routing connector -> logs/analytics | logs/other."""

    def __init__(self) -> None:
        self.doc = gateway_config()
        pipelines = self.doc["service"]["pipelines"]
        self.router_id = pipelines["logs/in"]["exporters"][0]
        self.pipelines = pipelines

    def route(self, record: LogRecord) -> list[str]:
        router = self.doc["connectors"][self.router_id]
        for item in router["table"]:
            spec = ottl.ContextSpec(item["context"], "legacy")
            if eval_condition(ottl.parse_condition(item["condition"]), record, spec):
                return list(item["pipelines"])
        return list(router["default_pipelines"])

    def process(self, pipeline: str, record: LogRecord) -> LogRecord | None:
        record = copy.deepcopy(record)
        for pid in self.pipelines[pipeline]["processors"]:
            cfg = self.doc["processors"][pid]
            kind = pid.split("/")[0]
            if kind == "filter":
                spec = ottl.ContextSpec("log", "legacy")
                if any(
                    eval_condition(ottl.parse_condition(c), record, spec) for c in cfg["logs"]["log_record"]
                ):
                    return None  # a filter condition that holds drops the record
            elif kind == "transform":
                for group in cfg["log_statements"]:
                    spec = ottl.ContextSpec(group["context"], "prefixed")
                    for text in group["statements"]:
                        run_statement(ottl.parse_statement(text), record, spec)
        return record

    def __call__(self, record: LogRecord) -> dict[str, LogRecord | None]:
        return {pipeline: self.process(pipeline, record) for pipeline in self.route(record)}


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    return Gateway()


def event(**attributes: Any) -> LogRecord:
    return LogRecord(
        event_name="didCreateEntry",
        attributes={"model": "article", "user.role": "editor", **attributes},
        resource={"service.name": "app", "projectType": "Community"},
        severity_number=9,
    )


def test_events_go_to_the_analytics_pipeline_and_other_logs_to_the_default(gateway: Gateway) -> None:
    assert list(gateway(event())) == ["logs/analytics"]
    plain_log = LogRecord(
        body="GET /health 200", attributes={"http.status": 200}, resource={"service.name": "app"}
    )
    assert list(gateway(plain_log)) == ["logs/other"]


def test_analytics_exporters_are_clickhouse_and_otlp(gateway: Gateway) -> None:
    exporters = gateway.pipelines["logs/analytics"]["exporters"]
    assert {e.split("/")[0] for e in exporters} == {"clickhouse", "otlphttp"}
    assert gateway.doc["exporters"]["clickhouse"]["create_schema"] is True


def test_event_name_is_copied_to_otel_event_name_for_sinks_that_cannot_show_it(gateway: Gateway) -> None:
    out = gateway(event())["logs/analytics"]
    assert out is not None and out.event_name == "didCreateEntry"
    assert out.attributes["otel.event.name"] == "didCreateEntry"
    other = gateway(LogRecord(body="x"))["logs/other"]
    assert other is not None and "otel.event.name" not in other.attributes


def test_a_stray_user_id_is_replaced_by_its_salted_hash(gateway: Gateway) -> None:
    out = gateway(event(**{"user.id": "42", "enduser.id": "42"}))["logs/analytics"]
    assert out is not None
    assert "user.id" not in out.attributes and "enduser.id" not in out.attributes
    assert out.attributes["user.hash"] == hashlib.sha256(f"{SALT}42".encode()).hexdigest()


def test_the_hash_the_app_computed_is_kept(gateway: Gateway) -> None:
    out = gateway(event(**{"user.hash": "from-the-app", "user.id": "42"}))["logs/analytics"]
    assert out is not None
    assert out.attributes["user.hash"] == "from-the-app" and "user.id" not in out.attributes


def test_contact_data_and_secrets_are_deleted_and_product_attributes_kept(gateway: Gateway) -> None:
    pii = {
        "user.email": "a@b.c", "user.name": "Ada", "user.phone": "1", "user.ip": "10.0.0.1",
        "password": "x", "user.password_hash": "x", "auth.token": "x", "api_key": "x",
        "Authorization": "Bearer x", "credit_card": "4111",
    }  # fmt: skip
    kept = {
        "maxTokens": 4096, "tokenizer": "bpe", "user.emailVerified": True, "secretary_count": 2,
        "passwordless": True, "hasSecret": False,
    }  # fmt: skip
    for pipeline, out in gateway(event(**pii, **kept)).items():
        assert out is not None, pipeline
        assert not set(pii) & set(out.attributes), f"{pipeline} kept PII: {set(pii) & set(out.attributes)}"
        for key, value in kept.items():
            assert out.attributes[key] == value, f"{pipeline} deleted {key}"
        assert out.attributes["user.role"] == "editor" and out.attributes["model"] == "article"


def test_resource_keeps_group_properties_and_loses_host_ip(gateway: Gateway) -> None:
    record = event()
    record.resource.update({"host.ip": "10.1.2.3", "db.password": "x", "database": "postgres"})
    out = gateway(record)["logs/analytics"]
    assert out is not None
    assert out.resource == {"service.name": "app", "projectType": "Community", "database": "postgres"}


def test_the_analytics_filter_drops_a_non_event_that_reaches_it(gateway: Gateway) -> None:
    assert gateway.process("logs/analytics", LogRecord(body="not an event")) is None
    assert gateway.process("logs/analytics", event()) is not None


def test_events_sent_by_otel_telemetry_cross_the_gateway_with_only_otel_event_name_added(
    gateway: Gateway, receiver: OTLPReceiver
) -> None:
    t = otel_telemetry.Telemetry(service_name="app", endpoint=receiver.grpc_endpoint, protocol="grpc")
    t.send(
        "didCreateEntry",
        {
            "eventProperties": {"model": "article", "count": 3, "maxTokens": 512},
            "userProperties": {"role": "editor", "plan": "pro"},
            "groupProperties": {"projectType": "Community"},
        },
        user_id="user-1",
    )
    assert t.flush(10.0)
    t.shutdown()
    assert receiver.wait_for(1, timeout=10.0)
    [received] = receiver.records
    record = LogRecord(
        event_name=received.event_name,
        attributes=dict(received.attributes),
        resource=dict(received.resource),
        severity_number=received.severity_number,
    )
    [(pipeline, out)] = gateway(record).items()
    assert pipeline == "logs/analytics" and out is not None
    assert out.attributes == {**received.attributes, "otel.event.name": "didCreateEntry"}
    assert "user.hash" in out.attributes
    assert out.resource == {k: v for k, v in received.resource.items() if k != "host.ip"}
