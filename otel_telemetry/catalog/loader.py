"""Reading a catalog file (YAML or JSON) and reporting what is wrong with it, line by line.

The document is checked in two passes: the JSON Schema shipped with the package
(``catalog.schema.json``, checked with ``jsonschema``), then the rules a schema cannot say
(a regex compiles, allowed values match the type, ``replaced_by`` names a known event ...).
Every problem names the file, line and column (PyYAML node marks), the path inside the
document and the rule, so a broken catalog can be fixed without reading this code.
A JSON catalog needs no extra (without PyYAML its problems have no line numbers); a YAML
catalog needs PyYAML, from the ``[catalog]`` extra.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import TelemetryError
from ..extras import needs_extra
from ..validation import RESERVED_PREFIXES
from .model import GROUPS, Catalog

if TYPE_CHECKING:
    import jsonschema
    import yaml

SCHEMA_RESOURCE = "catalog.schema.json"

#: Path inside the document -> (line, column), both 1-based.
Marks = dict[tuple[Any, ...], tuple[int, int]]


@dataclass(frozen=True)
class CatalogProblem:
    """One thing wrong with a catalog document."""

    source: str
    line: int | None
    column: int | None
    path: tuple[Any, ...]
    rule: str

    @property
    def where(self) -> str:
        """``file:line:col`` (or just the file when the position is unknown)."""
        if self.line is None:
            return self.source
        return f"{self.source}:{self.line}:{self.column}"

    @property
    def field(self) -> str:
        """The path inside the document, e.g. ``events.ping.eventProperties["a.b"].type``."""
        return format_path(self.path)

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.rule}" if self.path else f"{self.where}: {self.rule}"


class CatalogError(TelemetryError):
    """A catalog file that cannot be used; ``problems`` lists every problem found, in file order."""

    def __init__(self, problems: list[CatalogProblem]) -> None:
        first = problems[0]
        super().__init__(f"{first.where}: {first.field or '<document>'}", first.rule)
        self.problems = problems
        self.args = ("\n".join(str(problem) for problem in problems),)


def format_path(path: tuple[Any, ...]) -> str:
    """Dotted path; keys that contain dots or are not names are bracketed and quoted."""
    parts: list[str] = []
    for item in path:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", str(item)):
            parts.append(("." if parts else "") + str(item))
        else:
            parts.append(f"[{json.dumps(str(item))}]")
    return "".join(parts)


# -- reading --------------------------------------------------------------------------------


def _yaml_marks(
    node: yaml.Node, path: tuple[Any, ...], marks: Marks, problems: list[tuple[Any, ...]]
) -> None:
    """Record the position of every value (and of every mapping key, under ``path + (key, None)``)."""
    import yaml

    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        first_seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key in first_seen:
                problems.append((path, key, key_node.start_mark.line + 1, first_seen[key]))
            else:
                first_seen[key] = key_node.start_mark.line + 1
            key_path = (*path, key, None)
            marks[key_path] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _yaml_marks(value_node, (*path, key), marks, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _yaml_marks(item, (*path, index), marks, problems)


def _parse_yaml(text: str, source: str) -> tuple[Any, Marks, list[CatalogProblem]]:
    marks: Marks = {}
    try:
        import yaml
    except ModuleNotFoundError:  # the base install reads JSON catalogs only
        rule = needs_extra("a YAML catalog", "yaml") + " (or write the catalog as .json)"
        return None, marks, [CatalogProblem(source, None, None, (), rule)]
    duplicates: list[tuple[Any, ...]] = []
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as error:  # a character YAML does not allow, before any parsing
        return None, marks, [CatalogProblem(source, None, None, (), f"not valid YAML: {error}")]
    try:
        node = loader.get_single_node()
        if node is None:
            return None, marks, [CatalogProblem(source, 1, 1, (), "the file is empty")]
        _yaml_marks(node, (), marks, duplicates)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        rule = f"not valid YAML: {error.problem or error.context}"
        return None, marks, [CatalogProblem(source, line, column, (), rule)]
    except yaml.YAMLError as error:  # e.g. a forbidden character met while reading
        return None, marks, [CatalogProblem(source, None, None, (), f"not valid YAML: {error}")]
    finally:
        loader.dispose()
    problems = [
        CatalogProblem(source, line, 1, (*path, key), f"duplicate key (first defined on line {first})")
        for path, key, line, first in duplicates
    ]
    return data, marks, problems


def _parse_json(text: str, source: str) -> tuple[Any, Marks, list[CatalogProblem]]:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise ValueError(f"duplicate key {key!r}")
            out[key] = value
        return out

    try:
        data = json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as error:
        return (
            None,
            {},
            [CatalogProblem(source, error.lineno, error.colno, (), f"not valid JSON: {error.msg}")],
        )
    except ValueError as error:
        return None, {}, [CatalogProblem(source, None, None, (), f"not valid JSON: {error}")]
    try:  # JSON is YAML: its node marks give line numbers for the problems found later (with PyYAML)
        _, marks, _ = _parse_yaml(text, source)
    except Exception:
        marks = {}
    return data, marks, []


# -- checking -------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The JSON Schema of the catalog format, shipped as ``otel_telemetry/catalog/catalog.schema.json``."""
    text = resources.files(__package__).joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    import jsonschema

    cls = jsonschema.validators.validator_for(schema())
    cls.check_schema(schema())
    return cls(schema())


