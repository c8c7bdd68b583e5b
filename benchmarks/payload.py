"""The representative event every system sends, in the shape each SDK takes.

5 event properties (two strings, a bool, an int, a list), 4 user properties, 4 group
properties: a Strapi ``didCreateEntry``-like event. Payloads are built once, before timing.
"""

from __future__ import annotations

from typing import Any

EVENT_NAME = "didCreateEntry"
USER_ID = "user-4242"

EVENT_PROPERTIES: dict[str, Any] = {
    "model": "api::article.article",
    "source": "admin",
    "draft": True,
    "fields": 7,
    "locales": ["en", "fr", "de"],
}
USER_PROPERTIES: dict[str, Any] = {"role": "admin", "locale": "en", "plan": "pro", "seats": 5}
GROUP_PROPERTIES: dict[str, Any] = {
    "projectType": "Community",
    "database": "postgres",
    "nodeVersion": "v20.11.1",
    "useTypescriptOnServer": True,
}

#: ``send(EVENT_NAME, PAYLOAD)``: the Strapi payload shape otel-telemetry takes.
PAYLOAD: dict[str, Any] = {
    "eventProperties": EVENT_PROPERTIES,
    "userProperties": USER_PROPERTIES,
    "groupProperties": GROUP_PROPERTIES,
}


def otel_attributes() -> dict[str, Any]:
    """What a raw-SDK user emits for the same event: event properties plus ``user.*`` keys.

    Group properties go on the provider's resource, as otel-telemetry puts them.
    """
    attributes = dict(EVENT_PROPERTIES)
    attributes.update({f"user.{key}": value for key, value in USER_PROPERTIES.items()})
    return attributes


def flat_properties() -> dict[str, Any]:
    """Event, user and group properties in one dict, for SDKs with only one property map."""
    properties = dict(EVENT_PROPERTIES)
    properties.update({f"user_{key}": value for key, value in USER_PROPERTIES.items()})
    properties.update({f"group_{key}": value for key, value in GROUP_PROPERTIES.items()})
    return properties
