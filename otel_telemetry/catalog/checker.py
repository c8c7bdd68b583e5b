"""Catalog rules compiled into per-event checkers: what runs inside ``send()``.

Each planned event gets an :class:`EventChecker` built once: one small closure per property
(type test, allowed values, pattern), the required keys and the PII actions. Checking a
conforming event walks its properties once with a dict lookup and a closure call each and
allocates nothing; PII actions copy only the group they change. Violations never carry a
property's value (it may be personal data), only where it is and which rule it broke.
"""

from __future__ import annotations

import json
import numbers
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from ..mapping import USER_ID_KEYS
from ..values import MAX_DEPTH
from .model import GROUPS, PropertySpec

UNPLANNED_EVENT = "unplanned_event"
UNPLANNED_PROPERTY = "unplanned_property"
REQUIRED_MISSING = "required_missing"
TYPE_MISMATCH = "type_mismatch"
VALUE_NOT_ALLOWED = "value_not_allowed"
DEPRECATED_EVENT = "deprecated_event"
#: The violation types (RudderStack's classification), in the order they are documented.
VIOLATION_TYPES = (
    UNPLANNED_EVENT,
    UNPLANNED_PROPERTY,
    REQUIRED_MISSING,
    TYPE_MISMATCH,
    VALUE_NOT_ALLOWED,
    DEPRECATED_EVENT,
)
#: Violations that make ``enforce`` drop the event and ``warn`` list it in ``otel_telemetry.violations``;
#: a deprecated event is still delivered, marked ``otel_telemetry.deprecated``.
BLOCKING = frozenset(VIOLATION_TYPES) - {DEPRECATED_EVENT}


class Violation(NamedTuple):
    """One broken rule: its type, where (``eventProperties.model``, ``event``) and the rule."""

    kind: str
    field: str
    rule: str

    @property
    def label(self) -> str:
        """The ``otel_telemetry.violations`` entry: ``type_mismatch:eventProperties.count``."""
        return self.kind if self.field == "event" else f"{self.kind}:{self.field}"


Check = Callable[[Any], "tuple[str, str] | None"]
Hasher = Callable[[str], str]


def _is_string(value: Any) -> bool:
    return type(value) is str or isinstance(value, str)


def _is_integer(value: Any) -> bool:
    return type(value) is int or (isinstance(value, numbers.Integral) and not isinstance(value, bool))


def _is_number(value: Any) -> bool:
    kind = type(value)
    return kind is int or kind is float or (isinstance(value, numbers.Real) and not isinstance(value, bool))


def _is_boolean(value: Any) -> bool:
    return type(value) is bool


_SCALAR_TESTS: dict[str, Callable[[Any], bool]] = {
    "string": _is_string,
    "integer": _is_integer,
    "number": _is_number,
    "boolean": _is_boolean,
}
_LISTS = (list, tuple, set, frozenset)


def _describe(value: Any) -> str:
    """The type of a value for a violation message (never the value itself)."""
    return type(value).__name__


#: The exact built-in types of each catalog type: one ``type(v) in ...`` test on the fast path.
_EXACT: dict[str, frozenset[type]] = {
    "string": frozenset({str}),
    "integer": frozenset({int}),
    "number": frozenset({int, float}),
    "boolean": frozenset({bool}),
}


def compile_property(spec: PropertySpec) -> Check:
    """The checker of one property: ``None`` when the value conforms, else (violation, rule).

    The common case (a value of the exact built-in type, no allowed values) is one set lookup.
    """
    label = spec.type_label
    allowed = frozenset(spec.enum) if spec.enum is not None else None
    search = re.compile(spec.pattern).search if spec.pattern is not None else None
    pattern = spec.pattern

    def value_rule(item: Any) -> tuple[str, str] | None:
        if allowed is not None and item not in allowed:
            return VALUE_NOT_ALLOWED, "not one of the allowed values"
        if search is not None and not search(item):
            return VALUE_NOT_ALLOWED, f"does not match the pattern {pattern!r}"
        return None

    checks_values = allowed is not None or search is not None
    if spec.type != "list":
        exact = _EXACT[spec.type]
        is_type = _SCALAR_TESTS[spec.type]

        def mismatch(value: Any) -> tuple[str, str] | None:
            if not is_type(value):
                return TYPE_MISMATCH, f"expected {label}, got {_describe(value)}"
            return value_rule(value) if checks_values else None

        if not checks_values:

            def check_plain(value: Any) -> tuple[str, str] | None:
                return None if type(value) in exact else mismatch(value)

            return check_plain
        if search is None and allowed is not None:

            def check_enum(value: Any) -> tuple[str, str] | None:
                if type(value) in exact and value in allowed:
                    return None
                return mismatch(value)

            return check_enum
        return mismatch
    is_item = _SCALAR_TESTS[spec.items or "string"]

    def check_list(value: Any) -> tuple[str, str] | None:
        if not isinstance(value, _LISTS):
            return TYPE_MISMATCH, f"expected {label}, got {_describe(value)}"
        for item in value:
            if not is_item(item):
                return TYPE_MISMATCH, f"expected {label}, got an item of type {_describe(item)}"
        if checks_values:
            for item in value:
                broken = value_rule(item)
                if broken is not None:
                    return broken
        return None

    return check_list


