"""The .vqz container: pack and unpack, with typed errors. No torch, no model code.

Layout (all integers little-endian; "varint" is unsigned LEB128, at most 5 bytes):

| offset | size   | field         | meaning                                                        |
|--------|--------|---------------|----------------------------------------------------------------|
| 0      | 3      | magic         | b"VQZ"                                                         |
| 3      | 1      | version       | format version, currently 1                                    |
| 4      | 2      | model_id      | zoo id of the model that wrote the file (append-only registry) |
| 6      | 4      | fingerprint   | first 4 bytes of the sha256 of that model's weights file       |
| 10     | 1      | flags         | bits 0-1 colour mode (0 RGB, 1 grayscale); bits 2-4 backend    |
|        |        |               | class of the prior arithmetic (0 = torch fp32 CPU); 5-7 zero   |
| 11     | varint | width         | original width in pixels (>= 1)                                |
|        | varint | height        | original height in pixels (>= 1)                               |
|        | varint | len_top       | bytes of the top-map stream                                    |
|        | varint | len_bottom    | bytes of the bottom-map stream                                 |
|        | 2      | header_check  | low 16 bits of the CRC-32 of the header bytes before it        |
|        | 4      | crc32         | CRC-32 of the header bytes before header_check + the decoded   |
|        |        |               | indices (top map then bottom map, uint16 little-endian)        |
|        | len_top    | stream 0  | range-coded top map (trailing zero bytes dropped)              |
|        | len_bottom | stream 1  | range-coded bottom map                                         |

A 768x512 image has a 25-byte header. The file ends exactly after stream 1: anything else is an
error. header_check rejects a damaged header (a size field, say) before any decoding work; the
CRC-32 covers header and indices, so damage anywhere cannot turn into a silently different image.

Versioning rule: any change to this layout, to the wavefront schedule, or to the probability
policy bumps `version`; readers refuse versions they do not know. Models are never changed in
place: new weights get a new model id.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from vqcodec.errors import CorruptStreamError, FormatError

MAGIC = b"VQZ"
VERSION = 1
MAX_SIDE = 16384
MAX_PIXELS = 1 << 24  # 16.7 Mpx (4096 x 4096); larger images are refused before allocation

COLOUR_RGB = 0
COLOUR_GRAY = 1
BACKEND_TORCH_FP32_CPU = 0

_FIXED = struct.Struct("<3sBHIB")  # magic, version, model_id, fingerprint, flags


@dataclass(frozen=True)
class Header:
    model_id: int
    fingerprint: int
    colour: int
    backend: int
    width: int
    height: int
    len_top: int
    len_bottom: int

    def pack_fields(self) -> bytes:
        """The header bytes before the CRC."""
        flags = self.colour | (self.backend << 2)
        fixed = _FIXED.pack(MAGIC, VERSION, self.model_id, self.fingerprint, flags)
        sizes = (self.width, self.height, self.len_top, self.len_bottom)
        return fixed + b"".join(_varint(v) for v in sizes)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for shift in range(0, 35, 7):
        if pos >= len(data):
            raise FormatError("truncated .vqz header")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
    raise FormatError("malformed .vqz header (varint too long)")


def size_problem(width: int, height: int) -> str | None:
    """Why an image of this size cannot be coded (None if it can): the one size policy."""
    if width < 1 or height < 1:
        return f"empty image ({width}x{height})"
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        return f"{width}x{height} is over the limit of {MAX_SIDE} per side and {MAX_PIXELS} pixels"
    return None


def crc_of(header_fields: bytes, indices: bytes) -> int:
    return zlib.crc32(indices, zlib.crc32(header_fields))


def _header_check(header_fields: bytes) -> int:
    return zlib.crc32(header_fields) & 0xFFFF


def pack(header: Header, top: bytes, bottom: bytes, crc: int) -> bytes:
    if (len(top), len(bottom)) != (header.len_top, header.len_bottom):
        raise ValueError("stream lengths disagree with the header")
    fields = header.pack_fields()
    return fields + struct.pack("<HI", _header_check(fields), crc) + top + bottom


@dataclass(frozen=True)
class Parsed:
    header: Header
    header_fields: bytes
    crc: int
    top: bytes
    bottom: bytes


def unpack(data: bytes) -> Parsed:
    """Parse and validate the container; raises FormatError for anything malformed."""
    if data[: len(MAGIC)] != MAGIC[: len(data)]:
        raise FormatError("not a .vqz file (bad magic bytes)")
    if len(data) < _FIXED.size:
        raise FormatError("truncated .vqz file")
    _, version, model_id, fingerprint, flags = _FIXED.unpack_from(data)
    if version != VERSION:
        raise FormatError(
            f"unsupported .vqz format version {version} (this reader knows {VERSION})"
        )
    if flags >> 5:
        raise FormatError("malformed .vqz header (reserved flag bits set)")
    colour, backend = flags & 0b11, (flags >> 2) & 0b111
    if colour not in (COLOUR_RGB, COLOUR_GRAY):
        raise FormatError(f"unknown colour mode {colour} in .vqz header")
    if backend != BACKEND_TORCH_FP32_CPU:
        raise FormatError(f"unknown prior backend class {backend} in .vqz header")
    pos = _FIXED.size
    width, pos = _read_varint(data, pos)
    height, pos = _read_varint(data, pos)
    len_top, pos = _read_varint(data, pos)
    len_bottom, pos = _read_varint(data, pos)
    header_fields = data[:pos]
    if len(data) < pos + 6:
        raise FormatError("truncated .vqz header")
    check, crc = struct.unpack_from("<HI", data, pos)
    if check != _header_check(header_fields):
        raise CorruptStreamError("corrupt .vqz header (header check mismatch)")
    if problem := size_problem(width, height):
        raise FormatError(f"invalid .vqz header: {problem}")
    pos += 6
    end = pos + len_top + len_bottom
    if len(data) < end:
        raise FormatError(f"truncated .vqz file ({len(data)} bytes, header says {end})")
    if len(data) > end:
        raise FormatError(f"trailing data after the .vqz payload ({len(data) - end} bytes)")
    header = Header(model_id, fingerprint, colour, backend, width, height, len_top, len_bottom)
    return Parsed(header, header_fields, crc, data[pos : pos + len_top], data[pos + len_top : end])


MAX_HEADER_BYTES = _FIXED.size + 4 * 5 + 6  # fixed fields, four varints of <= 5 bytes, checks


def unpack_header(prefix: bytes) -> tuple[Header, int]:
    """The header of a .vqz file and its length in bytes, from the file's first bytes: at least
    `MAX_HEADER_BYTES` of them, or the whole file if it is shorter. The payload is neither
    needed nor checked, so `info` and the Pillow plugin read a bounded prefix of a file or pipe.
    Raises FormatError (CorruptStreamError for a failed header check) as `unpack` does."""
    data = bytes(prefix[:MAX_HEADER_BYTES])
    if data[: len(MAGIC)] != MAGIC[: len(data)]:
        raise FormatError("not a .vqz file (bad magic bytes)")
    if len(data) < _FIXED.size:
        raise FormatError("truncated .vqz file")
    _, version, model_id, fingerprint, flags = _FIXED.unpack_from(data)
    if version != VERSION:
        raise FormatError(
            f"unsupported .vqz format version {version} (this reader knows {VERSION})"
        )
    if flags >> 5:
        raise FormatError("malformed .vqz header (reserved flag bits set)")
    colour, backend = flags & 0b11, (flags >> 2) & 0b111
    if colour not in (COLOUR_RGB, COLOUR_GRAY):
        raise FormatError(f"unknown colour mode {colour} in .vqz header")
    if backend != BACKEND_TORCH_FP32_CPU:
        raise FormatError(f"unknown prior backend class {backend} in .vqz header")
    pos = _FIXED.size
    width, pos = _read_varint(data, pos)
    height, pos = _read_varint(data, pos)
    len_top, pos = _read_varint(data, pos)
    len_bottom, pos = _read_varint(data, pos)
    if len(data) < pos + 6:
        raise FormatError("truncated .vqz header")
    (check,) = struct.unpack_from("<H", data, pos)
    if check != _header_check(data[:pos]):
        raise CorruptStreamError("corrupt .vqz header (header check mismatch)")
    if problem := size_problem(width, height):
        raise FormatError(f"invalid .vqz header: {problem}")
    header = Header(model_id, fingerprint, colour, backend, width, height, len_top, len_bottom)
    return header, pos + 6
