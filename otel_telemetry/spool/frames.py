"""The on-disk frame: one encoded OTLP request with a header that lets a reader trust it.

``MAGIC (4) | payload length (u32) | record count (u32) | CRC-32 (u32) | payload``, the CRC
covering length, count and payload.

The magic marks where frames start, so a reader that meets a damaged frame (a torn write at a
crash, a flipped bit, a truncated file) can search for the next one and deliver the rest of the
segment. The payload is a serialized ``ExportLogsServiceRequest``: concatenating payloads gives
a valid request holding all their records (protobuf merges repeated fields by appending).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import NamedTuple

MAGIC = b"OTS1"
HEADER = struct.Struct("<4sIII")
_COVERED = struct.Struct("<II")
HEADER_SIZE = HEADER.size
#: Sanity limits: a header claiming more is damage, not data.
MAX_PAYLOAD = 256 * 1024 * 1024
MAX_RECORDS = 10_000_000


def encode_frame(payload: bytes, records: int) -> bytes:
    """Header + payload, ready for one ``write()``."""
    return HEADER.pack(MAGIC, len(payload), records, checksum(len(payload), records, payload)) + payload


def checksum(length: int, records: int, payload: bytes) -> int:
    """CRC-32 of the header fields and the payload: a damaged count is damage too."""
    return zlib.crc32(payload, zlib.crc32(_COVERED.pack(length, records)))


class Frame(NamedTuple):
    """A frame read back: where it starts and ends in its segment, and what it holds."""

    start: int
    end: int
    records: int
    payload: bytes


class Damage(NamedTuple):
    """A span of bytes that is not a valid frame (skipped by the reader).

    ``records`` is what the damaged frame's header claimed when its magic was intact (an
    estimate, capped by what its length could hold).
    """

    start: int
    end: int
    reason: str
    records: int = 0


def parse(data: bytes, base: int = 0, complete: bool = True) -> Iterator[Frame | Damage]:
    """Frames and damaged spans of ``data`` (which starts at offset ``base`` of its segment).

    With ``complete=False`` a frame cut off by the end of ``data`` is not reported (more bytes
    may follow); with ``complete=True`` (a segment nobody writes any more) it is damage.
    """
    pos = 0
    size = len(data)
    while pos < size:
        reason = ""
        lost = 0
        if size - pos < HEADER_SIZE:
            if not complete:
                return
            reason = "truncated header"
        else:
            magic, length, records, crc = HEADER.unpack_from(data, pos)
            if magic != MAGIC:
                reason = "bad magic"
            elif length > MAX_PAYLOAD or records > MAX_RECORDS:
                reason = "implausible header"
            elif pos + HEADER_SIZE + length > size:
                if not complete:
                    return
                reason, lost = "truncated payload", min(records, length // 2)
            else:
                payload = data[pos + HEADER_SIZE : pos + HEADER_SIZE + length]
                if checksum(length, records, payload) == crc:
                    end = pos + HEADER_SIZE + length
                    yield Frame(base + pos, base + end, records, payload)
                    pos = end
                    continue
                reason, lost = "checksum mismatch", min(records, length // 2)
        found = data.find(MAGIC, pos + 1)
        skip_to = size if found < 0 else found
        yield Damage(base + pos, base + skip_to, reason, lost)
        pos = skip_to
