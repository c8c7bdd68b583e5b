"""A real OTLP logs receiver (gRPC + HTTP/protobuf + HTTP/JSON): the engine of ``serve``, and (with
scripted faults) of delivery tests, ours and users' (``otel_telemetry.testing``, ``docs/testing.md``).

with OTLPReceiver() as rx:
    exporter = OTLPLogExporter(endpoint=rx.grpc_endpoint, insecure=True)
    ...
    assert rx.wait_for(1)
    assert rx.records[0].event_name == "user.signup"
"""

from .core import OnRequest, Reply, RequestLogEntry
from .faults import Fault, FaultQueue
from .records import ReceivedRecord, decode_any_value, decode_attributes, iter_records
from .server import OTLPReceiver

__all__ = [
    "Fault",
    "FaultQueue",
    "OTLPReceiver",
    "OnRequest",
    "ReceivedRecord",
    "Reply",
    "RequestLogEntry",
    "decode_any_value",
    "decode_attributes",
    "iter_records",
]
