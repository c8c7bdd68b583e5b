"""Negative tests: the static checks reject configs a collector would reject (or that are wrong)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from .collector_config import check_config

BASE = """\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 256
  filter/events:
    logs:
      log_record:
        - event_name == ""
  transform/pii:
    log_statements:
      - context: log
        statements:
          - set(log.attributes["otel.event.name"], log.event_name) where log.event_name != ""
          - delete_matching_keys(log.attributes, "^user\\\\.email$$")
  batch: {}
connectors:
  routing:
    default_pipelines: [logs/other]
    table:
      - context: log
        condition: event_name != ""
        pipelines: [logs/events]
exporters:
  otlp:
    endpoint: gateway:4317
    sending_queue:
      enabled: true
      storage: file_storage
  debug: {}
extensions:
  file_storage:
    directory: /tmp/otelcol-queue
service:
  extensions: [file_storage]
  pipelines:
    logs/in:
      receivers: [otlp]
      processors: [memory_limiter]
      exporters: [routing]
    logs/events:
      receivers: [routing]
      processors: [filter/events, transform/pii, batch]
      exporters: [otlp]
    logs/other:
      receivers: [routing]
      exporters: [debug]
"""

Doc = dict[str, Any]


def mutate(change: Callable[[Doc], None]) -> str:
    doc = yaml.safe_load(BASE)
    change(doc)
    return yaml.safe_dump(doc, sort_keys=False)


def messages(text: str) -> str:
    return "\n".join(map(str, check_config(text)))


def test_the_base_config_of_these_negative_tests_is_itself_clean() -> None:
    assert check_config(BASE) == []


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        *parents, last = path.split(".")
        node = doc
        for part in parents:
            node = node[part]
        node[last] = value

    return change


def _delete(path: str) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        *parents, last = path.split(".")
        node = doc
        for part in parents:
            node = node[part]
        del node[last]

    return change


def _statement(text: Any) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        doc["processors"]["transform/pii"]["log_statements"][0]["statements"][0] = text

    return change


def _receivers(receivers: list[str], *pipelines: str) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        for name in pipelines:
            doc["service"]["pipelines"][name]["receivers"] = list(receivers)

    return change


def _rename(kind: str, old: str, new: str) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        doc[kind][new] = doc[kind].pop(old)
        for pipe in doc["service"]["pipelines"].values():
            for key in ("receivers", "processors", "exporters"):
                pipe[key] = [new if x == old else x for x in pipe.get(key, [])]

    return change


BROKEN: list[tuple[str, Callable[[Doc], None], str]] = [
    (
        "pipeline names an exporter that is not defined",
        _set("service.pipelines.logs/other.exporters", ["otlphttp/missing"]),
        "references exporter 'otlphttp/missing' which is not configured",
    ),
    (
        "a defined processor is used nowhere",
        _set("processors.resourcedetection", {"detectors": ["env"]}),
        "processors.resourcedetection: is configured but not used",
    ),
    (
        "the removed logging exporter",
        _rename("exporters", "debug", "logging"),
        "was removed in 0.111.0; use the debug exporter",
    ),
    ("the removed routing processor", _set("processors.routing", {}), "was removed in 0.120.0"),
    (
        "otlp_grpc, a name older supported versions do not know",
        _rename("exporters", "otlp", "otlp_grpc"),
        "only exists since 0.144.0",
    ),
    (
        "a type that does not exist",
        _rename("exporters", "otlp", "otlpgrpc"),
        "unknown exporter type 'otlpgrpc'",
    ),
    (
        "a misspelt key",
        _set("exporters.otlp.sending_queue.storag", "file_storage"),
        "has invalid key 'storag'",
    ),
    ("an exporter without its required endpoint", _delete("exporters.otlp.endpoint"), "requires 'endpoint'"),
    ("an OTLP gRPC endpoint without a port", _set("exporters.otlp.endpoint", "gateway"), "needs a port"),
    (
        "memory_limiter without check_interval",
        _delete("processors.memory_limiter.check_interval"),
        "requires 'check_interval'",
    ),
    (
        "memory_limiter not first",
        _set(
            "service.pipelines.logs/events.processors", ["filter/events", "memory_limiter", "transform/pii"]
        ),
        "memory_limiter must be the first processor",
    ),
    (
        "batch before the filter and transform",
        _set("service.pipelines.logs/events.processors", ["batch", "filter/events", "transform/pii"]),
        "batch must come after filter/transform",
    ),
    (
        "a persistent queue on an undefined storage extension",
        _set("exporters.otlp.sending_queue.storage", "file_storage/other"),
        "references extension 'file_storage/other' which is not configured",
    ),
    (
        "a storage extension that is not enabled in service.extensions",
        _set("service.extensions", []),
        "is configured but not enabled in service.extensions",
    ),
    (
        "an authenticator that is not an auth extension",
        _set("exporters.otlp.auth", {"authenticator": "file_storage"}),
        "is not an authenticator extension",
    ),
    (
        "a wrong enum value",
        _set("exporters.debug.verbosity", "verbose"),
        "'verbose' is not one of basic, normal, detailed",
    ),
    (
        "a duration that Go cannot parse",
        _set("processors.memory_limiter.check_interval", "1 second"),
        "expected a duration",
    ),
    (
        "filter log_conditions on versions that only know logs.log_record",
        _set("processors.filter/events", {"log_conditions": ['log.event_name == ""']}),
        "needs filter processor >= 0.146.0",
    ),
    (
        "an OTTL statement that is not a string",
        _statement({"set": "x"}),
        "expected an OTTL statement string",
    ),
    (
        "an unknown transform context",
        _set(
            "processors.transform/pii.log_statements", [{"context": "span", "statements": ["set(name, 1)"]}]
        ),
        "'span' is not a log-signal context",
    ),
    (
        "a route to a pipeline that does not take the connector as receiver",
        _set(
            "connectors.routing.table",
            [{"context": "log", "condition": 'event_name != ""', "pipelines": ["logs/in"]}],
        ),
        "routes to pipeline 'logs/in' which does not have 'routing' as a receiver",
    ),
    (
        "a route with both a condition and a statement",
        _set(
            "connectors.routing.table",
            [
                {
                    "context": "log",
                    "condition": 'event_name != ""',
                    "statement": 'route() where event_name != ""',
                    "pipelines": ["logs/events"],
                }
            ],
        ),
        "needs exactly one of 'condition' or 'statement'",
    ),
    (
        "a routing default pipeline that does not take the connector as receiver",
        _set("service.pipelines.logs/other.receivers", ["otlp"]),
        "routes to pipeline 'logs/other' which does not have 'routing' as a receiver",
    ),
    (
        "a connector used only on the exporter side",
        _receivers(["otlp"], "logs/events", "logs/other"),
        "connectors.routing: is used in a pipeline but never as a receiver",
    ),
    (
        "a pipeline of an unknown signal",
        _set("service.pipelines.events", {"receivers": ["otlp"], "exporters": ["debug"]}),
        "pipeline type 'events' is not one of",
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), [(c, e) for _, c, e in BROKEN], ids=[d for d, _, _ in BROKEN]
)
def test_broken_config_is_rejected_with_a_precise_message(
    change: Callable[[Doc], None], expected: str
) -> None:
    found = messages(mutate(change))
    assert expected in found, f"expected {expected!r} among:\n{found or '(no problems)'}"


def test_yaml_that_does_not_parse_is_rejected() -> None:
    assert "does not parse" in messages(BASE.replace("  otlp:\n    endpoint", "  otlp:\n   endpoint: [", 1))


def test_a_stray_dollar_in_a_regex_is_rejected_because_the_collector_would_expand_it() -> None:
    text = BASE.replace("email$$", "email$")
    assert "stray '$'" in messages(text)


def test_deliberately_unused_components_must_be_marked_and_the_mark_must_be_true() -> None:
    unused = mutate(_set("exporters.debug/spare", {}))
    assert "exporters.debug/spare: is configured but not used" in messages(unused)
    marked = unused + "# deliberately unused: debug/spare\n"
    assert check_config(marked) == []
    wrong_mark = BASE + "# deliberately unused: otlp\n"
    assert "exporters.otlp: is marked deliberately unused but is used" in messages(wrong_mark)
    stale_mark = BASE + "# deliberately unused: nothing/here\n"
    assert "names no configured component" in messages(stale_mark)


def test_environment_defaults_are_expanded_with_their_yaml_type() -> None:
    text = BASE.replace("limit_mib: 256", "limit_mib: ${env:LIMIT:-not-a-number}")
    assert "expected a int, got 'not-a-number'" in messages(text)
    assert check_config(BASE.replace("limit_mib: 256", "limit_mib: ${env:LIMIT:-256}")) == []
    assert check_config(BASE.replace("limit_mib: 256", "limit_mib: ${env:LIMIT}"), env={"LIMIT": "512"}) == []
