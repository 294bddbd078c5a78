"""The .vqz container: pack and unpack, with typed errors. No torch, no model code.

Format 5 (written by this version): format 4 with a `payload_crc` (4 bytes, the CRC-32 of every
byte after the header's checks) between `header_check` and `crc32`, so that damage anywhere in
the file is found before any entropy decoding; and the limits below are the format's, checked
alike by the writer (`pack`) and the reader (`read_header`): a file one writes, the other reads.

Format 4 (read only; all integers little-endian, "varint" is unsigned LEB128 of at
most 5 bytes):

| size      | field        | meaning                                                           |
|-----------|--------------|-------------------------------------------------------------------|
| 3         | magic        | b"VQZ"                                                            |
| 1         | version      | 4                                                                 |
| 2         | model_id     | zoo id of the model that wrote the file (append-only registry)   |
| 4         | fingerprint  | 4 bytes of the sha256 over that model's weights, config and       |
|           |              | integer prior                                                     |
| 1         | flags        | bits 0-1 colour mode (0 RGB, 1 grayscale); bits 2-7 zero          |
| 1         | arithmetic   | how probabilities are computed: 1 = `int8-prior-1`, the exact     |
|           |              | integer prior of `coding.intprior` (0 = format 1's float prior)  |
| 1         | coder        | entropy coder: 1 = constriction's queue range coder, 32-bit words,|
|           |              | categorical rows as integer frequencies summing to 2^23           |
| varint    | width        | original width in pixels (>= 1)                                   |
| varint    | height       | original height in pixels (>= 1)                                  |
| varint    | tile         | coarsest-map codes per tile side (0: one tile), `format.tiles`   |
| varint    | maps         | code maps per tile (2: top, bottom), coarsest first               |
| varint    | tiles        | number of tiles (raster order)                                    |
| varint x  | lengths      | bytes of each stream: tile by tile, map by map                    |
| varint    | refine_step  | refinement quantizer step in quarters (`layers.refine`); 0: none |
| varint    | stripes      | only if refine_step > 0: refinement streams (one per stripe)      |
| varint x  | refine_len   | only if refine_step > 0: bytes of each refinement stream          |
| varint    | filter_len   | bytes of the restoration filter stream (`layers.restore`); 0: no |
|           |              | filter                                                            |
| 2         | header_check | low 16 bits of the CRC-32 of the header bytes before it           |
| 4         | crc32        | CRC-32 of the header bytes before header_check + the decoded      |
|           |              | indices (whole maps, coarsest first, raster, uint16 LE) + the     |
|           |              | refinement streams + the filter stream                            |
| ...       | streams      | range-coded streams in the order of `lengths` (trailing zero     |
|           |              | bytes of each dropped), then the refinement streams, then the     |
|           |              | filter stream                                                     |

The file ends exactly after the last stream: anything else is an error. header_check rejects a
damaged header before any decoding work; the CRC-32 covers header, indices and refinement, so
damage anywhere cannot turn into a silently different image.

Format 3 (read only): format 4 without filter_len and the filter stream.

Limits (every version): width and height 1..MAX_SIDE, at most MAX_PIXELS; tile 0 or at least
MIN_TILE codes; a tile's finest map at most MAX_TILE_CODES codes (checked against the image's
map sizes where the model's stride is known, `vqcodec.format.tiles.tiling_problem`); at most
MAX_BYTES_PER_PIXEL x width x height + 4096 payload bytes.

Format 2 (read only): format 3 without the refinement fields, its CRC without refinement.

Format 1 (read only): magic, version 1, model_id, fingerprint (weights only), flags (colour;
bits 2-4 backend 0 = torch fp32 CPU), varints width, height, len_top, len_bottom, header_check,
crc32, two streams; probabilities from the float prior, which decode only on machines whose
float arithmetic matches the writer's.

Versioning rule: any change to this layout, to the wavefront schedule, to the tiling or to the
probability arithmetic bumps `version`; readers refuse versions they do not know. Models are
never changed in place: new weights get a new model id.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace

from vqcodec.errors import CorruptStreamError, FormatError, FormatLimitError
from vqcodec.format import schema
from vqcodec.format.schema import (
    ARITHMETIC_FLOAT,
    ARITHMETIC_INT8_PRIOR,
    CODER_RANGE_2_23,
    FORMATS,
    MAGIC,
    MAX_MAPS,
    MAX_STREAMS,
    MAX_STRIPES,
    MIN_TILE,
    VERSION,
    format_of,
)

__all__ = [  # the format's constants, re-exported from vqcodec.format.schema
    "ARITHMETIC_FLOAT", "ARITHMETIC_INT8_PRIOR", "CODER_RANGE_2_23", "MAGIC", "MAX_MAPS",
    "MAX_STREAMS", "MAX_STRIPES", "MIN_TILE", "VERSION",
]  # fmt: skip

READABLE = tuple(FORMATS)
MAX_SIDE = 16384
MAX_PIXELS = 1 << 24  # 16.7 Mpx (4096 x 4096); larger images are refused before allocation
MAX_TILE_CODES = 1 << 16  # codes of a tile's finest map: bounds the prior's memory (2^16 lockstep)
MAX_TILE = 128  # coarsest-map codes per tile side: 256 x 256 finest codes with two maps
# No file comes near this: the code maps cost a few bits per 16 pixels, the finest refinement
# step on pure noise about 5 bytes per pixel. A header announcing more is refused (so an endless
# pipe is never read into memory), and the writer refuses to write more.
MAX_BYTES_PER_PIXEL = 16
MAX_HEADER_BYTES = 11 + 2 + 5 * 8 + 5 * (MAX_STREAMS + MAX_STRIPES) + FORMATS[VERSION].trailer.size

COLOUR_RGB = 0
COLOUR_GRAY = 1
ARITHMETIC_NAMES = {
    ARITHMETIC_FLOAT: "float32-prior (format 1)",
    ARITHMETIC_INT8_PRIOR: "int8-prior-1",
}
CODER_NAMES = {CODER_RANGE_2_23: "constriction range coder, 2^23 frequencies"}


@dataclass(frozen=True)
class Coded:
    """One layer's part of a file: a parameter the header carries (0: none) and its streams.
    The container maps it to header fields (`LAYER_FIELDS`); layers know nothing of the header."""

    param: int = 0
    streams: tuple[bytes, ...] = ()

    @property
    def present(self) -> bool:
        return bool(self.param) or any(self.streams)


ABSENT = Coded()


@dataclass(frozen=True)
class Header:
    model_id: int
    fingerprint: int
    colour: int
    width: int
    height: int
    tile: int  # coarsest-map codes per tile side; 0 = one tile
    lengths: tuple[tuple[int, ...], ...]  # stream bytes per tile, per map
    arithmetic: int = ARITHMETIC_INT8_PRIOR
    coder: int = CODER_RANGE_2_23
    version: int = VERSION
    refine_step: int = 0  # refinement quantizer step in quarters; 0: no refinement (format 3)
    refine_lengths: tuple[int, ...] = ()  # bytes of each refinement stream
    filter_length: int = 0  # bytes of the restoration filter stream; 0: none (format 4)

    @property
    def maps(self) -> int:
        return len(self.lengths[0]) if self.lengths else 0

    @property
    def payload_bytes(self) -> int:
        maps = sum(n for tile in self.lengths for n in tile)
        return maps + sum(self.refine_lengths) + self.filter_length

    def fields(self) -> schema.Values:
        """The header's field values, as `vqcodec.format.schema.HEADER` names them."""
        return {
            "magic": MAGIC,
            "version": self.version,
            "model_id": self.model_id,
            "fingerprint": self.fingerprint,
            "flags": self.colour,
            "arithmetic": self.arithmetic,
            "coder": self.coder,
            "width": self.width,
            "height": self.height,
            "tile": self.tile,
            "maps": self.maps,
            "tiles": len(self.lengths),
            "lengths": tuple(n for tile in self.lengths for n in tile),
            "refine_step": self.refine_step,
            "stripes": len(self.refine_lengths),
            "refine_lengths": self.refine_lengths,
            "filter_length": self.filter_length,
        }

    @classmethod
    def from_fields(cls, v: schema.Values) -> Header:
        """The header of field values read by `vqcodec.format.schema.read`."""

        def num(name: str, default: int = 0) -> int:
            return int(v.get(name, default))  # type: ignore[call-overload]

        maps, flat = num("maps", 2), tuple(v["lengths"])  # type: ignore[call-overload]
        return cls(
            model_id=num("model_id"),
            fingerprint=num("fingerprint"),
            colour=num("flags") & 0b11,
            width=num("width"),
            height=num("height"),
            tile=num("tile"),
            lengths=tuple(flat[t : t + maps] for t in range(0, len(flat), maps)),
            arithmetic=num("arithmetic", ARITHMETIC_FLOAT),
            coder=num("coder", CODER_RANGE_2_23),
            version=num("version"),
            refine_step=num("refine_step"),
            refine_lengths=tuple(v.get("refine_lengths", ())),  # type: ignore[call-overload]
            filter_length=num("filter_length"),
        )

    def pack_fields(self) -> bytes:
        """The header bytes before the checks."""
        return schema.write(self.fields())


