"""The default exporter: OTLP over gRPC or HTTP, sending the encoder's bytes as they are.

The transport (and its library, grpcio or requests) is created on first export, on the
worker thread: creating a ``Telemetry`` or calling ``send()`` opens no connection. After a
``fork()`` the child starts without the parent's connections.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..processes import fork_waits
from ..settings import ExporterSettings
from .base import Exporter, ExportResult

if TYPE_CHECKING:
    from ..transport import Transport

_live: weakref.WeakSet[OTLPExporter] = weakref.WeakSet()


class OTLPExporter(Exporter):
    """OTLP/gRPC, OTLP/HTTP protobuf or OTLP/HTTP JSON, per ``settings.protocol``.

    ``OTLPExporter(endpoint=..., protocol=..., headers=...)`` is ``ExporterSettings.from_env``
    with those three over the ``OTEL_EXPORTER_OTLP_*`` variables (``endpoint`` a base URL:
    ``/v1/logs`` is appended for HTTP; ``headers`` merged over the environment's);
    ``OTLPExporter(settings)`` takes complete settings and reads no variable.
    """

    def __init__(
        self,
        settings: ExporterSettings | None = None,
        *,
        endpoint: str | None = None,
        protocol: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if settings is not None:
            shortcuts = (("endpoint", endpoint), ("protocol", protocol), ("headers", headers))
            given = [name for name, value in shortcuts if value is not None]
            if given:
                raise TypeError(
                    f"OTLPExporter() takes settings or {', '.join(given)}=, not both "
                    "(settings are complete: set those fields in the ExporterSettings)"
                )
        #: Where and how; ``ExporterSettings.from_env()`` when not given.
        self.settings = (
            settings
            if settings is not None
            else ExporterSettings.from_env(protocol=protocol, endpoint=endpoint, headers=headers)
        )
        self._transport: Transport | None = None
        self._lock = threading.Lock()
        _live.add(self)

    def export(self, request: bytes, timeout_s: float) -> ExportResult:
        settings = self.settings
        if settings.config_error is not None:
            return ExportResult(
                False, error=f"configuration error: {settings.config_error}", drop_reason="config_error"
            )
        with self._lock:
            if self._transport is None:
                with fork_waits():  # a fork must not inherit a held import lock
                    from ..transport import make_transport  # grpc / requests load here, not at import

                    self._transport = make_transport(settings)
            transport = self._transport
        return transport.send(request, min(timeout_s, settings.timeout_s))

    def shutdown(self) -> None:
        with self._lock:
            transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()

    def _after_fork(self) -> None:
        self._transport = None  # the parent's connections are not ours to use or close
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OTLPExporter({self.settings.protocol} {self.settings.endpoint})"


def _reset_after_fork() -> None:
    for exporter in list(_live):
        exporter._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
