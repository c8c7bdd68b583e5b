"""Policies before the mapping: opt-out, rate limits, validation (lenient and strict)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from telemetry_helpers import telemetry_to

import otel_telemetry
from otel_telemetry import OTLPExporter, RateLimit, Telemetry, TelemetryError
from otel_telemetry.ratelimit import RateLimiter
from otel_telemetry.receiver import OTLPReceiver
from otel_telemetry.settings import is_truthy, opt_out_reason

# -- opt-out -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1", "true", "TRUE", " yes ", "on"])
def test_truthy_values_follow_strapi(value: str) -> None:
    assert is_truthy(value)


@pytest.mark.parametrize("value", ["0", "false", "", "no", "off", "disabled", None])
def test_other_values_are_not_truthy(value: str | None) -> None:
    assert not is_truthy(value)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"OTEL_TELEMETRY_DISABLED": "true"}, "OTEL_TELEMETRY_DISABLED=true"),
        ({"MYAPP_TELEMETRY_DISABLED": "1"}, "MYAPP_TELEMETRY_DISABLED=1"),
        ({"DO_NOT_TRACK": "1"}, "DO_NOT_TRACK=1"),
        ({"OTEL_SDK_DISABLED": "true"}, "OTEL_SDK_DISABLED=true"),
        ({"OTEL_SDK_DISABLED": "1"}, None),  # the SDK's rule: only "true"
        ({"DO_NOT_TRACK": "0"}, None),
        ({}, None),
    ],
)
def test_each_opt_out_variable_disables(environ: dict[str, str], expected: str | None) -> None:
    assert opt_out_reason("MYAPP_TELEMETRY_DISABLED", environ) == expected


def test_explicit_enable_does_not_override_do_not_track(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    assert Telemetry(disabled=False).disabled_reason == "DO_NOT_TRACK=1"


@pytest.mark.parametrize("how", ["argument", "app variable", "DO_NOT_TRACK", "OTEL_SDK_DISABLED"])
def test_disabled_telemetry_sends_nothing_opens_nothing_and_returns_true(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    kwargs: dict[str, object] = {
        "privacy": otel_telemetry.PrivacySettings(disable_env="MYAPP_TELEMETRY_DISABLED")
    }
    if how == "argument":
        kwargs["disabled"] = True
    elif how == "app variable":
        monkeypatch.setenv("MYAPP_TELEMETRY_DISABLED", "true")
    elif how == "DO_NOT_TRACK":
        monkeypatch.setenv("DO_NOT_TRACK", "1")
    else:
        monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    threads_before = {t.name for t in threading.enumerate()}
    t = Telemetry(exporter=OTLPExporter(endpoint=receiver.grpc_endpoint, protocol="grpc"), **kwargs)  # type: ignore[arg-type]
    assert t.send("didCreateEntry", {"eventProperties": {"a": 1}}) is True
    assert t.flush(1) is True
    assert "otel-telemetry-export" not in {th.name for th in threading.enumerate()} - threads_before
    t.shutdown(1)
    assert receiver.requests == []
    assert receiver.request_log == []


# -- rate limits ---------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_limited_events_pass_once_per_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"didReceiveRequest": otel_telemetry.ONCE_PER_DAY}, clock=clock)
    assert limiter.allow("didReceiveRequest")
    assert not limiter.allow("didReceiveRequest")
    assert limiter.allow("other")  # unlimited names pass
    clock.now = 86_399
    assert not limiter.allow("didReceiveRequest")
    clock.now = 86_400
    assert limiter.allow("didReceiveRequest")


def test_n_per_window_per_event_name() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"a": RateLimit(3, 10)}, clock=clock)
    assert [limiter.allow("a") for _ in range(5)] == [True, True, True, False, False]
    clock.now = 10
    assert limiter.allow("a")


def test_global_cap_is_a_token_bucket() -> None:
    clock = FakeClock()
    limiter = RateLimiter(global_limit=RateLimit(10, 10), clock=clock)  # 1 per second, burst 10
    assert sum(limiter.allow(f"e{i}") for i in range(20)) == 10
    clock.now = 2.0
    assert sum(limiter.allow("x") for _ in range(5)) == 2


def test_denied_events_do_not_consume_the_per_name_budget() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"a": RateLimit(1, 10)}, global_limit=RateLimit(1, 100), clock=clock)
    assert limiter.allow("b")  # uses the global token
    assert not limiter.allow("a")  # denied by the global cap ...
    clock.now = 100
    assert limiter.allow("a")  # ... so "a" still has its per-name budget


def test_rate_limit_arguments_are_checked() -> None:
    with pytest.raises(TelemetryError, match=r"RateLimit\.count"):
        RateLimit(-1)
    with pytest.raises(TelemetryError, match=r"RateLimit\.window_s"):
        RateLimit(1, 0)


def test_rate_limited_sends_return_false_and_are_counted(receiver: OTLPReceiver) -> None:
    with Telemetry(
        exporter=OTLPExporter(endpoint=receiver.grpc_endpoint, protocol="grpc"),
        records=otel_telemetry.RecordSettings(rate_limits={"didReceiveRequest": otel_telemetry.ONCE_PER_DAY}),
    ) as t:
        assert t.send("didReceiveRequest", {"eventProperties": {"statusCode": 200}})
        assert not t.send("didReceiveRequest", {"eventProperties": {"statusCode": 500}})
        assert t.send("didCreateEntry")
        assert t.flush(10)
        assert t.stats().dropped == {"rate_limited": 1}
    assert sorted(r.event_name for r in receiver.records) == ["didCreateEntry", "didReceiveRequest"]


# -- validation ----------------------------------------------------------------------------

INVALID = [
    ("", None, "event_name", "must not be empty"),
    ("   ", None, "event_name", "must not be empty"),
    ("x" * 257, None, "event_name", "at most 256"),
    ("bad\nname", None, "event_name", "control"),
    (42, None, "event_name", "must be a string"),
    ("e", ["not", "a", "map"], "payload", "must be a mapping"),
    ("e", {"eventProperties": {}, "extra": 1}, "payload.extra", "unknown key"),
    ("e", {"eventProperties": "text"}, "payload.eventProperties", "must be a mapping"),
    ("e", {"userProperties": [1]}, "payload.userProperties", "must be a mapping"),
    ("e", {"groupProperties": 3}, "payload.groupProperties", "must be a mapping"),
    ("e", {"userId": 1.5}, "user_id", "string or an integer"),
    ("e", {"eventProperties": {"user.x": 1}}, "eventProperties.user.x", "may not start with"),
]


@pytest.mark.parametrize(("name", "payload", "field", "rule"), INVALID)
def test_strict_mode_raises_an_error_naming_the_field_and_the_rule(
    name: object, payload: object, field: str, rule: str
) -> None:
    t = Telemetry(strict=True)
    with pytest.raises(TelemetryError) as info:
        t.send(name, payload)  # type: ignore[arg-type]
    assert info.value.field == field
    assert rule in info.value.rule
    assert str(info.value).startswith(f"{field}: ")
    t.shutdown(0.1)


@pytest.mark.parametrize(("name", "payload", "field", "rule"), INVALID[:-1])
def test_lenient_mode_drops_counts_and_logs_once(
    name: object, payload: object, field: str, rule: str, caplog: pytest.LogCaptureFixture
) -> None:
    t = Telemetry()
    assert t.send(name, payload) is False  # type: ignore[arg-type]
    assert t.send(name, payload) is False  # type: ignore[arg-type]
    assert t.stats().dropped == {"invalid": 2}
    warnings = [
        r for r in caplog.records if r.levelname == "WARNING" and "otel-telemetry dropped" in r.message
    ]
    assert len(warnings) == 1
    assert field in warnings[0].message and rule in warnings[0].message
    t.shutdown(0.1)


def test_strict_mode_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TELEMETRY_STRICT", "true")
    with pytest.raises(TelemetryError):
        Telemetry().send("")


def test_strict_mode_does_not_raise_for_drops_that_are_not_input_errors() -> None:
    t = Telemetry(strict=True, records=otel_telemetry.RecordSettings(rate_limits={"a": RateLimit(0)}))
    assert t.send("a") is False
    t.shutdown(0.1)


def test_a_disabled_app_never_loads_the_network_libraries() -> None:
    code = (
        "import sys, otel_telemetry\n"
        "assert otel_telemetry.send('e', {'eventProperties': {'a': 1}})\n"
        "assert otel_telemetry.flush(1)\n"
        "print(sorted(m for m in ('grpc', 'requests') if m in sys.modules))\n"
    )
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# -- custom policies ---------------------------------------------------------------------------


def test_custom_policies_change_drop_or_pass_events_in_order(receiver: OTLPReceiver) -> None:
    from otel_telemetry.event import CapturedEvent

    seen: list[dict[str, object] | None] = []

    def redact(event: CapturedEvent) -> CapturedEvent | None:
        props = event.event_properties or {}
        if props.get("secret"):
            return None
        # a replaced group arrives; the others keep what was captured
        return event._replace(event_properties={**props, "model": "redacted"})

    def observe(event: CapturedEvent) -> CapturedEvent:
        seen.append(event.event_properties)
        return event  # unchanged: sent as it is

    payload = {
        "eventProperties": {"model": "article", "locales": ["en", "fr"]},
        "userProperties": {"role": "admin"},
        "groupProperties": {"plan": "pro"},
    }
    with telemetry_to(receiver, policies=[redact, observe]) as t:
        assert t.send("kept", payload)
        assert not t.send("dropped", {"eventProperties": {"secret": True}})
        assert t.stats().dropped == {"policy": 1}
        assert t.flush(10.0)
    assert receiver.wait_for(1, timeout=10.0)
    [record] = receiver.records
    assert record.attributes == {"model": "redacted", "locales": ["en", "fr"], "user.role": "admin"}
    assert record.resource["plan"] == "pro"
    assert seen == [{"model": "redacted", "locales": ("en", "fr")}]


def test_a_policy_names_the_reason_its_drops_are_counted_under(receiver: OTLPReceiver) -> None:
    from otel_telemetry import CapturedEvent, NamedPolicy

    class NoInternalUsers:
        """A policy class that declares ``drop_reason`` (the ``NamedPolicy`` protocol)."""

        drop_reason = "internal_user"

        def __call__(self, event: CapturedEvent) -> CapturedEvent | None:
            return None if (event.user_properties or {}).get("internal") else event

    def unnamed(event: CapturedEvent) -> CapturedEvent | None:
        return None if event.name == "noise" else event

    named = NoInternalUsers()
    assert isinstance(named, NamedPolicy) and not isinstance(unnamed, NamedPolicy)
    with telemetry_to(receiver, policies=[named, unnamed]) as t:
        assert not t.send("e", {"userProperties": {"internal": True}})
        assert not t.send("noise")
        assert t.send("e", {"userProperties": {"internal": False}})
        assert t.stats().dropped == {"internal_user": 1, "policy": 1}
