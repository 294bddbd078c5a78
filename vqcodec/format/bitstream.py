"""The .vqz container: pack and unpack, with typed errors. No torch, no model code.

The format is specified in docs/FORMAT.md (section 2: header, checks, limits); the header's
fields are declared once in `vqcodec.format.schema`. Format 6 (written by this version) names
the layers above the code maps as generic records (layer id, parameter, stream lengths), so a
new layer needs no new field; formats 3-5 wrote the refinement and the filter in fields of their
own, read here as the same records. The limits below are the format's, checked alike by the
writer (`pack`) and the reader (`read_header`): a file one writes, the other reads.

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
# magic..flags, arithmetic, coder, five varints, the map lengths, then format 6's layer records
# (format 5's fields take fewer: 3 varints and MAX_STRIPES lengths)
MAX_HEADER_BYTES = (
    11 + 2 + 5 * 5 + 5 * MAX_STREAMS
    + 5 + schema.MAX_LAYERS * 5 * (3 + schema.MAX_LAYER_STREAMS)
    + FORMATS[VERSION].trailer.size
)  # fmt: skip

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
    The container writes it as a layer record (`LayerRecord`); layers know nothing of the
    header."""

    param: int = 0
    streams: tuple[bytes, ...] = ()

    @property
    def present(self) -> bool:
        return bool(self.param) or any(self.streams)


ABSENT = Coded()


@dataclass(frozen=True)
class LayerRecord:
    """One layer above the code maps as the header names it: the layer's id (the registry of
    `vqcodec.layers`; ids increase in the order the layers run), its parameter and the byte
    length of each of its streams."""

    layer: int
    param: int = 0
    lengths: tuple[int, ...] = ()


# Formats 3-5 wrote two layers in fields of their own; format 6 writes the same layers as records
# with these ids (`vqcodec.layers`: refinement 1, restoration network 2, Wiener filter 3).
REFINEMENT_ID, FILTER_ID = 1, 3


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
    layers: tuple[LayerRecord, ...] = ()  # the layers above the maps, in the order they run

    @property
    def maps(self) -> int:
        return len(self.lengths[0]) if self.lengths else 0

    @property
    def payload_bytes(self) -> int:
        maps = sum(n for tile in self.lengths for n in tile)
        return maps + sum(sum(record.lengths) for record in self.layers)

    def record(self, layer: int) -> LayerRecord | None:
        """The record of layer id `layer`, None if the file has no such layer."""
        return next((r for r in self.layers if r.layer == layer), None)

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
            "layers": tuple((r.layer, r.param, r.lengths) for r in self.layers),
            **_legacy_fields(self),
        }

    @classmethod
    def from_fields(cls, v: schema.Values) -> Header:
        """The header of field values read by `vqcodec.format.schema.read`."""

        def num(name: str, default: int = 0) -> int:
            return int(v.get(name, default))  # type: ignore[call-overload]

        maps, flat = num("maps", 2), tuple(v["lengths"])  # type: ignore[call-overload]
        records = v.get("layers", ())
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
            layers=tuple(LayerRecord(*r) for r in records) or _legacy_records(v),  # type: ignore
        )

    def pack_fields(self) -> bytes:
        """The header bytes before the checks."""
        return schema.write(self.fields())


def _legacy_fields(header: Header) -> schema.Values:
    """Formats 3-5: the refinement's and the filter's records as their own fields."""
    if header.version < 3 and header.layers:
        raise ValueError(f"format {header.version} cannot hold layers")
    if header.version >= 6 or header.version < 3:
        return {}
    unknown = [r.layer for r in header.layers if r.layer not in (REFINEMENT_ID, FILTER_ID)]
    if unknown or (header.version < 4 and header.record(FILTER_ID)):
        raise ValueError(f"format {header.version} cannot hold layers {unknown or [3]}")
    refinement = header.record(REFINEMENT_ID) or LayerRecord(REFINEMENT_ID)
    filt = header.record(FILTER_ID) or LayerRecord(FILTER_ID)
    if len(filt.lengths) > 1 or filt.param or (refinement.param == 0) != (not refinement.lengths):
        raise ValueError(f"format {header.version}: a refinement record needs a step and streams, "
                         "a filter record one stream and no parameter")  # fmt: skip
    return {
        "refine_step": refinement.param,
        "stripes": len(refinement.lengths),
        "refine_lengths": refinement.lengths,
        "filter_length": sum(filt.lengths),
    }


