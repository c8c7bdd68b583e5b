"""Run the rotel collector (``rotel-agent`` from the ``rotel`` PyPI package) as a child process.

rotel is a small OpenTelemetry collector written in Rust; its wheel ships the
binary. Tests start it in the foreground (no ``--daemon``) in its own process
group, on ports picked beforehand (rotel cannot bind port 0), forwarding OTLP to
an endpoint of the test's choosing, and stop the whole group afterwards.

Known defect of rotel 0.0.1a15 (binary 0.0.1-alpha10): when its batcher splits an
incoming request, the split-off records lose their resource attributes. The
harness therefore runs rotel with ``--disable-batching`` unless told otherwise.

rotel-agent links the interpreter's shared libpython without a run path; the
environment that puts it on the child's loader path comes from
``examples/collector_roundtrip.py`` (``rotel_environment``), the one place that finds
it, so the example users copy and the tests start rotel the same way.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import importlib.util
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType, TracebackType

import pytest

__all__ = [
    "RotelAgent",
    "RotelError",
    "free_port",
    "libpython_missing",
    "needs_shared_libpython",
    "rotel_binary",
]

HOST = "127.0.0.1"
ROUNDTRIP_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "collector_roundtrip.py"


def _load_roundtrip_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("collector_roundtrip", ROUNDTRIP_EXAMPLE)
    assert spec is not None and spec.loader is not None, ROUNDTRIP_EXAMPLE
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


roundtrip_example = _load_roundtrip_example()


class RotelError(RuntimeError):
    pass


def rotel_binary() -> Path:
    """The ``rotel-agent`` executable inside the installed ``rotel`` package."""
    path = Path(str(importlib.resources.files("rotel") / "rotel-agent"))
    if not path.is_file():
        raise RotelError(f"rotel-agent not found at {path}; install the test extra (rotel==0.0.1a15)")
    return path


def libpython_missing() -> str | None:
    """Why rotel-agent cannot run on this interpreter (no shared libpython), or None: a skip reason."""
    try:
        roundtrip_example.libpython_dir()
    except roundtrip_example.NoSharedPython as error:
        return str(error)
    return None


#: Marks tests that start rotel-agent: on a static build they skip, the reason saying why.
_LIBPYTHON_MISSING = libpython_missing()
needs_shared_libpython = pytest.mark.skipif(_LIBPYTHON_MISSING is not None, reason=str(_LIBPYTHON_MISSING))


def free_port(host: str = HOST) -> int:
    """A port that was free a moment ago (rotel needs a concrete port, not 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _accepts(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


class RotelAgent:
    """One rotel collector: OTLP in on ``grpc_port``/``http_port``, OTLP out to ``exporter_endpoint``.

    The ports are fixed for the object's lifetime, so ``stop()`` then ``start()``
    brings the "same" collector back, as a restarted deployment would.
    """

    def __init__(
        self,
        workdir: Path,
        exporter_endpoint: str,
        *,
        exporter_protocol: str = "grpc",
        batching: bool = False,
        extra_args: Sequence[str] = (),
    ) -> None:
        if exporter_protocol not in ("grpc", "http"):
            raise ValueError("exporter_protocol must be 'grpc' or 'http'")
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.exporter_endpoint = exporter_endpoint
        self.exporter_protocol = exporter_protocol
        self.batching = batching
        self.extra_args = tuple(extra_args)
        self.grpc_port = free_port()
        self.http_port = free_port()
        while self.http_port == self.grpc_port:
            self.http_port = free_port()
        self.log_path = workdir / "rotel-agent.log"
        self.pid_path = workdir / "rotel-agent.pid"
        self.output_path = workdir / "rotel-agent.out"
        self._proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    # -- endpoints for the app side
    @property
    def grpc_endpoint(self) -> str:
        return f"http://{HOST}:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    def endpoint_for(self, protocol: str) -> str:
        return self.grpc_endpoint if protocol == "grpc" else self.http_endpoint

    # -- lifecycle
    def command(self) -> list[str]:
        args = [
            str(rotel_binary()),
            "start",
            "--otlp-grpc-endpoint",
            f"{HOST}:{self.grpc_port}",
            "--otlp-http-endpoint",
            f"{HOST}:{self.http_port}",
            "--otlp-receiver-traces-disabled",
            "--otlp-receiver-metrics-disabled",
            "--exporter",
            "otlp",
            "--otlp-exporter-endpoint",
            self.exporter_endpoint,
            "--otlp-exporter-protocol",
            self.exporter_protocol,
            # Retry a refused export quickly, and for long enough to ride out a test outage.
            "--otlp-exporter-retry-initial-backoff",
            "200ms",
            "--otlp-exporter-retry-max-backoff",
            "1s",
            "--otlp-exporter-retry-max-elapsed-time",
            "60s",
            "--pid-file",
            str(self.pid_path),
            "--log-file",
            str(self.log_path),
        ]
        if not self.batching:
            args.append("--disable-batching")
        args.extend(self.extra_args)
        return args

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self, timeout: float = 15.0) -> RotelAgent:
        if self.running:
            raise RotelError("rotel is already running")
        env = roundtrip_example.rotel_environment()
        output = self.output_path.open("ab")
        try:
            self._proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own process group: stop() signals the whole group
            )
        finally:
            output.close()
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RotelError(f"rotel exited with {self._proc.returncode}:\n{self.output_tail()}")
            if _accepts(HOST, self.grpc_port) and _accepts(HOST, self.http_port):
                return self
            time.sleep(0.05)
        self.kill()
        raise RotelError(
            f"rotel did not open {self.grpc_port}/{self.http_port} in {timeout}s:\n{self.output_tail()}"
        )

    def _signal_group(self, sig: signal.Signals) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful stop (SIGTERM to the process group), SIGKILL if it does not exit in time."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self._proc.wait(5.0)
        self._wait_ports_closed()

    def kill(self) -> None:
        """Crash it: SIGKILL to the whole process group."""
        if self._proc is None or self._proc.poll() is not None:
            return
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(5.0)
        self._wait_ports_closed()

    def _wait_ports_closed(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(
            _accepts(HOST, p) for p in (self.grpc_port, self.http_port)
        ):
            time.sleep(0.05)

    def output_tail(self, lines: int = 40) -> str:
        text = ""
        for path in (self.output_path, self.log_path):
            if path.exists():
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> RotelAgent:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
