"""The test suite on every Python we support, each in its own venv: ``nox -s tests-3.13`` (or ``-t tests``).

CI (.ci/run) runs the whole suite once on its ``python3`` and then these sessions on the other
versions. A session runs the tests that can differ between Python versions, fast (``-m "not slow"``,
stop at the first failure); the checks that cannot (mypy, ruff, the benchmark harness, the browser
test) run once, in the full run. Arguments after ``--`` replace the default selection:
``nox -s tests-3.12 -- tests/collector -q``.

Interpreters are found by path, never downloaded: the newest pyenv build of each version
(``$PYENV_ROOT/versions/X.Y.*``), else ``pythonX.Y`` on PATH. A version this machine lacks is
skipped with a message saying where it was looked for.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import nox

VERSIONS = ("3.10", "3.11", "3.12", "3.13")
PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", "~/.pyenv")).expanduser() / "versions"

#: What a session runs unless given arguments: everything but the version-independent checks.
DEFAULT_PYTEST_ARGS = (
    "tests",
    "-m",
    "not slow",
    "-x",
    "-q",
    "-p",
    "no:cacheprovider",
    "--ignore=tests/test_code_quality.py",
    "--ignore=tests/test_benchmarks.py",
    "--ignore=tests/test_web.py",
)

nox.options.download_python = "never"
nox.options.error_on_missing_interpreters = False
nox.options.sessions = [f"tests-{version}" for version in VERSIONS]


def interpreter(version: str) -> Path | None:
    """The newest pyenv build of ``version`` (e.g. 3.12.1 for "3.12"), else ``pythonX.Y`` on PATH."""
    pattern = re.compile(rf"{re.escape(version)}\.(\d+)")
    builds = sorted(
        (int(match.group(1)), path / "bin" / f"python{version}")
        for path in (PYENV_VERSIONS.iterdir() if PYENV_VERSIONS.is_dir() else ())
        if (match := pattern.fullmatch(path.name))
    )
    found = [path for _, path in builds if os.access(path, os.X_OK)]
    if found:
        return found[-1]
    on_path = shutil.which(f"python{version}")
    return Path(on_path) if on_path else None


def define_tests_session(version: str) -> None:
    python = interpreter(version)

    def tests(session: nox.Session) -> None:
        if python is None:
            session.skip(
                f"Python {version} not found (no {PYENV_VERSIONS}/{version}.*, no python{version} on PATH)"
            )
        session.install("-q", "-e", ".[test]")
        # Exit 5 (nothing collected, e.g. every selected test skipped) is not a failure.
        session.run("python", "-m", "pytest", *(session.posargs or DEFAULT_PYTEST_ARGS), success_codes=[0, 5])

    tests.__doc__ = f"The tests on Python {version} ({python or 'not found on this machine'})."
    nox.session(
        name=f"tests-{version}", python=str(python) if python else False, venv_backend="venv", tags=["tests"]
    )(tests)


for _version in VERSIONS:
    define_tests_session(_version)
