"""Resources: the base resource of the process, and one per distinct ``groupProperties``.

Group properties are resource attributes, so two events with different group properties must
land under different ``ResourceLogs`` even inside one batch. Each distinct group gets a
:class:`ResourceHandle` (its merged attributes and its encoded protobuf), kept in a bounded
LRU cache so an app that varies them freely cannot grow memory without limit.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from .values import AttrValue, Props, flatten_into, thaw

DEFAULT_MAX_RESOURCES = 256

R = TypeVar("R")


class ResourceHandle(Generic[R]):
    """One resource: its attributes and its encoded form (OTLP protobuf or SDK ``Resource``)."""

    __slots__ = ("attributes", "proto")

    def __init__(self, attributes: dict[str, AttrValue], proto: R) -> None:
        self.attributes = attributes
        self.proto = proto


def group_key(group: Mapping[str, Any]) -> tuple[Any, ...]:
    """A hashable key for a group-properties dict (types included: ``True`` is not ``1``)."""
    try:
        key = (*group.items(), *map(type, group.values()))
        hash(key)
        return key
    except TypeError:
        flat: dict[str, AttrValue] = {}
        flatten_into(flat, "", group)
        return (None, *sorted((k, type(v).__name__, repr(v)) for k, v in flat.items()))


class ResourceCache(Generic[R]):
    """Maps group properties to merged resources; least recently used ones are evicted."""

    def __init__(
        self,
        base: Mapping[str, AttrValue],
        encode: Callable[[Mapping[str, AttrValue]], R],
        max_resources: int = DEFAULT_MAX_RESOURCES,
    ) -> None:
        self.base = ResourceHandle(dict(base), encode(base))
        self._encode = encode
        self._max = max_resources
        self._cache: OrderedDict[tuple[Any, ...], ResourceHandle[R]] = OrderedDict()

    def get(self, group: Props | None) -> ResourceHandle[R]:
        """The resource for events with these (frozen) group properties (the base one for none)."""
        if not group:
            return self.base
        key: tuple[Any, ...] = (group, *map(type, group))  # types too: ``True`` is not ``1``
        try:
            handle = self._cache.get(key)
        except TypeError:  # an unhashable value
            key = group_key(thaw(group))
            handle = self._cache.get(key)
        if handle is not None:
            self._cache.move_to_end(key)
            return handle
        attributes = dict(self.base.attributes)
        flatten_into(attributes, "", thaw(group))
        handle = ResourceHandle(attributes, self._encode(attributes))
        self._cache[key] = handle
        if len(self._cache) > self._max:
            self._cache.popitem(last=False)
        return handle

    def __len__(self) -> int:
        return len(self._cache)
