"""A small bounded record of the events an app sent, for ``myapp telemetry show``.

Off unless the app sets ``PrivacySettings(sent_log=N)``. After each batch the collector
accepted, the worker thread decodes the very request that was sent and keeps the last ``N``
records in ``<state dir>/apps/<app>/sent.jsonl`` (one JSON object a line, under an ``flock``
so that every process of the app can add to it). Nothing here runs on the ``send()`` path.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .consent_store import file_lock
from .processes import fork_waits

if TYPE_CHECKING:
    from .records import ReceivedRecord

logger = logging.getLogger("otel_telemetry")


def _plain(value: Any) -> Any:
    """A decoded attribute value as JSON can hold it (bytes as hex)."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def record_entry(record: ReceivedRecord) -> dict[str, Any]:
    """What is kept of one sent record: enough to print it as ``otel-telemetry tail`` does."""
    return {
        "time_unix_nano": record.time_unix_nano,
        "observed_time_unix_nano": record.observed_time_unix_nano,
        "event_name": record.event_name,
        "attributes": _plain(record.attributes),
        "resource": _plain(record.resource),
    }


def entry_record(entry: dict[str, Any]) -> ReceivedRecord:
    """A kept entry back as a :class:`ReceivedRecord` (the fields a line shows)."""
    from .records import ReceivedRecord

    return ReceivedRecord(
        event_name=str(entry.get("event_name", "")),
        attributes=dict(entry.get("attributes") or {}),
        resource=dict(entry.get("resource") or {}),
        scope_name="otel_telemetry",
        scope_version="",
        time_unix_nano=int(entry.get("time_unix_nano") or 0),
        observed_time_unix_nano=int(entry.get("observed_time_unix_nano") or 0),
        severity_number=0,
        severity_text="",
        body=None,
        trace_id=b"",
        span_id=b"",
        flags=0,
        dropped_attributes_count=0,
        protocol="sent-log",
    )


class SentLog:
    """Appends sent records to ``path``, keeping the last ``keep``."""

    def __init__(self, path: Path, keep: int) -> None:
        self.path = path
        self.keep = keep

    def record(self, request: bytes, skip: int = 0) -> None:
        """Keep the records of one accepted serialised request (never raises: logged instead).

        ``skip``: records the collector refused in a partial success (which ones is not said,
        so the last ``skip`` are left out)."""
        try:
            with fork_waits():  # first imports on the export thread: a fork must not inherit the lock
                from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

                from .records import iter_records

            records = list(iter_records(ExportLogsServiceRequest.FromString(request), "sent-log"))
            if skip:
                records = records[: max(len(records) - skip, 0)]
            lines = [json.dumps(record_entry(r), ensure_ascii=False, default=str) for r in records]
            with file_lock(self.path.parent / ".sent.lock"):
                kept = self._lines() + lines
                tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}")
                try:
                    tmp.write_text("".join(line + "\n" for line in kept[-self.keep :]), encoding="utf-8")
                    os.replace(tmp, self.path)
                finally:
                    tmp.unlink(missing_ok=True)
        except Exception as exc:  # the record is a convenience: it must never cost an event
            logger.info("otel-telemetry: cannot keep the record of sent events in %s: %r", self.path, exc)

    def _lines(self) -> list[str]:
        try:
            return self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []


def read_sent(path: Path, last: int) -> list[ReceivedRecord]:
    """The last ``last`` kept records, oldest first (damaged lines are skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines[-last:] if last > 0 else []:
        try:
            records.append(entry_record(json.loads(line)))
        except (ValueError, TypeError, AttributeError):
            continue
    return records
