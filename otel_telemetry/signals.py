"""SIGTERM: deliver what is queued before the default action kills the process.

SIGTERM's default action ends a process at once: no ``atexit``, no ``finally``, so what the
sender still held was lost. What a library may do, and what this module does:

* It takes SIGTERM **only when nobody handles it** (``SIG_DFL``), from the main thread, when
  this process first sends. An app's or a server's own handler (gunicorn, uvicorn, Celery,
  ``signal.signal`` in the app) is never replaced, wrapped or reordered: those handlers end the
  process through a normal exit (``atexit``, multiprocessing finalizers) that delivers, or
  through their own shutdown hooks (the ASGI middleware's ``lifespan`` shutdown).
* On SIGTERM it shuts every sender down within its exit timeout (queued events go to the
  collector, or to the spool when there is one) on a helper thread, while the app goes on; then
  it restores ``SIG_DFL`` and raises SIGTERM again, so the process still dies of SIGTERM: same
  exit status, same meaning for supervisors.
* An app that sets its own handler later simply replaces ours; ``OTEL_TELEMETRY_SIGTERM=false``
  keeps the library away from signals altogether.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
from types import FrameType

from .threads import background_thread

logger = logging.getLogger("otel_telemetry")

ENV = "OTEL_TELEMETRY_SIGTERM"
_FALSY = frozenset({"0", "false", "no", "off", "n", "f"})
#: Added to the exit timeouts: how long interpreter exit waits for a delivery SIGTERM began.
MARGIN_S = 1.0
_helper: threading.Thread | None = None
_delivered = False


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


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Start delivering on a helper thread and return at once; once it is done, the helper
    signals again and this handler lets SIGTERM's default action end the process.

    The handler never waits itself: it runs on the main thread between two bytecodes, possibly
    inside one of our locks (a ``send()`` waking the export thread, an exit path's shutdown),
    which the export thread may need to finish.
    """
    global _helper
    if _delivered:
        _die()
        return
    if _helper is not None:
        return  # delivery under way: the helper signals again when it is done
    helper = background_thread(_deliver_then_signal, "otel-telemetry-sigterm")
    budget = _exit_budget()
    try:
        helper.start()
    except RuntimeError:  # the interpreter is shutting down: no thread can deliver
        _die()
        return
    _helper = helper
    # If the app's main thread ends meanwhile, interpreter exit waits for the delivery first
    # (registered last, this runs before the other exit handlers).
    atexit.register(helper.join, budget)


def _deliver_then_signal() -> None:
    global _delivered
    from .processes import deliver_all

    try:
        deliver_all()  # every live sender, each within its exit timeout
    finally:
        _delivered = True
        # To the main thread: a process-wide signal may be taken by this thread instead, and a
        # main thread blocked in C (a multiprocessing worker waiting on its task queue's lock,
        # which Pool.terminate() holds) would then never run the handler, and never die.
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGTERM)


def _exit_budget() -> float:
    from .telemetry import _instances

    return sum(instance.delivery.exit_timeout_s for instance in list(_instances)) + MARGIN_S


def _die() -> None:
    """Die of SIGTERM as if we had never been here (same exit status)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.raise_signal(signal.SIGTERM)


def _forget_after_fork() -> None:
    global _helper, _delivered
    _helper, _delivered = None, False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
