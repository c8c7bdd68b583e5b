"""The module-level ``send()``, which lets a short-lived program skip loading otel-telemetry.

``import otel_telemetry`` loads this module and little else. In a plain program (not forked,
not a pool worker, on its main thread, with no setting that changes what ``send()`` does in
the caller: ``docs/short-lived.md``), ``send()`` copies each event here and returns. Then:

- the program exits within :data:`DEFER_S`: the events are written to a job file and a
  detached child (:mod:`otel_telemetry.deferred_sender`) loads otel-telemetry and sends them
  the way the program would have (settings from the same environment); the program never
  loads the rest of the library;
- the program lives longer: after :data:`DEFER_S`, a background thread loads the rest and
  replays the events into the default instance (with their own timestamps; forks wait for it,
  :func:`_before_fork`); a later ``send()`` goes straight to the default instance;
- the program forks first (a server's master, a pool): the events stay the parent's (the child
  starts with none) and the parent stops deferring; they go out as in a program that keeps
  running, unless its next ``send()``, ``flush()`` or ``stats()`` loads the rest first on that
  thread, or it exits first (:func:`_after_fork_in_parent`);
- anything else the app calls (``configure``, ``flush``, ``stats``, ``get_default`` ...) loads
  the rest first and replays what waits here, so it sees every event.

An event is copied only if it is plain data (str, int, finite float, bool, None, bytes, and
dicts with str keys, lists and tuples of them); anything else loads the rest at once, so every
value is treated exactly as ``Telemetry.send`` treats it. Nothing here imports more than ``os``,
``sys`` and ``time`` until it has to.
"""

from __future__ import annotations

import _thread
import atexit
import os
import sys
import time

from ._procfacts import handoff_root, same_command_as_parent, spawn_python

TYPE_CHECKING = False
if TYPE_CHECKING:  # (``typing`` itself costs a few ms at import)
    from collections.abc import Callable, Mapping
    from datetime import datetime
    from typing import Any

#: How long events may wait here in a program that keeps running.
DEFER_S = 0.5
#: At most this many events wait; the next one loads the rest.
MAX_DEFERRED = 1000
#: ``OTEL_TELEMETRY_DEFER=0`` turns deferring off (every ``send()`` goes to the default instance).
ENV = "OTEL_TELEMETRY_DEFER"
#: The job file's path, for the detached child.
JOB_ENV = "OTEL_TELEMETRY_DEFERRED_JOB"
#: Where job files wait for their child, under the hand-off directory (``<state>/handoff``); a
#: child renames its job ``.taken`` while it works and deletes it once its events are handed on.
DEFERRED_DIR = "deferred"
#: Settings that change what ``send()`` does in the caller (raise, print, wait on a spool ...):
#: with one of them set, nothing is deferred.
CALLER_VISIBLE_ENV = (
    "OTEL_TELEMETRY_STRICT",
    "OTEL_TELEMETRY_DEBUG",
    "OTEL_TELEMETRY_LOG_LEVEL",
    "OTEL_TELEMETRY_CATALOG",
    "OTEL_TELEMETRY_CATALOG_MODE",
    "OTEL_TELEMETRY_SPOOL_DIR",
    "OTEL_TELEMETRY_SPOOL_SYNC",
    "OTEL_TELEMETRY_DISABLED",
    "DO_NOT_TRACK",
    "OTEL_SDK_DISABLED",
    "OTEL_LOGS_EXPORTER",
)
_FALSY = ("0", "false", "no", "off")
_MAX_NODES = 10_000
_MAX_DEPTH = 32

_lock = _thread.allocate_lock()
_guard = _thread.RLock()  # held while the rest loads, and around lazy imports: forks wait
_loading = _thread.RLock()  # held while the rest loads (the exit handler waits for it)
_events: list[tuple[Any, ...]] = []
_owner = os.getpid()  # whose events they are (a forked child may act before its fork hook ran)
_state = "fresh"  # "fresh" (not decided yet), "deferring", "off"
_first_at = 0.0
_after_exit = False
_blocked = False  # set by the pytest plugin: a test session never defers
_real_send: Callable[..., bool] | None = None
_handed_off = 0  # events handed to the deferred sender: the default instance's stats count them


class _NotPlain(Exception):
    """A value ``send()`` must see as it is (not plain data): no deferring for this event."""


def block() -> None:
    """Never defer in this process (the pytest plugin: tests capture and count in-process)."""
    global _blocked
    _blocked = True
    if _events:
        materialize()


