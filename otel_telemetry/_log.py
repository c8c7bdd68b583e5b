"""otel-telemetry's logger, its handlers set up on first use (:mod:`otel_telemetry.logsetup`).

The modules of the sending path log through this proxy: the library's handlers (a
``NullHandler``, and stderr when ``OTEL_TELEMETRY_LOG_LEVEL`` asks) are in place before any line
is logged, whoever imports which module first. :mod:`otel_telemetry.processes` imports :mod:`logging`
before it registers its fork hooks; a module used on its own imports it here, with forks held off.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from typing import Any


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