def _type_name(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "empty (null)",
    }.get(type(value), type(value).__name__)


def _schema_rule(error: jsonschema.ValidationError) -> tuple[tuple[Any, ...], str]:
    """(path, readable rule) of one schema error."""
    path = tuple(error.absolute_path)
    kind = error.validator
    value: Any = error.validator_value
    instance: Any = error.instance
    sub_schema: Any = error.schema
    if kind == "additionalProperties" and isinstance(instance, dict):
        declared = sub_schema.get("properties", {})
        patterns = [re.compile(p) for p in sub_schema.get("patternProperties", {})]
        extra = [k for k in instance if k not in declared and not any(p.search(k) for p in patterns)]
        expected = ", ".join(declared)
        return (*path, extra[0]) if extra else path, f"unknown key; expected one of: {expected}"
    if kind == "required":
        missing = [k for k in value if k not in instance]
        return path, f"missing required key {missing[0]!r}" if missing else error.message
    if kind == "enum":
        options = ", ".join(json.dumps(v) for v in value)
        return path, f"must be one of {options}, not {json.dumps(error.instance, default=str)}"
    if kind == "const":
        return path, f"must be {json.dumps(value)}, not {json.dumps(error.instance, default=str)}"
    if kind == "type":
        wanted = value if isinstance(value, str) else " or ".join(value)
        return path, f"must be of type {wanted}, not {_type_name(error.instance)}"
    if kind == "minLength":
        return path, "must not be empty"
    if kind == "maxLength":
        return path, f"must be at most {value} characters"
    if kind == "minItems":
        return path, f"must have at least {value} item(s)"
    if kind == "uniqueItems":
        return path, "must not repeat a value"
    if kind == "pattern" and error.relative_schema_path and "propertyNames" in error.relative_schema_path:
        return (*path, error.instance), "invalid name: must not be blank or start or end with a dot"
    if kind == "pattern":
        return path, "must not be blank or start or end with a dot"
    return path, error.message


