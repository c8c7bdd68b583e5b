"""The worker's one-pass path (map + encode straight from the queued event) changes no byte.

``BatchEncoder.encode_events`` skips the mapped record for plain events; these tests hold it
to the general path (``Mapper.map`` then ``encode_bytes``) on arbitrary payloads, and check the
garbage-collector property that the end-to-end throughput depends on.
"""

from __future__ import annotations

import enum
import gc
import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_delivery import free_port

from otel_telemetry import OTLPExporter, Telemetry
from otel_telemetry.encoding import EVENT_ID_ATTRIBUTE, BatchEncoder, resource_proto
from otel_telemetry.event import Event
from otel_telemetry.mapping import Mapper
from otel_telemetry.resources import ResourceCache
from otel_telemetry.validation import Capturer

_keys = st.one_of(
    st.sampled_from(["plan", "seats", "hash", "userId", "user_id", "user.x", "otel.y", "a.b", ""]),
    st.text(max_size=4),
    st.integers(0, 2),
)


class Color(str, enum.Enum):
    """Equal to its string value, yet mapped through the enum rules: a cache must not mix them."""

    RED = "red"


class Level(enum.IntEnum):
    HIGH = 1


_values = st.recursive(
    st.one_of(
        st.sampled_from([Color.RED, "red", Level.HIGH, 1, True, 1.0, 0.0, -0.0, ("red",), (Color.RED,)]),
        st.text(max_size=6),
        st.booleans(),
        st.integers(-(2**64), 2**64),
        st.floats(),
        st.none(),
        st.binary(max_size=3),
        st.lists(st.text(max_size=3), max_size=3),
        st.lists(st.integers(-3, 3), max_size=3),
        st.tuples(st.booleans(), st.integers(0, 1)),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=2), st.dictionaries(_keys, inner, max_size=2)),
    max_leaves=5,
)
_props = st.one_of(st.none(), st.dictionaries(_keys, _values, max_size=5))
#: Few distinct shapes, so that keys repeat and the mapper learns them (the plain path runs).
_common = st.sampled_from(
    [
        {"model": "api::article.article", "draft": True, "fields": 7, "locales": ["en", "fr"]},
        {"model": "api::page.page", "draft": False, "ratio": 0.5, "locales": ["de"]},
        # equal to the ones above in Python, not on the wire
        {"model": "api::article.article", "draft": 1, "fields": 7, "locales": ["en", "fr"]},
        {"model": "api::article.article", "draft": True, "fields": 7.0, "locales": ("en", Color.RED)},
        {"model": "api::page.page", "draft": False, "ratio": -0.0, "locales": ["de"]},
        {"model": "api::page.page", "draft": False, "ratio": 0.0, "locales": ["de"]},
    ]
)


@st.composite
def _events(draw: st.DrawFn) -> Event:
    capture = Capturer().capture
    event = capture(
        draw(st.sampled_from(["didCreateEntry", "didPublish", "é v"])),
        None,
        draw(st.one_of(_common, _props)),
        draw(st.one_of(st.just({"role": "admin", "seats": 5}), _props)),
        draw(st.one_of(st.none(), st.just({"projectType": "Community"}), _props)),
        draw(st.one_of(st.none(), st.just("user-1"), st.integers(1, 3))),
        draw(st.one_of(st.none(), st.text(max_size=4))),
        draw(st.one_of(st.none(), st.integers(1, 2**64 - 1))),  # send(timestamp=...)
    )
    annotations = draw(st.one_of(st.none(), st.just(("otel_telemetry.violations", ("unplanned_event",)))))
    trace = draw(
        st.one_of(
            st.just((0, 0, 0)),
            st.tuples(st.integers(1, 2**128 - 1), st.integers(1, 2**64 - 1), st.integers(0, 1)),
        )
    )
    return (*event[:6], *trace, event[9], annotations, event[11])


def _mapper(limits: dict[str, Any]) -> Mapper:
    return Mapper(ResourceCache({"service.name": "s"}, resource_proto), "project", **limits)


_LIMITS = [
    {},
    {"attribute_count_limit": 3},
    {"attribute_value_length_limit": 2},
    {"event_name_attribute": True},
]
_shared = [(_mapper(limits), BatchEncoder("otel_telemetry", "1")) for limits in _LIMITS]


def _general(mapper: Mapper, events: list[Event], with_ids: bool) -> bytes:
    records = [mapper.map(event) for event in events]
    if with_ids:
        ids = itertools.count()
        for record in records:
            record.attributes[EVENT_ID_ATTRIBUTE] = f"{next(ids):032x}"
    return BatchEncoder("otel_telemetry", "1").encode_bytes(records)


@settings(max_examples=300)
@given(st.lists(_events(), max_size=12), st.sampled_from(range(len(_LIMITS))), st.booleans())
def test_one_pass_encoding_writes_the_same_bytes_as_mapping_then_encoding(
    events: list[Event], which: int, with_ids: bool
) -> None:
    mapper, encoder = _shared[which]  # shared across examples: learned keys and warm caches
    ids = itertools.count()
    new_id = (lambda: f"{next(ids):032x}") if with_ids else None
    fast = encoder.encode_events(events, mapper, new_id)
    assert fast == _general(_mapper(_LIMITS[which]), events, with_ids)


def test_the_plain_path_is_taken_for_the_common_event() -> None:
    mapper = _mapper({})
    event = Capturer().capture(
        "didCreateEntry", None, {"model": "a", "locales": ["en"]}, {"role": "admin"}, None, "u", None
    )
    assert not mapper.is_plain(event)  # keys not yet known
    mapper.map(event)  # the general path learns them
    assert mapper.is_plain(event)
    assert not mapper.is_plain((*event[:10], ("otel_telemetry.violations", ("x",)), 0))
    encoder = BatchEncoder("otel_telemetry", "1")
    twice = encoder.encode_events([event, event], mapper)
    assert len(encoder._memo) == 1  # the second one was a lookup
    assert twice == _general(_mapper({}), [event, event], with_ids=False)


def test_queued_events_are_not_tracked_by_the_garbage_collector() -> None:
    """A burst stays queued while the collector is down: the GC's full passes must not see it."""
    payload = {
        "eventProperties": {"model": "api::article.article", "draft": True, "locales": ["en", "fr"]},
        "userProperties": {"role": "admin", "seats": 5},
        "groupProperties": {"projectType": "Community"},
    }
    telemetry = Telemetry(
        exporter=OTLPExporter(endpoint=f"http://127.0.0.1:{free_port()}", protocol="http/protobuf")
    )
    try:
        telemetry.send("didCreateEntry", payload)  # the first list of strings is shared from now on
        gc.collect()
        before = len(gc.get_objects())
        for _ in range(5_000):
            telemetry.send("didCreateEntry", payload)
        gc.collect(0)
        gc.collect(1)  # what a young collection leaves tracked would reach the old generation
        grown = len(gc.get_objects()) - before
        assert telemetry.stats().queued >= 4_000
        assert grown < 500, f"{grown} objects tracked after queueing 5,000 events"
    finally:
        telemetry.shutdown(0.1)
