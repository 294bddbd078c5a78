"""The .vqz header as data: one declarative list of fields, walked once to write a header and
once to read it (as libjxl's `Fields` / `VisitFields`), and the registry of format versions.

A field names its encoding, the versions that have it, and (optionally) a condition on the
fields before it, a count (for a list of varints) and a check run as soon as it is read, so a
damaged or hostile header is refused before anything it announces is read or allocated.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from vqcodec.errors import FormatError

Values = dict[str, object]

MAGIC = b"VQZ"
MAX_MAPS = 8
MAX_STREAMS = 1 << 17  # tiles x maps: 4096 x 4096 at stride 2 in the smallest tiles is 2^17
MAX_STRIPES = 64  # refinement stripes: 16384 rows in stripes of 512 take 32
MIN_TILE = 4  # coarsest-map codes per tile side (or 0: one tile)
MAX_LAYERS = 8  # layer records (format 6)
MAX_LAYER_STREAMS = MAX_STRIPES  # streams of one layer record
ARITHMETIC_FLOAT = 0  # format 1 only
ARITHMETIC_INT8_PRIOR = 1
CODER_RANGE_2_23 = 1


@dataclass(frozen=True)
class Format:
    """What a format version is, beyond its fields: the checks after the header, and how its
    code maps are decoded and its model recognised."""

    version: int
    trailer: struct.Struct  # header_check, [payload_crc,] crc
    maps: str  # the maps' decoder: "float-prior" (format 1) or "int8-prior"
    fingerprint: str  # "weights" (format 1: the weights' sha256) or "model" (weights, config,
    # integer priors)

    @property
    def payload_crc(self) -> bool:
        return len(self.trailer.format) > 3


_CHECKS = struct.Struct("<HI")
_CHECKS_PAYLOAD = struct.Struct("<HII")
FORMATS = {
    1: Format(1, _CHECKS, "float-prior", "weights"),
    2: Format(2, _CHECKS, "int8-prior", "model"),  # tiles, the exact integer prior
    3: Format(3, _CHECKS, "int8-prior", "model"),  # + the refinement layer
    4: Format(4, _CHECKS, "int8-prior", "model"),  # + the Wiener filter layer
    5: Format(5, _CHECKS_PAYLOAD, "int8-prior", "model"),  # + the payload CRC
    6: Format(6, _CHECKS_PAYLOAD, "int8-prior", "model"),  # layers as generic records
}
VERSION = max(FORMATS)  # what this version writes


def format_of(version: int) -> Format:
    if version not in FORMATS:
        known = ", ".join(map(str, FORMATS))
        raise FormatError(f"unsupported .vqz format version {version} (this reader knows {known})")
    return FORMATS[version]


def _problem(condition: bool, message: str) -> str | None:
    return message if condition else None


def _check_version(v: Values) -> None:
    format_of(int(v["version"]))  # FormatError for a version this reader does not know


def _check_flags(v: Values) -> str | None:
    flags, version = int(v["flags"]), int(v["version"])
    if flags >> (5 if version == 1 else 2):
        return "malformed .vqz header (reserved flag bits set)"
    if version == 1 and (flags >> 2) & 0b111:
        return f"unknown prior backend class {(flags >> 2) & 0b111} in .vqz header"
    if flags & 0b11 not in (0, 1):
        return f"unknown colour mode {flags & 0b11} in .vqz header"
    return None


Record = tuple[int, int, tuple[int, ...]]  # a layer record: (layer id, param, stream lengths)


def records_problem(records: tuple[Record, ...]) -> str | None:
    """Why a list of layer records breaks the container's rules (None if it does not): at most
    MAX_LAYERS, ids >= 1 strictly increasing (the order layers run in), at most
    MAX_LAYER_STREAMS streams each. Which ids exist is the layer registry's business."""
    if len(records) > MAX_LAYERS:
        return f"malformed .vqz header ({len(records)} layers; at most {MAX_LAYERS})"
    ids = [layer for layer, _, _ in records]
    if any(b <= a for a, b in zip([0, *ids], ids, strict=False)):
        return f"malformed .vqz header (layer ids {ids} not increasing from 1)"
    if any(len(lengths) > MAX_LAYER_STREAMS for _, _, lengths in records):
        return f"malformed .vqz header (a layer with over {MAX_LAYER_STREAMS} streams)"
    return None


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # "magic", "u8", "u16", "u32", "varint", "varints", "records"
    since: int = 1
    until: int = VERSION
    when: Callable[[Values], bool] | None = None  # present only if this holds of earlier fields
    count: Callable[[Values], int] | None = None  # "varints": how many
    check: Callable[[Values], str | None] | None = None  # why the value read is refused

    def applies(self, v: Values) -> bool:
        return self.since <= int(v["version"]) <= self.until and (self.when is None or self.when(v))


_ALL = 99  # no upper version bound

