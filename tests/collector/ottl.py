"""A small, real parser for the subset of OTTL used in the collector configurations.

It follows the grammar of ``pkg/ottl/grammar.go`` in opentelemetry-collector-contrib
(a participle grammar): the same lexer rules in the same order, and the same
productions for editors, converters, paths, keys, literals, lists, maps, math and
boolean expressions with ``where`` clauses. On top of the syntax it checks what the
collector checks when it loads a config: that paths exist in the log / resource /
scope contexts (including how each component resolves ``log.``/``resource.``
prefixes), that functions exist and get a plausible number of arguments, that
editors are not used as values and converters not as statements, and that regex
literals compile.

Only the syntax subset and the function/path tables needed here are implemented;
anything outside them is rejected, so an unknown construct fails loudly instead of
being accepted by accident.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar

__all__ = [
    "ContextSpec",
    "OTTLError",
    "OTTLSemanticError",
    "OTTLSyntaxError",
    "check_condition",
    "check_path",
    "check_statement",
    "parse_condition",
    "parse_statement",
    "resolve_path",
    "tokenize",
]


class OTTLError(ValueError):
    """Base class: the text is not an OTTL statement/condition the collector accepts."""


class OTTLSyntaxError(OTTLError):
    def __init__(self, message: str, text: str, pos: int) -> None:
        pointer = f"{text}\n{' ' * pos}^"
        super().__init__(f"{message} (at column {pos + 1})\n{pointer}")
        self.pos = pos


class OTTLSemanticError(OTTLError):
    pass


# --------------------------------------------------------------------------- lexer
# Same rules, same order as buildLexer() in pkg/ottl/grammar.go: the first rule that
# matches at a position wins (leftmost-first alternation, like Go's regexp).
_LEXER_RULES: tuple[tuple[str, str], ...] = (
    ("Bytes", r"0x[a-fA-F0-9]+"),
    ("Float", r"[-+]?\d*\.\d+(?:[eE][-+]?\d+)?"),
    ("Int", r"[-+]?\d+"),
    ("String", r'"(?:\\.|[^\\"])*"'),
    ("OpNot", r"\bnot\b"),
    ("OpOr", r"\bor\b"),
    ("OpAnd", r"\band\b"),
    ("OpComparison", r"==|!=|>=|<=|>|<"),
    ("OpAddSub", r"\+|-"),
    ("OpMultDiv", r"/|\*"),
    ("Boolean", r"\b(?:true|false)\b"),
    ("Equal", r"="),
    ("LParen", r"\("),
    ("RParen", r"\)"),
    ("LBrace", r"\{"),
    ("RBrace", r"\}"),
    ("Colon", r":"),
    ("Punct", r"[,.\[\]]"),
    ("Uppercase", r"[A-Z][A-Z0-9_]*"),
    ("Lowercase", r"[a-z][a-z0-9_]*"),
    ("whitespace", r"\s+"),
)
_LEXER = re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in _LEXER_RULES), re.ASCII)


@dataclass(frozen=True)
class Token:
    kind: str
    value: str
    pos: int

    @property
    def end(self) -> int:
        return self.pos + len(self.value)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _LEXER.match(text, pos)
        if m is None or m.end() == pos:
            raise OTTLSyntaxError(f"invalid character {text[pos]!r}", text, pos)
        kind = m.lastgroup
        assert kind is not None
        if kind != "whitespace":
            tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    return tokens


# --------------------------------------------------------------------------- AST
@dataclass(frozen=True)
class Key:
    string: str | None = None
    index: int | None = None


@dataclass(frozen=True)
class PathField:
    name: str
    keys: tuple[Key, ...] = ()


@dataclass(frozen=True)
class Path:
    context: str | None  # the grammar's optional leading "lowercase ." segment
    fields: tuple[PathField, ...]
    pos: int

    def text(self) -> str:
        parts = ([self.context] if self.context else []) + [
            f.name + "".join(f'["{k.string}"]' if k.string is not None else f"[{k.index}]" for k in f.keys)
            for f in self.fields
        ]
        return ".".join(parts)


@dataclass(frozen=True)
class Lit:
    kind: Literal["string", "int", "float", "bool", "nil", "bytes"]
    value: object


@dataclass(frozen=True)
class EnumSymbol:
    name: str


@dataclass(frozen=True)
class FunctionRef:
    """A converter passed by name as an argument, e.g. ``SHA256`` in replace_pattern."""

    name: str


@dataclass(frozen=True)
class ListValue:
    items: tuple[Value, ...]


@dataclass(frozen=True)
class MapValue:
    items: tuple[tuple[str, Value], ...]


@dataclass(frozen=True)
class Argument:
    name: str | None
    value: Value | FunctionRef


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Argument, ...]
    keys: tuple[Key, ...]
    is_editor: bool
    pos: int


@dataclass(frozen=True)
class MathExpr:
    op: str
    left: Value
    right: Value


Value = Lit | EnumSymbol | Path | Call | ListValue | MapValue | MathExpr


@dataclass(frozen=True)
class Comparison:
    left: Value
    op: str
    right: Value


@dataclass(frozen=True)
class Not:
    operand: BoolExpr


@dataclass(frozen=True)
class And:
    items: tuple[BoolExpr, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[BoolExpr, ...]


@dataclass(frozen=True)
class ConstBool:
    value: bool


@dataclass(frozen=True)
class ConstCall:
    call: Call


BoolExpr = Comparison | Not | And | Or | ConstBool | ConstCall


@dataclass(frozen=True)
class Statement:
    editor: Call
    where: BoolExpr | None


# --------------------------------------------------------------------------- parser
_T = TypeVar("_T")


class _NoMatch(Exception):
    """Internal: this production does not match here (the caller may try another)."""


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    out: list[str] = []
    i = 0
    escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "/": "/"}
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append(escapes.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.furthest = 0

    # -- token helpers
    def peek(self, offset: int = 0) -> Token | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def at(self, kind: str | None = None, value: str | None = None, offset: int = 0) -> bool:
        tok = self.peek(offset)
        if tok is None:
            return False
        return (kind is None or tok.kind == kind) and (value is None or tok.value == value)

    def take(self, kind: str | None = None, value: str | None = None) -> Token:
        if not self.at(kind, value):
            self.furthest = max(self.furthest, self.i)
            raise _NoMatch
        tok = self.tokens[self.i]
        self.i += 1
        self.furthest = max(self.furthest, self.i)
        return tok

    def attempt(self, production: Callable[[], _T]) -> _T | None:
        """Run a production; on _NoMatch restore the position and return None."""
        saved = self.i
        try:
            return production()
        except _NoMatch:
            self.i = saved
            return None

    def error(self, message: str) -> OTTLSyntaxError:
        tok = self.tokens[self.furthest] if self.furthest < len(self.tokens) else None
        pos = tok.pos if tok else len(self.text)
        found = f"unexpected {tok.value!r}" if tok else "unexpected end of input"
        return OTTLSyntaxError(f"{message}: {found}", self.text, pos)

    # -- names: participle captures consecutive tokens, e.g. Is + Match -> IsMatch
    def _name(self, first_kind: str) -> str:
        first = self.take(first_kind)
        name = first.value
        end = first.end
        while (tok := self.peek()) is not None and tok.kind in ("Uppercase", "Lowercase") and tok.pos == end:
            name += tok.value
            end = tok.end
            self.i += 1
        return name

    # -- productions
    def statement(self) -> Statement:
        editor = self.attempt(lambda: self.call(editor=True))
        if editor is None:
            converter = self.attempt(lambda: self.call(editor=False))
            if converter is not None:
                raise OTTLSemanticError(
                    f"editor names must start with a lowercase letter but got '{converter.name}'"
                )
            raise self.error("expected an editor call such as set(...)")
        where = None
        if self.at("Lowercase", "where"):
            self.take()
            where = self.attempt(self.bool_expr)
            if where is None:
                raise self.error("expected a boolean expression after 'where'")
        if self.peek() is not None:
            self.furthest = max(self.furthest, self.i)
            raise self.error("expected end of statement or 'where'")
        return Statement(editor, where)

    def condition(self) -> BoolExpr:
        expr = self.attempt(self.bool_expr)
        if expr is None:
            raise self.error("expected a boolean expression")
        if self.peek() is not None:
            self.furthest = max(self.furthest, self.i)
            raise self.error("expected end of condition")
        return expr

    def call(self, *, editor: bool) -> Call:
        start = self.peek()
        name = self._name("Lowercase" if editor else "Uppercase")
        self.take("LParen")
        args: list[Argument] = []
        if not self.at("RParen"):
            args.append(self.argument())
            while self.at("Punct", ","):
                self.take()
                args.append(self.argument())
        self.take("RParen")
        keys = self.keys()
        assert start is not None
        return Call(name, tuple(args), keys, editor, start.pos)

    def argument(self) -> Argument:
        name = None
        if self.at("Lowercase"):
            saved = self.i
            try:
                candidate = self._name("Lowercase")
                self.take("Equal")
                name = candidate
            except _NoMatch:
                self.i = saved
        value = self.attempt(self.value)
        if value is not None:
            return Argument(name, value)
        if self.at("Uppercase"):
            return Argument(name, FunctionRef(self._name("Uppercase")))
        raise _NoMatch

    def keys(self) -> tuple[Key, ...]:
        keys: list[Key] = []
        while self.at("Punct", "["):
            saved = self.i
            try:
                self.take("Punct", "[")
                if self.at("String"):
                    key = Key(string=_unquote(self.take().value))
                else:
                    key = Key(index=int(self.take("Int").value))
                self.take("Punct", "]")
            except _NoMatch:
                self.i = saved
                break
            keys.append(key)
        return tuple(keys)

    def path(self) -> Path:
        start = self.peek()
        if start is None or start.kind != "Lowercase":
            raise _NoMatch
        context = None
        if self.at("Lowercase") and self.at("Punct", ".", offset=1):
            context = self.take().value
            self.take()
        fields = [self.path_field()]
        while self.at("Punct", "."):
            self.take()
            fields.append(self.path_field())
        return Path(context, tuple(fields), start.pos)

    def path_field(self) -> PathField:
        name = self.take("Lowercase").value
        return PathField(name, self.keys())

    def math_literal(self) -> Value:
        editor = self.attempt(lambda: self.call(editor=True))
        if editor is not None:
            return editor
        converter = self.attempt(lambda: self.call(editor=False))
        if converter is not None:
            return converter
        if self.at("Float"):
            return Lit("float", float(self.take().value))
        if self.at("Int"):
            return Lit("int", int(self.take().value))
        return self.path()

    def math_value(self) -> Value:
        lit = self.attempt(self.math_literal)
        if lit is not None:
            return lit
        self.take("LParen")
        inner = self.math_expression()
        self.take("RParen")
        return inner

    def add_sub_term(self) -> Value:
        left = self.math_value()
        while self.at("OpMultDiv"):
            op = self.take().value
            left = MathExpr(op, left, self.math_value())
        return left

    def math_expression(self) -> Value:
        left = self.add_sub_term()
        while self.at("OpAddSub"):
            op = self.take().value
            left = MathExpr(op, left, self.add_sub_term())
        return left

    def value(self) -> Value:
        if self.at("Lowercase", "nil"):
            self.take()
            return Lit("nil", None)
        saved = self.i
        lit = self.attempt(self.math_literal)
        if lit is not None and not (self.at("OpAddSub") or self.at("OpMultDiv")):
            return lit
        self.i = saved
        math = self.attempt(self.math_expression)
        if math is not None:
            return math
        if self.at("Bytes"):
            return Lit("bytes", bytes.fromhex(self.take().value[2:]))
        if self.at("String"):
            return Lit("string", _unquote(self.take().value))
        if self.at("Boolean"):
            return Lit("bool", self.take().value == "true")
        if self.at("Uppercase") and not self.at("Lowercase", offset=1):
            return EnumSymbol(self.take().value)
        if self.at("LBrace"):
            return self.map_value()
        if self.at("Punct", "["):
            return self.list_value()
        raise _NoMatch

    def list_value(self) -> ListValue:
        self.take("Punct", "[")
        items: list[Value] = []
        while (item := self.attempt(self.value)) is not None:
            items.append(item)
        while self.at("Punct", ","):
            self.take()
            items.append(self.value())
        self.take("Punct", "]")
        return ListValue(tuple(items))

    def map_value(self) -> MapValue:
        self.take("LBrace")
        items: list[tuple[str, Value]] = []
        while self.at("String"):
            key = _unquote(self.take().value)
            self.take("Colon")
            items.append((key, self.value()))
            if self.at("Punct", ","):
                self.take()
        self.take("RBrace")
        return MapValue(tuple(items))

    def bool_expr(self) -> BoolExpr:
        items = [self.term()]
        while self.at("OpOr"):
            self.take()
            items.append(self.term())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def term(self) -> BoolExpr:
        items = [self.bool_value()]
        while self.at("OpAnd"):
            self.take()
            items.append(self.bool_value())
        return items[0] if len(items) == 1 else And(tuple(items))

    def bool_value(self) -> BoolExpr:
        negate = False
        if self.at("OpNot"):
            self.take()
            negate = True
        inner: BoolExpr | None = self.attempt(self.comparison)
        if inner is None:
            if self.at("Boolean"):
                inner = ConstBool(self.take().value == "true")
            else:
                call = self.attempt(lambda: self.call(editor=False))
                if call is not None:
                    inner = ConstCall(call)
                else:
                    self.take("LParen")
                    inner = self.bool_expr()
                    self.take("RParen")
        assert inner is not None
        return Not(inner) if negate else inner

    def comparison(self) -> Comparison:
        left = self.value()
        op = self.take("OpComparison").value
        return Comparison(left, op, self.value())


def parse_statement(text: str) -> Statement:
    """Parse one OTTL statement (``editor(...) [where <condition>]``)."""
    return _Parser(text).statement()


def parse_condition(text: str) -> BoolExpr:
    """Parse one OTTL condition (a boolean expression, as used by filter and routing)."""
    return _Parser(text).condition()


# --------------------------------------------------------------------------- semantics
# Paths of the contexts used here (pkg/ottl/contexts/internal/ctx{log,resource,scope}).
# value: (keys allowed, allowed sub-field, contrib version that introduced the path)
_PathRule = tuple[bool, str | None, str | None]
_CONTEXT_PATHS: dict[str, dict[str, _PathRule]] = {
    "log": {
        "time_unix_nano": (False, None, None),
        "observed_time_unix_nano": (False, None, None),
        "time": (False, None, None),
        "observed_time": (False, None, None),
        "severity_number": (False, None, None),
        "severity_text": (False, None, None),
        "body": (True, "string", None),
        "attributes": (True, None, None),
        "dropped_attributes_count": (False, None, None),
        "flags": (False, None, None),
        "trace_id": (False, "string", None),
        "span_id": (False, "string", None),
        "event_name": (False, None, "0.128.0"),
    },
    "resource": {
        "attributes": (True, None, None),
        "dropped_attributes_count": (False, None, None),
    },
    "scope": {
        "name": (False, None, None),
        "version": (False, None, None),
        "attributes": (True, None, None),
        "dropped_attributes_count": (False, None, None),
    },
}
_CONTEXT_ALIASES = {"instrumentation_scope": "scope"}
# Which contexts a path may reach from a given context (lower -> higher contexts).
_REACHABLE = {
    "log": ("log", "resource", "scope", "instrumentation_scope"),
    "resource": ("resource",),
    "scope": ("scope", "instrumentation_scope", "resource"),
}
# Paths without a prefix that the legacy (pre path-context-names) parsers resolve upward.
_LEGACY_UPWARD = ("resource", "instrumentation_scope")

_SEVERITIES = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
#: The log context's enum symbols and their values (plog.SeverityNumber).
LOG_ENUMS: Mapping[str, int] = {
    name: number
    for number, name in enumerate(
        ["SEVERITY_NUMBER_UNSPECIFIED"]
        + [f"SEVERITY_NUMBER_{s}{n}" for s in _SEVERITIES for n in ("", "2", "3", "4")]
    )
}


@dataclass(frozen=True)
class Function:
    min_args: int
    max_args: int
    returns_bool: bool = False
    target_is_path: bool = False  # editors whose first argument is the field they change
    regex_arg: int | None = None  # index of a regex pattern argument


# ottlfuncs editors (pkg/ottl/ottlfuncs/README.md).
STANDARD_EDITORS: Mapping[str, Function] = {
    "set": Function(2, 2, target_is_path=True),
    "delete_key": Function(2, 2, target_is_path=True),
    "delete_matching_keys": Function(2, 2, target_is_path=True, regex_arg=1),
    "keep_keys": Function(2, 2, target_is_path=True),
    "keep_matching_keys": Function(2, 2, target_is_path=True, regex_arg=1),
    "limit": Function(3, 3, target_is_path=True),
    "truncate_all": Function(2, 2, target_is_path=True),
    "merge_maps": Function(3, 3, target_is_path=True),
    "flatten": Function(1, 4, target_is_path=True),
    "append": Function(1, 3, target_is_path=True),
    "replace_pattern": Function(3, 5, target_is_path=True, regex_arg=1),
    "replace_all_patterns": Function(4, 6, target_is_path=True, regex_arg=2),
    "replace_match": Function(3, 5, target_is_path=True),
    "replace_all_matches": Function(3, 5, target_is_path=True),
}
# The routing connector's statements use its own `route()` editor plus delete_key(s).
ROUTING_EDITORS: Mapping[str, Function] = {
    "route": Function(0, 0),
    "delete_key": STANDARD_EDITORS["delete_key"],
    "delete_matching_keys": STANDARD_EDITORS["delete_matching_keys"],
}
# ottlfuncs converters used in these configs and their close relatives.
STANDARD_CONVERTERS: Mapping[str, Function] = {
    "Concat": Function(2, 2),
    "SHA1": Function(1, 1),
    "SHA256": Function(1, 1),
    "SHA512": Function(1, 1),
    "FNV": Function(1, 1),
    "MD5": Function(1, 1),
    "Murmur3Hash": Function(1, 1),
    "Hex": Function(1, 1),
    "String": Function(1, 1),
    "Int": Function(1, 1),
    "Double": Function(1, 1),
    "Len": Function(1, 1),
    "ToLowerCase": Function(1, 1),
    "ToUpperCase": Function(1, 1),
    "Substring": Function(3, 3),
    "Split": Function(2, 2),
    "ParseJSON": Function(1, 1),
    "ExtractPatterns": Function(2, 2, regex_arg=1),
    "Now": Function(0, 0),
    "UUID": Function(0, 0),
    "TraceID": Function(1, 1),
    "SpanID": Function(1, 1),
    "IsMatch": Function(2, 2, returns_bool=True, regex_arg=1),
    "IsString": Function(1, 1, returns_bool=True),
    "IsInt": Function(1, 1, returns_bool=True),
    "IsDouble": Function(1, 1, returns_bool=True),
    "IsBool": Function(1, 1, returns_bool=True),
    "IsMap": Function(1, 1, returns_bool=True),
    "IsList": Function(1, 1, returns_bool=True),
}

PathMode = Literal["legacy", "prefixed", "required"]


@dataclass(frozen=True)
class ContextSpec:
    """Where a statement/condition is evaluated and how its parser treats path prefixes.

    path_mode:
      * ``legacy``: a parser without path-context names (filter ``logs.log_record``,
        routing connector table items with an explicit ``context`` before context
        inference). Only ``resource.`` / ``instrumentation_scope.`` prefixes are
        understood; ``log.`` is not a valid segment there on every supported version.
      * ``prefixed``: a parser collection with an explicit context (transform
        ``log_statements`` groups with ``context:``): prefixes are optional and, when
        missing, the group's context is prepended.
      * ``required``: context inference (flat statement lists, filter
        ``log_conditions``): every path must start with a context name.
    """

    context: Literal["log", "resource", "scope"]
    path_mode: PathMode = "prefixed"
    editors: Mapping[str, Function] = field(default_factory=lambda: STANDARD_EDITORS)
    converters: Mapping[str, Function] = field(default_factory=lambda: STANDARD_CONVERTERS)
    min_version: str = "0.130.0"


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


def resolve_path(path: Path, spec: ContextSpec) -> tuple[str, tuple[PathField, ...]]:
    names_with_context = ((PathField(path.context),) if path.context else ()) + path.fields
    reachable = _REACHABLE[spec.context]
    if spec.path_mode == "legacy":
        first = names_with_context[0].name
        if first in _LEGACY_UPWARD and first != spec.context and first in reachable:
            return _CONTEXT_ALIASES.get(first, first), names_with_context[1:]
        if first in reachable and first in _CONTEXT_PATHS and first == spec.context:
            raise OTTLSemanticError(
                f'path "{path.text()}": the "{first}." prefix is not understood by this component\'s '
                f"parser on every supported collector version; write the path without it"
            )
        return spec.context, names_with_context
    if path.context is not None and path.context in reachable:
        return _CONTEXT_ALIASES.get(path.context, path.context), path.fields
    if spec.path_mode == "required":
        raise OTTLSemanticError(
            f'missing context name for path "{path.text()}" (context inference needs e.g. '
            f'"{spec.context}.{path.text()}")'
        )
    return spec.context, names_with_context


def check_path(path: Path, spec: ContextSpec) -> None:
    context, rest = resolve_path(path, spec)
    if not rest:
        raise OTTLSemanticError(f'path "{path.text()}" names a context but no field')
    head = rest[0]
    if head.name == "cache":
        if context != spec.context:
            raise OTTLSemanticError(f'path "{path.text()}": cache is only accessible in its own context')
        return
    rules = _CONTEXT_PATHS[context]
    if head.name not in rules:
        raise OTTLSemanticError(
            f'segment "{head.name}" from path "{path.text()}" is not a valid path for the {context} context'
        )
    keys_ok, sub_field, since = rules[head.name]
    if since is not None and _version(spec.min_version) < _version(since):
        raise OTTLSemanticError(
            f'path "{path.text()}" needs collector-contrib >= {since}, '
            f"but these configs support {spec.min_version}"
        )
    if head.keys and not keys_ok:
        raise OTTLSemanticError(f'path "{path.text()}": {head.name} cannot be indexed')
    if len(rest) > 2 or (len(rest) == 2 and rest[1].name != sub_field):
        raise OTTLSemanticError(f'path "{path.text()}": unexpected segment after "{head.name}"')


def _iter_values(value: Value | FunctionRef) -> Iterator[Value | FunctionRef]:
    yield value
    if isinstance(value, Call):
        for arg in value.args:
            yield from _iter_values(arg.value)
    elif isinstance(value, ListValue):
        for item in value.items:
            yield from _iter_values(item)
    elif isinstance(value, MapValue):
        for _, item in value.items:
            yield from _iter_values(item)
    elif isinstance(value, MathExpr):
        yield from _iter_values(value.left)
        yield from _iter_values(value.right)


def _check_call_shape(call: Call, table: Mapping[str, Function], kind: str) -> Function:
    fn = table.get(call.name)
    if fn is None:
        raise OTTLSemanticError(f"undefined {kind} '{call.name}'")
    if not fn.min_args <= len(call.args) <= fn.max_args:
        raise OTTLSemanticError(
            f"{kind} '{call.name}' takes {fn.min_args}..{fn.max_args} arguments, got {len(call.args)}"
        )
    if fn.regex_arg is not None and fn.regex_arg < len(call.args):
        pattern = call.args[fn.regex_arg].value
        if isinstance(pattern, Lit) and pattern.kind == "string":
            try:
                re.compile(str(pattern.value))
            except re.error as exc:
                raise OTTLSemanticError(f"{call.name}: invalid regex {pattern.value!r}: {exc}") from exc
    return fn


def _check_value(value: Value | FunctionRef, spec: ContextSpec) -> None:
    for node in _iter_values(value):
        if isinstance(node, Path):
            check_path(node, spec)
        elif isinstance(node, Call):
            if node.is_editor:
                raise OTTLSemanticError(
                    f"converter names must start with an uppercase letter but got '{node.name}'"
                )
            _check_call_shape(node, spec.converters, "converter")
        elif isinstance(node, EnumSymbol):
            if node.name not in LOG_ENUMS and node.name not in spec.converters:
                raise OTTLSemanticError(f"enum symbol, {node.name}, not found")
        elif isinstance(node, FunctionRef) and node.name not in spec.converters:
            raise OTTLSemanticError(f"undefined function '{node.name}' passed as an argument")


def _check_bool(expr: BoolExpr, spec: ContextSpec) -> None:
    if isinstance(expr, Comparison):
        _check_value(expr.left, spec)
        _check_value(expr.right, spec)
    elif isinstance(expr, Not):
        _check_bool(expr.operand, spec)
    elif isinstance(expr, (And, Or)):
        for item in expr.items:
            _check_bool(item, spec)
    elif isinstance(expr, ConstCall):
        fn = _check_call_shape(expr.call, spec.converters, "converter")
        _check_value(expr.call, spec)
        if not fn.returns_bool:
            raise OTTLSemanticError(f"converter '{expr.call.name}' does not return a boolean condition")


def check_statement(text: str, spec: ContextSpec) -> Statement:
    """Parse and validate a statement; raise OTTLError when the collector would reject it."""
    stmt = parse_statement(text)
    editor = stmt.editor
    if editor.keys:
        raise OTTLSemanticError(
            f"only paths and converters may be indexed, not editors, but got {editor.name}"
        )
    fn = _check_call_shape(editor, spec.editors, "editor")
    if fn.target_is_path and not isinstance(editor.args[0].value, Path):
        raise OTTLSemanticError(f"the first argument of {editor.name} must be a path to the field it changes")
    for arg in editor.args:
        _check_value(arg.value, spec)
    if stmt.where is not None:
        _check_bool(stmt.where, spec)
    return stmt


def check_condition(text: str, spec: ContextSpec) -> BoolExpr:
    """Parse and validate a condition; raise OTTLError when the collector would reject it."""
    expr = parse_condition(text)
    _check_bool(expr, spec)
    return expr
