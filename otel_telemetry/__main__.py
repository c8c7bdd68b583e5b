"""``python -m otel_telemetry``: the ``otel-telemetry`` command line."""

from .console import main

if __name__ == "__main__":
    main()
