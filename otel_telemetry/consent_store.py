"""One app's consent state on disk: the user's choice, its installation id, the notices shown.

Layout, per app (``app`` is the ``service.name`` its events carry, percent-quoted)::

    <state dir>/apps/<app>/consent.json   {"enabled": true|false|null, "by": ..., "at": ...,
                                           "installation_id": null | "<uuid>"}
    <state dir>/apps/<app>/notice-<hash>  written once the notice with that text was shown
    <state dir>/apps/<app>/sent.jsonl     the bounded record of sent events (``sent_log``)

``consent.json`` is replaced atomically (write + rename), so a reader sees the old file or the
new one, never half of one, and a new inode: a running process notices a change with one
``stat`` (:meth:`AppState.signature`). Only the standard library is used: every ``send()``
path may touch this module.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._log import logger

APPS_DIR = "apps"
CHOICE_NAME = "consent.json"
LOCK_NAME = ".lock"
SENT_LOG_NAME = "sent.jsonl"

#: ``os.stat`` fields that change whenever ``consent.json`` is replaced or rewritten.
Signature = tuple[int, int, int]


@dataclass(frozen=True)
class StoredChoice:
    """What ``consent.json`` says; all ``None`` when there is no file (nothing decided yet)."""

    #: The user's choice: True (enabled), False (disabled), None (never chosen).
    enabled: bool | None = None
    #: Who decided: the command or call that wrote it (``telemetry disable``, ``consent.enable()``).
    by: str | None = None
    #: When (ISO 8601, UTC).
    at: str | None = None
    #: The installation id ``telemetry reset`` made; None: the default one (machine-derived).
    installation_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "by": self.by,
            "at": self.at,
            "installation_id": self.installation_id,
        }


def app_dir_name(app: str) -> str:
    """``app`` as one safe directory name (percent-quoted; never ``.``/``..``, never hidden)."""
    if not isinstance(app, str) or not app.strip():
        raise ValueError("the app name must be a non-empty string")
    name = "".join(
        char
        if char.isascii() and (char.isalnum() or char in "-_.")
        else "".join(f"%{b:02X}" for b in char.encode())
        for char in app
    )
    return "%2E" + name[1:] if name.startswith(".") else name


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created, with its directory) for the ``with`` body."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _now() -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _new_id() -> str:
    import uuid

    return str(uuid.uuid4())


class AppState:
    """The consent files of one app under one state directory."""

    def __init__(self, state_dir: Path, app: str) -> None:
        self.app = app
        self.state_dir = Path(state_dir)
        self.directory = self.state_dir / APPS_DIR / app_dir_name(app)
        self.choice_path = self.directory / CHOICE_NAME
        self.sent_log_path = self.directory / SENT_LOG_NAME

    # -- reading (any process, any thread) -----------------------------------------------------

    def signature(self) -> Signature | None:
        """What identifies the current ``consent.json`` (``None``: there is none)."""
        try:
            st = os.stat(self.choice_path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def read(self) -> StoredChoice:
        """The stored choice; a missing file is "nothing decided", an unreadable one is logged."""
        try:
            raw = self.choice_path.read_bytes()
        except FileNotFoundError:
            return StoredChoice()
        except OSError as exc:
            logger.warning(
                "otel-telemetry: cannot read %s (%s); treating it as no choice", self.choice_path, exc
            )
            return StoredChoice()
        import json
        import uuid

        try:
            data = json.loads(raw.decode("utf-8"))
            enabled = data.get("enabled")
            installation = data.get("installation_id")
            return StoredChoice(
                enabled=enabled if isinstance(enabled, bool) else None,
                by=str(data["by"]) if data.get("by") is not None else None,
                at=str(data["at"]) if data.get("at") is not None else None,
                installation_id=str(uuid.UUID(installation)) if isinstance(installation, str) else None,
            )
        except (ValueError, TypeError, AttributeError) as exc:
            logger.warning(
                "otel-telemetry: %s is damaged (%s); treating it as no choice", self.choice_path, exc
            )
            return StoredChoice()

    # -- writing (the telemetry command, consent.enable/disable/reset) -------------------------

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        """Serialise read-modify-write of ``consent.json`` between processes."""
        return file_lock(self.directory / LOCK_NAME)

    def update(
        self, by: str, *, enabled: bool | None = None, new_installation_id: bool = False
    ) -> StoredChoice:
        """Record a choice (``enabled``) and/or a new installation id; returns what was stored.

        Raises ``OSError`` when the state directory cannot be written (the caller says so)."""
        import json

        with self._locked():
            old = self.read()
            new = StoredChoice(
                enabled=old.enabled if enabled is None else enabled,
                by=by,
                at=_now(),
                installation_id=_new_id() if new_installation_id else old.installation_id,
            )
            tmp = self.directory / f".{CHOICE_NAME}.{os.getpid()}.{_new_id()[:8]}"
            try:
                tmp.write_text(json.dumps(new.to_json(), indent=2) + "\n", encoding="utf-8")
                os.replace(tmp, self.choice_path)
            finally:
                tmp.unlink(missing_ok=True)
            return new

    # -- the first-run notice --------------------------------------------------------------------

    def notice_path(self, digest: str) -> Path:
        """The file that records that the notice with this text digest was shown."""
        return self.directory / f"notice-{digest}"

    def claim_notice(self, digest: str) -> bool | None:
        """Atomically mark the notice as shown: True if this caller must show it now, False if it
        was shown before, None if the state directory cannot record it (show it, per process)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.notice_path(digest), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            return False
        except OSError as exc:
            logger.info("otel-telemetry: cannot record the notice in %s (%s)", self.directory, exc)
            return None
        try:
            os.write(fd, f"shown {_now()} by process {os.getpid()}\n".encode())
        finally:
            os.close(fd)
        return True
