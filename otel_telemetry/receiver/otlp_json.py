"""OTLP/JSON <-> protobuf messages.

OTLP/JSON is proto3 JSON with two twists that ``google.protobuf.json_format``
does not know about: trace/span ids are hex strings (not base64), and
unknown fields must be ignored. Enum values as integers and int64 values as
numbers or strings are already accepted by ``json_format``.
"""

from __future__ import annotations

import base64
import json
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

__all__ = ["hex_ids_to_base64", "message_to_json", "parse_otlp_json"]

_M = TypeVar("_M", bound=Message)

# Every bytes field that OTLP/JSON hex-encodes (logs, spans, span links, exemplars).
# Attribute keys are values ({"key": ..., "value": ...}), never object keys, so
# matching object keys by name cannot hit user data.
_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})


def _hex_to_base64(value: str) -> str:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return value  # not hex: leave it for json_format to judge
    return base64.b64encode(raw).decode("ascii")


def hex_ids_to_base64(node: Any) -> Any:
    """Return a copy of decoded OTLP/JSON with hex trace/span ids turned into proto3-JSON base64."""
    if isinstance(node, dict):
        return {
            key: _hex_to_base64(value)
            if key in _ID_KEYS and isinstance(value, str)
            else hex_ids_to_base64(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [hex_ids_to_base64(item) for item in node]
    return node


def parse_otlp_json(data: bytes, message_type: type[_M]) -> _M:
    """Parse an OTLP/JSON document into ``message_type``.

    Raises ``ValueError`` (including ``json_format.ParseError`` and
    ``UnicodeDecodeError``) or ``RecursionError`` when the document is not valid OTLP/JSON.
    """
    document = json.loads(data.decode("utf-8"))
    if not isinstance(document, dict):
        raise ValueError(f"OTLP/JSON body must be an object, got {type(document).__name__}")
    message: _M = message_type()
    json_format.ParseDict(hex_ids_to_base64(document), message, ignore_unknown_fields=True)
    return message


def message_to_json(message: Message) -> bytes:
    """Encode a response or ``google.rpc.Status`` as compact proto3 JSON (these carry no ids)."""
    return json.dumps(json_format.MessageToDict(message), separators=(",", ":")).encode("utf-8")