def size_problem(width: int, height: int) -> str | None:
    """Why an image of this size cannot be coded (None if it can): the one size policy."""
    if width < 1 or height < 1:
        return f"empty image ({width}x{height})"
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        return f"{width}x{height} is over the limit of {MAX_SIDE} per side and {MAX_PIXELS} pixels"
    return None


def max_payload_bytes(width: int, height: int) -> int:
    """The largest payload a file of this size may announce (format limit, writer and reader)."""
    return MAX_BYTES_PER_PIXEL * width * height + 4096


def trailer(version: int) -> struct.Struct:
    """The checks after the header fields: header_check, (format 5: payload_crc,) crc32."""
    return format_of(version).trailer


def header_problem(header: Header) -> str | None:
    """Why a header breaks the format's limits (None if it does not): the one rule the writer
    (`pack`) and the reader (`read_header`) share."""
    if problem := size_problem(header.width, header.height):
        return problem
    if header.version >= 2:
        if header.tile < 0 or 0 < header.tile < MIN_TILE:
            return f"tiles of {header.tile} codes"
        if header.tile > MAX_TILE:
            return f"tiles of {header.tile} codes (at most {MAX_TILE})"
        if not 1 <= header.maps <= MAX_MAPS or len(header.lengths) * header.maps > MAX_STREAMS:
            return f"{len(header.lengths)} tiles of {header.maps} maps"
        if header.refine_step and not 1 <= len(header.refine_lengths) <= MAX_STRIPES:
            return f"{len(header.refine_lengths)} refinement stripes"
    if header.payload_bytes > max_payload_bytes(header.width, header.height):
        return (
            f"{header.payload_bytes} payload bytes for a {header.width}x{header.height} image "
            f"(the format's limit is {max_payload_bytes(header.width, header.height)})"
        )
    return None


