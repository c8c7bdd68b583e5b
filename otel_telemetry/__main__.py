"""``python -m otel_telemetry``: the ``otel-telemetry`` command line."""

from .cli import main

if __name__ == "__main__":
    main(prog_name="otel-telemetry")
