"""Delivery settings: overflow policy of the queue, and the optional durable spool.

Explicit arguments first, then ``OTEL_TELEMETRY_*`` variables; a malformed variable is logged
and replaced by its default, a malformed argument raises :class:`~otel_telemetry.TelemetryError`
naming it (the rule of ``config.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..config import _choice, _millis_to_s, _parsed, _positive_int
from ..errors import TelemetryError
from ..optout import is_truthy

Overflow = Literal["drop_newest", "drop_oldest", "block"]
Fsync = Literal["always", "interval", "never"]
SyncMode = Literal["async", "sync"]
OVERFLOWS: tuple[Overflow, ...] = ("drop_newest", "drop_oldest", "block")
FSYNCS: tuple[Fsync, ...] = ("always", "interval", "never")
SYNC_MODES: tuple[SyncMode, ...] = ("async", "sync")

DEFAULT_SPOOL_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_BLOCK_TIMEOUT_S = 1.0
#: ``interval``: at most one fsync per this many seconds (and at every segment roll and close).
FSYNC_INTERVAL_S = 1.0
#: How often the writer moves queued events to disk in ``async`` mode (the window a crash loses).
SPOOL_WRITE_DELAY_S = 0.1
MAX_SEGMENT_BYTES = 8 * 1024 * 1024
MIN_SEGMENT_BYTES = 16 * 1024


@dataclass(frozen=True)
class SpoolSettings:
    """Where and how events are made durable."""

    directory: Path
    max_bytes: int = DEFAULT_SPOOL_MAX_BYTES
    fsync: Fsync = "interval"
    sync: SyncMode = "async"

    @property
    def segment_bytes(self) -> int:
        """Segment files roll at this size; a quarter of the cap so eviction frees space in steps."""
        return max(MIN_SEGMENT_BYTES, min(MAX_SEGMENT_BYTES, self.max_bytes // 4))


@dataclass(frozen=True)
class DeliverySettings:
    """What happens when events arrive faster than they can be exported."""

    overflow: Overflow = "drop_newest"
    block_timeout_s: float = DEFAULT_BLOCK_TIMEOUT_S
    spool: SpoolSettings | None = None
    event_ids: bool = False


def _check_choice(name: str, value: str | None, options: tuple[str, ...]) -> None:
    if value is not None and value not in options:
        raise TelemetryError(name, f"must be one of {', '.join(options)}, not {value!r}")


def resolve_delivery(
    environ: Mapping[str, str],
    *,
    overflow: str | None = None,
    block_timeout_s: float | None = None,
    spool_dir: str | os.PathLike[str] | None = None,
    spool_max_bytes: int | None = None,
    spool_fsync: str | None = None,
    spool_sync: str | None = None,
    event_ids: bool | None = None,
) -> DeliverySettings:
    """Delivery settings from arguments, then ``OTEL_TELEMETRY_*`` variables."""
    _check_choice("overflow", overflow, OVERFLOWS)
    _check_choice("spool_fsync", spool_fsync, FSYNCS)
    _check_choice("spool_sync", spool_sync, SYNC_MODES)
    if block_timeout_s is not None and not block_timeout_s >= 0:
        raise TelemetryError("block_timeout_s", "must be >= 0")
    if spool_max_bytes is not None and spool_max_bytes < MIN_SEGMENT_BYTES:
        raise TelemetryError("spool_max_bytes", f"must be at least {MIN_SEGMENT_BYTES}")
    chosen_overflow: Overflow = overflow or _parsed(  # type: ignore[assignment]
        environ,
        ("OTEL_TELEMETRY_OVERFLOW",),
        _choice(OVERFLOWS),
        "drop_newest",
        f"expected one of {', '.join(OVERFLOWS)}",
    )
    timeout = (
        block_timeout_s
        if block_timeout_s is not None
        else _parsed(
            environ,
            ("OTEL_TELEMETRY_BLOCK_TIMEOUT",),
            _millis_to_s,
            DEFAULT_BLOCK_TIMEOUT_S,
            "expected milliseconds >= 0",
        )
    )
    directory = spool_dir if spool_dir is not None else environ.get("OTEL_TELEMETRY_SPOOL_DIR", "").strip()
    spool: SpoolSettings | None = None
    if directory:
        spool = SpoolSettings(
            directory=Path(directory),
            max_bytes=spool_max_bytes
            or max(
                MIN_SEGMENT_BYTES,
                _parsed(
                    environ,
                    ("OTEL_TELEMETRY_SPOOL_MAX_BYTES",),
                    _positive_int,
                    DEFAULT_SPOOL_MAX_BYTES,
                    "expected a positive integer (bytes)",
                ),
            ),
            fsync=spool_fsync  # type: ignore[arg-type]
            or _parsed(
                environ,
                ("OTEL_TELEMETRY_SPOOL_FSYNC",),
                _choice(FSYNCS),
                "interval",
                f"expected one of {', '.join(FSYNCS)}",
            ),
            sync=spool_sync  # type: ignore[arg-type]
            or _parsed(
                environ,
                ("OTEL_TELEMETRY_SPOOL_SYNC",),
                _choice(SYNC_MODES),
                "async",
                f"expected one of {', '.join(SYNC_MODES)}",
            ),
        )
    ids_env = environ.get("OTEL_TELEMETRY_EVENT_IDS", "").strip()
    ids = event_ids if event_ids is not None else is_truthy(ids_env) if ids_env else spool is not None
    return DeliverySettings(overflow=chosen_overflow, block_timeout_s=timeout, spool=spool, event_ids=ids)
