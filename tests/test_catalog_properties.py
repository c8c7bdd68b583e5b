"""Property-based tests of the catalog's parts that take arbitrary input: catalog documents and text,
source code for the scanner, and received events for ``infer``."""

from __future__ import annotations

import json
import keyword
import string
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from otel_telemetry.catalog import CatalogError, CatalogPolicy, catalog_from_dict, parse_catalog
from otel_telemetry.catalog.checker import BLOCKING
from otel_telemetry.catalog.infer import infer_catalog, split_groups
from otel_telemetry.catalog.scan import find_send_calls
from otel_telemetry.event import CapturedEvent

_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5))
_documents = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(
                st.sampled_from(
                    [
                        "version",
                        "events",
                        "common",
                        "description",
                        "owner",
                        "type",
                        "items",
                        "enum",
                        "pattern",
                        "pii",
                        "required",
                        "status",
                        "replaced_by",
                        "eventProperties",
                        "userProperties",
                        "groupProperties",
                        "e",
                        "a.b",
                    ]
                ),
                st.text(max_size=4),
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(document=_documents)
def test_any_document_is_either_a_catalog_or_a_catalog_error(document: Any) -> None:
    try:
        catalog_from_dict(document)
    except CatalogError as error:
        assert error.problems and all(problem.rule for problem in error.problems)


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(st.text(max_size=200), _documents.map(lambda d: json.dumps(d, indent=1))))
def test_any_text_is_either_a_catalog_or_a_catalog_error_with_a_position(text: str) -> None:
    for fmt in ("yaml", "json"):
        try:
            parse_catalog(text, "c", fmt)
        except CatalogError as error:
            assert str(error).startswith("c")


_names = st.text(alphabet=string.ascii_letters + string.digits + " ._-:/é", min_size=1, max_size=20)
_keys = st.lists(
    st.text(alphabet=string.ascii_letters + "_", min_size=1, max_size=8).filter(
        lambda k: not keyword.iskeyword(k)
    ),
    max_size=4,
    unique=True,
)


@settings(max_examples=200, deadline=None)
@given(calls=st.lists(st.tuples(_names, _keys, _keys), max_size=5))
def test_the_scanner_finds_exactly_the_literal_events_and_keys_written(
    calls: list[tuple[str, list[str], list[str]]],
) -> None:
    lines = ["from otel_telemetry import Telemetry", "t = Telemetry()"]
    for name, event_keys, user_keys in calls:
        ep = ", ".join(f"{k!r}: 1" for k in event_keys)
        lines.append(f"t.send({name!r}, {{'eventProperties': {{{ep}}}}}, user_properties=dict.fromkeys([]))")
        up = ", ".join(f"{k}=1" for k in user_keys)
        lines.append(f"t.send({name!r}, user_properties=dict({up}))")
    found = find_send_calls("\n".join(lines) + "\n")
    assert len(found) == 2 * len(calls)
    for (name, event_keys, user_keys), first, second in zip(calls, found[::2], found[1::2], strict=True):
        assert first.event == second.event == name
        assert first.properties.get("eventProperties", ()) == tuple(event_keys)
        assert second.properties.get("userProperties", ()) == tuple(user_keys)


_types = st.sampled_from(["string", "integer", "number", "boolean", "list<string>", "list<integer>"])
_values_of = {
    "string": st.text(max_size=5),
    "integer": st.integers(-(2**63), 2**63 - 1),
    "number": st.one_of(st.floats(allow_nan=False), st.integers(-1000, 1000)),
    "boolean": st.booleans(),
    "list<string>": st.lists(st.text(max_size=3), max_size=3),
    "list<integer>": st.lists(st.integers(-1000, 1000), max_size=3),
}


@st.composite
def _received(draw: st.DrawFn) -> tuple[dict[str, str], list[tuple[str, dict[str, Any], dict[str, Any]]]]:
    """Types by key, and received events whose keys each keep that type (as a real app's do)."""
    keys = draw(st.dictionaries(st.sampled_from(["a", "b", "c.d", "user.role", "user.email", "ip"]), _types))
    records = []
    for _ in range(draw(st.integers(1, 6))):
        name = draw(st.sampled_from(["didA", "didB"]))
        present = draw(st.sets(st.sampled_from(sorted(keys)))) if keys else set()
        attributes = {key: draw(_values_of[keys[key]]) for key in sorted(present)}
        records.append((name, attributes, {"service.name": "x", "plan": "pro"}))
    return keys, records


@settings(max_examples=200, deadline=None)
@given(received=_received())
def test_events_always_pass_the_catalog_inferred_from_them_and_scalar_types_are_kept(
    received: tuple[dict[str, str], list[tuple[str, dict[str, Any], dict[str, Any]]]],
) -> None:
    types, received_events = received
    inferred = catalog_from_dict(infer_catalog(received_events).to_dict())
    for event in inferred.events.values():
        for group, props in event.properties.items():
            for key, spec in props.items():
                sent_as = f"user.{key}" if group == "userProperties" else key
                if types.get(sent_as) in ("string", "integer", "boolean"):
                    assert spec.type == types[sent_as]
    policy = CatalogPolicy(inferred, "enforce", lambda: "salt")
    for name, attributes, resource in received_events:
        groups = split_groups(attributes, resource)
        event = CapturedEvent(
            name,
            0,
            groups["eventProperties"],
            groups["userProperties"],
            groups["groupProperties"],
            None,
            0,
            0,
            0,
            None,
        )
        _, violations = policy.check(event)
        assert not [v for v in violations if v.kind in BLOCKING], violations
