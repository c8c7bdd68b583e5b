"""``send(..., timestamp=...)``: when the event happened becomes ``time_unix_nano``, while
``observed_time_unix_nano`` stays the time of the ``send()`` call; checked on the wire of a
real OTLP receiver, on the encoder's fast path and on its general path."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telemetry_helpers import PROTOCOLS, endpoint_for

import otel_telemetry
from otel_telemetry import TelemetryError
from otel_telemetry.event import CapturedEvent
from otel_telemetry.receiver import OTLPReceiver

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def expected_ns(when: datetime) -> int:
    """Nanoseconds since the epoch, stated independently of the library (timedelta division)."""
    aware = when if when.utcoffset() is not None else when.replace(tzinfo=timezone.utc)
    return (aware - EPOCH) // timedelta(microseconds=1) * 1000


def annotate(event: CapturedEvent) -> CapturedEvent:
    """A policy adding an annotation: the event then takes the encoder's general path."""
    return event._replace(annotations={"annotated": True})


@pytest.fixture(scope="module")
def module_receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver(host="127.0.0.1", grpc_port=0, http_port=0) as rx:
        yield rx


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("path", ["fast", "general"])
def test_timestamp_sets_time_and_observed_time_stays_the_capture_time(
    receiver: OTLPReceiver, protocol: str, path: str
) -> None:
    happened = datetime(2024, 5, 17, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    policies = [annotate] if path == "general" else []
    with otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint=endpoint_for(receiver, protocol), protocol=protocol),
        policies=policies,
    ) as t:
        before = time.time_ns()
        assert t.send("imported", {"eventProperties": {"seq": 1}}, timestamp=happened)
        assert t.send("imported", {"eventProperties": {"seq": 2}}, timestamp=1_600_000_000_123_456_789)
        assert t.send("imported", {"eventProperties": {"seq": 3}}, timestamp=datetime(2020, 1, 1))
        assert t.send("live", {"eventProperties": {"seq": 4}})
        after = time.time_ns()
        assert t.flush(10)
    assert receiver.wait_for(4)
    got = {r.attributes["seq"]: r for r in receiver.records}
    assert got[1].time_unix_nano == expected_ns(happened) == 1715931015123456000
    assert got[2].time_unix_nano == 1_600_000_000_123_456_789
    assert got[3].time_unix_nano == expected_ns(datetime(2020, 1, 1, tzinfo=timezone.utc))  # naive = UTC
    for record in got.values():
        assert before <= record.observed_time_unix_nano <= after
    assert got[4].time_unix_nano == got[4].observed_time_unix_nano  # no timestamp: both the capture time
    if path == "general":
        assert all(r.attributes["annotated"] is True for r in got.values())


def test_module_level_send_takes_a_timestamp(receiver: OTLPReceiver) -> None:
    otel_telemetry.configure(
        exporter=otel_telemetry.OTLPExporter(endpoint=receiver.grpc_endpoint, protocol="grpc")
    )
    try:
        assert otel_telemetry.send("backfilled", {"eventProperties": {"n": 1}}, timestamp=1_234_567_890)
        assert otel_telemetry.flush(10)
    finally:
        otel_telemetry.shutdown()
    assert receiver.wait_for(1)
    assert receiver.records[0].time_unix_nano == 1_234_567_890


def test_a_policy_sees_the_timestamp_and_may_change_it(receiver: OTLPReceiver) -> None:
    seen: list[int] = []

    def shift(event: CapturedEvent) -> CapturedEvent:
        seen.append(event.timestamp_ns)
        return event._replace(timestamp_ns=event.timestamp_ns + 1)

    with otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint=receiver.grpc_endpoint, protocol="grpc"),
        policies=[shift],
    ) as t:
        assert t.send("e", timestamp=1_000)
        assert t.flush(10)
    assert receiver.wait_for(1)
    assert seen == [1_000]
    assert receiver.records[0].time_unix_nano == 1_001


BAD_TIMESTAMPS: list[tuple[Any, str]] = [
    (1.7e9, "not float"),
    ("2024-01-01", "not str"),
    (True, "not bool"),
    (0, "between 1 and 2**64 - 1"),
    (-5, "between 1 and 2**64 - 1"),
    (2**64, "between 1 and 2**64 - 1"),
    (datetime(1969, 12, 31, tzinfo=timezone.utc), "after 1970-01-01"),
    (datetime(1970, 1, 1), "after 1970-01-01"),
    (datetime(9999, 1, 1, tzinfo=timezone.utc), "before 2554-07-21"),
]


