"""``otel_telemetry.testing``: the capture sees exactly what a collector would receive, its
assertions explain their failures, and nothing leaves the process while it is active."""

from __future__ import annotations

import re

import pytest

import otel_telemetry
from otel_telemetry import (
    CatalogSettings,
    OTLPExporter,
    PrivacySettings,
    RateLimit,
    RecordSettings,
    Telemetry,
)
from otel_telemetry.catalog.loader import catalog_from_dict
from otel_telemetry.receiver import OTLPReceiver
from otel_telemetry.testing import TelemetryAssertionError, capture

PAYLOAD = {
    "eventProperties": {"model": "article", "fields": 3, "tags": ["a", "b"]},
    "userProperties": {"role": "editor"},
    "groupProperties": {"database": "postgres"},
}


def test_a_captured_event_is_the_record_a_collector_receives(receiver: OTLPReceiver) -> None:
    privacy = PrivacySettings(project_id="same-project")
    sent = Telemetry(
        "app", exporter=OTLPExporter(endpoint=receiver.grpc_endpoint, protocol="grpc"), privacy=privacy
    )
    with capture() as events:
        captured = Telemetry(
            "app", exporter=OTLPExporter(endpoint=receiver.grpc_endpoint, protocol="grpc"), privacy=privacy
        )
        assert captured.send("didCreateEntry", PAYLOAD, user_id="u1")
    assert sent.send("didCreateEntry", PAYLOAD, user_id="u1")
    assert sent.flush(10)
    sent.shutdown()
    (wire,) = receiver.records
    (event,) = events.events()
    assert event.name == wire.event_name == "didCreateEntry"
    assert event.attributes == wire.attributes
    assert event.resource == wire.resource
    assert event.to_payload()["groupProperties"] == {"database": "postgres"}
    assert event.to_payload()["userProperties"] == {"role": "editor", "hash": wire.attributes["user.hash"]}


def test_nothing_leaves_the_process_while_capturing(receiver: OTLPReceiver) -> None:
    with capture() as events:
        t = Telemetry(exporter=OTLPExporter(endpoint=receiver.http_endpoint, protocol="http/protobuf"))
        for i in range(20):
            t.send("e", {"eventProperties": {"i": i}})
        assert t.flush(2)
        t.shutdown(2)
    assert events.count("e") == 20
    assert receiver.records == []
    assert receiver.request_log == []


def test_the_module_level_default_instance_is_captured_too() -> None:
    with capture() as events:
        otel_telemetry.send("didOpenApp", event_properties={"screen": "home"})
    events.assert_sent("didOpenApp", screen="home")
    otel_telemetry.shutdown()


def test_captures_nest_and_the_innermost_records() -> None:
    t = Telemetry()
    with capture() as outer:
        t.send("first")
        with capture() as inner:
            t.send("second")
        t.send("third")
    assert [e.name for e in outer] == ["first", "third"]
    assert [e.name for e in inner] == ["second"]
    t.send("after")  # capture over: queued for real again (the collector is absent; not waited on)
    assert [e.name for e in outer] == ["first", "third"]
    t.shutdown(0.1)


def test_policies_rate_limits_and_bad_input_run_before_the_capture() -> None:
    records = RecordSettings(rate_limits={"ping": RateLimit(2, 3600)})
    with capture() as events:
        t = Telemetry(records=records)
        for _ in range(5):
            t.send("ping")
        assert not t.send("bad\nname")
    events.assert_count(2, "ping")
    reasons = [reason for reason, _ in events.dropped]
    assert reasons.count("rate_limited") == 3 and "invalid" in reasons


def test_assert_sent_returns_the_match_and_reads_attributes_then_resource() -> None:
    with capture() as events:
        Telemetry("shop").send("didCreateEntry", PAYLOAD)
    event = events.assert_sent(
        "didCreateEntry", {"user.role": "editor", "service.name": "shop"}, model="article"
    )
    assert event.get("database") == "postgres"
    events.assert_sent("didCreateEntry", tags=("a", "b"), times=1)


def test_a_failed_assert_sent_shows_the_closest_events_and_what_differs() -> None:
    with capture() as events:
        t = Telemetry()
        t.send("didCreateEntry", {"eventProperties": {"model": "page", "fields": 3}})
        t.send("didCreateEntry", {"eventProperties": {"model": "user", "fields": 1}})
    with pytest.raises(TelemetryAssertionError) as failure:
        events.assert_sent("didCreateEntry", model="article", fields=3)
    message = str(failure.value)
    assert "no didCreateEntry(model='article', fields=3) event was sent" in message
    lines = message.splitlines()
    assert "2 didCreateEntry event(s) were sent; the closest:" in lines
    closest = lines[lines.index("2 didCreateEntry event(s) were sent; the closest:") + 1]
    assert "model='page'" in closest and "(differs: model='page')" in closest


