"""One bad event costs only itself: hostile values among good events, sent to a real receiver.

Hostile values are what real apps pass by accident: file names decoded with
``surrogateescape`` (lone surrogates, which UTF-8 cannot carry), objects whose own methods
raise or lie, mappings whose ``keys()``/``items()``/``len()`` disagree or that change while
they are read. Each example sends good events and hostile ones in the same batch; the good
ones must all arrive, and every hostile one must either arrive or be counted as dropped
(refused at ``send()`` in strict mode, with the field named), never taking a batch-mate with it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from fault_helpers import assert_balanced
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_telemetry import (
    DeliverySettings,
    OTLPExporter,
    PrivacySettings,
    SpoolSettings,
    Telemetry,
    TelemetryError,
)
from otel_telemetry.receiver import OTLPReceiver

# -- hostile values, drawn as plain descriptions and built in the test (their repr may raise) ---


class Boom(Exception):
    """What a hostile method raises."""


SURROGATE_TEXT = st.one_of(
    st.binary(min_size=1, max_size=8).map(lambda b: (b + b"\xff").decode("utf-8", "surrogateescape")),
    st.tuples(st.text(max_size=4), st.characters(categories=["Cs"]), st.text(max_size=4)).map("".join),
)
#: Methods a hostile object overrides, and bases it derives from.
METHODS = (
    "__str__",
    "__repr__",
    "__iter__",
    "__len__",
    "__bool__",
    "__getitem__",
    "__eq__",
    "__lt__",
    "__format__",
    "__bytes__",
    "__int__",
    "__index__",
    "__float__",
    "__fspath__",
    "__deepcopy__",
    "__reduce_ex__",
    "isoformat",
    "encode",
    "items",
    "keys",
    "values",
)
BASES: dict[str, tuple[type, Any]] = {
    "object": (object, None),
    "str": (str, "text"),
    "int": (int, 7),
    "float": (float, 1.5),
    "bytes": (bytes, b"raw"),
    "list": (list, [1, "a"]),
    "tuple": (tuple, ("a", "b")),
    "dict": (dict, {"k": 1}),
    "set": (set, {1, 2}),
    "date": (dt.date, (2024, 1, 2)),
    "decimal": (decimal.Decimal, "1.25"),
}
BEHAVIOURS = ("raise", "surrogate", "lie")


def _method(name: str, behaviour: str) -> Any:
    surrogate = "bad\udce9name"

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if behaviour == "raise":
            raise Boom(name)
        if name in ("__str__", "__repr__", "__format__", "isoformat", "__fspath__"):
            return (
                surrogate if behaviour == "surrogate" else _Sneaky(surrogate if behaviour == "lie" else "x")
            )
        if name in ("__iter__", "keys", "values"):
            return iter([surrogate, 3] if behaviour == "surrogate" else [object(), None])
        if name == "items":
            return iter([(surrogate, 1)] if behaviour == "surrogate" else [("x", 1), ("y",)])
        if name == "__len__":
            return 10**6
        if name in ("__int__", "__index__"):
            return 2**70
        if name == "__float__":
            return float("nan")
        if name == "__bytes__":
            return b"\xff"
        if name == "encode":
            return 12
        if name in ("__eq__", "__lt__", "__bool__"):
            return True
        return NotImplemented

    return method


class _Sneaky(str):
    """A str whose ``encode`` and ``__len__`` lie (an encoder must not trust them)."""

    def encode(self, *args: Any, **kwargs: Any) -> Any:
        return b"\x00" * 3

    def __len__(self) -> int:
        return 1


def build_hostile(base_name: str, methods: tuple[str, ...], behaviour: str) -> Any:
    base, sample = BASES[base_name]
    namespace = {name: _method(name, behaviour) for name in methods}
    if "__eq__" in methods:
        namespace["__hash__"] = lambda self: 1  # hashable, so usable as a key; equality lies
    cls = type(f"Hostile_{base_name}", (base,), namespace)
    if base_name == "date":
        return cls(*sample)
    return cls() if sample is None else cls(sample)


class InconsistentMapping(Mapping[Any, Any]):
    """A mapping whose views disagree, raise, or change while they are read."""

    def __init__(self, behaviour: str, data: dict[Any, Any]) -> None:
        self._behaviour = behaviour
        self._data = dict(data)

    def __getitem__(self, key: Any) -> Any:
        if self._behaviour in ("getitem_raises", "keys_differ"):
            raise KeyError(key)
        return self._data[key]

    def __iter__(self) -> Iterator[Any]:
        if self._behaviour == "iter_raises":
            raise Boom("iter")
        if self._behaviour == "keys_differ":
            return iter(["ghost", *self._data])
        if self._behaviour == "mutating":
            return self._mutating()
        return iter(self._data)

    def _mutating(self) -> Iterator[Any]:
        for key in self._data:  # raises RuntimeError: changed size during iteration
            self._data[f"{key}+"] = 1
            yield key

    def __len__(self) -> int:
        if self._behaviour == "len_lies":
            return 10**6
        if self._behaviour == "len_raises":
            raise Boom("len")
        return len(self._data)

    def items(self) -> Any:
        if self._behaviour == "items_raise":
            raise Boom("items")
        if self._behaviour == "mutating":
            return ((key, self[key]) for key in self._mutating())
        return super().items()


class MutatingDict(dict[Any, Any]):
    """A dict subclass whose items() changes the dict while it is being read."""

    def items(self) -> Any:
        for key in list(self):
            self[f"{key}+"] = 1
            yield key, self[key]


MAPPING_BEHAVIOURS = (
    "getitem_raises",
    "keys_differ",
    "iter_raises",
    "mutating",
    "len_lies",
    "len_raises",
    "items_raise",
)

hostile_objects = st.tuples(
    st.just("object"),
    st.sampled_from(sorted(BASES)),
    st.lists(st.sampled_from(METHODS), min_size=1, max_size=3, unique=True).map(tuple),
    st.sampled_from(BEHAVIOURS),
)
hostile_values = st.one_of(
    st.tuples(st.just("text"), SURROGATE_TEXT),
    hostile_objects,
    st.tuples(st.just("mapping"), st.sampled_from(MAPPING_BEHAVIOURS)),
    st.tuples(st.just("mutating_dict")),
    st.tuples(st.just("bigint"), st.integers(min_value=2**64, max_value=2**200) | st.just(10**5000)),
    st.tuples(st.just("cycle")),
    st.tuples(st.just("deep"), st.integers(min_value=17, max_value=200)),
)
#: Where the hostile value goes.
PLACES = (
    "event_value",
    "event_key",
    "event_nested",
    "user_value",
    "user_key",
    "group_value",
    "group_key",
    "event_group",
    "user_group",
    "group_group",
    "payload",
    "user_id",
    "body",
    "name",
)
hostile_events = st.tuples(hostile_values, st.sampled_from(PLACES))


def build_value(spec: tuple[Any, ...]) -> Any:
    kind = spec[0]
    if kind == "text":
        return spec[1]
    if kind == "object":
        return build_hostile(spec[1], spec[2], spec[3])
    if kind == "mapping":
        return InconsistentMapping(spec[1], {"a": 1, "b": "two"})
    if kind == "mutating_dict":
        return MutatingDict({"a": 1, "b": 2})
    if kind == "bigint":
        return spec[1]
    if kind == "cycle":
        loop: list[Any] = [1]
        loop.append(loop)
        return {"loop": loop}
    nested: Any = "leaf"
    for _ in range(spec[1]):
        nested = {"n": nested}
    return nested


def has_invalid_text(spec: tuple[Any, ...]) -> bool:
    """Text that cannot be sent (lone surrogates), given as text."""
    return spec[0] == "text" and not _encodable(spec[1])


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def send_hostile(t: Telemetry, spec: tuple[Any, ...], place: str, name: str) -> bool:
    """Send event ``name`` with the hostile value at ``place`` (where ``name`` is, it replaces it)."""
    value = build_value(spec)
    event: dict[Any, Any] = {"v": 0}
    user: dict[Any, Any] = {}
    group: dict[Any, Any] = {}
    kwargs: dict[str, Any] = {}
    try:
        if place == "event_value":
            event["v"] = value
        elif place == "event_key":
            event[value] = 1
        elif place == "event_nested":
            event["v"] = {"inner": [value], "k": value}
        elif place == "user_value":
            user["v"] = value
        elif place == "user_key":
            user[value] = 1
        elif place == "group_value":
            group["v"] = value
        elif place == "group_key":
            group[value] = 1
        elif place == "user_id":
            kwargs["user_id"] = value
        elif place == "body":
            kwargs["body"] = value
        elif place == "name":
            name = value
    except (Boom, TypeError):
        event["v"] = value  # not usable as a key (unhashable, or its __hash__ raises)
    group_or_value = value if isinstance(value, Mapping) else {"v": value}
    if place == "event_group":
        return t.send(name, event_properties=group_or_value)
    if place == "user_group":
        return t.send(name, event_properties=event, user_properties=group_or_value)
    if place == "group_group":
        return t.send(name, event_properties=event, group_properties=group_or_value)
    if place == "payload":
        return t.send(name, value if isinstance(value, Mapping) else {"eventProperties": group_or_value})
    return t.send(name, event_properties=event, user_properties=user, group_properties=group, **kwargs)


# -- the test ---------------------------------------------------------------------------------------


def sender(endpoint: str, protocol: str, strict: bool = False, spool: Path | None = None) -> Telemetry:
    """A Telemetry whose worker wakes only for a flush (or a full batch of 512): what is sent
    between two flushes is one batch (without a spool)."""
    return Telemetry(
        "bad-events",
        exporter=OTLPExporter(endpoint=endpoint, protocol=protocol),
        strict=strict,
        delivery=DeliverySettings(
            schedule_delay_s=30.0, max_export_batch_size=512, spool=SpoolSettings(spool) if spool else None
        ),
        privacy=PrivacySettings(project_id="hostile"),
    )


@pytest.fixture(scope="module")
def module_receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver(host="127.0.0.1", grpc_port=0, http_port=None) as rx:
        yield rx


@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
def test_a_hostile_value_costs_only_its_own_event(module_receiver: OTLPReceiver, strict: bool) -> None:
    rx = module_receiver
    examples = itertools.count()
    t = sender(rx.grpc_endpoint, "grpc", strict=strict)  # one batch per example: flushed

    @settings(
        max_examples=120 if os.environ.get("CI") else 80,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(bad=st.lists(hostile_events, min_size=1, max_size=4), goods=st.integers(min_value=1, max_value=6))
    def run(bad: list[tuple[tuple[Any, ...], str]], goods: int) -> None:
        example = next(examples)
        before, start = t.stats(), len(rx.records)
        outcomes: list[str] = []
        order: list[int | None] = []
        for i in range(max(goods, len(bad))):  # good and hostile events interleaved
            order += [None] if i < goods else []
            order += [i] if i < len(bad) else []
        seq = itertools.count()
        for item in order:
            if item is None:
                assert t.send("good", {"eventProperties": {"example": example, "seq": next(seq)}})
                continue
            spec, place = bad[item]
            try:
                accepted = send_hostile(t, spec, place, f"h{example}.{item}")
            except TelemetryError as error:
                assert strict, f"lenient send() raised {error!r}"
                assert error.field and error.rule
                outcomes.append("raised")
                continue
            outcomes.append("accepted" if accepted else "refused")
        t.flush(30.0)  # False when a hostile event was dropped: checked below instead
        got = rx.records[start:]
        good_seqs = sorted(r.attributes["seq"] for r in got if r.event_name == "good")
        assert good_seqs == list(range(goods)), f"good events lost: {good_seqs} of {goods}"
        after = t.stats()
        dropped = {k: after.dropped.get(k, 0) - before.dropped.get(k, 0) for k in after.dropped}
        assert not dropped.get("internal_error"), f"an internal error: {dropped}"
        delivered = {r.event_name for r in got if r.event_name != "good"}
        lost = dropped.get("encode_error", 0) + dropped.get("too_large", 0)
        assert len(got) - goods + lost == outcomes.count("accepted"), (outcomes, dropped, delivered)
        for item, ((spec, place), outcome) in enumerate(zip(bad, outcomes, strict=True)):
            if has_invalid_text(spec):  # cannot be sent: refused at send() in strict mode, else dropped
                assert outcome == ("raised" if strict else outcome), (spec, place, outcome)
                assert f"h{example}.{item}" not in delivered, (spec, place)
        assert_balanced(after)
        assert after.queued == after.in_flight == 0

    try:
        run()
        assert next(examples) > 50  # hypothesis ran the examples
        assert all(entry.outcome == "OK" for entry in rx.request_log), "the receiver refused a request"
    finally:
        t.shutdown(5.0)


# -- events too large for the collector -------------------------------------------------------------

COLLECTOR_LIMIT = 4 * 1024 * 1024  # gRPC's default maximum message size, kept by the OTel Collector


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_an_event_larger_than_the_collectors_limit_is_dropped_alone(protocol: str) -> None:
    with OTLPReceiver(grpc_port=0, http_port=0, max_message_bytes=COLLECTOR_LIMIT) as rx:
        endpoint = rx.grpc_endpoint if protocol == "grpc" else rx.http_endpoint
        with sender(endpoint, protocol) as t:
            for i in range(10):
                assert t.send("small", {"eventProperties": {"seq": i}})
                if i == 4:
                    assert t.send("huge", {"eventProperties": {"blob": "x" * (5 * 1024 * 1024)}})
            assert not t.flush(30.0)  # the huge one was dropped
            stats = t.stats()
        assert sorted(r.attributes["seq"] for r in rx.records) == list(range(10))
        assert stats.dropped == {"too_large": 1}
        assert stats.exported == 10
        assert_balanced(stats)
        assert all(entry.outcome in ("OK", "200") for entry in rx.request_log)


@pytest.mark.parametrize("spool", [False, True], ids=["memory", "spool"])
@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_a_batch_larger_than_the_collectors_limit_is_split_and_all_of_it_arrives(
    tmp_path: Path, protocol: str, spool: bool
) -> None:
    with OTLPReceiver(grpc_port=0, http_port=0, max_message_bytes=COLLECTOR_LIMIT) as rx:
        endpoint = rx.grpc_endpoint if protocol == "grpc" else rx.http_endpoint
        with sender(endpoint, protocol, spool=tmp_path / "spool" if spool else None) as t:
            for i in range(120):  # ~12 MB in one batch of 120, in two resources
                group = {"tenant": "a" if i % 3 else "b"}
                assert t.send(
                    "big", {"eventProperties": {"seq": i, "pad": "p" * 100_000}, "groupProperties": group}
                )
            assert t.flush(60.0)
            stats = t.stats()
        assert sorted(r.attributes["seq"] for r in rx.records) == list(range(120))
        assert {r.resource["tenant"] for r in rx.records} == {"a", "b"}
        assert stats.dropped == {} and stats.exported == 120
        assert_balanced(stats)
        assert len(rx.requests) >= 3
        assert all(request.ByteSize() <= COLLECTOR_LIMIT for request in rx.requests)
        assert all(entry.outcome in ("OK", "200") for entry in rx.request_log)


def test_a_lower_request_limit_from_the_environment_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy in front of the collector with a 256 KiB body limit (nginx's default is 1 MiB)."""
    limit = 256 * 1024
    monkeypatch.setenv("OTEL_TELEMETRY_MAX_REQUEST_BYTES", str(limit))
    with (
        OTLPReceiver(grpc_port=None, http_port=0, max_message_bytes=limit) as rx,
        Telemetry("limit", exporter=OTLPExporter(endpoint=rx.http_logs_url, protocol="http/protobuf")) as t,
    ):
        assert t.delivery.max_request_bytes == limit
        for i in range(100):
            assert t.send("big", {"eventProperties": {"seq": i, "pad": "p" * 10_000}})
        assert t.send("huge", {"eventProperties": {"pad": "p" * limit}})
        assert not t.flush(30.0)
        stats = t.stats()
    assert sorted(r.attributes["seq"] for r in rx.records) == list(range(100))
    assert stats.dropped == {"too_large": 1}
    assert all(request.ByteSize() <= limit for request in rx.requests)
