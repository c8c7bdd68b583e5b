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
  it ends the process with SIGTERM's default action: same exit status, same meaning for
  supervisors.
* It does not depend on the main thread running Python code. CPython runs a signal handler
  only when the main thread next executes bytecode, and a signal that lands just before the main
  thread enters a blocking call (a multiprocessing worker waiting on its task queue's lock,
  which ``Pool.terminate()`` holds for good) is noted but never handled: the worker would wait
  forever. Python also writes every handled signal's number to the wakeup fd
  (:func:`signal.set_wakeup_fd`), from whichever thread the kernel picked, so when no one else
  uses that fd a watcher thread of ours reads it, starts the delivery, and the helper ends the
  process itself.
* An app that sets its own handler later simply replaces ours (the watcher then ignores
  SIGTERM); ``OTEL_TELEMETRY_SIGTERM=false`` keeps the library away from signals altogether.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
import time

from . import _deferred
from .threads import background_thread, green_threading

TYPE_CHECKING = False
if TYPE_CHECKING:  # (loaded by the first send() of a short-lived program: kept light)
    from types import FrameType

ENV = "OTEL_TELEMETRY_SIGTERM"
_FALSY = frozenset({"0", "false", "no", "off", "n", "f"})
#: Added to the exit timeouts: how long interpreter exit waits for a delivery SIGTERM began.
MARGIN_S = 1.0
_lock = threading.RLock()  # the handler and the watcher may both begin the delivery
_helper: threading.Thread | None = None
_delivered = False
_wakeup: tuple[int, int] | None = None  # our pipe (read end, write end) given to set_wakeup_fd
_spare = -1  # a second descriptor of the write end, to put it back after a fork
_fork_pipe: tuple[int, int] | None = None  # stands in for the write end while a fork is under way
_forks = 0  # forks under way in this process (threads may fork at once)
_forks_lock = threading.Lock()
_rearming = False  # :func:`_rearm_after_asyncio` is registered
_pid = os.getpid()  # whose module state this is (a forked child before its hook ran sees the parent's)
_missed = False  # a forked child's handler ran before the child's hook: the hook begins delivery
#: In a forked child until its ``os.fork()`` returned: the frame that called it, and the
#: instruction it stood at (the call). The call has returned, and with it every after-fork hook
#: has run, once that frame stands elsewhere.
_fork_call: tuple[FrameType, int] | None = None
#: How long a child's delivery waits for its ``os.fork()`` to return (its after-fork hooks to
#: run). Longer only where the fork never returns to Python (``subprocess``'s ``preexec_fn``).
FORK_RETURN_WAIT_S = 2.0


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
        if current is not _on_sigterm:
            if current is not signal.SIG_DFL:
                return False
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # not the main interpreter, or a platform without it
        return False
    _watch_wakeup_fd()
    return True


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Start delivering on a helper thread and return at once (the helper ends the process).

    The handler never waits itself: it runs on the main thread between two bytecodes, possibly
    inside one of our locks (a ``send()`` waking the export thread, an exit path's shutdown),
    which the export thread may need to finish.
    """
    if _delivered:
        _die()
        return
    _begin_delivery()


def _begin_delivery() -> None:
    """Start the delivery helper once, from the handler or the watcher, whichever is first.

    In a forked child whose after-fork hook has not run yet, the handler may run inside an
    earlier hook (``threading``'s, which forgets a thread started meanwhile): the delivery is
    left to the child's hook (:func:`_after_fork_in_child`).
    """
    global _helper, _missed
    if _pid != os.getpid() and _forks:  # (a fork made without the hooks, by C code, has no _forks)
        _missed = True
        return
    with _lock:
        if _helper is not None or _delivered:
            return
        _helper = helper = background_thread(_deliver_then_die, "otel-telemetry-sigterm")
        try:
            helper.start()
        except RuntimeError:  # the interpreter is shutting down: no thread can deliver
            _die_from_any_thread()
            return
    # If the app's main thread ends meanwhile, interpreter exit waits for the delivery first
    # (registered last, this runs before the other exit handlers).
    atexit.register(helper.join, _exit_budget())


def _deliver_then_die() -> None:
    global _delivered
    try:
        _wait_for_fork_to_return()
        _deferred.on_sigterm()  # what waits there goes to its detached sender first
        if not _deferred.waiting():  # the rest is loaded: every live sender
            from .processes import deliver_all

            deliver_all()  # each within its exit timeout
    finally:
        _delivered = True
        _die_from_any_thread()


def _wait_for_fork_to_return() -> None:
    """In a forked child, signalled while its ``os.fork()`` was still running the after-fork
    hooks: wait until they all ran. Hooks registered after ours put fresh locks in the child
    (``logging``'s, a pipeline's): a delivery started before them would wait on an inherited
    lock forever, and the child would never end.

    It reads one attribute of one frame, which the forking thread took itself. Looking at the
    main thread's stack from here (``sys._current_frames()``) changes how its frames are freed:
    pool workers then lost a batch now and then, each time with "SystemError: deallocated
    BytesIO object has exported buffers" printed from a garbage collection on the export thread
    (Python 3.12). The watcher drops the frame once the fork has returned.
    """
    global _fork_call
    call = _fork_call
    deadline = time.monotonic() + FORK_RETURN_WAIT_S
    while call is not None and call[0].f_lasti == call[1] and time.monotonic() < deadline:
        time.sleep(0.001)
    _fork_call = None


def _exit_budget() -> float:
    """The senders' exit timeouts, plus a margin. Never imports (this runs in the handler, which
    may have interrupted the import of the very module: the first ``send()`` loading the rest)."""
    telemetry = sys.modules.get("otel_telemetry.telemetry")
    instances = list(getattr(telemetry, "_instances", ()))
    return float(sum(instance.delivery.exit_timeout_s for instance in instances)) + MARGIN_S


def _die() -> None:
    """Die of SIGTERM as if we had never been here (same exit status); main thread only."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.raise_signal(signal.SIGTERM)


def _die_from_any_thread() -> None:
    """Die of SIGTERM from whichever thread we are on, without waiting for the main thread.

    ``signal.signal`` works only on the main thread, which may be stuck in a blocking call, so
    the default action is restored through libc; without ctypes, the main thread is signalled
    and its handler (seeing the delivery done) dies.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.signal.restype = ctypes.c_void_p  # sighandler_t
        libc.signal.argtypes = (ctypes.c_int, ctypes.c_void_p)
        libc.signal(signal.SIGTERM, signal.SIG_DFL.value)
    except (ImportError, OSError, AttributeError):
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGTERM)
        return
    os.kill(os.getpid(), signal.SIGTERM)


def _watch_wakeup_fd() -> None:
    """Give Python's wakeup fd a pipe of ours, read by a watcher thread, unless it is taken."""
    global _wakeup, _spare
    if _wakeup is not None or sys.platform == "win32" or green_threading() is not None:
        return  # Windows: the wakeup fd must be a socket. gevent: os.read would block every greenlet
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    if not _set_wakeup_fd(write_end):  # someone else's (asyncio's): our handler alone acts
        os.close(read_end)
        os.close(write_end)
        return
    _wakeup = (read_end, write_end)
    _spare = os.dup(write_end)
    background_thread(lambda: _watch(read_end), "otel-telemetry-signals").start()


def _watch(read_end: int) -> None:
    _wait_for_fork_to_return()  # (in a forked child: what it reads waits in the pipe meanwhile)
    while True:
        try:
            data = os.read(read_end, 64)
        except OSError:  # closed (a forked child re-made its own)
            return
        if not data:
            return
        if signal.SIGTERM in data and signal.getsignal(signal.SIGTERM) is _on_sigterm:
            _begin_delivery()


def _before_fork() -> None:
    """While a fork is under way, the wakeup fd leads into a pipe of this fork's own.

    CPython forgets, in the child, a signal caught before the child's interpreter was ready
    (``Pool.terminate()`` can signal a worker that has not run yet): its handler never runs.
    The byte the signal wrote still sits in this pipe, where the child's after-fork hook finds
    it. Nor can a child's signal reach our pipe, where our watcher would take it for ours.
    ``dup2`` works from any thread, unlike ``set_wakeup_fd``; the parent's own handler runs
    as usual meanwhile.
    """
    global _forks, _fork_pipe, _rearming
    if not _rearming and "asyncio.events" in sys.modules and _wakeup is not None:
        _rearming = True  # (registered now, it runs after asyncio's in this fork's child too)
        os.register_at_fork(after_in_child=_rearm_after_asyncio)
    with _forks_lock:
        _forks += 1
        if _forks == 1 and _wakeup is not None:
            _fork_pipe = os.pipe()
            for fd in _fork_pipe:
                os.set_blocking(fd, False)
            os.dup2(_fork_pipe[1], _wakeup[1], inheritable=False)


def _after_fork_in_parent() -> None:
    global _forks, _fork_pipe
    with _forks_lock:
        _forks -= 1
        if _forks == 0 and _wakeup is not None:
            os.dup2(_spare, _wakeup[1], inheritable=False)
            _close(*(_fork_pipe or ()))
            _fork_pipe = None


def _after_fork_in_child() -> None:
    """A forked child: a fresh delivery state, its own wakeup pipe and watcher (the inherited
    ones are the parent's), and a SIGTERM caught before it was ready acted on (its delivery
    waits for the fork to return: :func:`_wait_for_fork_to_return`)."""
    global _helper, _delivered, _wakeup, _lock, _forks, _forks_lock, _spare, _fork_pipe, _pid
    global _missed, _fork_call
    with contextlib.suppress(ValueError):  # (no Python frame called the fork)
        caller = sys._getframe(1)  # the hooks run inside the os.fork() call
        _fork_call = (caller, caller.f_lasti)
    _helper, _delivered, _lock = None, False, threading.RLock()
    _forks, _forks_lock = 0, threading.Lock()
    _pid, missed, _missed = os.getpid(), _missed, False
    if _wakeup is None:
        if missed:
            _begin_delivery()
        return
    caught = b""
    if _fork_pipe is not None:
        with contextlib.suppress(OSError):  # empty: no signal came
            caught = os.read(_fork_pipe[0], 512)
        _close(*_fork_pipe)
        _fork_pipe = None
    _set_wakeup_fd(-1, ours=_wakeup[1])  # (the parent's pipe: the child makes its own)
    _close(*_wakeup, _spare)
    _wakeup, _spare = None, -1
    if signal.getsignal(signal.SIGTERM) is _on_sigterm:
        _watch_wakeup_fd()
        if missed or signal.SIGTERM in caught:
            _begin_delivery()


def _rearm_after_asyncio() -> None:
    """asyncio's after-fork hook (Python 3.12+) clears the wakeup fd in every child, after ours
    gave the child its pipe: put the pipe back, or the watcher would never see a signal."""
    if _wakeup is not None and signal.getsignal(signal.SIGTERM) is _on_sigterm:
        _set_wakeup_fd(_wakeup[1], ours=_wakeup[1])


def _set_wakeup_fd(fd: int, ours: int = -1) -> bool:
    """Make ``fd`` Python's wakeup fd, unless it holds someone else's (neither free nor
    ``ours``): theirs stays. False then, or off the main thread (a fork from another thread)."""
    try:
        previous = signal.set_wakeup_fd(fd, warn_on_full_buffer=False)
    except (ValueError, OSError):  # not the main thread or interpreter
        return False
    if previous in (-1, ours):
        return True
    signal.set_wakeup_fd(previous)
    return False


def _close(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
    )
