"""Benchmarks: otel-telemetry against the raw OpenTelemetry SDK and analytics SDKs, side by side.

``python -m benchmarks`` (or ``python benchmarks/run.py``) runs every system in its own
subprocess against local sinks and writes ``benchmarks/RESULTS.md`` and a chart. See
``benchmarks/README.md`` for what is measured and how.
"""
