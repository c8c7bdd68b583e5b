"""SIGTERM: deliver what is queued before the default action kills the process.

SIGTERM's default action ends a process at once: no ``atexit``, no ``finally``, so what the
sender still held was lost. What a library may do, and what this module does:

* It takes SIGTERM **only when nobody handles it** (``SIG_DFL``), from the main thread, when
  this process first sends. An app's or a server's own handler (gunicorn, uvicorn, Celery,
  ``signal.signal`` in the app) is never replaced, wrapped or reordered: those handlers end the
  process through a normal exit (``atexit``, multiprocessing finalizers) that delivers, or
  through their own shutdown hooks (the ASGI middleware's ``lifespan`` shutdown).
* On SIGTERM it shuts every sender down within its exit timeout (queued events go to the
  collector, or to the spool when there is one), then restores ``SIG_DFL`` and raises SIGTERM
  again, so the process still dies of SIGTERM: same exit status, same meaning for supervisors.
* An app that sets its own handler later simply replaces ours; ``OTEL_TELEMETRY_SIGTERM=false``
  keeps the library away from signals altogether.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

ENV = "OTEL_TELEMETRY_SIGTERM"
_FALSY = frozenset({"0", "false", "no", "off", "n", "f"})
#: Added to the exit timeout: the shutdown runs on a helper thread joined for this long at most.
MARGIN_S = 1.0


def enabled() -> bool:
    """False when ``OTEL_TELEMETRY_SIGTERM`` is set to a false value (``false``, ``0``, ``no``...)."""
    return os.environ.get(ENV, "").strip().lower() not in _FALSY


def install() -> bool:
    """Take SIGTERM if nobody handles it and we are on the main thread; True if ours is in place."""
    if not hasattr(signal, "SIGTERM") or not enabled():
        return False
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        current = signal.getsignal(signal.SIGTERM)
        if current is _on_sigterm:
            return True
        if current is not signal.SIG_DFL:
            return False
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # not the main interpreter, or a platform without it
        return False
    return True


def _exit_budget() -> float:
    from .telemetry import _instances

    return sum(instance.delivery.exit_timeout_s for instance in list(_instances)) + MARGIN_S


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Deliver, then die of SIGTERM as if we had never been here."""
    from .processes import deliver_all, wait_for_closing_senders

    # On a helper thread: the main thread may have been interrupted inside one of our locks.
    helper = threading.Thread(target=deliver_all, name="otel-telemetry-sigterm", daemon=True)
    helper.start()
    helper.join(_exit_budget())
    wait_for_closing_senders()  # an exit path we interrupted had begun a shutdown: let it finish
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.raise_signal(signal.SIGTERM)