def send(
    event_name: str,
    payload: Mapping[str, Any] | None = None,
    /,
    *,
    event_properties: Mapping[str, Any] | None = None,
    user_properties: Mapping[str, Any] | None = None,
    group_properties: Mapping[str, Any] | None = None,
    user_id: str | int | None = None,
    body: str | None = None,
    timestamp: datetime | int | None = None,
) -> bool:
    """Record one event on the default instance (``Telemetry.send``); see the module docstring."""
    args = (
        event_name,
        payload,
        event_properties,
        user_properties,
        group_properties,
        user_id,
        body,
        timestamp,
    )
    if _state != "off" and _defer(args):
        return True
    if _after_exit and _real_send is None and _hand_off_late(args):
        return True
    real = _real_send
    if real is None:
        materialize()
        real = _real_send
        assert real is not None
    return real(
        event_name,
        payload,
        event_properties=event_properties,
        user_properties=user_properties,
        group_properties=group_properties,
        user_id=user_id,
        body=body,
        timestamp=timestamp,
    )


def _defer(args: tuple[Any, ...]) -> bool:
    """Keep a copy of the event here; False if it must go to the default instance now."""
    global _state, _first_at
    capture = sys.modules.get("otel_telemetry._capture_hook")
    if capture is not None and capture.active is not None:
        return False
    with _lock:
        if _state == "fresh":
            _state = "deferring" if _may_defer() else "off"
        if _state != "deferring" or len(_events) >= MAX_DEFERRED or _forked:
            return False
        now = time.monotonic()
        if _events and now - _first_at > DEFER_S:
            return False  # a program that keeps running: load the rest now
        if _in_span():
            return False  # the trace context belongs to this moment
        copied = _copy(args)
        if copied is None:
            return False
        _events.append(copied)
        first = len(_events) == 1
        if first:
            _first_at = now
    if first:
        _start_timer()
        _take_sigterm()
    return True


def _hand_off_late(args: tuple[Any, ...]) -> bool:
    """A ``send()`` from an app's exit handler that runs after ours, the rest never loaded: the
    event goes to a detached child of its own (no thread can start now to send it)."""
    copied = _copy(args)
    return copied is not None and _hand_off([copied])


