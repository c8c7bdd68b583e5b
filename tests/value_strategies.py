"""Hypothesis strategies for the values an app passes and the attributes otel-telemetry writes."""

from __future__ import annotations

from hypothesis import strategies as st

#: Scalars an attribute can hold (no NaN: NaN != NaN would break the equality checks).
scalars = st.one_of(
    st.text(max_size=8),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.binary(max_size=8),
)

#: Attribute values after the value rules: a scalar or a homogeneous tuple.
attribute_values = st.one_of(
    scalars,
    st.lists(st.text(max_size=4), max_size=3).map(tuple),
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=3).map(tuple),
    st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=3).map(tuple),
    st.lists(st.booleans(), max_size=3).map(tuple),
)

#: Payload values as an app sends them: scalars, None, nested lists and maps (int keys too).
payload_values = st.recursive(
    st.one_of(scalars, st.none(), st.lists(st.text(max_size=3), max_size=3)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers(0, 3)), inner, max_size=3),
    ),
    max_leaves=8,
)
