"""Settings objects: built in code they refuse bad values (naming the field and the rule); read
from the environment a bad value is logged and replaced by its default; a configuration that
cannot work is reported as a configuration error and its batches are counted, never retried
until shutdown nor lost silently (issue 17, item 3). Proved with real receivers and processes."""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import otel_telemetry
from otel_telemetry import (
    Backoff,
    CatalogSettings,
    DefaultProperties,
    DeliverySettings,
    ExporterSettings,
    HandoffSettings,
    InMemoryExporter,
    OTLPExporter,
    PrivacySettings,
    RecordSettings,
    ResourceSettings,
    SamplingSettings,
    SpoolSettings,
    Telemetry,
    TelemetryError,
)
from otel_telemetry.environment import DEFAULT_NAMES
from otel_telemetry.receiver import OTLPReceiver
from otel_telemetry.settings import (
    DEFAULT_ATTRIBUTE_COUNT_LIMIT,
    DEFAULT_EXPORT_TIMEOUT_S,
    DEFAULT_SCHEDULE_DELAY_S,
    DEFAULT_TIMEOUT_S,
)

#: A script a user would write: send, and let the exit flush deliver (no flush() call).
SEND_AND_EXIT = """
import json, sys, otel_telemetry
for i in range(int(sys.argv[1])):
    otel_telemetry.send("e", {"eventProperties": {"i": i}})
t = otel_telemetry.get_default()
print(json.dumps({"config_error": t.config_error}))
"""


def _run(code: str, *args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DO_NOT_TRACK"))}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def module_receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver(host="127.0.0.1", grpc_port=0, http_port=0) as rx:
        yield rx


# -- issue 17 item 3: each listed case -----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "read"),
    [
        ("OTEL_BLRP_EXPORT_TIMEOUT", "0", lambda: DeliverySettings.from_env().export_timeout_s),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "0", lambda: ExporterSettings.from_env().timeout_s),
        (
            "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
            "-1",
            lambda: RecordSettings.from_env().attribute_count_limit,
        ),
        ("OTEL_BLRP_SCHEDULE_DELAY", "0", lambda: DeliverySettings.from_env().schedule_delay_s),
    ],
)
def test_a_value_that_cannot_work_is_logged_and_its_default_used_and_events_arrive(
    receiver: OTLPReceiver, name: str, value: str, read: Any, tmp_path: Path
) -> None:
    defaults = {
        "OTEL_BLRP_EXPORT_TIMEOUT": DEFAULT_EXPORT_TIMEOUT_S,
        "OTEL_EXPORTER_OTLP_TIMEOUT": DEFAULT_TIMEOUT_S,
        "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT": DEFAULT_ATTRIBUTE_COUNT_LIMIT,
        "OTEL_BLRP_SCHEDULE_DELAY": DEFAULT_SCHEDULE_DELAY_S,
    }
    os.environ[name] = value
    try:
        assert read() == defaults[name]
    finally:
        del os.environ[name]
    done = _run(
        SEND_AND_EXIT,
        "50",
        env={
            name: value,
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_endpoint,
            "OTEL_TELEMETRY_STATE_DIR": str(tmp_path),
            "OTEL_TELEMETRY_LOG_LEVEL": "warning",  # otel-telemetry's log reaches stderr only when asked
        },
    )
    assert done.returncode == 0, done.stderr
    assert f"ignoring {name}={value!r}" in done.stderr
    assert done.stderr.count(f"ignoring {name}") == 1  # logged once
    assert receiver.wait_for(50, 10)
    assert sorted(r.attributes["i"] for r in receiver.records) == list(range(50))