def _copy(args: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """The event as plain data with its timestamp (now, unless given as int nanoseconds); None
    if it must go through the real path as it is (a datetime timestamp, a value not plain)."""
    if args[7] is not None and type(args[7]) is not int:
        return None
    try:
        copied = tuple(_plain(value, 0, [0]) for value in args[:7])
    except _NotPlain:
        return None
    return (*copied, args[7] if args[7] is not None else time.time_ns())


def _may_defer() -> bool:
    """Whether this process defers at all (decided at its first ``send()``)."""
    environ = os.environ
    if _blocked or environ.get(ENV, "").strip().lower() in _FALSY:
        return False
    if any(environ.get(name) for name in CALLER_VISIBLE_ENV):
        return False
    if environ.get("OTEL_TELEMETRY_EXIT", "auto").strip().lower() not in ("auto", "handoff", ""):
        return False
    if _thread.get_ident() != _main_thread_ident() or sys.is_finalizing():
        return False
    if forked():
        return False
    if "gevent.monkey" in sys.modules or "eventlet.patcher" in sys.modules:
        from .threads import green_threading

        if green_threading() is not None:  # a green server: its start-up warnings (traps) now
            return False
    mp = sys.modules.get("multiprocessing")
    if mp is not None and mp.parent_process() is not None:
        return False
    return _job_directory() is not None  # (a read-only state directory: nowhere to hand off)


def _job_directory() -> str | None:
    """Where job files go, made if missing; None if it cannot be written."""
    directory = os.path.join(handoff_root(), DEFERRED_DIR)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError:
        return None
    return directory if os.access(directory, os.W_OK) else None


def _main_thread_ident() -> int | None:
    threading = sys.modules.get("threading")
    if threading is None:  # nothing started a thread: this is the main one
        return _thread.get_ident()
    return threading.main_thread().ident  # type: ignore[no-any-return]


def _in_span() -> bool:
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return False
    try:
        return bool(trace.get_current_span().get_span_context().is_valid)
    except Exception:
        return True


def _plain(value: Any, depth: int, nodes: list[int]) -> Any:
    """A copy of ``value`` made of plain literals, or :class:`_NotPlain`."""
    nodes[0] += 1
    if nodes[0] > _MAX_NODES or depth > _MAX_DEPTH:
        raise _NotPlain
    kind = type(value)
    if value is None or kind in (str, int, bool, bytes):
        return value
    if kind is float:
        if value != value or value in (float("inf"), float("-inf")):
            raise _NotPlain
        return value
    if kind is dict:
        copied = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain
            copied[key] = _plain(item, depth + 1, nodes)
        return copied
    if kind is list:
        return [_plain(item, depth + 1, nodes) for item in value]
    if kind is tuple:
        return tuple(_plain(item, depth + 1, nodes) for item in value)
    raise _NotPlain


def pending() -> bool:
    """Whether events wait here."""
    return bool(_events)


def waiting() -> bool:
    """Whether the default instance has not been given what waited here yet."""
    return _real_send is None


def _take() -> list[tuple[Any, ...]]:
    global _events, _state
    if _owner != os.getpid():  # a forked child, its fork hook not run yet (a signal handler
        _events, _state = [], "off"  # inside it): the events are the parent's
        return []
    with _lock:
        events, _events = _events, []
        _state = "off"
    return events


def materialize(taken: list[tuple[Any, ...]] | None = None) -> None:
    """Load the rest of otel-telemetry and replay into the default instance the events ``taken``
    from here earlier (a hand-off that could not be made), then those still waiting.

    Forks wait meanwhile (:func:`_before_fork`): this may run on any thread (a request thread's
    first ``send()``, the timer), and a child forked in the middle of an import would inherit
    that module half-imported, for good.
    """
    with _loading, _guard:
        _materialize(taken)
    if _after_exit:  # loaded at exit, or by an app's exit handler that runs after ours: exit.py
        _run_exit_handler()  # takes over (outside the guard: its flush waits on the export thread)


def _materialize(taken: list[tuple[Any, ...]] | None) -> None:
    global _real_send, _handed_off
    events = [*(taken or ()), *_take()]
    from . import _core, _default  # noqa: F401  (_core: the rest, and its logging set-up)

    _real_send = _default.send
    for event in events:
        _replay(_default.send, event)
    handed, _handed_off = _handed_off, 0
    if handed:  # accepted and handed off (so ``stats()`` still adds up)
        _default.get_default()._counters.hand_off_late(handed)


def _replay(send: Callable[..., bool], event: tuple[Any, ...]) -> None:
    name, payload, event_props, user_props, group_props, user_id, body, timestamp = event
    send(
        name,
        payload,
        event_properties=event_props,
        user_properties=user_props,
        group_properties=group_props,
        user_id=user_id,
        body=body,
        timestamp=timestamp,
    )


# -- a program that keeps running ---------------------------------------------------------------


def _start_timer() -> None:
    import threading

    with _suppress():  # (RuntimeError: the interpreter is shutting down; the exit handler acts)
        threading.Thread(target=_when_due, name="otel-telemetry-deferred", daemon=True).start()


def _when_due() -> None:
    """After :data:`DEFER_S` in a program that still runs (forked since or not): load the rest
    here and replay what still waits (a fork meanwhile waits for the load: :func:`_before_fork`)."""
    time.sleep(DEFER_S)
    if _events:
        materialize()


# -- forks ---------------------------------------------------------------------------------------

_forked = False


def forked() -> bool:
    """True in a process that forked, or was forked, since otel-telemetry was imported, or that
    runs its parent's command line (a worker forked before the import, Linux)."""
    return _forked or same_command_as_parent()


#: How long a fork waits for an import or set-up step under way on another thread (the load of
#: the rest, the export thread's lazy imports: :func:`otel_telemetry.processes.fork_waits`).
#: Set-up is short (milliseconds); the bound only matters if something else went badly wrong.
FORK_WAIT_S = 10.0
_fork_local = _thread._local()  # per forking thread: whether its before-fork hook took the guard


def _before_fork() -> None:
    """A fork waits while another thread loads the rest (:func:`materialize`): the child must
    not inherit a module half-imported, its import lock held by a thread it does not have.

    ``logging``'s fork hook takes its lock: if it ran before this one (registered later), its
    lock is given back while we wait (the load may need it), then taken again.

    Python runs the before-fork hooks registered when the fork began, and the after-fork hooks
    registered when it ends. A module the load imports meanwhile (``concurrent.futures.thread``,
    ``logging``) registers a pair whose first half this fork would skip, and whose second half
    then releases a lock nobody took ("RuntimeError: release unlocked lock" on the app's
    stderr): while this hook waits, such registrations are noted (:func:`_noting_registrations`)
    and their before-fork halves run here once the wait is over.
    """
    if _guard.acquire(False):
        _fork_local.held = True
        return
    logging = sys.modules.get("logging")
    lock = getattr(logging, "_lock", None)
    saved = lock._release_save() if lock is not None and lock._is_owned() else None
    with _noting_registrations() as registered:
        _fork_local.held = _guard.acquire(True, FORK_WAIT_S)
    if not _fork_local.held and "otel_telemetry._log" in sys.modules:
        sys.modules["otel_telemetry._log"].logger.warning(
            "otel-telemetry: fork() while another thread was busy setting up for %ss", FORK_WAIT_S
        )
    if lock is not None and saved is not None:
        lock._acquire_restore(saved)
    for before in reversed(registered):  # (Python runs them last registered, first)
        with _suppress():  # (as Python does: a failing hook does not stop the fork)
            before()


class _noting_registrations:
    """While in effect, ``os.register_at_fork`` also notes each ``before`` hook it registers
    (for every fork waiting at that moment: two threads may fork at once)."""

    def __enter__(self) -> list[Callable[[], object]]:
        global _registering
        self.noted: list[Callable[[], object]] = []
        if not _noting:
            _registering = os.register_at_fork
            os.register_at_fork = _register_noting
        _noting.append(self.noted)
        return self.noted

    def __exit__(self, *exc: object) -> None:
        _noting.remove(self.noted)
        if not _noting and os.register_at_fork is _register_noting:  # (not if patched since)
            os.register_at_fork = _registering


_noting: list[list[Callable[[], object]]] = []  # one list per fork waiting in its hook
#: The ``os.register_at_fork`` that :func:`_register_noting` stands in front of (none on Windows).
_registering: Any = getattr(os, "register_at_fork", None)  # (Any: it is put back into os)


def _register_noting(
    *,
    before: Callable[..., Any] | None = None,
    after_in_parent: Callable[..., Any] | None = None,
    after_in_child: Callable[..., Any] | None = None,
) -> None:
    given = {"before": before, "after_in_parent": after_in_parent, "after_in_child": after_in_child}
    _registering(**{name: hook for name, hook in given.items() if hook is not None})
    if before is not None:
        for noted in list(_noting):
            noted.append(before)


def _after_fork_in_parent() -> None:
    """A process that forks (a server's master, a pool) stops deferring: its later events go to
    the default instance, loaded by the thread that sends them, and that load replays first what
    waits here, as ``flush()``, ``stats()``, the exit handler and the timer (a master that never
    sends again) do. Nothing goes to the detached child here: the events stay this process's, so
    its ``flush()`` covers them."""
    global _forked, _state
    _forked = True
    _state = "off"
    if getattr(_fork_local, "held", False):
        _fork_local.held = False
        _guard.release()


def _after_fork_in_child() -> None:
    global _lock, _guard, _loading, _events, _state, _forked, _owner, _fork_local
    _events = []  # the parent's: it sends them
    _state = "off"
    _owner = os.getpid()
    _lock = _thread.allocate_lock()
    _guard = _thread.RLock()
    _loading = _thread.RLock()
    _fork_local = _thread._local()
    _forked = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
    )