@pytest.mark.parametrize(("value", "rule"), BAD_TIMESTAMPS)
def test_a_bad_timestamp_is_an_error_naming_the_field_in_strict_mode(value: Any, rule: str) -> None:
    with otel_telemetry.Telemetry(endpoint="http://127.0.0.1:9", strict=True) as t:
        with pytest.raises(TelemetryError) as caught:
            t.send("e", timestamp=value)
        assert caught.value.field == "timestamp"
        assert rule in caught.value.rule
        assert t.stats().accepted == 0


class BrokenZone(tzinfo):
    """A tzinfo whose ``utcoffset`` raises (user code)."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise RuntimeError("no offset today")


@pytest.mark.parametrize(
    "value", [*(v for v, _ in BAD_TIMESTAMPS), datetime(2024, 1, 1, tzinfo=BrokenZone())]
)
def test_a_bad_timestamp_is_a_counted_drop_in_lenient_mode(receiver: OTLPReceiver, value: Any) -> None:
    with otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(endpoint=receiver.grpc_endpoint, protocol="grpc")
    ) as t:
        assert t.send("bad", timestamp=value) is False
        assert t.send("good") is True
        assert t.flush(10)
        stats = t.stats()
    assert stats.dropped == {"invalid": 1}
    assert stats.accepted == stats.exported == 1
    assert receiver.wait_for(1)
    assert [r.event_name for r in receiver.records] == ["good"]


aware_or_naive = st.datetimes(
    min_value=datetime(1970, 1, 3),
    max_value=datetime(2500, 1, 1),
    timezones=st.one_of(
        st.none(),
        st.timezones(),
        st.builds(
            timezone,
            st.timedeltas(
                min_value=timedelta(hours=-23, minutes=59), max_value=timedelta(hours=23, minutes=59)
            ),
        ),
    ),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    stamps=st.lists(
        st.one_of(aware_or_naive, st.integers(min_value=1, max_value=2**64 - 1), st.none()),
        min_size=1,
        max_size=6,
    ),
    protocol=st.sampled_from(PROTOCOLS),
)
def test_any_valid_timestamp_arrives_exactly(
    module_receiver: OTLPReceiver, stamps: list[datetime | int | None], protocol: str
) -> None:
    module_receiver.clear()
    with otel_telemetry.Telemetry(
        exporter=otel_telemetry.OTLPExporter(
            endpoint=endpoint_for(module_receiver, protocol), protocol=protocol
        )
    ) as t:
        before = time.time_ns()
        for seq, stamp in enumerate(stamps):
            assert t.send("e", {"eventProperties": {"seq": seq}}, timestamp=stamp)
        after = time.time_ns()
        assert t.flush(10)
    assert module_receiver.wait_for(len(stamps))
    got = {r.attributes["seq"]: r for r in module_receiver.records}
    for seq, stamp in enumerate(stamps):
        record = got[seq]
        assert before <= record.observed_time_unix_nano <= after
        if stamp is None:
            assert record.time_unix_nano == record.observed_time_unix_nano
        elif isinstance(stamp, int):
            assert record.time_unix_nano == stamp
        else:
            assert record.time_unix_nano == expected_ns(stamp)


def test_timestamp_through_an_apps_logger_provider(receiver: OTLPReceiver) -> None:
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    provider = LoggerProvider()
    provider.add_log_record_processor(
        BatchLogRecordProcessor(OTLPLogExporter(endpoint=receiver.grpc_endpoint, insecure=True))
    )
    t = otel_telemetry.Telemetry(exporter=otel_telemetry.LoggerProviderExporter(provider))
    before = time.time_ns()
    assert t.send("imported", timestamp=datetime(2021, 3, 4, 5, 6, 7, 890, tzinfo=timezone.utc))
    after = time.time_ns()
    assert t.flush(10)
    t.shutdown(5)
    provider.shutdown()
    assert receiver.wait_for(1)
    [record] = receiver.records
    assert record.time_unix_nano == expected_ns(datetime(2021, 3, 4, 5, 6, 7, 890, tzinfo=timezone.utc))
    assert before <= record.observed_time_unix_nano <= after
