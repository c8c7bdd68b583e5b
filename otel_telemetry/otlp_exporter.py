"""The default exporter: map and encode a batch once, then send it over OTLP.

Everything that touches the outside world (resource detectors, the state directory for ids,
the network) happens here, lazily, on the worker thread: creating a ``Telemetry`` or calling
``send()`` does none of it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .config import ExporterSettings
from .encoding import BatchEncoder
from .event import Event
from .mapping import Mapper
from .outcome import ExportOutcome

if TYPE_CHECKING:
    from .transport import Transport

MapperFactory = Callable[[], Mapper]


class OTLPExporter:
    """Prepares serialised ``ExportLogsServiceRequest`` s and sends them with the configured transport."""

    def __init__(
        self,
        settings: ExporterSettings,
        mapper_factory: MapperFactory,
        scope_name: str,
        scope_version: str,
    ) -> None:
        self.settings = settings
        self._mapper_factory = mapper_factory
        self._mapper: Mapper | None = None
        self._mapper_lock = threading.Lock()
        self._encoder = BatchEncoder(scope_name, scope_version)
        self._transport: Transport | None = None
        self._fixed_transport = False
        self._lock = threading.Lock()

    @property
    def mapper(self) -> Mapper:
        """The mapper, built on first use (it reads the environment and the state dir)."""
        with self._mapper_lock:
            if self._mapper is None:
                self._mapper = self._mapper_factory()
            return self._mapper

    def prepare(self, batch: Sequence[Event], new_id: Callable[[], str] | None = None) -> bytes:
        return self._encoder.encode_events(batch, self.mapper, new_id)

    def send(self, prepared: bytes, timeout_s: float) -> ExportOutcome:
        with self._lock:
            if self._transport is None:
                from .transport import make_transport  # grpc / requests load here, not at import

                self._transport = make_transport(self.settings)
            transport = self._transport
        return transport.send(prepared, timeout_s)

    def use_transport(self, transport: Transport) -> None:
        """Send through ``transport`` instead of the configured one (debug mode prints instead)."""
        with self._lock:
            self._transport = transport
            self._fixed_transport = True

    def close(self) -> None:
        if self._fixed_transport:
            return
        with self._lock:
            transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()

    def after_fork(self) -> None:
        # The parent's connections are not ours to use or close: start afresh.
        if not self._fixed_transport:
            self._transport = None
        self._lock = threading.Lock()
