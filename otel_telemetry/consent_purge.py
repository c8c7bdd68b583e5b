"""``telemetry disable`` deletes the app's events that are waiting on disk to be sent.

Running processes discard their own queued and spooled events themselves (their exporter is
wrapped by :class:`~otel_telemetry.consent_gate.ConsentExporter`, which refuses every batch
once the choice is stored, and a refused spooled batch is deleted). What no live process holds
is deleted here: spool directories left by processes that ended (the same ``flock`` test the
spool uses to adopt them) and the spool's ``rejected/`` batches. Only batches whose records
all belong to the app (their resource's ``service.name``) are deleted; a directory shared with
another app's events is left alone and reported.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .spool.frames import Frame, parse
from .spool.segments import ACK_NAME, DIR_NAME, LOCK_NAME, SUFFIX, SpoolDir, count_records
from .spool.spool import REJECTED_DIR

logger = logging.getLogger("otel_telemetry")


@dataclass
class Purged:
    """What a purge deleted, and what it could not."""

    events: int = 0
    files: list[Path] = field(default_factory=list)
    #: Spool directories of running processes (they discard their events themselves).
    live: list[Path] = field(default_factory=list)
    #: Directories or files left alone because they hold another app's events.
    shared: list[Path] = field(default_factory=list)


def _services(payloads: Iterable[bytes]) -> tuple[set[str], int]:
    """The ``service.name`` values of the serialised requests, and their record count."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    services: set[str] = set()
    records = 0
    for payload in payloads:
        request = ExportLogsServiceRequest.FromString(payload)
        for resource_logs in request.resource_logs:
            name = next(
                (
                    kv.value.string_value
                    for kv in resource_logs.resource.attributes
                    if kv.key == "service.name"
                ),
                "",
            )
            services.add(name)
            records += sum(len(scope.log_records) for scope in resource_logs.scope_logs)
    return services, records


def _pending_frames(spool_dir: SpoolDir) -> list[Frame]:
    frames: list[Frame] = []
    for segment in spool_dir.segments:
        start = spool_dir.ack_offset if segment.seq == spool_dir.ack_seq else 0
        data = segment.path.read_bytes()[start:]
        frames.extend(item for item in parse(data, start) if isinstance(item, Frame))
    return frames


def _unacknowledged(path: Path) -> int:
    """Records a live process's spool directory still holds (read only: it is not ours)."""
    try:
        seq_text, offset_text = (path / ACK_NAME).read_text(encoding="ascii").split()
        ack_seq, ack_offset = int(seq_text), int(offset_text)
    except (OSError, ValueError):
        ack_seq, ack_offset = 0, 0
    total = 0
    for segment in path.glob(f"*{SUFFIX}"):
        seq = int(segment.name[: -len(SUFFIX)]) if segment.name[: -len(SUFFIX)].isdigit() else -1
        if seq >= ack_seq:
            total += count_records(segment, ack_offset if seq == ack_seq else 0)
    return total


def _purge_dir(path: Path, app: str, result: Purged) -> None:
    spool_dir = SpoolDir.adopt(path)
    if spool_dir is None:
        if _unacknowledged(path):
            result.live.append(path)
        return
    try:
        services, records = _services(frame.payload for frame in _pending_frames(spool_dir))
        if services - {app}:
            result.shared.append(path)
            return
        for segment in spool_dir.segments:
            segment.path.unlink(missing_ok=True)
            result.files.append(segment.path)
        for name in (ACK_NAME, f".{ACK_NAME}.tmp", LOCK_NAME):
            (path / name).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            path.rmdir()
        result.events += records
    finally:
        spool_dir.release(remove_if_drained=False)


def purge_spool(directory: Path, app: str) -> Purged:
    """Delete ``app``'s unsent events from the spool ``directory`` (see the module docstring)."""
    result = Purged()
    if not directory.is_dir():
        return result
    for entry in sorted(directory.iterdir()):
        if entry.is_dir() and DIR_NAME.fullmatch(entry.name):
            try:
                _purge_dir(entry, app, result)
            except Exception as exc:  # an undecodable batch: keep it, say so
                logger.warning("otel-telemetry: could not purge spool directory %s: %s", entry, exc)
    rejected = directory / REJECTED_DIR
    if rejected.is_dir():
        for batch in sorted(rejected.glob("*.otlp")):
            try:
                services, records = _services([batch.read_bytes()])
            except Exception:  # unreadable or undecodable: not provably this app's
                result.shared.append(batch)
                continue
            if services - {app}:
                result.shared.append(batch)
                continue
            batch.unlink(missing_ok=True)
            batch.with_suffix(".txt").unlink(missing_ok=True)
            result.files.append(batch)
            result.events += records
    return result
