"""Default properties ("super properties"): merged under every call's own, group by group.

``DefaultProperties(event={"edition": "community"}, user={"plan": "free"})`` adds those keys
to each event's ``eventProperties`` / ``userProperties`` unless the call gives the same key
(the call wins). The merge happens before capture, as plain dicts, so the usual checks and
the one frozen copy apply to the result; a group the call gives in a form ``send()`` refuses
is left as it is, to be refused with its usual message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_PAYLOAD_KEYS = ("eventProperties", "userProperties", "groupProperties")

Groups = tuple["Mapping[str, Any] | None", "Mapping[str, Any] | None", "Mapping[str, Any] | None"]


def _under(default: Mapping[str, Any], in_payload: object, given: object) -> Any:
    """``default`` under the payload's group and the keyword's group (which the capture merges
    over the payload's). Returns ``given`` unchanged when a group is not a mapping."""
    if not default:
        return given
    if given is not None and not isinstance(given, Mapping):
        return given
    if in_payload is not None and not isinstance(in_payload, Mapping):
        return given
    merged = dict(default)
    if in_payload:
        merged.update(in_payload)
    if given:
        merged.update(given)
    return merged


def merge_defaults(
    defaults: tuple[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]],
    payload: object,
    event_properties: Mapping[str, Any] | None,
    user_properties: Mapping[str, Any] | None,
    group_properties: Mapping[str, Any] | None,
) -> Groups:
    """The three keyword groups with the defaults merged under (payload groups included)."""
    get = payload.get if isinstance(payload, Mapping) else None
    given = (event_properties, user_properties, group_properties)
    return (
        _under(defaults[0], get(_PAYLOAD_KEYS[0]) if get else None, given[0]),
        _under(defaults[1], get(_PAYLOAD_KEYS[1]) if get else None, given[1]),
        _under(defaults[2], get(_PAYLOAD_KEYS[2]) if get else None, given[2]),
    )