def _legacy_records(v: schema.Values) -> tuple[LayerRecord, ...]:
    """Formats 3-5: the records of the refinement's and the filter's own fields."""
    records = []
    if step := int(v.get("refine_step", 0)):  # type: ignore[call-overload]
        records.append(LayerRecord(REFINEMENT_ID, step, tuple(v["refine_lengths"])))  # type: ignore
    if length := int(v.get("filter_length", 0)):  # type: ignore[call-overload]
        records.append(LayerRecord(FILTER_ID, 0, (length,)))
    return tuple(records)


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
        if problem := schema.records_problem(
            tuple((r.layer, r.param, r.lengths) for r in header.layers)
        ):
            return problem
        refinement = header.record(REFINEMENT_ID)
        if header.version < 6 and refinement and not 1 <= len(refinement.lengths) <= MAX_STRIPES:
            return f"{len(refinement.lengths)} refinement stripes"
    if header.payload_bytes > max_payload_bytes(header.width, header.height):
        return (
            f"{header.payload_bytes} payload bytes for a {header.width}x{header.height} image "
            f"(the format's limit is {max_payload_bytes(header.width, header.height)})"
        )
    return None


def assemble(
    header: Header,
    map_streams: list[list[bytes]],
    indices: bytes,
    layers: list[tuple[int, Coded]],
) -> bytes:
    """The .vqz file of `header` (its map lengths and layer records filled in here), the code
    maps' streams (per tile, per map), the decoded `indices` (`index_bytes`) the CRC covers and
    each layer's part as (layer id, Coded), in the order the layers run (absent ones left
    out); the container computes its checks."""
    present = [(layer, coded) for layer, coded in layers if coded.present]
    header = replace(
        header,
        lengths=tuple(tuple(len(s) for s in tile) for tile in map_streams),
        layers=tuple(
            LayerRecord(layer, coded.param, tuple(len(s) for s in coded.streams))
            for layer, coded in present
        ),
    )
    layer_streams = [coded.streams for _, coded in present]
    crc = crc_of(header.pack_fields(), indices, [s for streams in layer_streams for s in streams])
    return pack(header, map_streams, crc, layer_streams)


def check_indices(parsed: Parsed, indices: bytes) -> None:
    """The CRC over header, decoded indices and layer streams, after entropy decoding."""
    if crc_of(parsed.header_fields, indices, parsed.layers) != parsed.crc:
        raise CorruptStreamError("corrupt .vqz payload (CRC mismatch)")


def crc_of(header_fields: bytes, indices: bytes, layers: list[bytes] | tuple = ()) -> int:
    """The whole-file CRC: header, decoded indices, then every layer's streams in order."""
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
    layer_streams: list[tuple[bytes, ...]] | tuple = (),
) -> bytes:
    """Header + map streams (per tile, per map) + each layer record's streams -> the .vqz
    bytes."""
    if [[len(s) for s in tile] for tile in streams] != [list(t) for t in header.lengths]:
        raise ValueError("stream lengths disagree with the header")
    if [tuple(map(len, s)) for s in layer_streams] != [r.lengths for r in header.layers]:
        raise ValueError("layer stream lengths disagree with the header")
    if header.version >= 2 and (problem := header_problem(header)):
        raise FormatLimitError(f"cannot write this image as a .vqz file: {problem}")
    fields = header.pack_fields()
    payload = b"".join(s for tile in streams for s in tile)
    payload += b"".join(s for layer in layer_streams for s in layer)
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
    layer_streams: tuple[tuple[bytes, ...], ...] = ()  # per layer record, its streams

    @property
    def layers(self) -> list[bytes]:
        """The streams after the code maps', in the order the CRC covers them."""
        return [s for streams in self.layer_streams for s in streams]

    def coded(self, layer: int) -> Coded:
        """The part of the file of layer id `layer` (ABSENT if the file has none)."""
        for record, streams in zip(self.header.layers, self.layer_streams, strict=True):
            if record.layer == layer:
                return Coded(record.param, streams)
        return ABSENT


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
    layer_streams = []
    for record in header.layers:
        layer_streams.append(tuple(data[p : p + n] for p, n in _offsets(pos, record.lengths)))
        pos += sum(record.lengths)
    return Parsed(header, header_fields, crc, streams, tuple(layer_streams))


def _offsets(start: int, lengths: tuple[int, ...]) -> list[tuple[int, int]]:
    """(offset, length) of consecutive streams from `start`."""
    out = []
    for n in lengths:
        out.append((start, n))
        start += n
    return out
