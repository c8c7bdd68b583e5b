"""The OTTL parser used by the config checks: grammar, contexts, and that it is not a catch-all."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from . import ottl
from .ottl import ContextSpec, OTTLError, check_condition, check_statement, parse_statement, tokenize

LOG = ContextSpec("log", "prefixed")
LOG_LEGACY = ContextSpec("log", "legacy")
LOG_INFERRED = ContextSpec("log", "required")
RESOURCE = ContextSpec("resource", "prefixed")


def kinds(text: str) -> list[tuple[str, str]]:
    return [(t.kind, t.value) for t in tokenize(text)]


def test_lexer_applies_the_rules_in_grammar_order() -> None:
    assert kinds("not nothing and android or origin") == [
        ("OpNot", "not"),
        ("Lowercase", "nothing"),
        ("OpAnd", "and"),
        ("Lowercase", "android"),
        ("OpOr", "or"),
        ("Lowercase", "origin"),
    ]
    assert kinds('1.5 -2 .5 0xFF "a\\"b" == != >= = ') == [
        ("Float", "1.5"),
        ("Int", "-2"),
        ("Float", ".5"),
        ("Bytes", "0xFF"),
        ("String", '"a\\"b"'),
        ("OpComparison", "=="),
        ("OpComparison", "!="),
        ("OpComparison", ">="),
        ("Equal", "="),
    ]
    assert kinds("IsMatch SEVERITY_NUMBER_INFO event_name") == [
        ("Uppercase", "I"),
        ("Lowercase", "s"),
        ("Uppercase", "M"),
        ("Lowercase", "atch"),
        ("Uppercase", "SEVERITY_NUMBER_INFO"),
        ("Lowercase", "event_name"),
    ]


def test_lexer_rejects_characters_outside_the_grammar() -> None:
    for text in ("set(attributes['x'], 1)", "set(x, 1) where a == 1 && b == 2", "set(x, $y)"):
        with pytest.raises(ottl.OTTLSyntaxError, match="invalid character"):
            tokenize(text)


def test_statement_tree_keeps_editor_arguments_paths_and_where_clause() -> None:
    stmt = parse_statement('set(log.attributes["a"], SHA256(log.attributes["b"])) where log.event_name != ""')
    assert stmt.editor.name == "set" and stmt.editor.is_editor
    target, value = (arg.value for arg in stmt.editor.args)
    assert isinstance(target, ottl.Path) and target.context == "log"
    assert target.fields == (ottl.PathField("attributes", (ottl.Key(string="a"),)),)
    assert isinstance(value, ottl.Call) and value.name == "SHA256" and not value.is_editor
    assert isinstance(stmt.where, ottl.Comparison) and stmt.where.op == "!="


def test_boolean_precedence_is_and_over_or() -> None:
    expr = ottl.parse_condition("a == 1 or b == 2 and not c == 3")
    assert isinstance(expr, ottl.Or)
    left, right = expr.items
    assert isinstance(left, ottl.Comparison)
    assert isinstance(right, ottl.And) and isinstance(right.items[1], ottl.Not)


VALID_LOG_STATEMENTS = [
    'set(log.attributes["otel.event.name"], log.event_name) where log.event_name != ""',
    'set(attributes["otel.event.name"], event_name)',
    'set(log.attributes["h"], SHA256(Concat(["salt", log.attributes["user.id"]], ""))) '
    'where log.attributes["user.id"] != nil and log.attributes["user.hash"] == nil',
    'delete_key(log.attributes, "user.id")',
    'delete_matching_keys(log.attributes, "(?i)(password|secret|token)")',
    'keep_keys(log.attributes, ["a", "b"])',
    'set(log.severity_number, SEVERITY_NUMBER_WARN) where IsMatch(log.body, "^warn")',
    'set(log.attributes["n"], Len(log.attributes["tags"]) * 2 + 1)',
    'set(log.attributes["m"], {"k": [1, 2.5, true, nil, "x"]})',
    'replace_pattern(log.attributes["email"], "@.*", "@redacted", SHA256, "%s")',
    'set(log.body.string, "x") where (log.severity_number >= 9 or log.event_name == "a") and not false',
    'merge_maps(log.attributes, ParseJSON(log.body)["props"], "upsert") where IsString(log.body)',
    'set(log.attributes["scope"], instrumentation_scope.name)',
    "flatten(log.attributes, depth=2)",
    'set(log.cache["x"], 1)',
    'set(log.attributes["tid"], log.trace_id.string)',
]


@pytest.mark.parametrize("text", VALID_LOG_STATEMENTS)
def test_valid_log_statement_is_accepted(text: str) -> None:
    check_statement(text, LOG)


INVALID_LOG_STATEMENTS = [
    ('set(log.attributes["x"], 1', "expected an editor call"),
    ('set(log.attributes["x"] 1)', "expected an editor call"),
    ('set(log.attributes["x"], 1))', "expected end of statement"),
    ('set(log.attributes["x"], 1) when log.event_name == ""', "expected end of statement or 'where'"),
    ('set(log.attributes["x"], 1) where', "expected a boolean expression after 'where'"),
    ('set(log.attributes["x"], 1) where log.event_name', "expected a boolean expression"),
    ('set(log.attributes["x"], 1) where log.event_name = "a"', "expected a boolean expression"),
    ("set(log.attributes[x], 1)", "expected an editor call"),
    ('Set(log.attributes["x"], 1)', "editor names must start with a lowercase letter"),
    ('set(log.attributes["x"], concat(["a"], ""))', "converter names must start with an uppercase letter"),
    ('set(log.attributes["x"], Nope(1))', "undefined converter 'Nope'"),
    ('nope(log.attributes["x"])', "undefined editor 'nope'"),
    ('set(log.attributes["x"])', "takes 2..2 arguments"),
    ('set("x", 1)', "must be a path"),
    ("set(log.event, 1)", 'segment "event" from path "log.event"'),
    ("set(log.attributes.x, 1)", 'unexpected segment after "attributes"'),
    ('set(log.event_name["k"], "x")', "event_name cannot be indexed"),
    ('set(span.attributes["x"], 1)', 'segment "span"'),
    ('set(log.attributes["x"], SEVERITY_NUMBER_LOUD)', "enum symbol, SEVERITY_NUMBER_LOUD, not found"),
    ('delete_matching_keys(log.attributes, "([unclosed")', "invalid regex"),
    ('set(log.attributes["x"], 1) where SHA256("a")', "does not return a boolean condition"),
    ('delete_key(log.attributes, "a")["b"]', "only paths and converters may be indexed"),
    ('set(log.attributes["x"], resource)', 'segment "resource" from path "resource" is not a valid path'),
]


@pytest.mark.parametrize(
    ("text", "expected"), INVALID_LOG_STATEMENTS, ids=[t for t, _ in INVALID_LOG_STATEMENTS]
)
def test_invalid_log_statement_is_rejected(text: str, expected: str) -> None:
    with pytest.raises(OTTLError, match=re.escape(expected)):
        check_statement(text, LOG)


def test_log_event_name_needs_a_collector_that_knows_the_path() -> None:
    check_statement('set(log.attributes["e"], log.event_name)', ContextSpec("log", min_version="0.128.0"))
    with pytest.raises(OTTLError, match=r"needs collector-contrib >= 0.128.0"):
        check_statement('set(log.attributes["e"], log.event_name)', ContextSpec("log", min_version="0.127.0"))


def test_path_prefixes_follow_each_parser_mode() -> None:
    # legacy parsers (filter logs.log_record, routing with an explicit context)
    check_condition('event_name == "" and resource.attributes["service.name"] != nil', LOG_LEGACY)
    with pytest.raises(OTTLError, match=re.escape('"log." prefix')):
        check_condition('log.event_name == ""', LOG_LEGACY)
    # structured transform groups: prefix optional
    check_condition('log.event_name == "" and event_name == ""', LOG)
    # context inference: prefix required
    check_condition('log.event_name == "" and resource.attributes["a"] == nil', LOG_INFERRED)
    with pytest.raises(OTTLError, match="missing context name"):
        check_condition('event_name == ""', LOG_INFERRED)
    # a resource group cannot reach log fields
    check_statement('delete_key(resource.attributes, "host.ip")', RESOURCE)
    with pytest.raises(OTTLError, match=re.escape('segment "log" from path "log.event_name"')):
        check_statement('set(resource.attributes["e"], log.event_name)', RESOURCE)


# ---------------------------------------------------------------- generated statements
_MAP_PATHS = st.sampled_from(["log.attributes", "attributes", "resource.attributes", "log.cache"])
_KEY = st.text(alphabet="abcdefghijklmnopqrstuvwxyz._-", min_size=1, max_size=12)
_STRING = st.text(alphabet="abcdefghij KLMNOP0123456789._-:/", max_size=16).map(lambda s: f'"{s}"')
_SCALAR_PATHS = st.sampled_from(
    [
        "log.event_name",
        "event_name",
        "log.body",
        "log.severity_number",
        "log.severity_text",
        "log.trace_id.string",
        "body.string",
        "instrumentation_scope.name",
        "log.time_unix_nano",
    ]
)


@st.composite
def keyed_path(draw: st.DrawFn) -> str:
    return f'{draw(_MAP_PATHS)}["{draw(_KEY)}"]'


_PATHS = st.one_of(_SCALAR_PATHS, keyed_path())
_LITERALS = st.one_of(
    _STRING,
    st.integers(-(10**6), 10**6).map(str),
    st.floats(-1000, 1000, allow_nan=False, allow_infinity=False).map(lambda f: f"{f:.3f}"),
    st.sampled_from(["true", "false", "nil", "SEVERITY_NUMBER_INFO"]),
)


def _values(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        children.map(lambda v: f"SHA256({v})"),
        children.map(lambda v: f"String({v})"),
        st.lists(children, min_size=1, max_size=3).map(lambda vs: f'Concat([{", ".join(vs)}], "-")'),
        st.tuples(children, children).map(lambda vs: f"[{vs[0]}, {vs[1]}]"),
    )


VALUES = st.recursive(st.one_of(_PATHS, _LITERALS), _values, max_leaves=6)


def _conditions(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["and", "or"]), children).map(" ".join),
        children.map(lambda c: f"not ({c})"),
        children.map(lambda c: f"({c})"),
    )


COMPARISONS = st.tuples(VALUES, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), VALUES).map(" ".join)
CONDITIONS = st.recursive(
    st.one_of(COMPARISONS, keyed_path().map(lambda p: f'IsMatch({p}, "^a.*")'), st.sampled_from(["true"])),
    _conditions,
    max_leaves=5,
)
EDITOR_CALLS = st.one_of(
    st.tuples(_PATHS, VALUES).map(lambda a: f"set({a[0]}, {a[1]})"),
    st.tuples(_MAP_PATHS, _STRING).map(lambda a: f"delete_key({a[0]}, {a[1]})"),
    st.tuples(_MAP_PATHS, st.lists(_STRING, min_size=1, max_size=3)).map(
        lambda a: f"keep_keys({a[0]}, [{', '.join(a[1])}])"
    ),
)


@given(call=EDITOR_CALLS, where=st.one_of(st.none(), CONDITIONS))
@settings(max_examples=300, deadline=None)
def test_generated_statements_of_the_grammar_are_accepted(call: str, where: str | None) -> None:
    text = call if where is None else f"{call} where {where}"
    check_statement(text, LOG)


@given(call=EDITOR_CALLS, data=st.data())
@settings(max_examples=300, deadline=None)
def test_any_cut_inside_the_editor_call_is_rejected(call: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(call) - 1))
    with pytest.raises(OTTLError):
        check_statement(call[:cut], LOG)


@given(call=EDITOR_CALLS, where=CONDITIONS, data=st.data())
@settings(max_examples=200, deadline=None)
def test_dropping_a_closing_parenthesis_or_a_quote_is_rejected(
    call: str, where: str, data: st.DataObject
) -> None:
    text = f"{call} where {where}"
    positions = [i for i, ch in enumerate(text) if ch in ')"']
    i = data.draw(st.sampled_from(positions))
    with pytest.raises(OTTLError):
        check_statement(text[:i] + text[i + 1 :], LOG)
