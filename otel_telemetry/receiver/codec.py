"""HTTP body handling for OTLP/HTTP: content types, decompression, decoding and encoding.

Every failure is a :class:`BodyError` carrying the HTTP status to answer with,
so the HTTP handler never has to guess (and never crashes on bad input).
"""

from __future__ import annotations

import zlib
from typing import TypeVar

from google.protobuf.message import Message

from .otlp_json import message_to_json, parse_otlp_json

__all__ = [
    "JSON",
    "PROTOBUF",
    "BodyError",
    "decode_message",
    "decompress",
    "encode_message",
    "media_type",
    "protocol_for",
]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_PROTOCOLS = {PROTOBUF: "http/protobuf", JSON: "http/json"}

_M = TypeVar("_M", bound=Message)


class BodyError(Exception):
    """The request body cannot be used; ``status`` is the HTTP status to answer (400/413/415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def media_type(content_type: str | None) -> str:
    """``"Application/JSON; charset=utf-8"`` -> ``"application/json"``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def protocol_for(media: str) -> str:
    """Protocol label for a media type: "http/protobuf", "http/json", or "http" when unsupported."""
    return _PROTOCOLS.get(media, "http")


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    """Decompress one zlib/gzip stream (gzip: all concatenated members), refusing output over ``limit``."""
    out = bytearray()
    while True:
        inflater = zlib.decompressobj(wbits)
        out += inflater.decompress(data, limit + 1 - len(out))  # max_length >= 1 here
        if not inflater.unconsumed_tail:
            out += inflater.flush()
        if inflater.unconsumed_tail or len(out) > limit:
            raise BodyError(413, f"decompressed body exceeds {limit} bytes")
        if not inflater.eof:
            raise BodyError(400, "truncated compressed body")
        data = inflater.unused_data
        if not (data and wbits == 31):
            return bytes(out)


def decompress(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding`` (gzip, deflate, identity; comma-separated chains applied in order)."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    for coding in reversed(codings):
        try:
            if coding in ("gzip", "x-gzip"):
                body = _inflate(body, 31, limit)
            elif coding == "deflate":
                try:
                    body = _inflate(body, 15, limit)  # RFC 9110 "deflate" is zlib-wrapped...
                except zlib.error:
                    body = _inflate(body, -15, limit)  # ...but some clients send raw deflate
            elif coding != "identity":
                raise BodyError(415, f"unsupported Content-Encoding {coding!r}")
        except zlib.error as exc:
            raise BodyError(400, f"cannot decompress {coding} body: {exc}") from exc
    return body


def decode_message(data: bytes, media: str, message_type: type[_M]) -> _M:
    """Decode a protobuf or OTLP/JSON body into ``message_type``."""
    try:
        if media == PROTOBUF:
            message: _M = message_type.FromString(data)
            return message
        if media == JSON:
            return parse_otlp_json(data, message_type)
    except RecursionError as exc:
        raise BodyError(400, f"{message_type.__name__} nested too deeply") from exc
    except Exception as exc:  # DecodeError, ParseError, ValueError, ...: all mean "bad body"
        raise BodyError(400, f"cannot decode {message_type.__name__}: {exc}") from exc
    raise BodyError(415, f"unsupported Content-Type {media!r} (use {PROTOBUF} or {JSON})")


def encode_message(message: Message, media: str) -> bytes:
    """Encode a response in the request's media type (protobuf unless the request was JSON)."""
    if media == JSON:
        return message_to_json(message)
    data: bytes = message.SerializeToString()
    return data
