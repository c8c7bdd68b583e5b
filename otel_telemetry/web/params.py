"""Strict reading of the viewer's URL parameters: every bad value is a :class:`BadParameter` (400).

Python's own parsers are too lenient for a URL: ``int()`` reads ``"١٢"`` (Arabic-Indic digits)
and ``"1_000"``, ``float()`` reads ``"inf"`` and ``"nan"``, ``parse_qs`` replaces bad UTF-8
silently. Here numbers are ASCII digits within the range SQLite stores (64-bit), text is valid
UTF-8 of bounded length, and repeated parameters are bounded in number.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import parse_qs, unquote

#: The largest integer SQLite stores (nanosecond times and ids are within it).
INT64_MAX = 2**63 - 1
#: Most values one repeatable parameter (``where``, ``name``, ``events``...) may have.
MAX_VALUES = 20
#: Longest text value, in characters.
MAX_TEXT = 1000
_MAX_FIELDS = 10_000

_INTEGER = re.compile(r"-?[0-9]{1,30}")
_DECIMAL = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,9})?")


class BadParameter(Exception):
    """A parameter that cannot be used; its message names the parameter and the rule."""


def _shown(value: str) -> str:
    return '"' + (value if len(value) <= 40 else value[:40] + "…") + '"'


def decode_path(raw: str) -> str:
    """The percent-decoded path; bad UTF-8 is a :class:`BadParameter`."""
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise BadParameter("path: not valid UTF-8 once percent-decoded") from None


def parse_id(name: str, text: str) -> int:
    """A positive 64-bit integer written in ASCII digits (a row id in a path)."""
    return _integer(name, text, 1, INT64_MAX)


def _integer(name: str, text: str, low: int, high: int) -> int:
    if not _INTEGER.fullmatch(text):
        raise BadParameter(f"{name}: expected an integer in ASCII digits, got {_shown(text)}")
    value = int(text)
    if not low <= value <= high:
        raise BadParameter(f"{name}: must be between {low} and {high}, got {_shown(text)}")
    return value


class Params:
    """The query string of one request, checked against the parameters an endpoint takes."""

    def __init__(self, query: str, allowed: Collection[str]) -> None:
        try:
            self._values = parse_qs(
                query, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=_MAX_FIELDS
            )
        except UnicodeDecodeError:
            raise BadParameter("query: not valid UTF-8 once percent-decoded") from None
        except ValueError:
            raise BadParameter(f"query: more than {_MAX_FIELDS} parameters") from None
        unknown = sorted(set(self._values) - set(allowed))
        if unknown:
            raise BadParameter(
                f"{_shown(unknown[0])}: unknown parameter; this endpoint takes {', '.join(sorted(allowed))}"
            )
        for name, values in self._values.items():
            for value in values:
                if len(value) > MAX_TEXT:
                    raise BadParameter(f"{name}: longer than {MAX_TEXT} characters")

    def texts(self, name: str, max_count: int = MAX_VALUES) -> tuple[str, ...]:
        """The non-empty values of a repeatable parameter, at most ``max_count`` of them."""
        values = tuple(value for value in self._values.get(name, ()) if value)
        if len(values) > max_count:
            raise BadParameter(f"{name}: at most {max_count} values, got {len(values)}")
        return values

    def text(self, name: str) -> str | None:
        """A parameter given at most once; empty means absent."""
        values = self._values.get(name, [])
        if len(values) > 1:
            raise BadParameter(f"{name}: given {len(values)} times; give it once")
        return values[0] if values and values[0] else None

    def integer(self, name: str, low: int = 0, high: int = INT64_MAX) -> int | None:
        """An integer in ASCII digits within ``[low, high]``, or None when absent."""
        text = self.text(name)
        return None if text is None else _integer(name, text, low, high)

    def seconds(self, name: str, low: float, high: float) -> float | None:
        """A decimal number of seconds (``60``, ``0.5``) within ``[low, high]``, or None when absent."""
        text = self.text(name)
        if text is None:
            return None
        if not _DECIMAL.fullmatch(text):
            raise BadParameter(
                f"{name}: expected seconds as a decimal number like 60 or 0.5, got {_shown(text)}"
            )
        value = float(text)
        if not low <= value <= high:
            raise BadParameter(f"{name}: must be between {low:g} and {high:g} seconds, got {_shown(text)}")
        return value
