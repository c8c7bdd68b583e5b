"""A tiny app whose tests (test_shop.py) check its telemetry with otel-telemetry's pytest plugin."""

from __future__ import annotations

import otel_telemetry


def sign_up(email: str, plan: str) -> None:
    """Create an account; reports which plan was chosen (the e-mail becomes a salted hash)."""
    otel_telemetry.send(
        "didSignUp",
        {"eventProperties": {"plan": plan}, "userProperties": {"referred": False}},
        user_id=email,
    )


def checkout(email: str, items: list[str], *, coupon: str | None = None) -> float:
    """Buy ``items``; reports the basket size and whether a coupon was used, never the items."""
    total = round(9.5 * len(items) * (0.8 if coupon else 1.0), 2)
    otel_telemetry.send(
        "didCheckout",
        event_properties={"items": len(items), "coupon": coupon is not None, "total": total},
        user_id=email,
    )
    return total
