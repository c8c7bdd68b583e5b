"""The consent check of one running process: cheap on ``send()``, exact at the exporter.

``send()`` asks :meth:`ConsentGate.allowed`: a monotonic clock read and a comparison, and at
most once per ``check_interval_s`` (1 s) a ``stat`` of the app's ``consent.json``; the file is
read only when it changed. So a ``myapp telemetry disable`` in another process stops new
events here within that interval. The exporter the pipeline uses is wrapped in a
:class:`ConsentExporter`, which checks again (a fresh ``stat``) before every batch: events
accepted just before the choice was noticed, and spooled ones, are discarded there (counted as
``opted_out``, deleted from the spool) instead of being sent. The first-run notice is shown by
the first check that finds sending allowed, before the first event is queued.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._log import logger
from .consent_store import AppState, Signature, StoredChoice
from .exporters.base import Exporter, ExportResult
from .processes import fork_waits

if TYPE_CHECKING:
    from pathlib import Path

    from .sent_log import SentLog
    from .settings import PrivacySettings


_monotonic = time.monotonic
_UNREAD: Signature = (-1, -1, -1)


def decide(env_reason: str | None, choice: StoredChoice, opt_in: bool) -> tuple[bool, str]:
    """Whether telemetry is on, and what decided it (one sentence for ``telemetry status``)."""
    if env_reason == "disabled=True":
        return False, "the app turns it off in its code (Telemetry(disabled=True))"
    if env_reason is not None:
        return False, f"the environment variable {env_reason} turns it off (it wins over any stored choice)"
    if choice.enabled is not None:
        verb = "enabled" if choice.enabled else "disabled"
        return choice.enabled, f"{verb} by {choice.by or 'an unknown writer'} at {choice.at or '?'}"
    if opt_in:
        return False, "opt-in mode and no choice recorded yet (nothing is sent until it is enabled)"
    return True, "on by default (opt-out mode, no choice recorded)"


def allowed_for(state_dir: Path, app: str, *, opt_in: bool = False) -> bool:
    """One look at ``app``'s stored choice, for a process that sends on the app's behalf
    without a gate of its own (a detached sender delivering what the app handed off)."""
    return decide(None, AppState(state_dir, app).read(), opt_in)[0]


class Notice:
    """The app's first-run notice: shown once per installation (per text) before the first event."""

    def __init__(self, text: str, to: Callable[[str], None] | None, state: AppState) -> None:
        self.text = text
        self._to = to
        self._state = state
        import hashlib

        self.digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def show_once(self) -> None:
        """Show the notice unless the state directory says it was shown; never raises."""
        if self._state.claim_notice(self.digest) is False:
            return
        try:
            if self._to is not None:
                self._to(self.text)
            else:
                sys.stderr.write(self.text.rstrip("\n") + "\n")
                sys.stderr.flush()
        except Exception as exc:
            logger.warning("otel-telemetry: could not show the telemetry notice: %r", exc)


OnChange = Callable[[StoredChoice, StoredChoice], None]


