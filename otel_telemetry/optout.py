"""Opt-out: when telemetry is off, nothing is sent and no connection is opened.

Strapi's rule is that a truthy ``STRAPI_TELEMETRY_DISABLED`` switches telemetry off; we honour
the app's own variable (``disable_env``), ``DO_NOT_TRACK`` (consoledonottrack.com) and the
OpenTelemetry SDK's ``OTEL_SDK_DISABLED``.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_DISABLE_ENV = "OTEL_TELEMETRY_DISABLED"
_TRUTHY = frozenset({"1", "true", "yes", "on", "y", "t"})


def is_truthy(value: str | None) -> bool:
    """Strapi-style truthiness: ``1``/``true``/``yes``/``on`` (any case, spaces ignored)."""
    return value is not None and value.strip().lower() in _TRUTHY


def disabled_reason(
    environ: Mapping[str, str],
    *,
    disabled: bool | None = None,
    disable_env: str = DEFAULT_DISABLE_ENV,
) -> str | None:
    """Why telemetry is off, or ``None`` when it is on.

    An explicit ``disabled=False`` does not override the user's environment: a person who set
    ``DO_NOT_TRACK=1`` is never tracked by an app that forgot to ask.
    """
    if disabled:
        return "disabled=True"
    for name in dict.fromkeys((disable_env, DEFAULT_DISABLE_ENV)):
        if is_truthy(environ.get(name)):
            return f"{name}={environ[name]}"
    if is_truthy(environ.get("DO_NOT_TRACK")):
        return f"DO_NOT_TRACK={environ['DO_NOT_TRACK']}"
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return "OTEL_SDK_DISABLED=true"
    return None
