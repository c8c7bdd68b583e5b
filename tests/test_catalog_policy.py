"""CatalogPolicy on captured events: each violation type, each mode, PII rules, arbitrary payloads."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_telemetry import TelemetryError
from otel_telemetry.catalog import (
    DEPRECATED_ATTRIBUTE,
    REPLACED_BY_ATTRIBUTE,
    VIOLATIONS_ATTRIBUTE,
    CatalogPolicy,
    catalog_from_dict,
)
from otel_telemetry.event import CapturedEvent
from otel_telemetry.identity import salted_hash

SALT = "project-salt"

DOCUMENT: dict[str, Any] = {
    "version": 1,
    "common": {
        "userProperties": {"email": {"type": "string", "pii": "hash"}, "role": {"type": "string"}},
        "groupProperties": {"plan": {"type": "string", "enum": ["free", "pro"]}},
    },
    "events": {
        "didCreateEntry": {
            "description": "An entry was created.",
            "owner": "content",
            "eventProperties": {
                "status": {"type": "string", "required": True, "enum": ["draft", "published"]},
                "count": {"type": "integer"},
                "ratio": {"type": "number"},
                "ok": {"type": "boolean"},
                "tags": {"type": "list", "items": "string", "pattern": "^[a-z]+$"},
                "slug": {"type": "string", "pattern": "^[a-z-]+$"},
                "settings.locale": {"type": "string", "required": True},
                "clientIp": {"type": "string", "pii": "drop"},
                "token": {"type": "string", "pii": "hash"},
            },
        },
        "didOld": {
            "description": "Old.",
            "owner": "content",
            "status": "deprecated",
            "replaced_by": "didCreateEntry",
        },
    },
}
CATALOG = catalog_from_dict(DOCUMENT)
VALID = {"status": "draft", "settings": {"locale": "en"}}


def event(
    name: str = "didCreateEntry",
    ep: dict[str, Any] | None = None,
    up: dict[str, Any] | None = None,
    gp: dict[str, Any] | None = None,
    annotations: dict[str, Any] | None = None,
) -> CapturedEvent:
    return CapturedEvent(name, 1, ep, up, gp, None, 0, 0, 0, None, annotations)


def policy(mode: str = "warn", strict: bool = False) -> CatalogPolicy:
    return CatalogPolicy(CATALOG, mode, lambda: SALT, strict=strict)


def labels(result: CapturedEvent | None) -> tuple[str, ...]:
    assert result is not None
    return tuple((result.annotations or {}).get(VIOLATIONS_ATTRIBUTE, ()))


def test_a_conforming_event_passes_unchanged_in_every_mode() -> None:
    for mode in ("enforce", "warn", "off"):
        original = event(ep={**VALID, "count": 2, "ratio": 0.5, "ok": True, "tags": ["a", "b"]})
        checked = policy(mode)(original)
        assert checked is original


@pytest.mark.parametrize(
    ("name", "ep", "up", "gp", "expected"),
    [
        ("didNothing", None, None, None, "unplanned_event"),
        ("didCreateEntry", {**VALID, "extra": 1}, None, None, "unplanned_property:eventProperties.extra"),
        (
            "didCreateEntry",
            {**VALID, "settings": {"locale": "en", "x": 1}},
            None,
            None,
            "unplanned_property:eventProperties.settings.x",
        ),
        ("didCreateEntry", VALID, {"age": 3}, None, "unplanned_property:userProperties.age"),
        ("didCreateEntry", VALID, None, {"region": "eu"}, "unplanned_property:groupProperties.region"),
        (
            "didCreateEntry",
            {"settings": {"locale": "en"}},
            None,
            None,
            "required_missing:eventProperties.status",
        ),
        (
            "didCreateEntry",
            {"status": "draft"},
            None,
            None,
            "required_missing:eventProperties.settings.locale",
        ),
        ("didCreateEntry", {**VALID, "status": None}, None, None, "required_missing:eventProperties.status"),
        ("didCreateEntry", {**VALID, "count": "3"}, None, None, "type_mismatch:eventProperties.count"),
        ("didCreateEntry", {**VALID, "count": True}, None, None, "type_mismatch:eventProperties.count"),
        ("didCreateEntry", {**VALID, "count": 1.5}, None, None, "type_mismatch:eventProperties.count"),
        ("didCreateEntry", {**VALID, "ratio": "1"}, None, None, "type_mismatch:eventProperties.ratio"),
        ("didCreateEntry", {**VALID, "ok": 1}, None, None, "type_mismatch:eventProperties.ok"),
        ("didCreateEntry", {**VALID, "tags": "a"}, None, None, "type_mismatch:eventProperties.tags"),
        ("didCreateEntry", {**VALID, "tags": ["a", 1]}, None, None, "type_mismatch:eventProperties.tags"),
        (
            "didCreateEntry",
            {**VALID, "settings": "en"},
            None,
            None,
            "unplanned_property:eventProperties.settings",
        ),
        (
            "didCreateEntry",
            {**VALID, "status": "deleted"},
            None,
            None,
            "value_not_allowed:eventProperties.status",
        ),
        (
            "didCreateEntry",
            {**VALID, "slug": "Not A Slug"},
            None,
            None,
            "value_not_allowed:eventProperties.slug",
        ),
        (
            "didCreateEntry",
            {**VALID, "tags": ["ok", "NO"]},
            None,
            None,
            "value_not_allowed:eventProperties.tags",
        ),
        ("didCreateEntry", VALID, None, {"plan": "gold"}, "value_not_allowed:groupProperties.plan"),
        ("didOld", None, None, None, "deprecated_event"),
    ],
)
def test_each_violation_type_is_classified_and_annotated_in_warn_mode(
    name: str, ep: Any, up: Any, gp: Any, expected: str
) -> None:
    checker = policy("warn")
    result = checker(event(name, ep, up, gp))
    if expected == "deprecated_event":
        assert result is not None and result.annotations == {
            DEPRECATED_ATTRIBUTE: True,
            REPLACED_BY_ATTRIBUTE: "didCreateEntry",
        }
    else:
        assert expected in labels(result)
    assert checker.violations[expected.split(":")[0]] >= 1


def test_flat_dotted_keys_and_nested_maps_are_the_same_property() -> None:
    checker = policy("enforce")
    assert checker(event(ep={"status": "draft", "settings.locale": "en"})) is not None
    assert checker(event(ep={"status": "draft", "settings": {"locale": "en"}})) is not None
    assert checker.violations == {}


def test_enforce_drops_a_violating_event_and_counts_it() -> None:
    checker = policy("enforce")
    assert checker(event(ep={**VALID, "count": "x"})) is None
    assert checker(event("didNothing")) is None
    assert checker.violations == {"type_mismatch": 1, "unplanned_event": 1}
    assert checker.drop_reason == "catalog"


def test_enforce_still_delivers_a_deprecated_event_marked_deprecated_not_violating() -> None:
    checker = policy("enforce")
    result = checker(event("didOld"))
    assert labels(result) == ()
    assert result is not None and result.annotations is not None
    assert result.annotations[DEPRECATED_ATTRIBUTE] is True
    assert checker.violations == {"deprecated_event": 1}


def test_a_deprecated_event_with_other_violations_lists_only_those() -> None:
    result = policy("warn")(event("didOld", ep={"x": 1}))
    assert labels(result) == ("unplanned_property:eventProperties.x",)


def test_strict_enforce_raises_an_error_naming_the_field_and_the_rule() -> None:
    with pytest.raises(TelemetryError) as raised:
        policy("enforce", strict=True)(event(ep={**VALID, "count": "x"}))
    assert raised.value.field == "eventProperties.count"
    assert "type_mismatch" in raised.value.rule and "expected integer, got str" in raised.value.rule
    with pytest.raises(TelemetryError) as unplanned:
        policy("enforce", strict=True)(event("didNothing"))
    assert unplanned.value.field == "event_name"


def test_strict_warn_does_not_raise() -> None:
    assert labels(policy("warn", strict=True)(event(ep={**VALID, "count": "x"}))) != ()


def test_off_mode_reports_nothing_but_still_applies_pii_rules() -> None:
    checker = policy("off")
    result = checker(event("didNothing", up={"email": "a@b.c"}))
    assert result is not None and result.annotations is None
    assert result.user_properties == {"email": salted_hash("a@b.c", SALT)}
    assert checker.violations == {}


def test_warn_keeps_existing_annotations_of_earlier_policies() -> None:
    result = policy("warn")(event(ep={**VALID, "extra": 1}, annotations={"app.tag": "x"}))
    assert result is not None and result.annotations is not None
    assert result.annotations["app.tag"] == "x"


def test_pii_hash_replaces_the_value_with_the_salted_hash_and_drop_removes_it() -> None:
    original = event(
        ep={**VALID, "clientIp": "10.1.2.3", "token": "s3cret"}, up={"email": "a@b.c", "role": "x"}
    )
    result = policy("enforce")(original)
    assert result is not None
    assert result.event_properties is not None and "clientIp" not in result.event_properties
    assert result.event_properties["token"] == salted_hash("s3cret", SALT)
    assert result.user_properties == {"email": salted_hash("a@b.c", SALT), "role": "x"}
    assert original.event_properties is not None and original.event_properties["clientIp"] == "10.1.2.3"


def test_pii_rules_apply_to_unplanned_events_and_to_values_of_the_wrong_type() -> None:
    result = policy("warn")(event("didNothing", up={"email": {"nested": "a@b.c"}}))
    assert result is not None and result.user_properties is not None
    assert "a@b.c" not in repr(result.user_properties)


def test_a_key_marked_pii_by_one_event_is_protected_in_events_that_do_not_declare_it() -> None:
    for name in ("didOld", "didNothing"):
        result = policy("warn")(
            event(name, ep={"clientIp": "10.1.2.3", "token": "s3cret", "settings": {"a": 1}})
        )
        assert result is not None and result.event_properties is not None
        assert "clientIp" not in result.event_properties
        assert result.event_properties["token"] == salted_hash("s3cret", SALT)
        assert result.event_properties["settings"] == {"a": 1}


def test_a_cyclic_or_very_deep_payload_is_reported_not_recursed_forever() -> None:
    cyclic: dict[str, Any] = {"a": 1}
    cyclic["self"] = cyclic
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(100):
        deep = {"d": deep}
    result = policy("warn")(event(ep={**VALID, "cyclic": cyclic, "deep": deep}))
    found = labels(result)
    assert "unplanned_property:eventProperties.cyclic.a" in found
    assert any(label.startswith("unplanned_property:eventProperties.deep.d.d.") for label in found)


def test_a_hashed_value_that_json_cannot_encode_is_still_hashed() -> None:
    deep: list[Any] = ["pii-deep"]
    for _ in range(1500):  # deeper than the interpreter's recursion limit
        deep = [deep]
    cyclic: dict[str, Any] = {"pii": "pii-cyclic"}
    cyclic["self"] = cyclic
    for value in (deep, cyclic, {1: "pii-mixed", "a": 2}):
        result = policy("warn")(event(ep=VALID, up={"email": value}))
        assert result is not None and result.user_properties is not None
        assert "pii-" not in repr(result.user_properties)


def test_a_required_property_given_twice_does_not_hide_another_missing_one() -> None:
    result = policy("warn")(event(ep={"settings.locale": "en", "settings": {"locale": "fr"}}))
    assert labels(result) == ("required_missing:eventProperties.status",)


def test_a_property_given_both_flat_and_nested_is_one_violation_label() -> None:
    result = policy("warn")(event(ep={**VALID, "x.y": 1, "x": {"y": 2}}))
    assert labels(result) == ("unplanned_property:eventProperties.x.y",)
    assert result is not None and result.annotations is not None
    assert DEPRECATED_ATTRIBUTE not in result.annotations


def test_the_user_id_key_in_user_properties_is_always_allowed() -> None:
    result = policy("enforce")(event(ep=VALID, up={"userId": "u1"}))
    assert result is not None


def test_violation_messages_never_contain_the_value(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="otel_telemetry")
    secret = "value-that-must-not-be-logged"
    checker = policy("warn")
    result = checker(event(ep={**VALID, "status": secret, "count": secret, "extra": secret}))
    assert result is not None
    assert secret not in repr(result.annotations)
    assert secret not in caplog.text
    assert "value_not_allowed" in caplog.text


def test_the_first_violation_of_each_type_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="otel_telemetry")
    checker = policy("warn")
    for _ in range(3):
        checker(event(ep={**VALID, "extra": 1}))
    assert caplog.text.count("unplanned_property") == 2  # the kind, and "further unplanned_property ..."
    assert checker.violations == {"unplanned_property": 3}


def test_an_unknown_mode_is_an_error_naming_catalog_mode() -> None:
    with pytest.raises(TelemetryError) as raised:
        CatalogPolicy(CATALOG, "block")
    assert raised.value.field == "catalog_mode"


# -- arbitrary payloads ------------------------------------------------------------------------

_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.binary(max_size=4),
    st.sampled_from(["draft", "published", "en", "a@b.c"]),
)
_keys = st.one_of(
    st.sampled_from(
        [
            "status",
            "count",
            "ratio",
            "ok",
            "tags",
            "slug",
            "settings",
            "locale",
            "clientIp",
            "token",
            "email",
            "role",
            "plan",
            "userId",
            "settings.locale",
        ]
    ),
    st.text(max_size=6),
    st.integers(),
)
_values = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner),
        st.dictionaries(_keys, inner, max_size=3),
        st.frozensets(st.integers(), max_size=3),
    ),
    max_leaves=8,
)
_groups = st.one_of(st.none(), st.dictionaries(_keys, _values, max_size=5))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(["didCreateEntry", "didOld", "didNothing"]),
    ep=_groups,
    up=_groups,
    gp=_groups,
    mode=st.sampled_from(["enforce", "warn", "off"]),
)
def test_arbitrary_payloads_never_make_the_policy_raise_in_lenient_mode(
    name: str, ep: Any, up: Any, gp: Any, mode: str
) -> None:
    checker = policy(mode)
    result = checker(event(name, ep, up, gp))
    if result is not None:
        for group in (result.event_properties, result.user_properties, result.group_properties):
            assert group is None or isinstance(group, dict)
        # a value declared pii: hash never survives as given, one declared pii: drop never survives
        if isinstance(up, dict) and isinstance(up.get("email"), str) and up["email"]:
            assert result.user_properties is not None
            assert result.user_properties["email"] != up["email"]
        if isinstance(ep, dict) and ep.get("clientIp") is not None:
            assert result.event_properties is None or "clientIp" not in result.event_properties
    elif mode != "enforce":
        pytest.fail("only enforce mode drops events")