_gates: weakref.WeakSet[ConsentGate] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A lock held by another thread at ``fork()`` would stay held in the child forever."""
    for gate in list(_gates):
        gate._lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class ConsentGate:
    """Is sending allowed for this app right now? (env opt-out is decided before, once)."""

    def __init__(
        self,
        state: AppState,
        *,
        opt_in: bool,
        interval_s: float,
        notice: Notice | None = None,
        on_change: OnChange | None = None,
    ) -> None:
        self.state = state
        self.opt_in = opt_in
        self.interval_s = interval_s
        self._notice = notice
        self._on_change = on_change
        #: The cached answer and when to look again (monotonic); ``send()`` reads both inline.
        self.next_check = 0.0  # the first send() checks
        self.allowed_now = False
        self._signature: Signature | None = _UNREAD
        #: The stored choice as last read.
        self.choice = StoredChoice()
        self.sent_log_size = 0
        # reentrant: a notice callback or an on_change hook may send() on this thread
        self._lock = threading.RLock()
        _gates.add(self)

    @classmethod
    def for_app(
        cls, app: str, state_dir: Path, settings: PrivacySettings, on_change: OnChange | None = None
    ) -> ConsentGate:
        """The gate of ``app`` (its files under ``state_dir``) as ``settings`` configure it."""
        state = AppState(state_dir, app)
        notice = Notice(settings.notice, settings.notice_to, state) if settings.notice else None
        gate = cls(
            state,
            opt_in=settings.opt_in,
            interval_s=settings.check_interval_s,
            notice=notice,
            on_change=on_change,
        )
        gate.sent_log_size = settings.sent_log
        return gate

    def wrap(self, exporter: Exporter) -> ConsentExporter:
        """``exporter`` behind this gate (and the record of sent events, when kept)."""
        sent_log = None
        if self.sent_log_size:
            with fork_waits():  # a lazy import: a fork must not inherit its held import lock
                from .sent_log import SentLog
            sent_log = SentLog(self.state.sent_log_path, self.sent_log_size)
        return ConsentExporter(exporter, self, sent_log)

    def allowed(self) -> bool:
        """The ``send()`` check: the cached answer, refreshed at most once per interval."""
        if _monotonic() < self.next_check:
            return self.allowed_now
        return self.refresh()

    def refresh(self, show_notice: bool = True) -> bool:
        """Look at ``consent.json`` now (one ``stat``; read only if it changed). The notice is
        shown here (once) when sending is allowed, unless ``show_notice`` is False (the
        ``telemetry`` commands: they send nothing)."""
        with self._lock:
            signature = self.state.signature()
            if signature != self._signature:
                self._signature = signature
                previous = self.choice
                self.choice = self.state.read() if signature is not None else StoredChoice()
                self.allowed_now = decide(None, self.choice, self.opt_in)[0]
                if self.choice != previous and self._on_change is not None:
                    try:
                        self._on_change(previous, self.choice)
                    except Exception:
                        logger.exception("otel-telemetry: error applying a consent change")
            if self.allowed_now and show_notice and self._notice is not None:
                notice, self._notice = self._notice, None
                notice.show_once()
            # a notice still to show: the next send() looks again (and shows it first)
            pending = self.allowed_now and self._notice is not None
            self.next_check = 0.0 if pending else _monotonic() + self.interval_s
            return self.allowed_now


def _record_count(request: bytes) -> int:
    with fork_waits():  # a first import on the export thread: a fork must not inherit the lock
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    parsed = ExportLogsServiceRequest.FromString(request)
    return sum(len(scope.log_records) for rl in parsed.resource_logs for scope in rl.scope_logs)


class ConsentExporter(Exporter):
    """Wraps the app's exporter: nothing leaves the process once the user turned telemetry off.

    A refused batch is reported as accepted with all its records rejected for ``opted_out``,
    so the queue drops it and the spool deletes it, counted, without retries. Accepted
    batches go to the app's record of sent events when it keeps one.
    """

    def __init__(self, inner: Exporter, gate: ConsentGate, sent_log: SentLog | None = None) -> None:
        self.inner = inner
        self._gate = gate
        self._sent_log = sent_log

    def export(self, request: bytes, timeout_s: float) -> ExportResult:
        if not self._gate.refresh():
            try:
                count = _record_count(request)
            except Exception:  # cannot parse: still never send it
                count = 1 << 62
            return ExportResult(
                True,
                rejected=count,
                error=f"telemetry for {self._gate.state.app} was turned off by its user",
                drop_reason="opted_out",
            )
        result = self.inner.export(request, timeout_s)
        if result.ok and self._sent_log is not None:
            self._sent_log.record(request, max(result.rejected, 0))
        return result

    def force_flush(self, timeout_s: float) -> bool:
        return self.inner.force_flush(timeout_s)

    def shutdown(self) -> None:
        self.inner.shutdown()

    def __repr__(self) -> str:
        return repr(self.inner)
