"""Events OTLP cannot carry, and naming the field at fault.

OTLP strings are UTF-8. A Python ``str`` may hold lone surrogates (``os.fsdecode`` of a file
name that is not UTF-8 uses ``surrogateescape``), which no UTF-8 encoder accepts, so such an
event cannot be sent. Strict mode finds them at ``send()`` (:func:`check_event_text`, raising
``TelemetryError`` with the field); otherwise the worker leaves the event out of its batch and
:func:`describe_failure` names the field in the log line of the drop.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .errors import TelemetryError
from .event import Event
from .values import MAX_DEPTH, Props, items

#: The rule a string with a lone surrogate breaks.
TEXT_RULE = "must be valid Unicode text (no lone surrogates, as a file name decoded with surrogateescape has)"


def printable(text: str) -> str:
    """``text`` safe to log: lone surrogates written as ``\\udcxx`` escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def text_problem(text: str) -> str | None:
    """``None`` if ``text`` can be encoded as UTF-8; else where its first lone surrogate is."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"lone surrogate U+{ord(text[error.start]):04X} at index {error.start}"
    return None


def _path(prefix: str, key: object) -> str:
    if type(key) is str:
        return f"{prefix}.{printable(key)}"
    return f"{prefix}[{type(key).__name__}]"


def _children(value: Any) -> Iterator[tuple[object, Any]]:
    """``(key, item)`` of a container a property may hold (a mapping's keys are items too)."""
    if isinstance(value, Mapping):
        yield from value.items()
    elif isinstance(value, (list, tuple)):
        yield from enumerate(value)
    elif isinstance(value, (set, frozenset)):
        yield from ((None, item) for item in value)


def invalid_text(value: Any, path: str, depth: int = 0) -> tuple[str, str] | None:
    """``(field, problem)`` of the first string in ``value`` (a property value, containers
    walked, mapping keys included) that is not valid Unicode; ``None`` if there is none."""
    if isinstance(value, str):
        problem = text_problem(value)
        return None if problem is None else (path, problem)
    if depth >= MAX_DEPTH or isinstance(value, (bytes, bytearray)):
        return None
    for key, item in _children(value):
        child = path if key is None else (f"{path}[{key}]" if type(key) is int else _path(path, key))
        if isinstance(key, str) and (problem := text_problem(key)) is not None:
            return (f"{child} (the key)", problem)
        found = invalid_text(item, child, depth + 1)
        if found is not None:
            return found
    return None


def invalid_group_text(group: Props | None, name: str) -> tuple[str, str] | None:
    """``(field, problem)`` of the first invalid string in a frozen property group."""
    if not group:
        return None
    for key, value in items(group):
        field = _path(name, key)
        if isinstance(key, str) and (problem := text_problem(key)) is not None:
            return (f"{field} (the key)", problem)
        found = invalid_text(value, field)
        if found is not None:
            return found
    return None


def find_invalid_text(event: Event) -> tuple[str, str] | None:
    """``(field, problem)`` of the first string of a queued event that is not valid Unicode."""
    name, body, user_id = event[0], event[9], event[5]
    for field, text in (("event_name", name), ("body", body), ("user_id", user_id)):
        if isinstance(text, str) and (problem := text_problem(text)) is not None:
            return (field, problem)
    groups: tuple[tuple[Props | None, str], ...] = (
        (event[2], "eventProperties"),
        (event[3], "userProperties"),
        (event[4], "groupProperties"),
        (event[10], "annotations"),
    )
    for group, group_name in groups:
        try:
            found = invalid_group_text(group, group_name)
        except Exception:  # a value whose own methods raise: not a text problem
            continue
        if found is not None:
            return found
    return None


def check_event_text(event: Event) -> None:
    """Strict mode, at ``send()``: raise ``TelemetryError(field, rule)`` for text OTLP cannot carry."""
    found = find_invalid_text(event)
    if found is not None:
        field, problem = found
        raise TelemetryError(field, f"{TEXT_RULE}; found a {problem}")


def describe_error(error: BaseException) -> str:
    """``Type: message`` of an exception whose ``__str__`` may itself fail or hold surrogates."""
    try:
        message = str(error)
    except Exception:
        message = "<unprintable message>"
    return printable(f"{type(error).__name__}: {message}")


def describe_failure(event: Event, error: Exception) -> str:
    """The log detail of an event the worker could not encode: the event, the field if it is
    text that is not valid Unicode, else the exception (a value's own method raised)."""
    name = printable(event[0]) if isinstance(event[0], str) else type(event[0]).__name__
    found = find_invalid_text(event) if isinstance(error, UnicodeError) else None
    if found is not None:
        field, problem = found
        return f"event {name!r}: {field} {TEXT_RULE}; found a {problem}"
    return f"event {name!r} could not be encoded: {describe_error(error)}"
