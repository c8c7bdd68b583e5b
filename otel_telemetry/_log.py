"""otel-telemetry's logger, set up on first use.

Importing :mod:`logging` costs a command-line tool a few milliseconds at startup, and most runs
never log anything; so the modules on the sending path log through this proxy, which imports
:mod:`logging` and installs the library's handlers (:mod:`otel_telemetry.logsetup`) the first
time a line is logged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging


class _Logger:
    """Forwards every attribute to the ``otel_telemetry`` logger, created on first access."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        from .logsetup import install

        return getattr(install(), name)


#: The ``otel_telemetry`` logger (typed as one; the real one is made on first use).
logger: logging.Logger = _Logger()  # type: ignore[assignment]
