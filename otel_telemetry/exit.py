"""What happens to pending events when the program exits (``docs/short-lived.md``).

One exit handler, :func:`at_exit` (run by the ``atexit`` handler that ``import otel_telemetry``
registers, :mod:`otel_telemetry._deferred`, after the events still waiting there), treats every live
``Telemetry`` (and the pipelines of dropped ones still draining) by its exit mode:

- ``handoff``: the events still pending are written to the hand-off area and a detached sender
  process delivers them (:mod:`otel_telemetry.handoff`); the program exits at once.
- ``flush``: the pre-existing behaviour: deliver within ``exit_timeout_s`` (5 s), then stop.
- ``auto`` (the default): ``handoff`` in a short-lived program (its process started less than
  :data:`SHORT_LIVED_S` ago), ``flush`` in a long-running one, and ``flush`` in a process that
  forked or was forked (a server's master or worker, a pool: :func:`forked`), whatever its age.

``atexit`` runs handlers last-registered first, so an app's handler registered after the import
runs before ours (its events are still pending, and handed off with the rest); one registered
before the import runs after ours: its ``send()`` is then handed off on its own, at once
(:func:`late_send`), instead of being refused.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from . import _deferred
from ._log import logger
from ._procfacts import process_age_s
from .processes import fork_safe

if TYPE_CHECKING:
    from .counters import Counters
    from .encoding import EncodedBatch
    from .exporters.base import Exporter
    from .pipeline import BatchPipeline
    from .settings import DeliverySettings


#: ``auto``: a process younger than this at exit is short-lived (a command-line tool).
SHORT_LIVED_S = 300.0


class Exiting:
    """What the exit handler needs of one ``Telemetry``, holding no reference to it.

    So an instance the app dropped is still collected, and its pipeline (still delivering
    what it had accepted, for at most the exit timeout) is still handed off at exit.
    """

    def __init__(
        self,
        *,
        pipeline: BatchPipeline,
        counters: Counters,
        settings: DeliverySettings,
        root: Path,
        exporter: dict[str, Any] | None,
        encoding: Callable[[], dict[str, Any]],
        spool_dir: str | None,
        timeout_s: float,
        shutdown: Callable[[float], bool],
        allowed: Callable[[], bool] = lambda: True,
    ) -> None:
        self.pipeline = pipeline
        self.counters = counters
        self.settings = settings
        #: Where the hand-off areas are (``<state dir>/handoff`` unless set).
        self.root = root
        #: The exporter settings as plain data, or None when a hand-off cannot work.
        self.exporter = exporter
        self.encoding = encoding
        self.spool_dir = spool_dir
        self.timeout_s = timeout_s
        self.shutdown = shutdown
        #: The app's user still allows sending (``consent``): else nothing is handed off.
        self.allowed = allowed
        self.dropped = False

    @property
    def finished(self) -> bool:
        """A dropped instance whose pipeline has delivered everything and stopped."""
        return self.dropped and self.pipeline.idle


_live: set[Exiting] = set()
_exited = False
_lock = fork_safe(threading.Lock())  # a fork while another thread holds it: the child's is fresh


def forked() -> bool:
    """True in a process that ``os.fork()``-ed or was forked: a server's master or worker, a
    ``multiprocessing`` pool (``auto`` then means ``flush``): both sides, since a forked worker
    ends with its master (a container stops every process of the pod with it), so a detached
    sender might not outlive it, and a master is a server or a pool.

    The fork hooks (:mod:`otel_telemetry._deferred`'s, registered at import) see forks made
    once otel-telemetry is imported; a worker forked before (a gunicorn worker importing the app
    itself) is recognised on Linux by its command line, the same as its parent's.
    """
    return _deferred.forked()


def track(exiting: Exiting) -> None:
    """Treat ``exiting`` at exit; after the exit handler ran, a new instance hands off at once."""
    with _lock:
        for done in [e for e in _live if e.finished]:
            _live.discard(done)
        _live.add(exiting)
    if _exited:  # made by an app's exit handler that runs after ours: no worker thread now
        exiting.pipeline.take_pending()  # (nothing to take) closes it: every send goes to the sink
        _after_exit(exiting)


def untrack(exiting: Exiting) -> None:
    """``shutdown()`` was called: nothing is left for the exit handler."""
    with _lock:
        _live.discard(exiting)


def dropped(exiting: Exiting) -> None:
    """The app dropped its ``Telemetry`` (a ``weakref.finalize`` callback, on whatever thread
    collected it): deliver what it accepted within the exit timeout, then stop its threads."""
    exiting.dropped = True
    if exiting.pipeline.closed or sys.is_finalizing():  # (no thread starts at finalization)
        return
    stopper = threading.Thread(
        target=exiting.pipeline.shutdown, args=(exiting.timeout_s,), name="otel-telemetry-stop", daemon=True
    )
    with contextlib.suppress(RuntimeError):  # interpreter shutting down: the exit handler does it
        stopper.start()


def chosen_mode(exiting: Exiting) -> Literal["handoff", "flush"]:
    """The exit mode now: ``auto`` resolved, and ``flush`` where a hand-off cannot work."""
    mode = exiting.settings.exit_mode
    if exiting.exporter is None:
        return "flush"
    if mode == "auto":
        return "handoff" if process_age_s() < SHORT_LIVED_S and not forked() else "flush"
    return mode


def at_exit() -> None:
    """The exit handler: hand off or flush every live instance, then route late sends."""
    global _exited
    with _lock:
        _exited = True
        live = list(_live)
    for exiting in live:
        try:
            if chosen_mode(exiting) == "handoff" and _writable(exiting):
                if exiting.allowed():
                    hand_off(exiting)
                else:  # the app's user turned telemetry off: what is held goes nowhere
                    exiting.shutdown(0.0)
            elif not exiting.dropped:
                exiting.shutdown(exiting.timeout_s)
            else:  # already stopping on its own thread: wait for it, as a flush would
                exiting.pipeline.wait_stopped()
            _after_exit(exiting)
        except Exception:  # interpreter teardown: never raise here
            logger.debug("otel-telemetry: error at exit", exc_info=True)


def _writable(exiting: Exiting) -> bool:
    """The hand-off area can be written (else, a read-only home in a container: flush instead)."""
    from .handoff import area

    assert exiting.exporter is not None
    directory = area(exiting.root, exiting.exporter)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(directory, os.W_OK | os.X_OK)


def _after_exit(exiting: Exiting) -> None:
    """From now on, each ``send()`` of that instance is handed off by itself (if it can be)."""
    if exiting.exporter is not None:
        exiting.pipeline.late_sink = lambda event: late_send(exiting, event)


def hand_off(exiting: Exiting) -> int:
    """Write what the instance still holds to its hand-off area and make sure a sender runs.

    Returns the number of events handed off. A disk that refuses is counted ``handoff_error``.
    """
    return _write_and_spawn(exiting, exiting.pipeline.take_pending(), late=False)


def late_send(exiting: Exiting, event: Sequence[Any]) -> bool:
    """An event sent after the exit handler ran: handed off by itself, at once."""
    if not exiting.allowed():
        return True  # as send() does when the app's user turned telemetry off
    return _write_and_spawn(exiting, [event], late=True) == 1


def _count(exiting: Exiting, count: int, *, late: bool, error: str | None = None) -> None:
    counters = exiting.counters
    if late:
        counters.hand_off_late(count)  # accepted, though never queued
    if error is not None:
        exiting.pipeline.count_lost(count)
        counters.hand_off_failed(count, error)


def _write_and_spawn(exiting: Exiting, events: Sequence[Sequence[Any]], *, late: bool) -> int:
    from . import handoff

    settings = exiting.settings
    exporter = exiting.exporter
    assert exporter is not None
    area = handoff.area(exiting.root, exporter)
    if events:
        try:
            handoff.write(area, exiting.encoding(), events)
        except Exception as exc:  # a full disk, or a bug of ours: counted, never raised at exit
            _count(exiting, len(events), late=late, error=f"cannot write to {area}: {exc}")
            return 0
        _count(exiting, len(events), late=late)
    spooled = exiting.spool_dir is not None and not late
    if (events or spooled or handoff.has_work(area)) and not handoff.sender_running(area):
        job = {
            "area": str(area),
            "exporter": exporter,
            "timeout_s": exporter.get("timeout_s", 10.0),
            "lifetime_s": settings.handoff.lifetime_s,
            "max_age_s": settings.handoff.max_age_s,
            "max_bytes": settings.handoff.max_bytes,
            "owner_pid": os.getpid(),
            "spool_dir": exiting.spool_dir,
        }
        if handoff.spawn_sender(job) is None:
            logger.info("otel-telemetry: no sender process could be started; %s keeps the events", area)
    return len(events)


# -- the detached sender's side: rebuild what the program would have used ----------------------


def encoder_for(settings: Mapping[str, Any]) -> Callable[[Sequence[Any]], EncodedBatch]:
    """The encoder of the program that handed the events off (its resource, ids and limits)."""
    from .counters import Counters
    from .encoder import EventEncoder
    from .pipeline import _ids

    encoder = EventEncoder.from_portable(settings["encoder"], Counters())
    new_id = _ids if settings.get("event_ids") else None
    return lambda batch: encoder.encode(batch, new_id)


def exporter_for(settings: Mapping[str, Any]) -> Exporter:
    """The exporter to the program's destination (settings as ``Telemetry`` wrote them)."""
    from .exporters.otlp import OTLPExporter
    from .settings import ExporterSettings

    return OTLPExporter(ExporterSettings(**settings))
