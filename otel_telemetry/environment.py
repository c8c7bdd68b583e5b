"""The anonymous facts Strapi sends about the environment, under OpenTelemetry's names.

Each becomes a resource attribute (semantic-convention name where one exists) and each can be
turned off by name, or all at once with ``"all"``.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Collection, Mapping
from pathlib import Path

from .identity import installation_id

#: ``platform.machine()`` values mapped to the semantic-convention ``host.arch`` values.
_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm32",
    "armv6l": "arm32",
    "i386": "x86",
    "i686": "x86",
    "ppc64le": "ppc64",
    "ppc64": "ppc64",
    "s390x": "s390x",
}

#: Environment variables that identify a CI system (name -> value of ``otel_telemetry.ci.name``).
_CI_SYSTEMS = (
    ("GITHUB_ACTIONS", "github_actions"),
    ("GITLAB_CI", "gitlab"),
    ("CIRCLECI", "circleci"),
    ("TRAVIS", "travis"),
    ("JENKINS_URL", "jenkins"),
    ("BUILDKITE", "buildkite"),
    ("TF_BUILD", "azure_pipelines"),
    ("BITBUCKET_BUILD_NUMBER", "bitbucket"),
    ("CODEBUILD_BUILD_ID", "aws_codebuild"),
    ("TEAMCITY_VERSION", "teamcity"),
    ("DRONE", "drone"),
    ("CI", "unknown"),
)

#: The anonymous facts, by name: what ``PrivacySettings.disable_defaults`` may name (or ``all``).
DEFAULT_NAMES = (
    "os.type",
    "os.version",
    "host.arch",
    "process.runtime.name",
    "process.runtime.version",
    "container.runtime.name",
    "otel_telemetry.ci.name",
    "app.installation.id",
)


def os_type() -> str:
    """``os.type`` as the semantic conventions spell it (``linux``, ``darwin``, ``windows`` ...)."""
    name = sys.platform
    if name.startswith("linux"):
        return "linux"
    if name.startswith("win"):
        return "windows"
    if name.startswith("freebsd"):
        return "freebsd"
    return name


def ci_name(environ: Mapping[str, str]) -> str | None:
    """The CI system this process runs in, if any."""
    for variable, name in _CI_SYSTEMS:
        value = environ.get(variable)
        if value and value.strip().lower() not in ("0", "false", "no"):
            return name
    return None


def container_runtime(root: Path = Path("/")) -> str | None:
    """``docker``/``podman``/``kubernetes``-managed container detection, without reading ids."""
    if (root / ".dockerenv").exists():
        return "docker"
    if (root / "run/.containerenv").exists():
        return "podman"
    try:
        cgroup = (root / "proc/1/cgroup").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for marker, name in (("docker", "docker"), ("kubepods", "containerd"), ("containerd", "containerd")):
        if marker in cgroup:
            return name
    return None


def default_attributes(
    project_id: str,
    environ: Mapping[str, str],
    state: Path,
    disabled: Collection[str] = (),
) -> dict[str, str]:
    """The anonymous environment facts, minus the ones turned off (``"all"`` turns all off).

    ``environ`` is read for the CI systems' own variables (facts, not settings); ``state`` is
    where an installation id is persisted when the machine has no id."""
    if "all" in disabled:
        return {}
    facts: dict[str, str | None] = {
        "os.type": os_type(),
        "os.version": platform.release() or None,
        "host.arch": _ARCH.get(platform.machine().lower(), platform.machine().lower() or None),
        "process.runtime.name": sys.implementation.name,
        "process.runtime.version": platform.python_version(),
        "container.runtime.name": container_runtime(),
        "otel_telemetry.ci.name": ci_name(environ),
    }
    if "app.installation.id" not in disabled:
        facts["app.installation.id"] = installation_id(project_id, state)
    return {k: v for k, v in facts.items() if v is not None and k not in disabled}
