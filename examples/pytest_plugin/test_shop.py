"""An app's own tests of its telemetry, with the plugin that ships with otel-telemetry.

Run: ``pytest examples/pytest_plugin``. The ``telemetry_events`` fixture captures what the app's
``send()`` calls would export; nothing leaves the process, and nothing would even without the
fixture: a test session exports no telemetry unless ``otel_telemetry_network = allow``.
"""

from __future__ import annotations

import pytest
import shop

from otel_telemetry.testing import Capture


def test_sign_up_reports_the_plan(telemetry_events: Capture) -> None:
    shop.sign_up("ada@example.com", "pro")

    event = telemetry_events.assert_sent("didSignUp", plan="pro")
    assert event.to_payload()["userProperties"]["referred"] is False
    assert "ada@example.com" not in str(event.attributes)  # only the salted hash travels


def test_checkout_reports_the_basket_not_the_items(telemetry_events: Capture) -> None:
    shop.checkout("ada@example.com", ["book", "pen"], coupon="SPRING")

    telemetry_events.assert_sent("didCheckout", {"items": 2, "coupon": True})
    telemetry_events.assert_not_sent("didSignUp")
    assert telemetry_events.snapshot() == [
        {
            "event": "didCheckout",
            "eventProperties": {"coupon": True, "items": 2, "total": 15.2},
            "userProperties": {"hash": "<user 1>"},
            "groupProperties": {},
        }
    ]


@pytest.mark.telemetry
def test_each_test_starts_with_an_empty_capture(telemetry_events: Capture) -> None:
    assert len(telemetry_events) == 0
    for _ in range(3):
        shop.sign_up("bob@example.com", "free")
    telemetry_events.assert_count(3, "didSignUp")
