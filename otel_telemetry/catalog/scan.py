"""Find ``send("event", {...})`` calls in Python source (with ``ast``) and compare them with a catalog.

A call counts when its first argument is a string literal and it is ``send(...)`` imported from
``otel_telemetry``, or ``<x>.send(...)`` where ``<x>`` is the ``otel_telemetry`` module, a name
bound to ``Telemetry(...)`` / ``get_default()`` / ``configure(...)`` (assignment, ``with ... as``,
or a ``Telemetry`` annotation) anywhere in the module, or a name whose last part mentions
``telemetry`` (``telemetry``, ``self._telemetry``, ``strapi.telemetry``). Property keys are read
from literal payload dicts (``{"eventProperties": {"model": ...}}``, nested maps as dotted keys)
and from ``event_properties=`` / ``user_properties=`` / ``group_properties=`` literals.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..mapping import USER_ID_KEYS
from .model import GROUPS, Catalog

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "env",
        "node_modules",
        "__pycache__",
        ".tox",
        ".nox",
        "build",
        "dist",
    }
)
_FACTORIES = frozenset({"Telemetry", "get_default", "configure"})
_KEYWORD_GROUPS = {
    "event_properties": "eventProperties",
    "user_properties": "userProperties",
    "group_properties": "groupProperties",
}


@dataclass(frozen=True)
class SendCall:
    """One ``send()`` call found in source code."""

    path: str
    line: int
    column: int
    #: The event name, or ``None`` when it is not a string literal (an f-string, a variable).
    event: str | None
    #: Property keys found in literal dicts, by group (dotted for nested maps).
    properties: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Groups whose full contents are known (literal dicts without ``**``), so missing keys are missing.
    complete: frozenset[str] = frozenset()

    @property
    def where(self) -> str:
        """``path:line:col``."""
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Finding:
    """One difference between the code and the catalog."""

    where: str
    severity: str  # "error" or "warning"
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: {self.message} [{self.kind}]"


@dataclass
class ScanReport:
    """What ``catalog scan`` found: calls, files that could not be parsed, and findings."""

    files: int = 0
    calls: list[SendCall] = field(default_factory=list)
    unparsable: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        """Findings that fail the check."""
        return [f for f in self.findings if f.severity == "error"]


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _is_telemetry_annotation(node: ast.expr | None) -> bool:
    if node is None:
        return False
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # "Telemetry" (a forward reference)
        try:
            return _is_telemetry_annotation(ast.parse(node.value, mode="eval").body)
        except SyntaxError:
            return False
    if isinstance(node, ast.BinOp):  # Telemetry | None
        return _is_telemetry_annotation(node.left) or _is_telemetry_annotation(node.right)
    if isinstance(node, ast.Subscript):  # Optional[Telemetry]
        return _is_telemetry_annotation(node.slice)
    name = _dotted(node)
    return name is not None and name.split(".")[-1] == "Telemetry"


def _is_factory_call(node: ast.expr | None) -> bool:
    if not isinstance(node, ast.Call):
        return False
    name = _dotted(node.func)
    return name is not None and name.split(".")[-1] in _FACTORIES


class _Bindings(ast.NodeVisitor):
    """Names that hold a ``Telemetry``, module aliases of ``otel_telemetry``, aliases of its ``send``."""

    def __init__(self) -> None:
        self.senders: set[str] = {"otel_telemetry"}
        self.send_functions: set[str] = set()

    def _bind(self, target: ast.expr) -> None:
        name = _dotted(target)
        if name is not None:
            self.senders.add(name)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name == "otel_telemetry" and alias.asname:
                self.senders.add(alias.asname)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and node.module.split(".")[0] == "otel_telemetry":
            for alias in node.names:
                if alias.name == "send":
                    self.send_functions.add(alias.asname or "send")

    def visit_Assign(self, node: ast.Assign) -> None:
        if _is_factory_call(node.value):
            for target in node.targets:
                self._bind(target)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if _is_factory_call(node.value) or _is_telemetry_annotation(node.annotation):
            self._bind(node.target)
        self.generic_visit(node)

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            if item.optional_vars is not None and _is_factory_call(item.context_expr):
                self._bind(item.optional_vars)
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        if _is_telemetry_annotation(node.annotation):
            self.senders.add(node.arg)


def _literal_keys(node: ast.expr, prefix: str = "") -> tuple[list[str], bool] | None:
    """Keys of a literal dict (``{...}`` or ``dict(k=...)``), dotted for nested literal dicts.

    Returns (keys, complete) where complete is False when ``**spread`` or computed keys hide some.
    """
    keys: list[str] = []
    complete = True
    if isinstance(node, ast.Dict):
        pairs: Iterable[tuple[ast.expr | None, ast.expr]] = zip(node.keys, node.values, strict=True)
    elif isinstance(node, ast.Call) and _dotted(node.func) == "dict" and not node.args:
        pairs = [(ast.Constant(kw.arg) if kw.arg else None, kw.value) for kw in node.keywords]
    else:
        return None
    for key, value in pairs:
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            complete = False
            continue
        nested = _literal_keys(value, f"{prefix}{key.value}.") if isinstance(value, ast.Dict) else None
        if nested is not None and nested[0]:
            keys += nested[0]
            complete = complete and nested[1]
        else:
            keys.append(prefix + key.value)
    return keys, complete


def _payload(call: ast.Call) -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
    found: dict[str, list[str]] = {}
    complete: set[str] = set(GROUPS)
    if len(call.args) > 1 and not (isinstance(call.args[1], ast.Constant) and call.args[1].value is None):
        payload = call.args[1]
        literal = payload if isinstance(payload, ast.Dict) else None
        if literal is None or any(key is None for key in literal.keys):
            complete.clear()
        for key, value in zip(literal.keys, literal.values, strict=True) if literal else ():
            if isinstance(key, ast.Constant) and key.value in GROUPS:
                group_keys = _literal_keys(value)
                if group_keys is None:
                    complete.discard(str(key.value))
                    continue
                found.setdefault(str(key.value), []).extend(group_keys[0])
                if not group_keys[1]:
                    complete.discard(str(key.value))
    for keyword in call.keywords:
        if keyword.arg is None:
            complete.clear()
            continue
        group = _KEYWORD_GROUPS.get(keyword.arg)
        if group is None:
            continue
        group_keys = _literal_keys(keyword.value)
        if group_keys is None:
            complete.discard(group)
            continue
        found.setdefault(group, []).extend(group_keys[0])
        if not group_keys[1]:
            complete.discard(group)
    return {group: tuple(keys) for group, keys in found.items()}, frozenset(complete)


def find_send_calls(source: str, path: str = "<source>", all_sends: bool = False) -> list[SendCall]:
    """Every telemetry ``send()`` call of one module (raises ``SyntaxError`` if it does not parse).

    ``all_sends`` counts any ``<x>.send("literal", ...)``, whatever ``<x>`` is.
    """
    tree = ast.parse(source, filename=path)
    bindings = _Bindings()
    bindings.visit(tree)
    calls: list[SendCall] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "send":
            receiver = _dotted(func.value)
            is_telemetry = receiver is not None and (
                receiver in bindings.senders or "telemetry" in receiver.split(".")[-1].lower()
            )
            first = node.args[0]
            if not is_telemetry and not (
                all_sends and isinstance(first, ast.Constant) and isinstance(first.value, str)
            ):
                continue
        elif isinstance(func, ast.Name) and func.id in bindings.send_functions:
            pass
        else:
            continue
        first = node.args[0]
        event = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
        properties, complete = _payload(node)
        calls.append(SendCall(path, node.lineno, node.col_offset + 1, event, properties, complete))
    calls.sort(key=lambda c: (c.line, c.column))
    return calls


def python_files(root: Path) -> Iterator[Path]:
    """The ``.py`` files under ``root`` (or ``root`` itself), skipping virtualenvs, VCS and build dirs."""
    if root.is_file():
        yield root
        return
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(directory) / name


def scan_paths(paths: Iterable[Path], all_sends: bool = False) -> ScanReport:
    """Every ``send()`` call in the Python files under ``paths``."""
    report = ScanReport()
    for root in paths:
        for file in python_files(root):
            report.files += 1
            try:
                source = file.read_text(encoding="utf-8")
                report.calls += find_send_calls(source, str(file), all_sends)
            except (SyntaxError, UnicodeDecodeError, ValueError, OSError) as error:
                report.unparsable.append(f"{file}: {error}")
    return report


def compare(report: ScanReport, catalog: Catalog, *, allow_unused: bool = False) -> ScanReport:
    """Add to ``report`` the findings of its calls against ``catalog`` (returns the same report)."""
    source = catalog.source or "<catalog>"
    sent: set[str] = set()
    for call in report.calls:
        if call.event is None:
            report.findings.append(
                Finding(
                    call.where, "warning", "dynamic_event", "event name is not a string literal; not checked"
                )
            )
            continue
        sent.add(call.event)
        spec = catalog.events.get(call.event)
        if spec is None:
            report.findings.append(
                Finding(call.where, "error", "undeclared_event", f"event {call.event!r} is not in {source}")
            )
            continue
        if spec.deprecated:
            instead = f", use {spec.replaced_by!r} instead" if spec.replaced_by else ""
            report.findings.append(
                Finding(
                    call.where, "warning", "deprecated_event", f"event {call.event!r} is deprecated{instead}"
                )
            )
        allowed = catalog.properties_of(spec)
        for group in GROUPS:
            declared = allowed.get(group, {})
            keys = call.properties.get(group, ())
            for key in keys:
                if key not in declared and not (group == "userProperties" and key in USER_ID_KEYS):
                    report.findings.append(
                        Finding(
                            call.where,
                            "error",
                            "undeclared_property",
                            f"{group}.{key} of event {call.event!r} is not in {source}",
                        )
                    )
            if group in call.complete:
                for key, prop in declared.items():
                    if prop.required and key not in keys:
                        report.findings.append(
                            Finding(
                                call.where,
                                "error",
                                "required_missing",
                                f"{group}.{key} is required by event {call.event!r} but not sent",
                            )
                        )
    for name in catalog.events:
        if name not in sent:
            report.findings.append(
                Finding(
                    source,
                    "warning" if allow_unused else "error",
                    "unused_event",
                    f"event {name!r} is declared but never sent by the scanned code",
                )
            )
    return report
