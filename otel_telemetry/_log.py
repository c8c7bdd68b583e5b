"""otel-telemetry's logger, set up on first use.

Importing :mod:`logging` costs a command-line tool a few milliseconds at startup, and most runs
never log anything; so the modules on the sending path log through this proxy, which imports
:mod:`logging` and installs the library's handlers (:mod:`otel_telemetry.logsetup`) the first
time a line is logged.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging


class _Logger:
    """Forwards every attribute to the ``otel_telemetry`` logger, created on first access."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        from .logsetup import install

        logging_imported = "logging" in sys.modules
        if logging_imported:
            return getattr(install(), name)
        from . import processes

        # ``import logging`` registers fork handlers: a fork in another thread meanwhile would
        # run only half of them (and break logging's lock in the child): forks wait
        with processes.fork_waits():
            return getattr(install(), name)


#: The ``otel_telemetry`` logger (typed as one; the real one is made on first use).
logger: logging.Logger = _Logger()  # type: ignore[assignment]
