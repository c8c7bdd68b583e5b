"""Exporting into an app's own OpenTelemetry ``LoggerProvider``.

An app that already configured OTel keeps its pipeline: events are mapped as usual and emitted
through its provider's processors and exporters. Each record carries the resource of its group
properties (the provider's resource merged with them), as in the default pipeline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, ReadWriteLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from . import processes
from .encoding import EVENT_ID_ATTRIBUTE
from .event import Event
from .mapping import MappedRecord, Mapper
from .otlp_exporter import MapperFactory
from .outcome import OK, ExportOutcome
from .values import AttrValue


def sdk_resource(attributes: Mapping[str, AttrValue]) -> Resource:
    """An SDK ``Resource`` (used as the "encoding" of a resource handle in this mode)."""
    return Resource(dict(attributes))


class ProviderExporter:
    """Emits mapped records through ``provider``'s processors."""

    def __init__(
        self, provider: LoggerProvider, mapper_factory: MapperFactory, scope: InstrumentationScope
    ) -> None:
        self.provider = provider
        self._mapper_factory = mapper_factory
        self._mapper: Mapper | None = None
        self._mapper_lock = processes.fork_safe(threading.Lock())
        self._scope = scope
        self._logger = provider.get_logger(scope.name, scope.version)

    @property
    def mapper(self) -> Mapper:
        """The mapper, built on first use."""
        with self._mapper_lock:
            if self._mapper is None:
                with processes.fork_waits():
                    self._mapper = self._mapper_factory()
            return self._mapper

    def prepare(self, batch: Sequence[Event], new_id: Callable[[], str] | None = None) -> list[MappedRecord]:
        mapper = self.mapper
        records = [mapper.map(event) for event in batch]
        if new_id is not None:
            for record in records:
                record.attributes[EVENT_ID_ATTRIBUTE] = new_id()
        return records

    def _record(self, r: MappedRecord) -> ReadWriteLogRecord:
        context = None
        if r.trace_id:
            span = SpanContext(r.trace_id, r.span_id, is_remote=False, trace_flags=TraceFlags(r.trace_flags))
            context = set_span_in_context(NonRecordingSpan(span))
        record = LogRecord(
            timestamp=r.time_ns,
            observed_timestamp=r.time_ns,
            context=context,
            severity_number=SeverityNumber.INFO,
            severity_text="INFO",
            body=r.body,
            attributes=r.attributes,
            event_name=r.name,
        )
        return ReadWriteLogRecord(record, resource=r.resource.proto, instrumentation_scope=self._scope)

    def send(self, prepared: list[MappedRecord], timeout_s: float) -> ExportOutcome:
        for record in prepared:
            self._logger.emit(self._record(record))  # type: ignore[call-overload]
        return OK

    def force_flush(self, timeout_s: float) -> bool:
        """The provider's ``force_flush``, bounded: the SDK's may ignore its timeout."""
        result: list[bool] = []
        thread = threading.Thread(
            target=lambda: result.append(bool(self.provider.force_flush(int(timeout_s * 1000)))),
            name="otel-telemetry-provider-flush",
            daemon=True,
        )
        thread.start()
        thread.join(timeout_s)
        return bool(result and result[0])

    def close(self) -> None:
        """The provider belongs to the app: it is not shut down here."""

    def after_fork(self) -> None:
        """The provider handles its own fork safety."""
