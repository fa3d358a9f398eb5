"""A streamed export's records a block at a time, decoded at C speed into only the fields asked for.

`client.stream` (ijson) builds every record whole, about 30 us each; reconciliation reads six
fields of a million records. Here the body is cut into blocks of about a megabyte at a candidate
record boundary (`},{`), and each block is decoded as one JSON array by msgspec into a Struct that
keeps only the fields asked for (the rest is skipped unread).

Why a block that decodes is exactly its records: a cut inside a record (in a nested list of
objects, or in a string holding `},{`) leaves that record, or the string, open, so the block is not
a JSON array and an earlier candidate is tried. An answer this cannot cut (`success` missing or
after the list, no candidate for 16 MB, a tail that does not close the object) raises
NotBlockShaped: the caller reads the export again with `client.stream`.
"""
from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Callable, Iterator

import msgspec

BLOCK_BYTES = 1 << 20
#: No record boundary within this many bytes: not a list this reader can cut.
MAX_BLOCK_BYTES = 16 << 20
#: Candidate cuts tried, from the last, before giving up on a block.
TRIES = 16
HEAD_BYTES = 8192
_CUT = re.compile(rb"\}\s*,\s*\{")
_SPACE = " \t\r\n"


class NotBlockShaped(Exception):
    """The answer cannot be cut into blocks; read it with the record stream instead."""


def records_start(head: bytes, array: str) -> int | None:
    """The offset just past the `[` of the top-level list `array`, if `success: true` comes first."""
    text = head.decode("latin-1")  # one character per byte: offsets stay byte offsets
    decoder = json.JSONDecoder()
    i = _skip(text, 0)
    if text[i:i + 1] != "{":
        return None
    i, success = i + 1, None
    while True:
        try:
            key, i = decoder.raw_decode(text, _skip(text, i))
        except ValueError:
            return None
        i = _skip(text, i)
        if not isinstance(key, str) or text[i:i + 1] != ":":
            return None
        i = _skip(text, i + 1)
        if key == array:
            return i + 1 if success is True and text[i:i + 1] == "[" else None
        try:
            value, i = decoder.raw_decode(text, i)
        except ValueError:
            return None  # a value running past the head (or not JSON)
        if key == "success":
            success = value
        i = _skip(text, i)
        if text[i:i + 1] != ",":
            return None
        i += 1


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _SPACE:
        i += 1
    return i


def record_blocks(read: Callable[[int], bytes], array: str, struct: type) -> Iterator[list]:
    """Lists of `struct` (msgspec, unknown fields skipped; non-integer numbers as Decimal), in order."""
    decoder = msgspec.json.Decoder(list[struct], float_hook=Decimal)
    buf, eof = b"", False
    while len(buf) < HEAD_BYTES and not eof:
        chunk = read(HEAD_BYTES)
        buf, eof = buf + chunk, not chunk
    start = records_start(buf, array)
    if start is None:
        raise NotBlockShaped(f"`success: true` does not come before `{array}` in the first {HEAD_BYTES} bytes")
    buf, want = buf[start:], BLOCK_BYTES
    while True:
        while not eof and len(buf) < want:
            chunk = read(BLOCK_BYTES)
            buf, eof = buf + chunk, not chunk
        if eof:
            yield _last_block(decoder, buf)
            return
        cut = _cut(decoder, buf)
        if cut is None:
            if len(buf) >= MAX_BLOCK_BYTES:
                raise NotBlockShaped(f"no record boundary of `{array}` found in {len(buf)} bytes")
            want = len(buf) + BLOCK_BYTES
            continue
        records, rest = cut
        yield records
        buf, want = buf[rest:], BLOCK_BYTES


def _cut(decoder: msgspec.json.Decoder, buf: bytes) -> tuple[list, int] | None:
    """The records before the last boundary that decodes, and where the next block starts."""
    tail_from = max(0, len(buf) - 65536)
    cuts = list(_CUT.finditer(buf, tail_from)) or list(_CUT.finditer(buf))
    if not cuts:
        return None
    for found in reversed(cuts[-TRIES:]):
        try:
            return decoder.decode(b"[" + buf[:found.start() + 1] + b"]"), found.end() - 1
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue  # a cut inside a record: try the one before
    raise NotBlockShaped(f"none of the last {TRIES} candidate record boundaries decodes")


def _last_block(decoder: msgspec.json.Decoder, buf: bytes) -> list:
    """The records up to the `]` closing the list; what follows must close the answer's object."""
    end, tries = len(buf), 0
    while tries < TRIES and (end := buf.rfind(b"]", 0, end)) >= 0:
        tries += 1
        try:
            records = decoder.decode(b"[" + buf[:end + 1])
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
        try:
            json.loads('{"_":0' + buf[end + 1:].decode("utf-8"))
        except ValueError:
            raise NotBlockShaped("the answer does not close after its list") from None
        return records
    raise NotBlockShaped("the list's end does not decode")