def _semantic_problems(data: Mapping[str, Any]) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Rules the JSON Schema cannot express; ``data`` already matches the schema."""
    events = data["events"]
    for name, event in events.items():
        base = ("events", name)
        replacement = event.get("replaced_by")
        if event.get("status", "active") != "deprecated" and "replaced_by" in event:
            yield (*base, "replaced_by"), "only a deprecated event (status: deprecated) has replaced_by"
        elif replacement is not None and replacement not in events:
            yield (*base, "replaced_by"), f"names no event of this catalog: {replacement!r}"
        elif replacement == name:
            yield (*base, "replaced_by"), "a deprecated event cannot replace itself"
    places: list[tuple[tuple[Any, ...], Mapping[str, Any]]] = [(("common",), data.get("common") or {})]
    places += [(("events", name), event) for name, event in events.items()]
    for base, holder in places:
        for group in GROUPS:
            props = holder.get(group) or {}
            for key, spec in props.items():
                yield from _property_problems((*base, group, key), group, key, spec, props)


def _value_matches(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, bool)


def _property_problems(
    path: tuple[Any, ...], group: str, key: str, spec: Mapping[str, Any], siblings: Mapping[str, Any]
) -> Iterator[tuple[tuple[Any, ...], str]]:
    if group == "eventProperties" and key.startswith(RESERVED_PREFIXES):
        yield path, f"event property keys may not start with {', '.join(RESERVED_PREFIXES)}"
    parts = key.split(".")
    for end in range(1, len(parts)):
        prefix = ".".join(parts[:end])
        if prefix in siblings:
            yield path, f"{prefix!r} is declared as a value, so it cannot also be a map holding {key!r}"
    kind = spec["type"]
    element = spec.get("items") if kind == "list" else kind
    if "items" in spec and kind != "list":
        yield (*path, "items"), "items is only allowed with type: list"
    pattern = spec.get("pattern")
    compiled = None
    if pattern is not None:
        if element != "string":
            yield (*path, "pattern"), "a pattern applies to strings only (type string or list of string)"
        try:
            compiled = re.compile(pattern)
        except re.error as error:
            yield (*path, "pattern"), f"not a valid regular expression: {error}"
    for index, allowed in enumerate(spec.get("enum") or ()):
        if element is not None and not _value_matches(element, allowed):
            yield (*path, "enum", index), f"allowed value {allowed!r} is not of type {element}"
        elif compiled is not None and isinstance(allowed, str) and not compiled.search(allowed):
            yield (*path, "enum", index), f"allowed value {allowed!r} does not match the pattern"


def _locate(marks: Marks, path: tuple[Any, ...]) -> tuple[int | None, int | None]:
    """Where ``path`` is written: its key when it has one (a mapping's value starts a line later)."""
    while path:
        key_path = (*path, None)
        if key_path in marks:
            return marks[key_path]
        if path in marks:
            return marks[path]
        path = path[:-1]
    return marks.get(path, (None, None))


def check_document(data: Any, source: str = "<catalog>", marks: Marks | None = None) -> list[CatalogProblem]:
    """Every problem of a catalog document (empty when it is valid), in file order."""
    marks = marks or {}
    found: list[CatalogProblem] = []
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    for error in errors:
        path, rule = _schema_rule(error)
        line, column = _locate(marks, path)
        found.append(CatalogProblem(source, line, column, path, rule))
    if not found:
        for path, rule in _semantic_problems(data):
            line, column = _locate(marks, path)
            found.append(CatalogProblem(source, line, column, path, rule))
    found.sort(key=lambda p: (p.line or 0, p.column or 0))
    return found


# -- entry points ---------------------------------------------------------------------------


def parse_catalog(text: str, source: str = "<catalog>", fmt: str = "yaml") -> Catalog:
    """A catalog from YAML (``fmt="yaml"``) or JSON text; raises :class:`CatalogError`."""
    try:
        data, marks, problems = (_parse_json if fmt == "json" else _parse_yaml)(text, source)
        if not problems:
            problems = check_document(data, source, marks)
    except RecursionError:
        problems = [CatalogProblem(source, None, None, (), "nested too deeply to be a catalog")]
    if problems:
        raise CatalogError(problems)
    return Catalog.from_dict(data, source)


def load_catalog(path: str | os.PathLike[str]) -> Catalog:
    """Read and check a catalog file (``.json`` is read as JSON, anything else as YAML).

    Raises :class:`CatalogError` (a :class:`~otel_telemetry.TelemetryError`) naming the line
    and rule of each problem, or ``OSError`` when the file cannot be read.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise CatalogError(
            [CatalogProblem(str(path), None, None, (), f"not UTF-8 text: {error.reason}")]
        ) from None
    return parse_catalog(text, str(path), "json" if file.suffix.lower() == ".json" else "yaml")


def catalog_from_dict(data: Mapping[str, Any], source: str = "<catalog>") -> Catalog:
    """A catalog from an in-memory document, checked like a file (without line numbers)."""
    problems = check_document(data, source)
    if problems:
        raise CatalogError(problems)
    return Catalog.from_dict(data, source)
