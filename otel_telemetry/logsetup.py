"""otel-telemetry's own log lines reach standard error only when someone asked for them.

An end user of an instrumented command-line tool must not see a warning because a collector is
down. Python prints warnings of a library that has no handler (its "last resort" handler); a
:class:`logging.NullHandler` on the ``otel_telemetry`` logger stops that, as the logging HOWTO
advises libraries. The app's own logging configuration still gets every line (they propagate
to the root logger), and ``OTEL_TELEMETRY_LOG_LEVEL`` (``debug``, ``info``, ``warning``,
``error``) prints them to standard error from that level for anyone running the tool.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping


class _StderrHandler(logging.Handler):
    """Writes to the *current* ``sys.stderr`` (tests and apps may replace it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


_installed: logging.Logger | None = None


def install(environ: Mapping[str, str] | None = None) -> logging.Logger:
    """The ``otel_telemetry`` logger, its handlers set up once: a ``NullHandler`` (nothing on
    stderr by itself), and a stderr handler if ``OTEL_TELEMETRY_LOG_LEVEL`` asks for one."""
    global _installed
    if _installed is not None and environ is None:
        return _installed
    from .settings import log_level_from_env

    log = logging.getLogger("otel_telemetry")
    if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
        log.addHandler(logging.NullHandler())
    level = log_level_from_env(environ)
    if level is not None:
        if not any(isinstance(h, _StderrHandler) for h in log.handlers):
            handler = _StderrHandler()
            handler.setFormatter(logging.Formatter("%(message)s"))
            log.addHandler(handler)
        log.setLevel(min(level, log.level) if log.level else level)
    _installed = log
    return log