def _hash_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError, RecursionError):
        pass
    try:
        return repr(value)
    except Exception:  # an unrepresentable value: its type still hashes, the value never leaks
        return f"<{type(value).__name__}>"


def hashed(value: Any, hasher: Hasher) -> Any:
    """A ``pii: hash`` value: strings (and list items) hashed as they are, others as JSON text."""
    if isinstance(value, (list, tuple)):
        return tuple(hasher(_hash_text(item)) for item in value)
    return hasher(_hash_text(value))


#: Returned for a property that must be left out of the event.
_DROP: Any = object()


class _Property(NamedTuple):
    #: Exact built-in types that pass without calling ``check`` (empty when values are checked too).
    exact: frozenset[type]
    check: Check
    #: ``None`` for ``pii: allow``, else ``"hash"`` or ``"drop"``.
    pii: str | None
    required: bool


def _compiled(spec: PropertySpec) -> _Property:
    plain = spec.type != "list" and spec.enum is None and spec.pattern is None
    return _Property(
        _EXACT[spec.type] if plain else frozenset(),
        compile_property(spec),
        None if spec.pii == "allow" else spec.pii,
        spec.required,
    )


class GroupChecker:
    """The rules of one property group (``eventProperties`` ...) of one event."""

    def __init__(
        self,
        group: str,
        specs: Mapping[str, PropertySpec],
        report_unplanned: bool = True,
        fallback_pii: Mapping[str, str] | None = None,
    ) -> None:
        self.group = group
        self._props = {key: _compiled(spec) for key, spec in specs.items()}
        #: PII actions of keys this event does not declare (declared as PII by other events).
        self._fallback_pii = {k: v for k, v in (fallback_pii or {}).items() if k not in self._props}
        self._required = tuple(key for key, spec in specs.items() if spec.required)
        self._required_count = len(self._required)
        self._report_unplanned = report_unplanned
        #: userProperties.userId is always allowed: the mapping turns it into user.hash.
        self._implicit = frozenset(USER_ID_KEYS) if group == "userProperties" else frozenset()

    def check(
        self, props: Mapping[str, Any] | None, violations: list[Violation], hasher: Hasher
    ) -> Mapping[str, Any] | None:
        """Append the violations of ``props`` and return it with PII rules applied (a copy if changed)."""
        found_required = 0
        out: Mapping[str, Any] | None = props
        if props:
            out, found_required = self._walk(props, "", violations, hasher)
        if found_required < self._required_count:
            for key in self._required:
                if _lookup(props, key) is None:
                    violations.append(Violation(REQUIRED_MISSING, f"{self.group}.{key}", "required"))
        return out

    def _walk(
        self,
        props: Mapping[Any, Any],
        prefix: str,
        violations: list[Violation],
        hasher: Hasher,
        depth: int = 0,
    ) -> tuple[Mapping[str, Any], int]:
        found_required = 0
        changed: dict[Any, Any] | None = None
        get = self._props.get
        for raw_key, value in props.items():
            prop = get(prefix + str(raw_key) if prefix else raw_key)
            if prop is None or value is None:
                if value is None:
                    continue  # not sent: same as absent
                replacement, count = self._other(raw_key, value, prefix, violations, hasher, depth)
                found_required += count
                if replacement is not value:
                    if changed is None:
                        changed = dict(props)
                    if replacement is _DROP:
                        del changed[raw_key]
                    else:
                        changed[raw_key] = replacement
                continue
            exact, check, pii, required = prop
            if required:
                found_required += 1
            if type(value) not in exact:
                broken = check(value)
                if broken is not None:
                    violations.append(Violation(broken[0], f"{self.group}.{prefix}{raw_key}", broken[1]))
            if pii is not None:
                if changed is None:
                    changed = dict(props)
                if pii == "drop":
                    del changed[raw_key]
                else:
                    changed[raw_key] = hashed(value, hasher)
        return (props if changed is None else changed), found_required

    def _other(
        self, raw_key: Any, value: Any, prefix: str, violations: list[Violation], hasher: Hasher, depth: int
    ) -> tuple[Any, int]:
        """A key that is not declared as it is: a nested map of declared keys, or unplanned.

        Returns the value to send instead (``_DROP`` to leave it out) and 0: required keys found
        here are not counted (a key given both flat and nested would count twice), so a missing
        required key is then looked up by ``check`` in both spellings.
        """
        key = prefix + (raw_key if type(raw_key) is str else str(raw_key))
        if type(raw_key) is not str and key in self._props:  # a non-str key spelled like a declared one
            checked, _ = self._walk({key: value}, "", violations, hasher)
            return checked.get(key, _DROP), 0
        action = self._fallback_pii.get(key)
        if isinstance(value, Mapping) and action is None and depth + 1 < MAX_DEPTH:
            # deeper maps (and cycles) are one JSON-string attribute in the mapping: a leaf here
            return self._walk(value, key + ".", violations, hasher, depth + 1)[0], 0
        if self._report_unplanned and key not in self._implicit:
            violations.append(Violation(UNPLANNED_PROPERTY, f"{self.group}.{key}", "not in the catalog"))
        if action is not None:
            return (_DROP if action == "drop" else hashed(value, hasher)), 0
        return value, 0