def test_a_failed_assert_sent_suggests_a_similar_name_or_says_nothing_was_sent() -> None:
    with capture() as events, pytest.raises(TelemetryAssertionError, match="No event was sent at all"):
        events.assert_sent("didSignUp")
    with capture() as events:
        Telemetry().send("didSignup")
    with pytest.raises(TelemetryAssertionError, match=re.escape("Did you mean 'didSignup'?")):
        events.assert_sent("didSignUp")


def test_assert_sent_with_times_and_assert_not_sent_and_assert_count_fail_clearly() -> None:
    with capture() as events:
        t = Telemetry()
        t.send("tick", event_properties={"n": 1})
        t.send("tick", event_properties={"n": 1})
    with pytest.raises(TelemetryAssertionError, match=r"expected 1 tick\(n=1\) event\(s\), got 2"):
        events.assert_sent("tick", n=1, times=1)
    events.assert_not_sent("tick", n=2)
    with pytest.raises(TelemetryAssertionError, match=r"tick\(n=1\) was sent 2 time\(s\), expected never"):
        events.assert_not_sent("tick", n=1)
    with pytest.raises(TelemetryAssertionError, match=r"expected 3 tick\(s\), got 2. Sent: tick x2"):
        events.assert_count(3, "tick")


def test_a_bool_property_does_not_match_an_int() -> None:
    with capture() as events:
        Telemetry().send("flag", event_properties={"on": True, "n": 1})
    events.assert_sent("flag", on=True, n=1)
    with pytest.raises(TelemetryAssertionError):
        events.assert_sent("flag", on=1)
    with pytest.raises(TelemetryAssertionError):
        events.assert_sent("flag", n=True)


def test_the_snapshot_is_stable_across_project_ids_and_runs() -> None:
    def run(project: str) -> list[dict[str, object]]:
        with capture() as events:
            t = Telemetry("shop", privacy=PrivacySettings(project_id=project))
            t.send(
                "b", {"eventProperties": {"z": 1, "a": 2}, "groupProperties": {"plan": "pro"}}, user_id="x"
            )
            t.send("a", user_id="y")
            t.send("c", user_id="x")
        return events.snapshot()

    first = run("p1")
    assert first == run("p2")
    assert first[0] == {
        "event": "b",
        "eventProperties": {"a": 2, "z": 1},
        "userProperties": {"hash": "<user 1>"},
        "groupProperties": {"plan": "pro"},
    }
    assert [s["userProperties"] for s in first] == [
        {"hash": "<user 1>"},
        {"hash": "<user 2>"},
        {"hash": "<user 1>"},
    ]
    assert list(first[0]["eventProperties"]) == ["a", "z"]  # type: ignore[call-overload]


@pytest.mark.parametrize("mode", ["warn", "enforce"])
def test_catalog_violations_are_collected_in_either_mode(mode: str) -> None:
    catalog = catalog_from_dict({"version": 1, "events": {"known": {"description": "d", "owner": "o"}}})
    with capture() as events:
        t = Telemetry(catalog=CatalogSettings(catalog, mode=mode))  # type: ignore[arg-type]
        t.send("known")
        t.send("unknown")
    assert len(events.violations) == 1 and events.violations[0].startswith("unknown: ")
    events.assert_sent("known")
    assert events.count("unknown") == (1 if mode == "warn" else 0)


def test_the_documented_fault_test_runs_as_written_over_both_protocols() -> None:
    """docs/testing.md's example: the receiver and faults come from otel_telemetry.testing."""
    from otel_telemetry import ExporterSettings, OTLPExporter, testing

    for protocol in ("http/protobuf", "grpc"):
        with testing.OTLPReceiver() as collector:
            collector.faults.push(testing.Fault(http_status=503, retry_after="1"), times=2)
            if protocol == "grpc":
                grpc = ExporterSettings(protocol="grpc", endpoint=collector.grpc_endpoint)
                telemetry = Telemetry("my-app", exporter=OTLPExporter(grpc))
            else:  # as the documentation writes it
                telemetry = Telemetry("my-app", endpoint=collector.http_endpoint)
            telemetry.send("didStart", {"eventProperties": {"step": 1}})
            assert collector.wait_for(1, timeout=20), protocol
            assert [r.event_name for r in collector.records] == ["didStart"]
            assert len(collector.request_log) == 3, collector.request_log  # two refused, then accepted
            telemetry.shutdown()


def test_testing_loads_grpc_only_when_the_receiver_is_used() -> None:
    import subprocess
    import sys

    code = (
        "import sys, otel_telemetry.testing as t\n"
        "assert 'grpc' not in sys.modules, 'grpc loaded by otel_telemetry.testing'\n"
        "t.OTLPReceiver, t.Fault\n"
        "assert 'grpc' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