# -- exit and SIGTERM ------------------------------------------------------------------------------


def _at_exit() -> None:
    """The exit handler (registered when otel-telemetry is imported): hand off what waits here,
    then run the default instance's exit handling (``exit.py``) if the rest was loaded.

    What waits here goes to the detached child, except in a process that forked before Python
    3.12, which flushes in process as ``exit.py`` does there (a thread can still start at exit;
    from 3.12 none can, so loading the rest now could not deliver it).
    """
    global _after_exit
    if _after_exit:  # (the deferred sender runs it itself, before the interpreter's exit)
        return
    with _loading:  # (a load under way on the timer's thread finishes first)
        _after_exit = True
        events = _take()
    in_process = forked() and sys.version_info < (3, 12)
    if events and (in_process or not _hand_off(events)):
        with _suppress():  # the default instance takes them, and exit.py flushes
            materialize(events)  # (it runs the exit handler itself)
        return
    _run_exit_handler()


def _run_exit_handler() -> None:
    handler = sys.modules.get("otel_telemetry.exit")
    if handler is not None:
        handler.at_exit()


atexit.register(_at_exit)


def _hand_off(events: list[tuple[Any, ...]]) -> bool:
    """Write ``events`` to a job file and start the detached child that sends them; False if
    that cannot be done (the caller then gives them to the default instance)."""
    if not events:
        return True
    job = repr({"argv": list(sys.argv), "events": events})
    directory = _job_directory()
    if directory is None:
        return False
    path = os.path.join(directory, f"{os.getpid()}-{time.time_ns()}.job")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, job.encode("utf-8", "surrogatepass"))
        finally:
            os.close(fd)
    except OSError:  # (a read-only state directory)
        return False
    env = dict(os.environ)
    env[JOB_ENV] = path
    env[ENV] = "0"
    if spawn_python("otel_telemetry.deferred_sender", env) is None:
        with _suppress():
            os.unlink(path)
        return False
    global _handed_off
    _handed_off += len(events)
    return True


def _take_sigterm() -> None:
    """SIGTERM's default action would lose the events waiting here: :mod:`otel_telemetry.signals`
    takes it (only from its default action, on the main thread), as at any first ``send()``."""
    from . import signals

    signals.install()


def on_sigterm() -> None:
    """SIGTERM (from ``signals.py``, on its helper thread): hand off what waits here."""
    with _loading:  # (a load under way on the timer's thread finishes first)
        events = _take()
    if events and not _hand_off(events):
        with _suppress():
            materialize(events)


class _suppress:
    """``contextlib.suppress(Exception)`` without importing ``contextlib``."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: object, traceback: object) -> bool:
        return isinstance(error, Exception)
