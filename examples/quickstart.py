"""Quickstart: one line to send an event.

Run `otel-telemetry serve` (or any OpenTelemetry collector) and then `python examples/quickstart.py`.
Where events go comes from the standard variables (OTEL_EXPORTER_OTLP_ENDPOINT, ..._PROTOCOL);
the default is http://localhost:4318.
"""

import otel_telemetry

otel_telemetry.send(
    "didInitializeProject",
    {
        "eventProperties": {"template": "blog", "typescript": True},
        "userProperties": {"role": "developer"},
        "groupProperties": {"projectType": "Community"},
    },
)

# Events are exported in the background; a short script waits for them before exiting
# (a flush also happens automatically at exit, bounded by OTEL_TELEMETRY_EXIT_TIMEOUT).
delivered = otel_telemetry.flush(timeout_s=10)
print("delivered" if delivered else "not delivered (is a collector running? try `otel-telemetry doctor`)")
raise SystemExit(0 if delivered else 1)