# the header fields of each layer above the code maps (format 3: refinement, 4: wiener)
LAYER_FIELDS = {
    "refinement": ("refine_step", "refine_lengths"),
    "wiener": ("filter_length",),
}


def _layer_fields(layers: dict[str, Coded]) -> dict[str, object]:
    refinement = layers.get("refinement", ABSENT)
    wiener = layers.get("wiener", ABSENT)
    if set(layers) - set(LAYER_FIELDS):
        raise ValueError(f"no header fields for layers {sorted(set(layers) - set(LAYER_FIELDS))}")
    if len(wiener.streams) > 1 or wiener.param:
        raise ValueError("the wiener layer has one stream and no parameter")
    return {
        "refine_step": refinement.param,
        "refine_lengths": tuple(len(s) for s in refinement.streams),
        "filter_length": sum(len(s) for s in wiener.streams),
    }


def assemble(
    header: Header, map_streams: list[list[bytes]], indices: bytes, layers: dict[str, Coded]
) -> bytes:
    """The .vqz file of `header` (its map lengths and layer fields filled in here), the code
    maps' streams (per tile, per map), the decoded `indices` (`index_bytes`) the CRC covers and
    every layer's part; the container computes its checks."""
    header = replace(
        header,
        lengths=tuple(tuple(len(s) for s in tile) for tile in map_streams),
        **_layer_fields(layers),
    )
    refinement = list(layers.get("refinement", ABSENT).streams)
    filter_stream = b"".join(layers.get("wiener", ABSENT).streams)
    crc = crc_of(header.pack_fields(), indices, [*refinement, filter_stream])
    return pack(header, map_streams, crc, refinement, filter_stream)


def check_indices(parsed: Parsed, indices: bytes) -> None:
    """The CRC over header, decoded indices and layer streams, after entropy decoding."""
    if crc_of(parsed.header_fields, indices, parsed.layers) != parsed.crc:
        raise CorruptStreamError("corrupt .vqz payload (CRC mismatch)")


def crc_of(header_fields: bytes, indices: bytes, layers: list[bytes] | tuple = ()) -> int:
    """The payload CRC: header, decoded indices, then the refinement and filter streams."""
    crc = zlib.crc32(indices, zlib.crc32(header_fields))
    for stream in layers:
        crc = zlib.crc32(stream, crc)
    return crc


def header_check(header_fields: bytes) -> int:
    return zlib.crc32(header_fields) & 0xFFFF


