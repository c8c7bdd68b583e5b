"""Turning arbitrary Python property values into OpenTelemetry attribute values.

These are the documented rules of ``docs/mapping.md``; they run on the background thread,
so the caller only pays for :func:`freeze`, which copies what it could mutate later.
"""

from __future__ import annotations

import enum
import math
import os
import sys
from collections.abc import Iterator, Mapping
from typing import Any

#: A value OTLP carries as one attribute: scalars, homogeneous arrays, bytes.
AttrValue = (
    str
    | bool
    | int
    | float
    | bytes
    | tuple[str, ...]
    | tuple[bool, ...]
    | tuple[int, ...]
    | tuple[float, ...]
)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_DEPTH = 16
CYCLE = "<cycle>"

_SCALARS = frozenset({str, bool, int, float, type(None), bytes})
_CONTAINERS = frozenset({dict, list, set, bytearray, tuple, frozenset})
#: Containers whose copy is shallow when every item is an immutable scalar.
_FLAT_COPIES = frozenset({list, set, tuple, frozenset})
_STR = frozenset({str})


#: A property group as queued: its keys, then its values, in one flat tuple. Unlike a dict, a
#: tuple whose items are scalars (or such tuples) is one Python's garbage collector stops
#: tracking, so a burst of queued events adds nothing to its full passes (``event.py``).
Props = tuple[Any, ...]


def freeze(props: Mapping[str, Any]) -> Props:
    """Copy ``props`` so that the caller may mutate it after ``send()`` returns: ``(*keys, *values)``.

    Scalars are immutable; lists of scalars become tuples; other containers are deep-copied
    (rare on the hot path). Keys and values always pair up: a dict's two passes yield as many
    items or raise (``RuntimeError`` if another thread resized it in between), and any other
    mapping is read once through ``items()`` (its ``keys()``, ``__iter__`` and ``values()``
    may disagree). Raises whatever the mapping raises while it is read.
    """
    if type(props) is not dict:
        pairs = tuple(props.items())
        keys = tuple([pair[0] for pair in pairs])
        items_ = tuple([pair[1] for pair in pairs])
        if _SCALARS.issuperset(map(type, items_)):
            return (*keys, *items_)
        return (*keys, *map(_frozen, items_))
    values = props.values()
    if _SCALARS.issuperset(map(type, values)):
        return (*props, *values)
    return (*props, *map(_frozen, values))


def items(props: Props) -> Iterator[tuple[Any, Any]]:
    """The ``(key, value)`` pairs of a frozen property group, in order."""
    half = len(props) >> 1
    return zip(props[:half], props[half:], strict=True)


def thaw(props: Props) -> dict[str, Any]:
    """A frozen property group as a new dict."""
    return dict(items(props))


def _frozen(value: Any) -> Any:
    """An immutable (or private) copy of one property value."""
    kind = type(value)
    if kind not in _CONTAINERS:
        return value  # not a container we know how to copy: converted on the worker
    if kind in _FLAT_COPIES:
        kinds = set(map(type, value))
        if kinds <= _SCALARS:  # only immutable scalars inside: a shallow copy is a deep copy
            if kind is set or kind is frozenset:
                return frozenset(value)
            return _shared(tuple(value)) if kinds == _STR else tuple(value)
    import copy

    try:
        copied = copy.deepcopy(value)
    except Exception:  # an uncopyable element: converted now instead
        try:
            return _to_json_string(value, set(), 0)
        except Exception:  # an element whose own methods raise
            return unrepresentable(value)
    # Other sequences stay (or become) lists: unhashable, so no encoder cache mistakes one for
    # an equal tuple of scalars (``(MyStr("a"),) == ("a",)`` maps differently).
    return list(copied) if kind is tuple else copied


_SHARED_MAX = 4096
_shared_tuples: dict[tuple[str, ...], tuple[str, ...]] = {}


