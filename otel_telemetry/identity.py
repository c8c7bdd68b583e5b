"""Anonymous identities: the project id (Strapi's ``uuid``), the installation id, user hashes.

Raw user ids never leave the process: they are hashed with the project id as salt. Ids that
must be stable across runs are persisted in a small state directory; when it cannot be written
(read-only container, no home) a per-process id is used and the cause is logged once.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ._log import logger

if TYPE_CHECKING:
    from .settings import PrivacySettings


MACHINE_ID_PATHS = ("/etc/machine-id", "/var/lib/dbus/machine-id")


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where per-install ids live (``settings.state_dir``: the variables are read there)."""
    from .settings import state_dir as configured

    return configured(environ)


def privacy_state_dir(privacy: PrivacySettings) -> Path:
    """The state directory of ``privacy`` (its default location when not set)."""
    return privacy.state_dir if privacy.state_dir is not None else state_dir()


def persisted_id(directory: Path, name: str) -> str:
    """A random UUID stored in ``directory/name``; created atomically on first use."""
    path = directory / name
    try:
        return _read_id(path)
    except (OSError, ValueError):
        pass
    new_id = str(uuid.uuid4())
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{name}.{os.getpid()}.{uuid.uuid4().hex}"
        tmp.write_text(new_id + "\n", encoding="ascii")
        try:
            os.link(tmp, path)  # fails if another process won the race: use theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        return _read_id(path)
    except (OSError, ValueError) as exc:
        logger.info(
            "otel-telemetry: cannot persist %s in %s (%s); using a per-process id", name, directory, exc
        )
        return new_id


def _read_id(path: Path) -> str:
    text = path.read_text(encoding="ascii").strip()
    return str(uuid.UUID(text))


def project_id(privacy: PrivacySettings) -> str:
    """Strapi's project ``uuid``: ``privacy.project_id``, else a random one persisted."""
    return privacy.project_id or persisted_id(privacy_state_dir(privacy), "project-id")


def machine_id() -> str | None:
    """The OS machine id (systemd/dbus), or ``None`` where there is none."""
    for candidate in MACHINE_ID_PATHS:
        try:
            value = Path(candidate).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if value:
            return value
    return None


def salted_hash(value: str, salt: str) -> str:
    """Hex SHA-256 of ``salt + ":" + value``: stable per project, not reversible across projects."""
    return hashlib.sha256(f"{salt}:{value}".encode()).hexdigest()


def installation_id(project: str, directory: Path) -> str:
    """``app.installation.id``: the machine id hashed with the project id, else a UUID persisted
    in ``directory``."""
    machine = machine_id()
    if machine:
        return salted_hash(machine, project)
    return persisted_id(directory, "installation-id")