def pack(
    header: Header,
    streams: list[list[bytes]],
    crc: int,
    refinement: list[bytes] | tuple = (),
    filter_stream: bytes = b"",
) -> bytes:
    """Header + streams (per tile, per map) + refinement streams + filter stream -> the .vqz
    bytes."""
    if [[len(s) for s in tile] for tile in streams] != [list(t) for t in header.lengths]:
        raise ValueError("stream lengths disagree with the header")
    if [len(s) for s in refinement] != list(header.refine_lengths):
        raise ValueError("refinement lengths disagree with the header")
    if len(filter_stream) != header.filter_length:
        raise ValueError("filter length disagrees with the header")
    if header.version >= 2 and (problem := header_problem(header)):
        raise FormatLimitError(f"cannot write this image as a .vqz file: {problem}")
    fields = header.pack_fields()
    payload = b"".join(s for tile in streams for s in tile) + b"".join(refinement) + filter_stream
    checks = (header_check(fields), zlib.crc32(payload), crc)
    if not format_of(header.version).payload_crc:
        checks = (checks[0], crc)
    return fields + trailer(header.version).pack(*checks) + payload


@dataclass(frozen=True)
class Parsed:
    header: Header
    header_fields: bytes
    crc: int  # of header, decoded indices and layers: checked after entropy decoding
    streams: list[list[bytes]]  # per tile, per map (coarsest first)
    refinement: list[bytes]  # per stripe (format 3; empty without refinement)
    filter_stream: bytes = b""  # the restoration filter (format 4; empty without one)

    @property
    def layers(self) -> list[bytes]:
        """The streams after the code maps', in the order the CRC covers them."""
        return [*self.refinement, self.filter_stream]

    def coded(self, layer: str) -> Coded:
        """A layer's part of the file (`LAYER_FIELDS`)."""
        if layer == "refinement":
            return Coded(self.header.refine_step, tuple(self.refinement))
        if layer == "wiener":
            return Coded(0, (self.filter_stream,)) if self.filter_stream else ABSENT
        raise ValueError(f"no layer {layer!r} in the .vqz format")


@dataclass(frozen=True)
class HeaderRead:
    """A validated header, its bytes and the checks after it."""

    header: Header
    fields: bytes  # the header bytes before header_check
    raw: bytes  # every header byte, checks included
    crc: int
    payload_crc: int | None  # format 5 and later


def read_header(read: Callable[[int], bytes]) -> HeaderRead:
    """The header pulled from `read(n)`, validated (header check, the format's limits), reading
    exactly the header: at most MAX_HEADER_BYTES."""
    taken = bytearray()

    def take(n: int) -> bytes:
        part = read(n) if n else b""
        taken.extend(part)
        if len(part) < n:
            raise FormatError("truncated .vqz file" if len(taken) < 4 else "truncated .vqz header")
        return part

    header = Header.from_fields(schema.read(take))
    fields = bytes(taken)
    checks = trailer(header.version).unpack(take(trailer(header.version).size))
    if checks[0] != header_check(fields):
        raise CorruptStreamError("corrupt .vqz header (header check mismatch)")
    if problem := header_problem(header):
        raise FormatError(f"invalid .vqz header: {problem}")
    payload_crc = checks[1] if format_of(header.version).payload_crc else None
    return HeaderRead(header, fields, bytes(taken), checks[-1], payload_crc)


def unpack_header(prefix: bytes) -> tuple[Header, int]:
    """The header of a .vqz file and its length in bytes (checks included), from the file's
    first bytes; the payload is neither needed nor checked."""
    found = read_header(io.BytesIO(prefix).read)
    return found.header, len(found.raw)


def check_payload(found: HeaderRead, payload: bytes) -> None:
    """The payload CRC of format 5: damage is found before any decoding work."""
    if found.payload_crc is not None and zlib.crc32(payload) != found.payload_crc:
        raise CorruptStreamError("corrupt .vqz payload (payload CRC mismatch)")


def unpack(data: bytes) -> Parsed:
    """Parse and validate the container (format 5: the payload's CRC too); raises FormatError
    for anything malformed."""
    found = read_header(io.BytesIO(data).read)
    header, header_fields, crc = found.header, found.fields, found.crc
    pos = len(found.raw)
    end = pos + header.payload_bytes
    if len(data) < end:
        raise FormatError(f"truncated .vqz file ({len(data)} bytes, header says {end})")
    if len(data) > end:
        raise FormatError(f"trailing data after the .vqz payload ({len(data) - end} bytes)")
    check_payload(found, data[pos:end])
    streams = []
    for tile in header.lengths:
        streams.append([])
        for n in tile:
            streams[-1].append(data[pos : pos + n])
            pos += n
    refinement = []
    for n in header.refine_lengths:
        refinement.append(data[pos : pos + n])
        pos += n
    return Parsed(header, header_fields, crc, streams, refinement, data[pos:end])