def _shared(frozen: tuple[str, ...]) -> tuple[str, ...]:
    """An equal tuple of strings seen before, if any: it is no longer tracked by the collector.

    A new tuple stays tracked until a collection has looked at it, and so does a tuple
    holding it: each collection pass untracks one level only. Lists of strings repeat (tags,
    locales), so sharing the first copy keeps later frozen groups untracked. Only strings: with
    ``(1,) == (True,)`` sharing would change a value's type.
    """
    shared = _shared_tuples.get(frozen)
    if shared is None:
        if len(_shared_tuples) >= _SHARED_MAX:
            _shared_tuples.clear()
        shared = _shared_tuples[frozen] = frozen
    return shared


def _float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _int(value: int) -> int | str:
    return value if INT64_MIN <= value <= INT64_MAX else _stringify(value)


def unrepresentable(value: object) -> str:
    """The attribute value of an object whose conversion raised (its own methods failed)."""
    return f"<unrepresentable {type(value).__name__}>"


def _stringify(value: object) -> str:
    """``str(value)`` as an exact ``str`` (a subclass may override ``encode``, ``__len__``...)."""
    try:
        text = str(value)
        return text if type(text) is str else str.__str__(text)
    except Exception:
        return unrepresentable(value)


def scalar(value: Any) -> AttrValue | None:
    """The attribute value of a non-container ``value``; ``None`` means "drop it"."""
    kind = type(value)
    if kind is str or kind is bool:
        return value  # type: ignore[no-any-return]
    if kind is int:
        return _int(value)
    if kind is float:
        return _float(value)
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, enum.Enum):
        inner = value.value
        if isinstance(inner, (Mapping, list, tuple, set, frozenset)):
            return _stringify(inner)
        return scalar(inner)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return _int(int(value))
    if isinstance(value, float):
        return _float(float(value))
    if isinstance(value, str):
        return _stringify(value)
    # An instance of a class exists only once its module was imported: these modules are looked
    # up, not imported (importing them would cost every program ~5 ms at startup).
    modules = sys.modules
    numbers = modules.get("numbers")
    if numbers is not None:
        if isinstance(value, numbers.Integral):
            return _int(int(value))
        if isinstance(value, numbers.Real):
            return _float(float(value))
    dt = modules.get("datetime")
    if dt is not None and isinstance(value, (dt.datetime, dt.date, dt.time)):
        return _stringify(value.isoformat())
    decimal = modules.get("decimal")
    if decimal is not None and isinstance(value, decimal.Decimal):
        return _stringify(value)
    uuid = modules.get("uuid")
    if uuid is not None and isinstance(value, uuid.UUID):
        return _stringify(value)
    if isinstance(value, os.PathLike):
        return _stringify(os.fspath(value))
    return _stringify(value)


_ARRAY_TYPES = (str, bool, int, float)


def sequence(items: list[Any] | tuple[Any, ...], seen: set[int], depth: int) -> AttrValue:
    """A homogeneous list of primitives stays an array; anything else becomes a JSON string."""
    if not items:
        return ()
    first = type(items[0])
    if first in _ARRAY_TYPES and all(type(item) is first for item in items):
        if first is float and not all(math.isfinite(item) for item in items):
            return _to_json_string(items, seen, depth)
        if first is int and not all(INT64_MIN <= item <= INT64_MAX for item in items):
            return _to_json_string(items, seen, depth)
        return tuple(items)
    return _to_json_string(items, seen, depth)


def set_items(items: set[Any] | frozenset[Any]) -> list[Any]:
    """Sets have no order: they are sorted (by type name, then value or repr) to be stable."""

    def order(item: Any) -> tuple[str, Any]:
        return (type(item).__name__, item if isinstance(item, (str, int, float)) else repr(item))

    try:
        return sorted(items, key=order)
    except TypeError:
        return sorted(items, key=repr)


