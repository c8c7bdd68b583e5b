"""The value rules (``values.py``): the flattening fast path and the frozen copy of a payload.

``flatten_into``'s fast path is benchmark-driven; it is checked against the general rules it
skips, and ``freeze`` against a caller that mutates its payload after ``send()``.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from value_strategies import payload_values


@given(
    st.dictionaries(st.one_of(st.text(max_size=5), st.integers(0, 5)), payload_values, max_size=6),
    st.text(max_size=3),
)
def test_flatten_fast_path_matches_the_general_rules(props: dict[Any, Any], prefix: str) -> None:
    from otel_telemetry.values import flatten_into

    fast: dict[str, Any] = {"pre": "existing"}
    general: dict[str, Any] = {"pre": "existing"}
    flatten_into(fast, prefix, props)
    flatten_into(general, prefix, props, set())  # an explicit ``seen`` bypasses the fast path
    assert list(fast.items()) == list(general.items())


def _mutate_all(value: Any) -> None:
    """Change every mutable container inside ``value`` in place."""
    if isinstance(value, list):
        for item in value:
            _mutate_all(item)
        value.append("mutated")
    elif isinstance(value, dict):
        for item in value.values():
            _mutate_all(item)
        value["mutated"] = True
    elif isinstance(value, set):
        value.add("mutated")


@given(st.dictionaries(st.text(max_size=5), payload_values, max_size=6))
def test_freeze_keeps_the_attributes_the_caller_sent_even_if_it_mutates_them_afterwards(
    props: dict[str, Any],
) -> None:
    import copy

    from otel_telemetry.values import flatten_into, freeze, thaw

    def attributes(p: dict[str, Any]) -> list[tuple[str, Any, type]]:
        out: dict[str, Any] = {}
        flatten_into(out, "", p)
        return [(k, v, type(v)) for k, v in out.items()]

    original = copy.deepcopy(props)
    copied = thaw(freeze(props)) if props else {}
    assert attributes(copied) == attributes(original)
    for value in props.values():
        _mutate_all(value)
    assert attributes(copied) == attributes(original)
