"""The test suite on every Python we support, each in its own venv: ``nox -s tests-3.13`` (or ``-t tests``).

CI (.ci/run) runs the whole suite once on its ``python3`` and, meanwhile, these sessions on the
other versions, one after the other, each installing a wheel built first (WHEEL_ENV). A
session runs the core, examples and collector tests (VERSION_SENSITIVE_TESTS), fast:
``-m "not slow"``, stopping at the first failure, with the test extra minus what only other tests
use (FULL_RUN_ONLY). Arguments after ``--`` replace that selection and those options and install
the whole test extra: ``nox -s tests-3.12 -- tests -q`` runs the whole suite on 3.12.

Interpreters are found by path, never downloaded: the newest pyenv build of each version
(``$PYENV_ROOT/versions/X.Y.*``), else ``pythonX.Y`` on PATH. A version this machine lacks is
skipped with a message saying where it was looked for.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import nox

VERSIONS = ("3.10", "3.11", "3.12", "3.13")
PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", "~/.pyenv")).expanduser() / "versions"

#: The tests a session runs unless given arguments: the core library, the examples and the
#: collector path. The rest (CLI, long fault runs, mypy/ruff, benchmarks, the browser test) is
#: the same on every version and runs once, in CI's full run.
VERSION_SENSITIVE_TESTS = (
    # core: settings, values and mapping, encoding, the delivery loop, exporters and transports
    # (TLS, retries), lifecycle (atexit, fork, threads), spool and store
    "tests/test_settings.py",
    "tests/test_environment_variables.py",
    "tests/test_values.py",
    "tests/test_timestamp.py",
    "tests/test_properties.py",
    "tests/test_mapping.py",
    "tests/test_resources.py",
    "tests/test_policies.py",
    "tests/test_encoding.py",
    "tests/test_pipeline.py",
    "tests/test_exporters.py",
    "tests/test_transport.py",
    "tests/test_lifecycle.py",
    # signals and pool workers: CPython's signal and fork handling differ between versions (the
    # two long fork runs over one protocol each here: the full run covers both)
    "tests/test_process_signals.py",
    "tests/test_process_models.py::test_thirty_terminated_pools_in_a_row_neither_hang_nor_lose_an_event[http/protobuf]",
    "tests/test_process_models.py::test_sixty_children_forked_across_the_parents_exports_all_deliver[grpc]",
    # the module-level send() of a short-lived program: fork hooks that give logging's lock back
    "tests/test_deferred.py",
    "tests/test_spool.py",
    "tests/test_store.py",
    "tests/test_integrations.py",
    # the examples, each run as a subprocess
    "tests/test_examples.py",
    "tests/test_examples_collector.py",
    # the collector configs and app -> rotel -> receiver
    "tests/collector",
)
PYTEST_OPTIONS = ("-m", "not slow", "-x", "-q", "-p", "no:cacheprovider")
#: Requirements of the test extra that only tests outside that selection use (type and lint checks,
#: the browser test, ClickHouse insights: over 700 MB): a session with the default selection skips them.
FULL_RUN_ONLY = frozenset(
    {
        "mypy",
        "ruff",
        "types-pyyaml",
        "types-requests",
        "types-jsonschema",
        "playwright",
        "chdb",
        "clickhouse-connect",
    }
)

#: A built wheel of the package to install instead of the tree (editable): .ci/run builds one, so
#: that the sessions run while the full run's own editable install writes into the tree.
WHEEL_ENV = "OTEL_TELEMETRY_NOX_WHEEL"

nox.options.download_python = "never"  # only the interpreters this machine has
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
    # A version manager's shim is not an interpreter: it may name a version that is not installed.
    return Path(on_path) if on_path and Path(on_path).parent.name != "shims" else None


@contextlib.contextmanager
def one_install_at_a_time() -> Iterator[None]:
    """Editable installs rewrite otel_telemetry.egg-info in the tree: parallel sessions take turns."""
    Path(".nox").mkdir(exist_ok=True)
    with open(".nox/install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def install(session: nox.Session, *, everything: bool) -> None:
    """``pip install -e '.[test]'``, or without FULL_RUN_ONLY; the package's own install takes turns."""
    if everything:
        with one_install_at_a_time():
            session.install("-q", "-e", ".[test]")
        return
    test_extra = nox.project.load_toml("pyproject.toml")["project"]["optional-dependencies"]["test"]
    name = re.compile(r"[A-Za-z0-9._-]+")
    own, others = [], []
    for requirement in test_extra:
        match = name.match(requirement)
        assert match, requirement
        project = match.group().lower()
        if project == "otel-telemetry":  # the extra names the package's own extras: otel-telemetry[cli,...]
            own.extend(re.findall(r"[\w-]+", requirement[match.end() :].partition("]")[0]))
        elif project not in FULL_RUN_ONLY:
            others.append(requirement)
    session.install("-q", *others)
    extras = f"[{','.join(own)}]" if own else ""
    wheel = os.environ.get(WHEEL_ENV)
    if wheel:  # (CI: built before the full run's editable install, which these must not disturb)
        session.install("-q", f"{Path(wheel).resolve()}{extras}")
        return
    with one_install_at_a_time():
        session.install("-q", "-e", f".{extras}")


def define_tests_session(version: str) -> None:
    python = interpreter(version)

    def tests(session: nox.Session) -> None:
        if python is None:
            session.skip(
                f"Python {version} not found (no {PYENV_VERSIONS}/{version}.*, no python{version} on PATH)"
            )
        missing = [path for path in VERSION_SENSITIVE_TESTS if not Path(path.partition("::")[0]).exists()]
        if missing and not session.posargs:
            session.error(f"noxfile.py lists tests that are gone: {', '.join(missing)}")
        install(session, everything=bool(session.posargs))
        args = session.posargs or (*PYTEST_OPTIONS, *VERSION_SENSITIVE_TESTS)
        # Exit 5 (nothing collected, e.g. every selected test skipped) is not a failure.
        session.run("python", "-m", "pytest", *args, success_codes=[0, 5])

    tests.__doc__ = f"The tests on Python {version} ({python or 'not found on this machine'})."
    nox.session(
        name=f"tests-{version}",
        python=str(python) if python else False,
        venv_backend="venv",
        tags=["tests"],
        allow_parallel=True,
    )(tests)


for _version in VERSIONS:
    define_tests_session(_version)