def _jsonable(value: Any, seen: set[int], depth: int) -> Any:
    if isinstance(value, Mapping):
        if id(value) in seen or depth >= MAX_DEPTH:
            return CYCLE if id(value) in seen else _stringify(value)
        seen.add(id(value))
        try:
            return {_stringify(k): _jsonable(v, seen, depth + 1) for k, v in value.items()}
        finally:
            seen.discard(id(value))
    if isinstance(value, (list, tuple, set, frozenset)):
        if id(value) in seen or depth >= MAX_DEPTH:
            return CYCLE if id(value) in seen else _stringify(value)
        seen.add(id(value))
        try:
            items = set_items(value) if isinstance(value, (set, frozenset)) else value
            return [_jsonable(v, seen, depth + 1) for v in items]
        finally:
            seen.discard(id(value))
    converted = scalar(value)
    if isinstance(converted, bytes):
        return converted.hex()
    return converted


def _to_json_string(value: Any, seen: set[int], depth: int) -> str:
    import json

    return json.dumps(_jsonable(value, seen, depth), ensure_ascii=False, separators=(",", ":"))


def _flatten_flat(out: dict[str, AttrValue], prefix: str, props: Mapping[Any, Any]) -> bool:
    """The common case of :func:`flatten_into`, fast: string keys, str/bool/int values and lists
    of strings. Returns False at the first other item; ``flatten_into`` then redoes the whole
    map (rewriting the same keys with the same values, so the result is the same)."""
    for key, value in props.items():
        kind = type(value)
        if type(key) is not str or not key:
            return False
        if kind is str or kind is bool or (kind is int and INT64_MIN <= value <= INT64_MAX):
            out[prefix + key] = value
        elif (kind is list or kind is tuple) and value and _STR.issuperset(map(type, value)):
            out[prefix + key] = tuple(value)
        else:
            return False
    return True


def flatten_into(
    out: dict[str, AttrValue],
    prefix: str,
    props: Mapping[Any, Any],
    seen: set[int] | None = None,
    depth: int = 0,
) -> None:
    """Write ``props`` into ``out`` as attributes: nested maps become dotted keys under ``prefix``.

    ``None`` values and empty keys are skipped; cycles become ``"<cycle>"``; maps nested deeper
    than :data:`MAX_DEPTH` become a JSON string.
    """
    if seen is None:
        if _flatten_flat(out, prefix, props):
            return
        seen = set()
    seen.add(id(props))
    try:
        for raw_key, value in props.items():
            key = raw_key if type(raw_key) is str else _stringify(raw_key)
            if not key:
                continue
            name = prefix + key
            kind = type(value)
            if kind is str or kind is bool:
                out[name] = value
            elif kind is int:
                out[name] = value if INT64_MIN <= value <= INT64_MAX else _stringify(value)
            elif kind is float:
                out[name] = _float(value)
            else:
                try:
                    _convert_into(out, name, value, seen, depth)
                except Exception:  # the value's own methods raised (__iter__, __hash__, items ...)
                    out[name] = unrepresentable(value)
    finally:
        seen.discard(id(props))


def _convert_into(out: dict[str, AttrValue], name: str, value: Any, seen: set[int], depth: int) -> None:
    """Write attribute ``name`` (or, for a mapping, its dotted children) for a value that is
    not a plain scalar. May raise: a user object's own methods run here."""
    kind = type(value)
    if kind is list or kind is tuple:
        out[name] = CYCLE if id(value) in seen else sequence(value, seen, depth + 1)
    elif isinstance(value, Mapping):
        if id(value) in seen:
            out[name] = CYCLE
        elif depth + 1 >= MAX_DEPTH:
            out[name] = _to_json_string(value, seen, depth + 1)
        else:
            flatten_into(out, name + ".", value, seen, depth + 1)
    elif isinstance(value, (list, tuple)):
        out[name] = CYCLE if id(value) in seen else sequence(value, seen, depth + 1)
    elif isinstance(value, (set, frozenset)):
        out[name] = sequence(set_items(value), seen, depth + 1)
    else:
        converted = scalar(value)
        if converted is not None:
            out[name] = converted