HEADER: tuple[Field, ...] = (
    Field("magic", "magic", until=_ALL,
          check=lambda v: _problem(v["magic"] != MAGIC, "not a .vqz file (bad magic bytes)")),
    Field("version", "u8", until=_ALL, check=lambda v: _check_version(v)),
    Field("model_id", "u16", until=_ALL),
    Field("fingerprint", "u32", until=_ALL),
    Field("flags", "u8", until=_ALL, check=_check_flags),
    Field("arithmetic", "u8", since=2, check=lambda v: _problem(
        v["arithmetic"] != ARITHMETIC_INT8_PRIOR,
        f"unknown prior arithmetic {v['arithmetic']} in .vqz header")),
    Field("coder", "u8", since=2, check=lambda v: _problem(
        v["coder"] != CODER_RANGE_2_23, f"unknown entropy coder {v['coder']} in .vqz header")),
    Field("width", "varint", until=_ALL),
    Field("height", "varint", until=_ALL),
    Field("tile", "varint", since=2, check=lambda v: _problem(
        0 < int(v["tile"]) < MIN_TILE, f"malformed .vqz header (tiles of {v['tile']} codes)")),
    Field("maps", "varint", since=2),
    Field("tiles", "varint", since=2, check=lambda v: _problem(
        not 1 <= int(v["maps"]) <= MAX_MAPS or not 1 <= int(v["tiles"]) * int(v["maps"])
        <= MAX_STREAMS, f"malformed .vqz header ({v['tiles']} tiles of {v['maps']} maps)")),
    Field("lengths", "varints", since=2, count=lambda v: int(v["tiles"]) * int(v["maps"])),
    Field("lengths", "varints", until=1, count=lambda v: 2),  # format 1: top, bottom
    Field("refine_step", "varint", since=3, until=5),
    Field("stripes", "varint", since=3, until=5, when=lambda v: int(v["refine_step"]) > 0,
          check=lambda v: _problem(not 1 <= int(v["stripes"]) <= MAX_STRIPES,
                                   f"malformed .vqz header ({v['stripes']} refinement stripes)")),
    Field("refine_lengths", "varints", since=3, until=5, when=lambda v: int(v["refine_step"]) > 0,
          count=lambda v: int(v["stripes"])),
    Field("filter_length", "varint", since=4, until=5),
    Field("layers", "records", since=6),  # checked record by record as read
)  # fmt: skip

_FIXED = {"u8": struct.Struct("<B"), "u16": struct.Struct("<H"), "u32": struct.Struct("<I")}
VARINT_BYTES = 5  # at most: 35 bits


def varint(value: int) -> bytes:
    """Unsigned LEB128."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def write(v: Values) -> bytes:
    """The header bytes of the field values `v` (the walk `read` inverts)."""
    out = bytearray()
    for f in HEADER:
        if not f.applies(v):
            continue
        value = v[f.name]
        if f.kind == "magic":
            out += MAGIC
        elif f.kind in _FIXED:
            out += _FIXED[f.kind].pack(value)
        elif f.kind == "varint":
            out += varint(int(value))
        elif f.kind == "varints":
            out += b"".join(varint(int(x)) for x in value)  # type: ignore[union-attr]
        else:
            out += _write_records(value)  # type: ignore[arg-type]
    return bytes(out)


def _write_records(records: tuple[Record, ...]) -> bytes:
    """count, then per record: layer id, param, stream count, stream lengths (all varints)."""
    out = bytearray(varint(len(records)))
    for layer, param, lengths in records:
        out += varint(layer) + varint(param) + varint(len(lengths))
        out += b"".join(varint(n) for n in lengths)
    return bytes(out)


def _read_records(take: Callable[[int], bytes]) -> tuple[Record, ...]:
    """The inverse of `_write_records`, refusing a count, id order or stream count the
    container forbids before reading what it announces."""
    count = _read_varint(take)
    if count > MAX_LAYERS:
        raise FormatError(f"malformed .vqz header ({count} layers; at most {MAX_LAYERS})")
    records: list[Record] = []
    for _ in range(count):
        layer, param, streams = (_read_varint(take) for _ in range(3))
        if streams > MAX_LAYER_STREAMS:
            raise FormatError(f"malformed .vqz header (layer {layer} with {streams} streams)")
        records.append((layer, param, tuple(_read_varint(take) for _ in range(streams))))
        if problem := records_problem(tuple(records)):
            raise FormatError(problem)
    return tuple(records)


def read(take: Callable[[int], bytes]) -> Values:
    """The field values pulled from `take(n)` (exactly n bytes or FormatError), each checked as
    soon as it is read, so nothing a bad field announces is read."""
    v: Values = {"version": 1}  # "magic" and "version" apply to every version
    for f in HEADER:
        if not f.applies(v):
            continue
        if f.kind == "magic":
            v[f.name] = take(len(MAGIC))
        elif f.kind in _FIXED:
            (v[f.name],) = _FIXED[f.kind].unpack(take(_FIXED[f.kind].size))
        elif f.kind == "varint":
            v[f.name] = _read_varint(take)
        elif f.kind == "records":
            v[f.name] = _read_records(take)
        else:
            assert f.count is not None
            v[f.name] = tuple(_read_varint(take) for _ in range(f.count(v)))
        if f.check is not None and (problem := f.check(v)):
            raise FormatError(problem)
    return v


def _read_varint(take: Callable[[int], bytes]) -> int:
    value = 0
    for shift in range(0, 7 * VARINT_BYTES, 7):
        byte = take(1)[0]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value
    raise FormatError("malformed .vqz header (varint too long)")
