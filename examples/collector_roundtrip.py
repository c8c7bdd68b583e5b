"""App -> collector -> backend on one machine, in one command.

    python examples/collector_roundtrip.py [--protocol grpc|http/protobuf] [--events N]

Starts an in-process OTLP receiver (standing in for the backend), starts the rotel
collector (the ``rotel-agent`` binary of the ``rotel`` package) forwarding to it,
sends Strapi-style events to rotel with ``otel_telemetry.Telemetry``, and prints
what reached the backend. Everything listens on 127.0.0.1 and is stopped at the end.
Exits 0 when every event arrived with its name, attributes and resource, 1 otherwise.

rotel runs with --disable-batching: rotel 0.0.1a15 drops the resource of records its
batcher splits off (see collector-config/README.md).

rotel-agent embeds Python: it links this interpreter's shared library (libpython3.X.so.1.0)
but carries no run path, so it is started with that library's directory on its
LD_LIBRARY_PATH (see rotel_environment). A Python built without a shared library cannot
run it; the example then says so and exits 2.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.resources
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import otel_telemetry
from otel_telemetry.receiver import OTLPReceiver, ReceivedRecord

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((HOST, port)) == 0


class NoSharedPython(RuntimeError):
    """This interpreter has no shared libpython, so rotel-agent (which links one) cannot start."""


def libpython_dir(config_vars: Mapping[str, object] | None = None) -> Path:
    """The directory holding this interpreter's shared library, e.g. libpython3.12.so.1.0.

    The interpreter knows it: sysconfig's INSTSONAME (the file's name) in LIBDIR (or its
    multiarch subdirectory, as Debian lays it out). ``config_vars`` defaults to this
    interpreter's sysconfig variables. Raises NoSharedPython with a one-line reason.
    """
    config = sysconfig.get_config_vars() if config_vars is None else config_vars
    version = f"Python {sys.version_info.major}.{sys.version_info.minor} ({sys.executable})"
    name = str(config.get("INSTSONAME") or config.get("LDLIBRARY") or "")
    if not config.get("Py_ENABLE_SHARED") or ".so" not in name:
        raise NoSharedPython(
            f"{version} is built without a shared libpython, which rotel-agent needs: "
            "use a Python built with --enable-shared (e.g. PYTHON_CONFIGURE_OPTS=--enable-shared for pyenv)"
        )
    libdir = Path(str(config.get("LIBDIR", "")))
    for directory in (libdir, libdir / str(config.get("MULTIARCH", ""))):
        if (directory / name).is_file():
            return directory
    raise NoSharedPython(f"{version}: its shared library {name} is not in {libdir}, which rotel-agent needs")


def rotel_environment() -> dict[str, str]:
    """The environment for rotel-agent: ours without ROTEL_*/OTEL_* settings, libpython on the loader path.

    Only the child gets the LD_LIBRARY_PATH; this process is left as it is.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROTEL_", "OTEL_"))}
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        [str(libpython_dir()), *filter(None, [os.environ.get("LD_LIBRARY_PATH")])]
    )
    return env


@contextlib.contextmanager
def rotel(exporter_endpoint: str, exporter_protocol: str, workdir: Path) -> Iterator[tuple[int, int]]:
    """Run rotel-agent in the foreground in its own process group; yield its (grpc, http) ports."""
    binary = Path(str(importlib.resources.files("rotel") / "rotel-agent"))
    grpc_port, http_port = free_port(), free_port()
    command = [
        str(binary), "start",
        "--otlp-grpc-endpoint", f"{HOST}:{grpc_port}",
        "--otlp-http-endpoint", f"{HOST}:{http_port}",
        "--exporter", "otlp",
        "--otlp-exporter-endpoint", exporter_endpoint,
        "--otlp-exporter-protocol", exporter_protocol,
        "--disable-batching",
        "--pid-file", str(workdir / "rotel.pid"),
        "--log-file", str(workdir / "rotel.log"),
    ]  # fmt: skip
    env = rotel_environment()
    with (workdir / "rotel.out").open("wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 15
        while not (accepts(grpc_port) and accepts(http_port)):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rotel did not start:\n{(workdir / 'rotel.out').read_text()}")
            time.sleep(0.05)
        print(f"rotel-agent pid {proc.pid}: OTLP in grpc {HOST}:{grpc_port}, http {HOST}:{http_port} "
              f"-> {exporter_protocol} {exporter_endpoint}")  # fmt: skip
        yield grpc_port, http_port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def events(count: int) -> list[tuple[str, dict[str, dict[str, object]], str]]:
    names = ("didCreateEntry", "didUpdateEntry", "didPublishEntry")
    return [
        (
            names[i % len(names)],
            {
                "eventProperties": {"seq": i, "model": "article", "containsRelationalFields": i % 2 == 0},
                "userProperties": {"role": "editor"},
                "groupProperties": {
                    "projectType": ("Community", "Enterprise")[i % 2],
                    "database": "postgres",
                },
            },
            f"user-{i}",
        )
        for i in range(count)
    ]


def describe(record: ReceivedRecord) -> str:
    resource = {k: v for k, v in record.resource.items() if k in ("service.name", "projectType", "database")}
    return f"  {record.event_name:<16} attributes={record.attributes} resource={resource}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--protocol", choices=("grpc", "http/protobuf"), default="grpc")
    parser.add_argument("--events", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        libpython_dir()
    except NoSharedPython as error:
        print(f"cannot run rotel-agent: {error}", file=sys.stderr)
        return 2
    exporter_protocol = "grpc" if args.protocol == "grpc" else "http"
    sent = events(args.events)

    with (
        tempfile.TemporaryDirectory(prefix="collector-roundtrip-") as tmp,
        OTLPReceiver(host=HOST) as backend,
    ):
        backend_endpoint = backend.grpc_endpoint if exporter_protocol == "grpc" else backend.http_endpoint
        with rotel(backend_endpoint, exporter_protocol, Path(tmp)) as (grpc_port, http_port):
            port = grpc_port if args.protocol == "grpc" else http_port
            app = otel_telemetry.Telemetry(
                service_name="roundtrip-app",
                exporter=otel_telemetry.OTLPExporter(
                    endpoint=f"http://{HOST}:{port}", protocol=args.protocol
                ),
            )
            for name, payload, user_id in sent:
                app.send(name, payload, user_id=user_id)
            delivered = app.flush(timeout_s=10)
            app.shutdown()
            print(f"sent {len(sent)} events over {args.protocol} to rotel (delivered to rotel: {delivered})")
            backend.wait_for(len(sent), timeout=10)
            time.sleep(0.2)
            received = sorted(backend.records, key=lambda r: int(r.attributes.get("seq", -1)))

    print(f"received {len(received)} events through rotel:")
    for record in received:
        print(describe(record))
    ok = len(received) == len(sent) and all(
        record.event_name == name
        and record.attributes.get("seq") == payload["eventProperties"]["seq"]
        and "user.hash" in record.attributes
        and record.resource.get("projectType") == payload["groupProperties"]["projectType"]
        and record.resource.get("service.name") == "roundtrip-app"
        for record, (name, payload, _) in zip(received, sent, strict=True)
    )
    print(
        "OK: every event arrived with its name, attributes and resource"
        if ok
        else "FAILED: events missing or changed"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