def test_schedule_delay_zero_does_not_spin_a_core(tmp_path: Path) -> None:
    """Idle for 3 s with OTEL_BLRP_SCHEDULE_DELAY=0: the worker waits, it does not busy-loop."""
    code = """
import resource, time, otel_telemetry
otel_telemetry.send("e")
start = resource.getrusage(resource.RUSAGE_SELF)
time.sleep(3)
end = resource.getrusage(resource.RUSAGE_SELF)
print((end.ru_utime + end.ru_stime) - (start.ru_utime + start.ru_stime))
otel_telemetry.shutdown(0)
"""
    done = _run(
        code,
        env={
            "OTEL_BLRP_SCHEDULE_DELAY": "0",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
            "OTEL_TELEMETRY_STATE_DIR": str(tmp_path),
        },
    )
    assert done.returncode == 0, done.stderr
    cpu_s = float(done.stdout.split()[-1])
    assert cpu_s < 1.0, f"{cpu_s:.2f} CPU-s in 3 s idle"  # a spinning worker takes ~3


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem"}, "OTEL_EXPORTER_OTLP_CERTIFICATE"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ({"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "ftp://collector/v1/logs"}, "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"),
        ({"OTEL_EXPORTER_OTLP_HEADERS": "x-token=a%0D%0Ainjected"}, "OTEL_EXPORTER_OTLP_HEADERS"),
        ({"OTEL_EXPORTER_OTLP_CLIENT_KEY": "/nonexistent/key.pem"}, "OTEL_EXPORTER_OTLP_CLIENT_KEY"),
    ],
)
def test_a_configuration_that_cannot_work_is_reported_and_its_events_counted_not_retried(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, env: dict[str, str], field: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with caplog.at_level(logging.ERROR, logger="otel_telemetry"):
        t = Telemetry()
    assert t.config_error is not None and field in t.config_error
    assert [r.message for r in caplog.records if "configuration error" in r.message]
    assert all(t.send("e", {"eventProperties": {"i": i}}) for i in range(30))
    started = time.monotonic()
    assert not t.flush(10)  # lost, and said so at once: no retry loop until the timeout
    assert time.monotonic() - started < 5
    stats = t.stats()
    t.shutdown(1)
    assert stats.dropped == {"config_error": 30}
    assert stats.retries == 0
    assert stats.accepted == stats.exported + stats.dropped_total + stats.queued


def test_a_configuration_error_is_reported_by_a_real_process_and_nothing_hangs(tmp_path: Path) -> None:
    started = time.monotonic()
    done = _run(
        SEND_AND_EXIT,
        "20",
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318",
            "OTEL_TELEMETRY_STATE_DIR": str(tmp_path),
            "OTEL_TELEMETRY_LOG_LEVEL": "warning",  # otel-telemetry's log reaches stderr only when asked
        },
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30
    assert "configuration error" in done.stderr and "OTEL_EXPORTER_OTLP_ENDPOINT" in done.stderr
    assert "config_error" in done.stderr  # the drop is counted and logged
    assert "needs a scheme" in json.loads(done.stdout.splitlines()[-1])["config_error"]


@pytest.mark.parametrize(
    ("build", "field", "rule"),
    [
        (lambda: Telemetry(endpoint="collector:4318"), "endpoint", "needs a scheme"),
        (lambda: Telemetry(endpoint="http://"), "endpoint", "no host"),
        (
            lambda: Telemetry(exporter=OTLPExporter(headers={"x-token": "a\r\nInjected: 1"})),
            "headers['x-token']",
            "CR, LF",
        ),
        (lambda: Telemetry(exporter=OTLPExporter(headers={"bad name": "v"})), "headers['bad name']", "token"),
        (lambda: Telemetry(exporter=OTLPExporter(protocol="smtp")), "protocol", "must be one of"),
        (
            lambda: ExporterSettings(certificate_file="/nonexistent/ca.pem"),
            "certificate_file",
            "no such file",
        ),
        (lambda: ExporterSettings(timeout_s=0), "timeout_s", "> 0"),
        (lambda: DeliverySettings(export_timeout_s=0), "export_timeout_s", "> 0"),
        (lambda: DeliverySettings(exit_timeout_s=float("nan")), "exit_timeout_s", "finite"),
        (lambda: DeliverySettings(schedule_delay_s=1e300), "schedule_delay_s", "at most"),
        (lambda: Backoff(max_s=1e300), "Backoff.initial_s", "<= max_s"),
        (lambda: DeliverySettings(schedule_delay_s=0), "schedule_delay_s", ">= 0.001"),
        (lambda: DeliverySettings(max_queue_size=0), "max_queue_size", ">= 1"),
        (lambda: DeliverySettings(max_export_batch_size=True), "max_export_batch_size", "integer"),  # type: ignore[arg-type]
        (lambda: RecordSettings(attribute_count_limit=-1), "attribute_count_limit", ">= 0"),
        (lambda: RecordSettings(attribute_value_length_limit=0), "attribute_value_length_limit", ">= 1"),
        (lambda: ResourceSettings(max_resources=0), "max_resources", ">= 1"),
        (
            lambda: PrivacySettings(disable_defaults=frozenset({"os.verison"})),
            "disable_defaults",
            "os.version",
        ),
        (lambda: PrivacySettings(disable_defaults="all"), "disable_defaults", "not a single string"),  # type: ignore[arg-type]
        (lambda: SpoolSettings(Path("x"), max_bytes=10), "spool.max_bytes", ">= 16384"),
        (lambda: Backoff(initial_s=0), "Backoff.initial_s", "> 0"),
        (lambda: CatalogSettings(mode="strict"), "catalog_mode", "must be one of"),  # type: ignore[arg-type]
        (lambda: Telemetry(delivery={"max_queue_size": 5}), "delivery", "must be a DeliverySettings"),  # type: ignore[arg-type]
    ],
)
def test_a_bad_value_in_code_is_an_error_naming_the_field_and_the_rule(
    build: Any, field: str, rule: str
) -> None:
    with pytest.raises(TelemetryError) as raised:
        build()
    assert raised.value.field == field
    assert rule in raised.value.rule


def test_a_typo_in_disable_defaults_from_the_environment_is_logged_with_the_valid_names(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_TELEMETRY_DISABLE_DEFAULTS", "os.version,host.archh")
    privacy = PrivacySettings.from_env()
    assert privacy.disable_defaults == frozenset()
    assert "host.archh" in caplog.text and all(name in caplog.text for name in DEFAULT_NAMES)


def test_settings_objects_are_frozen_readable_and_round_trip_through_replace() -> None:
    delivery = DeliverySettings(max_queue_size=10, max_export_batch_size=50)
    assert delivery.max_export_batch_size == 10  # a batch cannot exceed the queue
    with pytest.raises(dataclasses.FrozenInstanceError):
        delivery.max_queue_size = 5  # type: ignore[misc]
    assert dataclasses.replace(delivery, schedule_delay_s=0.5).schedule_delay_s == 0.5
    t = Telemetry("svc", delivery=delivery, disabled=True)
    assert t.delivery is delivery and t.resource.service_name == "svc"
    assert isinstance(t.exporter, OTLPExporter)


# -- the shape of the configuration (issue 12) -----------------------------------------------

#: Every settings object a user can build and pass (directly, or inside another one).
SETTINGS_CLASSES = [
    Backoff,
    CatalogSettings,
    DefaultProperties,
    DeliverySettings,
    ExporterSettings,
    HandoffSettings,
    PrivacySettings,
    RecordSettings,
    ResourceSettings,
    SamplingSettings,
    SpoolSettings,
]


def test_telemetry_and_configure_take_at_most_thirteen_parameters_and_the_same_ones() -> None:
    telemetry = list(inspect.signature(Telemetry.__init__).parameters.values())[1:]  # without self
    configure = list(inspect.signature(otel_telemetry.configure).parameters.values())
    assert len(telemetry) <= 13, [p.name for p in telemetry]
    assert [(p.name, p.kind, p.default, p.annotation) for p in configure] == [
        (p.name, p.kind, p.default, p.annotation) for p in telemetry
    ]
    assert all(p.annotation is not inspect.Parameter.empty for p in configure)  # typed, not **options
    # what moved into a settings object (or the exporter) is not a parameter any more
    names = {p.name for p in telemetry}
    assert not names & {"protocol", "headers", "batch", "consent", "notice", "sampling", "exit"}


def test_every_settings_class_is_exported_and_a_settings_object_is_frozen_and_has_from_env() -> None:
    exported = {
        getattr(otel_telemetry, name)
        for name in otel_telemetry.__all__
        if name.endswith("Settings") or name in ("Backoff", "DefaultProperties")
    }
    assert exported == set(SETTINGS_CLASSES)
    for cls in SETTINGS_CLASSES:
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls  # type: ignore[attr-defined]
        made = cls.from_env({})  # type: ignore[attr-defined]
        if cls is SpoolSettings:
            assert made is None  # no OTEL_TELEMETRY_SPOOL_DIR: no spool
            made = SpoolSettings.from_env({"OTEL_TELEMETRY_SPOOL_DIR": "/tmp/spool"})
        assert isinstance(made, cls)
        name = dataclasses.fields(made)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(made, name, getattr(made, name))
        assert dataclasses.replace(made) == made


def _given_settings(tmp_path: Path) -> dict[str, Any]:
    """One non-default value of every argument, as a user would write them."""
    return {
        "service_name": "round-trip",
        "exporter": InMemoryExporter(),
        "delivery": DeliverySettings(
            max_queue_size=64,
            schedule_delay_s=0.5,
            backoff=Backoff(0.5, 2.0),
            exit_mode="flush",
            exit_timeout_s=1.0,
            handoff=HandoffSettings(tmp_path / "handoff", max_bytes=1024),
        ),
        "resource": ResourceSettings(service_version="1.2.3", environment="test"),
        "records": RecordSettings(
            attribute_count_limit=16,
            sampling=SamplingSettings({"noisy": 0.5}, lifecycle={"didStart"}, seed=3),
            default_properties=DefaultProperties(event={"cliVersion": "1.0"}),
        ),
        "privacy": PrivacySettings(
            project_id="round-trip-project", state_dir=tmp_path, notice="we count", sent_log=3
        ),
        "catalog": CatalogSettings(None, "off", required=False),
        "strict": True,
        "debug": False,
    }


@pytest.mark.parametrize("through", ["Telemetry", "configure"])
def test_settings_given_in_code_round_trip_through_the_instance(tmp_path: Path, through: str) -> None:
    given = _given_settings(tmp_path)
    make = Telemetry if through == "Telemetry" else otel_telemetry.configure
    t = make(**given)
    try:
        for name in ("exporter", "delivery", "records", "privacy", "catalog", "debug"):
            assert getattr(t, name) is given[name], name
        assert t.resource == dataclasses.replace(given["resource"], service_name="round-trip")
        assert t.app == "round-trip"  # privacy.app unset: the service name
        assert t.exit_mode == "flush"
        assert t.stats().sampled_out == {}
        assert t.send("didStart") and t.flush(5)
        [record] = given["exporter"].records
        assert record.attributes["cliVersion"] == "1.0"  # records.default_properties applied
        with pytest.raises(TelemetryError):
            t.send("")  # strict=True raises
    finally:
        if through == "configure":
            otel_telemetry.shutdown(1)
        else:
            t.shutdown(1)


@pytest.mark.parametrize(
    ("cls", "variable", "value", "field", "given", "read"),
    [
        (DeliverySettings, "OTEL_TELEMETRY_EXIT", "flush", "schedule_delay_s", 0.25, "exit_mode"),
        (DeliverySettings, "OTEL_BLRP_MAX_QUEUE_SIZE", "99", "exit_mode", "handoff", "max_queue_size"),
        (PrivacySettings, "OTEL_TELEMETRY_DISABLE_DEFAULTS", "all", "notice", "we count", "disable_defaults"),
        (
            RecordSettings,
            "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
            "7",
            "sampling",
            SamplingSettings(),
            "attribute_count_limit",
        ),
        (ResourceSettings, "OTEL_TELEMETRY_ENVIRONMENT", "staging", "service_version", "2.0", "environment"),
        (CatalogSettings, "OTEL_TELEMETRY_CATALOG_MODE", "enforce", "required", True, "mode"),
    ],
)
def test_from_env_with_fields_sets_them_over_the_environment_and_keeps_the_rest(
    cls: Any, variable: str, value: str, field: str, given: Any, read: str
) -> None:
    """What the separate objects gave before they merged: a field set in code (the notice) and
    the environment's values for the others (``OTEL_TELEMETRY_DISABLE_DEFAULTS``)."""
    environ = {variable: value}
    made = cls.from_env(environ, **{field: given})
    assert getattr(made, field) == given
    assert getattr(made, read) == getattr(cls.from_env(environ), read) != getattr(cls(), read)
    assert cls(**{field: given}) != made  # built in code, the object does not read the environment


def test_a_bad_field_given_to_from_env_is_an_error_naming_it() -> None:
    with pytest.raises(TelemetryError) as raised:
        DeliverySettings.from_env({}, exit_mode="later")
    assert raised.value.field == "exit_mode"
    with pytest.raises(TypeError, match="exit"):
        DeliverySettings.from_env({}, exit=None)  # a field that does not exist


def test_the_exporter_keywords_are_the_otlp_variables_with_the_given_values_over_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")
    exporter = OTLPExporter(endpoint="http://collector:4317", protocol="grpc", headers={"X-Key": "k"})
    settings = exporter.settings
    assert (settings.protocol, settings.endpoint) == ("grpc", "http://collector:4317")
    assert settings.timeout_s == 2.5
    assert dict(settings.headers) == {"x-tenant": "acme", "x-key": "k"}
    shortcut = Telemetry(endpoint="http://collector:4318", disabled=True)
    assert isinstance(shortcut.exporter, OTLPExporter)
    assert shortcut.exporter.settings.protocol == "http/json"  # from the environment
    assert shortcut.exporter.settings.endpoint == "http://collector:4318/v1/logs"
    shortcut.shutdown(0.1)


# -- generated: any value of any variable ----------------------------------------------------

NUMERIC_VARIABLES = [
    "OTEL_BLRP_MAX_QUEUE_SIZE",
    "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BLRP_SCHEDULE_DELAY",
    "OTEL_BLRP_EXPORT_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_TELEMETRY_EXIT_TIMEOUT",
    "OTEL_TELEMETRY_BLOCK_TIMEOUT",
]
CHOICE_VARIABLES = [
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_TELEMETRY_OVERFLOW",
    "OTEL_TELEMETRY_EVENT_NAME_ATTRIBUTE",
    "OTEL_TELEMETRY_EVENT_IDS",
    "OTEL_TELEMETRY_DISABLE_DEFAULTS",
    "OTEL_RESOURCE_ATTRIBUTES",
]
numbers = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["0", "-0", "1e400", "nan", "inf", "0x10", " 7 ", "1_000", "١٢", "", "ten"]),
    st.text(max_size=8),
)
choices = st.one_of(
    st.sampled_from(["gzip", "GZIP", "drop_oldest", "block", "true", "0", "all", "os.version", "k=v"]),
    st.text(max_size=12),
)
environments = st.fixed_dictionaries(
    {},
    optional={
        **{name: numbers for name in NUMERIC_VARIABLES},
        **{name: choices for name in CHOICE_VARIABLES},
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(environ=environments)
def test_any_environment_gives_valid_settings_and_delivers(
    module_receiver: OTLPReceiver, environ: dict[str, str]
) -> None:
    """Whatever the variables say, the settings are valid objects (their checks passed) and an
    event sent with them reaches a real receiver, or is counted: accepted = exported + dropped."""
    environ = {k: v.replace("\x00", "") for k, v in environ.items()}
    delivery = DeliverySettings.from_env(environ)
    records = RecordSettings.from_env(environ)
    privacy = PrivacySettings.from_env(environ)
    resource = ResourceSettings.from_env(environ)
    exporter = ExporterSettings.from_env(
        {**environ, "OTEL_EXPORTER_OTLP_ENDPOINT": module_receiver.http_endpoint}
    )
    for made in (delivery, records, privacy, resource, exporter):
        assert dataclasses.replace(made) == made  # rebuilding runs the same checks: they pass
    assert delivery.schedule_delay_s >= 0.001 and delivery.export_timeout_s > 0 and exporter.timeout_s > 0
    module_receiver.clear()
    t = Telemetry(
        exporter=OTLPExporter(exporter),
        delivery=dataclasses.replace(delivery, exit_timeout_s=0.0),
        records=records,
        privacy=dataclasses.replace(privacy, project_id="generated"),
        resource=resource,
    )
    try:
        assert t.send("generated", {"eventProperties": {"k": "v"}})
        assert t.flush(10)  # whatever the schedule delay, a flush exports now
        stats = t.stats()
    finally:
        t.shutdown(1)
    assert stats.accepted == stats.exported + stats.dropped_total == 1
    assert module_receiver.wait_for(1, 5)


urls = st.one_of(
    st.text(max_size=30),
    st.builds(
        lambda scheme, host, port, path: f"{scheme}{host}{port}{path}",
        st.sampled_from(["", "http://", "https://", "grpc://", "HTTP://", "://"]),
        st.sampled_from(["", "collector", "127.0.0.1", "[::1]", "a b", "exa\nmple"]),
        st.sampled_from(["", ":4318", ":99999", ":x", ":"]),
        st.sampled_from(["", "/", "/v1/logs", "/a?b#c"]),
    ),
)


@settings(max_examples=200, deadline=None)
@given(endpoint=urls, protocol=st.sampled_from(["grpc", "http/protobuf", "http/json"]))
def test_any_endpoint_from_the_environment_is_usable_or_a_reported_configuration_error(
    endpoint: str, protocol: str
) -> None:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": protocol}
    made = ExporterSettings.from_env(environ)  # never raises
    if made.config_error is not None:
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" in made.config_error
        result = OTLPExporter(made).export(b"", 1.0)  # refused at once, not retried
        assert not result.ok and not result.retryable and result.drop_reason == "config_error"
        with pytest.raises(TelemetryError):
            ExporterSettings(protocol=made.protocol, endpoint=made.endpoint)
    else:
        assert made.endpoint.lower().startswith(("http://", "https://")) or protocol == "grpc"
        assert made == ExporterSettings(protocol=made.protocol, endpoint=made.endpoint)
