"""Runtime traps: process models and runtimes where queued events can be lost or stuck, and
what the app must do about each (``docs/processes.md``).

Every check is cheap (``sys.modules``, ``sys.argv``, environment variables; nothing imported):
:func:`find_traps` runs once per process when the export thread starts, which logs the traps
that need the app's action, and in ``otel-telemetry doctor``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._log import logger
from .threads import green_threading


@dataclass(frozen=True)
class Trap:
    """One finding: ``action`` is True when the app must change something."""

    name: str
    message: str
    action: bool


def _uwsgi_threads(uwsgi: Any) -> bool | None:
    """Whether this uWSGI runs Python threads (None: cannot tell)."""
    opt = getattr(uwsgi, "opt", None)
    if not isinstance(opt, Mapping):
        return None
    for key in ("enable-threads", b"enable-threads", "threads", b"threads"):
        value = opt.get(key)
        if value not in (None, False, b"0", "0", b"false", "false"):
            return True
    return False


def _uwsgi_env_threads(environ: Mapping[str, str]) -> bool:
    return any(environ.get(name) for name in ("UWSGI_ENABLE_THREADS", "UWSGI_THREADS"))


def find_traps(
    modules: Mapping[str, Any] | None = None,
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    protocol: str | None = None,
) -> list[Trap]:
    """The traps visible in this process (defaults: ``sys.modules``, ``sys.argv``, ``os.environ``;
    ``protocol``: the OTLP protocol in use, else read from the environment)."""
    modules = sys.modules if modules is None else modules
    argv = sys.argv if argv is None else argv
    environ = os.environ if environ is None else environ
    if protocol is None:
        protocol = environ.get("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL") or environ.get(
            "OTEL_EXPORTER_OTLP_PROTOCOL"
        )
    grpc = (protocol or "").strip() == "grpc"
    traps: list[Trap] = []
    uwsgi = modules.get("uwsgi")
    program = os.path.basename(argv[0]) if argv else ""
    uwsgi_env = any(name.startswith("UWSGI_") for name in environ)
    if uwsgi is not None or "uwsgi" in program or uwsgi_env:
        threads = _uwsgi_threads(uwsgi) if uwsgi is not None else None
        if not threads and not _uwsgi_env_threads(environ):
            traps.append(
                Trap(
                    "uwsgi-threads",
                    "uWSGI without enable-threads: Python threads never run, so events are never "
                    "exported; start uWSGI with --enable-threads (or --threads N)",
                    True,
                )
            )
    gunicorn_args = " ".join([*argv, environ.get("GUNICORN_CMD_ARGS", "")])
    gunicorn = "gunicorn" in modules or "gunicorn" in program or "GUNICORN_CMD_ARGS" in environ
    if gunicorn and "--preload" in gunicorn_args:
        traps.append(
            Trap(
                "gunicorn-preload",
                "gunicorn --preload: the app is imported in the master and its workers are forked "
                "from it; each worker re-creates its sender after fork (handled), and events sent at "
                "import time are the master's, delivered when the master exits",
                False,
            )
        )
    green = green_threading(modules)
    if green is not None:
        traps.append(_green_trap(green, modules, grpc))
    if getattr(sys, "frozen", False):
        traps.append(
            Trap(
                "frozen",
                "frozen executable (PyInstaller, cx_Freeze...): call multiprocessing.freeze_support() "
                "first thing in __main__ (spawned workers re-run the executable), and set "
                "OTEL_SERVICE_NAME: entry-point resource detectors may be missing",
                True,
            )
        )
    return traps


def _green_trap(library: str, modules: Mapping[str, Any], grpc: bool) -> Trap:
    advice = ""
    if grpc and "grpc.experimental.gevent" not in modules:
        advice = (
            "; gRPC's C core is not greenlet-aware: call grpc.experimental.gevent.init_gevent() "
            "right after patching, or use OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"
        )
    return Trap(
        library,
        f"{library} has patched threading: the export thread is a greenlet that runs only when the "
        f"app yields (a CPU-bound loop delays export){advice}",
        bool(advice),
    )


def log_traps() -> None:
    """Log, once per process, the traps that need the app's action (a warning each)."""
    try:
        traps = find_traps()
    except Exception:  # a diagnostic must never break sending
        logger.debug("otel-telemetry: trap detection failed", exc_info=True)
        return
    for trap in traps:
        if trap.action:
            logger.warning("otel-telemetry: %s", trap.message)
