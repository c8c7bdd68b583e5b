"""Evaluate parsed OTTL (see ottl.py) on a log record, for the functions the configs use.

This is what lets the tests prove what the gateway's statements *do* (hash the
user id, delete contact data, copy the event name, route and filter events), not
only that they parse. Semantics follow pkg/ottl: a missing attribute reads as nil,
``set`` to nil is a no-op, regexes are unanchored searches (Go ``MatchString``),
hash converters return lowercase hex.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from . import ottl

__all__ = ["LogRecord", "OTTLEvalError", "eval_condition", "run_statement"]


class OTTLEvalError(RuntimeError):
    pass


@dataclass
class LogRecord:
    """The parts of a log record (and its resource) that OTTL paths reach here."""

    event_name: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    severity_number: int = 0
    severity_text: str = ""
    scope_name: str = ""


def _target(path: ottl.Path, spec: ottl.ContextSpec) -> tuple[str, tuple[ottl.PathField, ...]]:
    ottl.check_path(path, spec)  # same resolution rules as the checks
    return ottl.resolve_path(path, spec)


def _map_for(context: str, head: ottl.PathField, record: LogRecord) -> dict[str, Any]:
    if context == "resource" and head.name == "attributes":
        return record.resource
    if context == "log" and head.name == "attributes":
        return record.attributes
    raise OTTLEvalError(f"no map at {context}.{head.name}")


def _get(path: ottl.Path, record: LogRecord, spec: ottl.ContextSpec) -> Any:
    context, rest = _target(path, spec)
    head = rest[0]
    if head.name == "attributes":
        value: Any = _map_for(context, head, record)
        for key in head.keys:
            if not isinstance(value, dict) or key.string is None:
                return None
            value = value.get(key.string)
        return value
    if context == "log" and head.name in ("event_name", "body", "severity_number", "severity_text"):
        value = getattr(record, head.name)
        return str(value) if len(rest) == 2 else value
    if context == "scope" and head.name == "name":
        return record.scope_name
    raise OTTLEvalError(f"reading {path.text()} is not supported by this evaluator")


def _set(path: ottl.Path, value: Any, record: LogRecord, spec: ottl.ContextSpec) -> None:
    if value is None:
        return  # pkg/ottl: setting nil leaves the field alone
    context, rest = _target(path, spec)
    head = rest[0]
    if head.name == "attributes" and len(head.keys) == 1 and head.keys[0].string is not None:
        _map_for(context, head, record)[head.keys[0].string] = value
    elif context == "log" and head.name in ("event_name", "severity_text") and not head.keys:
        setattr(record, head.name, str(value))
    elif context == "log" and head.name == "severity_number":
        record.severity_number = int(value)
    else:
        raise OTTLEvalError(f"writing {path.text()} is not supported by this evaluator")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _value(node: ottl.Value | ottl.FunctionRef, record: LogRecord, spec: ottl.ContextSpec) -> Any:
    if isinstance(node, ottl.Lit):
        return node.value
    if isinstance(node, ottl.EnumSymbol):
        return ottl.LOG_ENUMS[node.name]
    if isinstance(node, ottl.Path):
        return _get(node, record, spec)
    if isinstance(node, ottl.ListValue):
        return [_value(item, record, spec) for item in node.items]
    if isinstance(node, ottl.Call):
        args = [_value(arg.value, record, spec) for arg in node.args]
        if node.name in ("SHA256", "SHA1", "SHA512", "MD5"):
            if not isinstance(args[0], str):
                raise OTTLEvalError(f"{node.name} expects a string, got {args[0]!r}")
            return hashlib.new(node.name.lower(), args[0].encode()).hexdigest()
        if node.name == "Concat":
            items, delimiter = args
            return str(delimiter).join(_text(v) for v in items if not isinstance(v, (list, dict)))
        if node.name == "IsMatch":
            return args[0] is not None and re.search(str(args[1]), _text(args[0])) is not None
        if node.name == "IsString":
            return isinstance(args[0], str)
    raise OTTLEvalError(f"evaluating {node!r} is not supported by this evaluator")


def _compare(left: Any, op: str, right: Any) -> bool:
    if op in ("==", "!="):
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
        equal = left == right if numbers else (type(left) is type(right) and left == right)
        return equal if op == "==" else not equal
    if left is None or right is None:
        return False
    ordering = {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}
    return bool(ordering[op])


def eval_condition(expr: ottl.BoolExpr, record: LogRecord, spec: ottl.ContextSpec) -> bool:
    if isinstance(expr, ottl.Comparison):
        return _compare(_value(expr.left, record, spec), expr.op, _value(expr.right, record, spec))
    if isinstance(expr, ottl.Not):
        return not eval_condition(expr.operand, record, spec)
    if isinstance(expr, ottl.And):
        return all(eval_condition(item, record, spec) for item in expr.items)
    if isinstance(expr, ottl.Or):
        return any(eval_condition(item, record, spec) for item in expr.items)
    if isinstance(expr, ottl.ConstBool):
        return expr.value
    return bool(_value(expr.call, record, spec))


def run_statement(stmt: ottl.Statement, record: LogRecord, spec: ottl.ContextSpec) -> None:
    """Apply one statement to ``record`` (in place) if its where clause holds."""
    if stmt.where is not None and not eval_condition(stmt.where, record, spec):
        return
    editor = stmt.editor
    target = editor.args[0].value
    assert isinstance(target, ottl.Path)
    args = [_value(arg.value, record, spec) for arg in editor.args[1:]]
    if editor.name == "set":
        _set(target, args[0], record, spec)
    elif editor.name in ("delete_key", "delete_matching_keys", "keep_keys"):
        context, rest = _target(target, spec)
        mapping = _map_for(context, rest[0], record)
        if editor.name == "delete_key":
            mapping.pop(str(args[0]), None)
        elif editor.name == "delete_matching_keys":
            for key in [k for k in mapping if re.search(str(args[0]), k)]:
                del mapping[key]
        else:
            for key in [k for k in mapping if k not in args[0]]:
                del mapping[key]
    else:
        raise OTTLEvalError(f"editor {editor.name} is not supported by this evaluator")
