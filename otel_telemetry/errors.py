"""The one exception otel-telemetry raises into the host application (strict mode only)."""

from __future__ import annotations


class TelemetryError(ValueError):
    """Bad input to ``send()`` in strict mode, or a bad configuration value.

    ``field`` names what was wrong (``"event_name"``, ``"eventProperties.model"``,
    ``"OTEL_BLRP_MAX_QUEUE_SIZE"``) and ``rule`` the rule it broke, so the message can be
    acted on without reading the source.
    """

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule
