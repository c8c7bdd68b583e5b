"""The local backend behind ``serve``, ``tail`` and ``demo``: an OTLP receiver, optionally
storing into SQLite and serving the web page."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path

import click
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from ..receiver import OTLPReceiver
from ..store import ChdbStore, EventStore
from ..web import WebViewer

#: The receiver keeps every record in memory for tests; a long-running server forgets them.

OnRequest = Callable[[str, ExportLogsServiceRequest], None]


class LocalBackend:
    """Receiver (+ store, + web page) started and stopped together."""

    def __init__(
        self,
        host: str,
        grpc_port: int | None,
        http_port: int | None,
        db_path: Path | None = None,
        web_port: int | None = None,
        on_request: OnRequest | None = None,
        web_host: str | None = None,
        keep_records: bool = True,
        web_allow_hosts: tuple[str, ...] = (),
    ) -> None:
        self.store: EventStore | None = None
        self.chdb: ChdbStore | None = None  # `--db chdb:PATH`: the ClickHouse table, no web page
        self.web: WebViewer | None = None
        self._extra = on_request
        self._protocols = (grpc_port is not None, http_port is not None)
        try:
            if db_path is not None and str(db_path).lower().startswith("chdb:"):
                self.chdb = ChdbStore(str(db_path)[len("chdb:") :])
            elif db_path is not None:
                self.store = EventStore(db_path)
            self.receiver = OTLPReceiver(
                host=host,
                grpc_port=grpc_port,
                http_port=http_port,
                on_request=self._on_request,
                keep_records=keep_records,  # long-running commands keep nothing in memory
            )
            self.receiver.start()
            if web_port is not None and self.store is not None:
                self.web = WebViewer(self.store, web_host or host, web_port, web_allow_hosts).start()
        except Exception as error:
            self.stop()
            raise click.ClickException(f"cannot start the local receiver on {host}: {error}") from None

    def _on_request(self, protocol: str, request: ExportLogsServiceRequest) -> None:
        # Store first: if that fails the receiver answers 503 / UNAVAILABLE, so the sender retries.
        if self.store is not None:
            self.store.add_request(protocol, request)
        if self.chdb is not None:
            self.chdb.add_request(protocol, request)
        if self._extra is not None:
            self._extra(protocol, request)

    def describe(self) -> list[str]:
        """Lines saying where to send and where to look."""
        lines = []
        rx = self.receiver
        if self._protocols[0]:
            lines.append(f"OTLP/gRPC  {rx.grpc_endpoint}")
        if self._protocols[1]:
            lines.append(f"OTLP/HTTP  {rx.http_endpoint}  (protobuf and JSON, path /v1/logs)")
        if self.store is not None:
            lines.append(f"database   {self.store.path}")
        if self.chdb is not None:
            lines.append(
                f"database   chdb:{self.chdb.path}  (table otel.otel_events, write-ahead journal "
                f"{self.chdb.journal.directory.name}/; no web page)"
            )
        if self.web is not None:
            lines.append(f"web page   {self.web.url}")
        return lines

    def stop(self) -> None:
        """Stop everything that was started; safe to call more than once."""
        if self.web is not None:
            self.web.stop()
            self.web = None
        receiver = getattr(self, "receiver", None)
        if receiver is not None:
            receiver.stop()
        if self.store is not None:
            self.store.close()
            self.store = None
        if self.chdb is not None:
            self.chdb.close()
            self.chdb = None

    def __enter__(self) -> LocalBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def stop_on_sigterm() -> threading.Event:
    """An event set by SIGTERM; install it before announcing readiness, so no SIGTERM is missed."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    return stop


def wait_for_interrupt(stop: threading.Event) -> None:
    """Block until ``stop`` is set (SIGTERM, see :func:`stop_on_sigterm`) or Ctrl-C."""
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
