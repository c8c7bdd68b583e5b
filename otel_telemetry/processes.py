"""Fork safety and worker-process exits: what keeps ``send()`` working in every process model.

Three mechanisms, each a small hook the core calls (``docs/processes.md`` explains them):

* **Fork at any moment leaves the child a working sender.** ``os.fork()`` copies only the
  forking thread; a lock another thread held at that instant stays held forever in the child.
  The export thread's lazy set-up (importing the transport, building the resource) runs under
  :func:`fork_waits`, which the before-fork hook takes (``_deferred``'s, registered when
  ``otel_telemetry`` is imported, so in every fork's list of hooks; it also covers the first
  load of the library by the module-level ``send()``), so a fork never lands in the middle of
  an import (whose module locks the child would inherit, held). Every other lock of ours is
  registered with :func:`fork_safe` and re-initialised in the child.
* **A multiprocessing (or billiard: Celery) child ends through** ``os._exit()``, which skips
  ``atexit``. When the export thread starts in such a child, :func:`on_sender_started`
  registers a ``util.Finalize`` (run by the child's ``_exit_function`` just before
  ``os._exit()``) and, in a Celery pool process, a ``worker_process_shutdown`` receiver
  (billiard's pool workers call ``os._exit()`` themselves): both deliver what the child
  queued, bounded by the exit timeout.
* **SIGTERM** (default action: death without ``atexit``): see :mod:`otel_telemetry.signals`.
"""

from __future__ import annotations

# The two modules with fork hooks that take a lock before a fork, imported here, on the
# importing thread, although most runs need neither at once:
# - before this module registers its own hooks: Python runs the before-fork hooks last
#   registered, first, so ours (wait while the export thread imports) runs before theirs (take
#   their lock); else a fork waits on an import that waits on a lock the forking thread holds
#   (logging's, taken by getLogger at import: a 10 s stall per fork);
# - never by the export thread: a fork waiting for it would run the hooks it registered
#   meanwhile only half (Python snapshots the before-fork hooks): the child's logging lock
#   stays held, and the parent prints "release unlocked lock" (concurrent.futures.thread,
#   which the SDK's resource detection loads).
import contextlib  # (isort: skip)
import logging  # noqa: F401  (isort: skip)

# (RuntimeError: loaded by an exit handler's first send(), too late to register; no fork now)
with contextlib.suppress(RuntimeError):
    import concurrent.futures.thread  # noqa: F401  (isort: skip)

import os
import sys
import weakref
from collections.abc import Iterator
from typing import Any, TypeVar

from . import _deferred
from ._log import logger

#: Exit priority of our multiprocessing finalizer: before the queues' own (10) are closed.
FINALIZER_PRIORITY = 100

L = TypeVar("L")

_fork_safe: weakref.WeakSet[Any] = weakref.WeakSet()
_finalizer_pid: int | None = None
_traps_logged = False


@contextlib.contextmanager
def fork_waits() -> Iterator[None]:
    """A fork waits while this is held: around the export thread's lazy imports and set-up
    (a child must not inherit a held import lock) and a gRPC call in flight (gRPC's own fork
    handlers are skipped while a thread is inside gRPC, and the child's channel then hangs)."""
    with _deferred._guard:  # (the fork hook that waits for it is ``_deferred``'s, registered at import)
        yield


def fork_safe(lock: L) -> L:
    """Register ``lock`` (Lock, RLock or Condition) to be re-initialised in a forked child."""
    _fork_safe.add(lock)
    return lock


def _after_fork_in_child() -> None:
    global _finalizer_pid
    _finalizer_pid = None
    for lock in list(_fork_safe):
        reinit = getattr(lock, "_at_fork_reinit", None)  # what threading itself uses (3.9+)
        if reinit is not None:
            reinit()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def deliver_all() -> None:
    """Shut down every live sender, each within its exit timeout, and wait for shutdowns another
    path began (a SIGTERM helper, a worker's finalizer): this process is ending."""
    from .telemetry import _instances  # not at import: telemetry imports this module

    for instance in list(_instances):
        try:
            instance.shutdown(instance.delivery.exit_timeout_s)
        except Exception:  # the process is ending: log, never raise into its exit path
            logger.debug("otel-telemetry: error delivering before exit", exc_info=True)
    wait_for_closing_senders()


def flush_all() -> bool:
    """Flush every live sender, each within its exit timeout (a server about to exit, a
    serverless handler returning); True when everything accepted so far was exported."""
    from .telemetry import _instances

    ok = True
    for instance in list(_instances):
        try:
            ok = instance.flush(instance.delivery.exit_timeout_s) and ok
        except Exception:
            logger.debug("otel-telemetry: error flushing", exc_info=True)
            ok = False
    return ok


def _celery_worker_exit(**_: Any) -> None:
    deliver_all()


def wait_for_closing_senders() -> None:
    """Wait for senders whose shutdown another path began, each until its shutdown deadline.

    A signal can interrupt an exit path (``atexit``, a worker's finalizer) in the middle of its
    shutdown; the export threads go on draining, and the signal handler waits for them here.
    """
    from .pipeline import live_pipelines

    for pipeline in live_pipelines():
        if pipeline.closed:
            pipeline.wait_stopped()


def _child_of(package: str) -> Any:
    """``package.util`` when this process is a child started by ``package`` (else None)."""
    process = sys.modules.get(f"{package}.process")
    util = sys.modules.get(f"{package}.util")
    if process is None or util is None:
        return None
    current = process.current_process()
    return util if type(current).__name__ != "_MainProcess" else None


def on_sender_started() -> None:
    """The export thread starts in this process: make sure this process's exit delivers."""
    global _finalizer_pid, _traps_logged
    pid = os.getpid()
    if _finalizer_pid != pid:
        _finalizer_pid = pid
        for package in ("multiprocessing", "billiard"):
            util = _child_of(package)
            if util is not None:
                util.Finalize(None, deliver_all, exitpriority=FINALIZER_PRIORITY)
        celery_signals = sys.modules.get("celery.signals")
        if celery_signals is not None:  # billiard's pool workers leave through os._exit directly
            celery_signals.worker_process_shutdown.connect(
                _celery_worker_exit, weak=False, dispatch_uid="otel_telemetry"
            )
    # Imported here, not with the package: only a process that sends pays for them. The caller
    # is any app thread, so a fork must wait for these first imports (a child would inherit the
    # module's import lock held, and its first send would wait on it forever).
    if not _traps_logged:  # once per process tree: a forked child inherits the flag
        _traps_logged = True
        with fork_waits():
            from . import traps

        traps.log_traps()
    with fork_waits():
        from . import signals

    signals.install()