def strictest_pii(groups: Iterable[Mapping[str, Mapping[str, PropertySpec]]]) -> dict[str, dict[str, str]]:
    """Group -> key -> the strictest PII action (``drop`` over ``hash``) any of ``groups`` declares.

    Applied to events that do not declare the key themselves (unplanned events and properties),
    so a value marked personal anywhere in the catalog is never sent raw in ``warn`` mode.
    """
    out: dict[str, dict[str, str]] = {group: {} for group in GROUPS}
    for properties in groups:
        for group, specs in properties.items():
            for key, spec in specs.items():
                if spec.pii != "allow" and out[group].get(key) != "drop":
                    out[group][key] = spec.pii
    return out


def _lookup(props: Mapping[str, Any] | None, dotted: str) -> Any:
    """The value at ``dotted`` (``a.b``), given flat (``{"a.b": 1}``) or nested (``{"a": {"b": 1}}``)."""
    if not props:
        return None
    if dotted in props:
        return props[dotted]
    head, sep, rest = dotted.partition(".")
    while sep:
        inner = props.get(head)
        if isinstance(inner, Mapping):
            found = _lookup(inner, rest)
            if found is not None:
                return found
        more, sep, rest = rest.partition(".")
        head = f"{head}.{more}"
    return None


class EventChecker:
    """All rules of one event name, compiled; ``check`` returns its three groups, PII applied."""

    def __init__(
        self,
        name: str,
        groups: Mapping[str, Mapping[str, PropertySpec]],
        *,
        deprecated_by: str | None = None,
        deprecated: bool = False,
        report_unplanned: bool = True,
        fallback_pii: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.name = name
        self.deprecated = deprecated
        self._deprecation = (
            Violation(
                DEPRECATED_EVENT,
                "event",
                f"deprecated, use {deprecated_by!r} instead" if deprecated_by else "deprecated",
            )
            if deprecated
            else None
        )
        fallback = fallback_pii or {}
        self._groups = tuple(
            GroupChecker(group, groups.get(group) or {}, report_unplanned, fallback.get(group))
            for group in GROUPS
        )

    def check(
        self,
        event_properties: Mapping[str, Any] | None,
        user_properties: Mapping[str, Any] | None,
        group_properties: Mapping[str, Any] | None,
        violations: list[Violation],
        hasher: Hasher,
    ) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None, Mapping[str, Any] | None]:
        """Append violations; return the (possibly replaced) event, user and group properties."""
        if self._deprecation is not None:
            violations.append(self._deprecation)
        events, users, groups = self._groups
        return (
            events.check(event_properties, violations, hasher),
            users.check(user_properties, violations, hasher),
            groups.check(group_properties, violations, hasher),
        )
