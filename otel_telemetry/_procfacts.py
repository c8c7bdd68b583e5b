"""Facts about this process, and starting a detached Python child: what the exit handler and the
deferred ``send()`` both need, with nothing but ``os`` and ``time`` (``import otel_telemetry``
loads this module, so it must stay cheap).
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

_imported_at = time.monotonic()


def process_age_s() -> float:
    """Seconds since this process started (Linux: from ``/proc``; else since the import)."""
    try:
        with open("/proc/self/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return max(time.clock_gettime(time.CLOCK_BOOTTIME) - started, 0.0)
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic() - _imported_at


def same_command_as_parent() -> bool:
    """True if the parent runs the same command line (Linux): a worker forked before
    otel-telemetry was imported (a fork does not ``exec``)."""
    try:
        with open("/proc/self/cmdline", "rb") as own, open(f"/proc/{os.getppid()}/cmdline", "rb") as parent:
            return own.read() == parent.read()
    except OSError:
        return False


def state_dir(environ: Mapping[str, str] | None = None) -> str:
    """Where otel-telemetry keeps its state: ``$OTEL_TELEMETRY_STATE_DIR``, else the XDG state
    directory (``$XDG_STATE_HOME/otel-telemetry``, ``~/.local/state/otel-telemetry``)."""
    env = os.environ if environ is None else environ
    explicit = env.get("OTEL_TELEMETRY_STATE_DIR", "").strip()
    if explicit:
        return explicit
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "otel-telemetry")


def handoff_root(environ: Mapping[str, str] | None = None) -> str:
    """The hand-off areas' directory: ``$OTEL_TELEMETRY_HANDOFF_DIR``, else ``<state>/handoff``."""
    env = os.environ if environ is None else environ
    return env.get("OTEL_TELEMETRY_HANDOFF_DIR", "").strip() or os.path.join(state_dir(env), "handoff")


def package_root() -> str:
    """The directory holding the ``otel_telemetry`` package (a child finds the same copy)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def spawn_python(module: str, env: dict[str, str]) -> int | None:
    """Start ``python -m module`` detached; its pid, or None when no process can be started.

    The child gets its own session (a Ctrl-C or hang-up of the terminal does not reach it), the
    standard streams on ``/dev/null`` (a pipe the caller reads sees EOF when the program exits)
    and no other descriptor (Python opens files non-inheritable). ``env`` is the child's whole
    environment; the package's directory is put first on its ``PYTHONPATH``.
    """
    executable = sys.executable
    if not executable:
        return None
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root(), env.get("PYTHONPATH", "")) if p)
    argv = [executable, "-m", module]
    if hasattr(os, "posix_spawn"):
        devnull = os.devnull
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, devnull, os.O_WRONLY, 0),
        ]
        try:
            return os.posix_spawn(executable, argv, env, file_actions=actions, setsid=True)
        except OSError:
            return None
    import subprocess  # pragma: no cover - platforms without posix_spawn

    try:  # pragma: no cover
        flags = getattr(subprocess, "DETACHED_PROCESS", 0)
        child = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            creationflags=flags,
        )
        return child.pid
    except OSError:  # pragma: no cover
        return None
