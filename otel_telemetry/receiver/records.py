"""The decoded view of received records (moved to :mod:`otel_telemetry.records`, shared with
the in-memory exporter); kept here for the receiver's users."""

from ..records import ReceivedRecord, decode_any_value, decode_attributes, iter_records

__all__ = ["ReceivedRecord", "decode_any_value", "decode_attributes", "iter_records"]
