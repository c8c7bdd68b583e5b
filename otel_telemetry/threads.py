"""Background threads that leave signals to the app's main thread.

A signal sent to the process goes to any one of its threads that does not block it. Python runs
its handlers only on the main thread, and only once that thread wakes: if the kernel picks one
of our threads while the main thread is blocked in C, the main thread is not interrupted and
the app's handler waits until it returns. Our threads therefore block the signals apps and
servers handle, so those signals reach the main thread and interrupt what it waits on, as if we
had no threads at all. Threads they start (gRPC's) inherit the mask. (Our own SIGTERM delivery
does not rely on this: ``signals`` also watches Python's wakeup fd.)
"""

from __future__ import annotations

import os
import signal
import sys
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

#: The asynchronous signals apps and servers install handlers for (never the synchronous
#: ones such as SIGSEGV, which must reach the thread that caused them).
_FOR_THE_MAIN_THREAD = frozenset(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD")
    if hasattr(signal, name)
)


def background_thread(target: Callable[[], object], name: str) -> threading.Thread:
    """A daemon thread running ``target`` with the app's signals blocked (not started)."""

    def run() -> None:
        if hasattr(signal, "pthread_sigmask") and not _on_the_main_os_thread():
            signal.pthread_sigmask(signal.SIG_BLOCK, _FOR_THE_MAIN_THREAD)
        target()

    return threading.Thread(target=run, name=name, daemon=True)


def _on_the_main_os_thread() -> bool:
    """True for a greenlet of gevent's patched threading, which runs on the main OS thread:
    blocking there would keep the app's own signals (a worker's SIGTERM) from it for good. On
    Linux the main thread's id is the pid (``main_thread()`` is stale in a worker gevent patched
    after a fork)."""
    native = threading.get_native_id()
    return native == os.getpid() or native == threading.main_thread().native_id


def green_threading(modules: Mapping[str, Any] | None = None) -> str | None:
    """``"gevent"`` or ``"eventlet"`` when that library patched threading (our threads are then
    greenlets on the main OS thread), else None."""
    modules = sys.modules if modules is None else modules
    monkey = modules.get("gevent.monkey")
    if monkey is not None and _patched(monkey, "is_module_patched", "threading"):
        return "gevent"
    patcher = modules.get("eventlet.patcher")
    if patcher is not None and _patched(patcher, "is_monkey_patched", "thread"):
        return "eventlet"
    return None


def _patched(module: Any, function: str, name: str) -> bool:
    try:
        return bool(getattr(module, function)(name))
    except Exception:
        return False
