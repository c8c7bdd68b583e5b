"""Per-group resources (``resources.py``): the cache never merges groups that differ."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st


@given(
    st.lists(st.dictionaries(st.sampled_from("abc"), st.one_of(st.booleans(), st.integers(0, 2)), max_size=3))
)
def test_resource_cache_separates_groups_that_differ_in_value_or_type(groups: list[dict[str, Any]]) -> None:
    from otel_telemetry.resources import ResourceCache
    from otel_telemetry.values import freeze

    cache = ResourceCache({"service.name": "s"}, dict)
    for group in groups:
        handle = cache.get(freeze(group) if group else None)
        assert handle.attributes == {"service.name": "s", **group}
        assert [type(v) for v in handle.attributes.values()] == [str, *map(type, group.values())]
