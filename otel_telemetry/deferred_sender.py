"""The detached child that sends what a short-lived program's ``send()`` left at exit.

Started by :mod:`otel_telemetry._deferred` as ``python -m otel_telemetry.deferred_sender``, with
the program's environment (so the same settings, state directory and consent) and the path of a
job file in ``$OTEL_TELEMETRY_DEFERRED_JOB``: the program's ``sys.argv`` and its events, as
plain literals. The child takes the file (reads and deletes it: a job runs once), sends each
event through the default instance with its own timestamp, and exits; its own exit hands the
events to the regular detached sender (``docs/short-lived.md``), which delivers them or keeps
them, bounded, until the collector is reachable. Refused events are counted and logged to the
hand-off area's ``sender.log``.
"""

from __future__ import annotations

import ast
import os
import sys

from ._deferred import JOB_ENV, _replay

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .telemetry import Telemetry


def _take(path: str) -> tuple[str, dict[str, object]] | None:
    """Claim the job (a rename: a second child finds nothing) and read it."""
    taken = path[: -len(".job")] + ".taken"
    try:
        os.rename(path, taken)
        with open(taken, encoding="utf-8", errors="surrogatepass") as handle:
            job = ast.literal_eval(handle.read())
    except (OSError, ValueError, SyntaxError):
        return None
    return (taken, job) if isinstance(job, dict) else None


def main() -> int:
    """Send the job's events; exit status 0 unless there was no job."""
    path = os.environ.pop(JOB_ENV, "")
    claimed = _take(path) if path.endswith(".job") else None
    if claimed is None:
        print("otel-telemetry deferred sender: no job (started by otel-telemetry at exit)", file=sys.stderr)
        return 2
    taken, job = claimed
    with _quiet():
        os.nice(10)  # background work: the user's own programs come first
    argv = job.get("argv")
    if isinstance(argv, list):
        sys.argv = [str(arg) for arg in argv]
    from ._default import get_default

    telemetry = get_default()
    events = job.get("events")
    for event in events if isinstance(events, list) else []:
        _replay(telemetry.send, event)
    _log_refusals(telemetry)
    from . import _deferred

    _deferred._at_exit()  # the program's exit, now: hand off (or flush), and start the sender
    with _quiet():
        os.unlink(taken)  # done: what the job held is in the hand-off area (or delivered)
    return 0


def _log_refusals(telemetry: Telemetry) -> None:
    """The program never saw these refusals (its ``send()`` returned at once): say so where
    the hand-off sender logs, ``sender.log`` of the destination's hand-off area."""
    from .handoff import area, log_line

    stats = telemetry.stats()
    exiting = telemetry._exiting
    if stats.refused and exiting.exporter is not None:
        detail = ", ".join(f"{reason}={count}" for reason, count in sorted(stats.dropped.items()))
        directory = area(exiting.root, exiting.exporter)
        with _quiet():
            directory.mkdir(parents=True, exist_ok=True)
        log_line(directory, f"deferred sender: {stats.refused} refused ({detail})")


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: object, traceback: object) -> bool:
        return isinstance(error, OSError)


if __name__ == "__main__":
    sys.exit(main())
