"""Reading a .vqz file from bytes, a path or a binary file object (a pipe included).

Nothing is read without a bound: first the header, field by field (never more than
`bitstream.MAX_HEADER_BYTES`), then only as many bytes as the validated header says the file
holds (plus one, to notice trailing data), so `/dev/zero` or an endless pipe fails after a few
bytes instead of filling memory.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from typing import IO

from vqcodec import zoo
from vqcodec.errors import (
    CorruptStreamError,
    FormatError,
    InputReadError,
    InputTypeError,
    ModelError,
    read_failure,
    shown_path,
)
from vqcodec.format import bitstream, tiles
from vqcodec.model.config import ModelConfig

VqzSource = bytes | bytearray | memoryview | str | os.PathLike | IO[bytes]

# Trailing bytes read past the payload from a pipe to say how many there are (beyond: "at
# least"); from a regular file its size says it.
TRAILING_COUNTED = 1 << 16


def _read(stream: IO[bytes], n: int, name: str) -> bytes:
    """Up to `n` bytes (fewer only at the end of the stream)."""
    parts, left = [], n
    while left > 0:
        try:
            part = stream.read(left)
        except (OSError, ValueError) as exc:  # ValueError: a closed file
            raise InputReadError(f"cannot read {name}: {read_failure(exc)}") from None
        if part is None:  # a non-blocking stream with nothing ready: treat as its end
            break
        if not isinstance(part, bytes | bytearray):
            raise InputTypeError(f"{name} must be opened in binary mode ('rb')")
        if not part:
            break
        parts.append(bytes(part))
        left -= len(part)
    return b"".join(parts)


def _open_path(source: str | os.PathLike) -> tuple[IO[bytes], str]:
    try:
        path = Path(source)
        os.fspath(path).encode()
    except (TypeError, ValueError, UnicodeError) as exc:
        raise InputTypeError(f"not a usable file name: {exc}") from None
    if "\0" in str(path):
        raise InputReadError("a file name cannot contain a NUL character")
    try:
        if stat.S_ISDIR(path.stat().st_mode):
            raise InputReadError(f"{path} is a folder, not a .vqz file")
        return path.open("rb"), str(path)
    except (OSError, ValueError) as exc:
        raise InputReadError(f"{read_failure(exc)}: {shown_path(path)}") from None


def _stream_of(source: object) -> tuple[IO[bytes], str, bool]:
    """(binary stream, name for messages, whether we opened it and must close it)."""
    looks_like_data = "\0" in source or len(source) > 4096 if isinstance(source, str) else False
    if looks_like_data and source.startswith(bitstream.MAGIC.decode()):  # not a file name
        raise InputTypeError("got .vqz data as a str; pass bytes (open files with 'rb')")
    if isinstance(source, str | os.PathLike):
        return (*_open_path(source), True)
    if isinstance(source, io.TextIOBase):
        raise InputTypeError("file objects must be opened in binary mode ('rb')")
    if hasattr(source, "read"):
        name = str(getattr(source, "name", "") or "the input")
        return source, name, False  # type: ignore[return-value]
    raise InputTypeError(
        f"cannot read a .vqz file from an object of type {type(source).__name__} (give bytes, "
        "a path or a binary file object)"
    )


def _trailing(stream: IO[bytes], name: str, file_bytes: int) -> str:
    """How many bytes follow the payload (`file_bytes` read so far): a regular file's size says
    it; from a pipe, exact up to TRAILING_COUNTED more, then 'at least'."""
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        info = None
    if info is not None and stat.S_ISREG(info.st_mode):
        return f"{info.st_size - file_bytes + 1} bytes"
    more = 1 + len(_read(stream, TRAILING_COUNTED, name))
    return f"{more} bytes" if more <= TRAILING_COUNTED else f"at least {more} bytes"


def read_vqz(source: VqzSource) -> bitstream.Parsed:
    """A .vqz file read and checked as far as it can be without decoding: header and limits,
    length, the payload CRC (format 5). Reads no further than the header announces (plus what
    it takes to count trailing bytes)."""
    if isinstance(source, bitstream.Parsed):
        return source
    if isinstance(source, bytes | bytearray | memoryview):
        parsed = bitstream.unpack(bytes(source))
        check_layout(parsed.header)
        return parsed
    stream, name, owned = _stream_of(source)
    try:
        found = bitstream.read_header(lambda n: _read(stream, n, name))
        payload = _read(stream, found.header.payload_bytes + 1, name)
        if len(payload) > found.header.payload_bytes:
            read_so_far = len(found.raw) + len(payload)
            raise FormatError(
                f"trailing data after the .vqz payload ({_trailing(stream, name, read_so_far)})"
            )
        parsed = bitstream.unpack(found.raw + payload)
    finally:
        if owned:
            stream.close()
    check_layout(parsed.header)
    return parsed


def layout_problem(header: bitstream.Header) -> str | None:
    """Why the file's map layout (tiles and maps for its image size) cannot be its model's, or
    None. Needs the model's config only (no weights, no torch); ModelError if the model is not
    installed."""
    entry = zoo.by_id(header.model_id)
    try:
        cfg = ModelConfig.from_json((entry.folder / zoo.CONFIG_FILE).read_text())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"model {entry.name} cannot be loaded: {exc}") from None
    shapes = tiles.map_sizes(header.width, header.height, cfg.vqvae.stride, cfg.vqvae.levels)
    if header.maps != len(shapes):
        return f"{header.maps} code maps where model {entry.name} has {len(shapes)}"
    return tiles.tiling_problem(shapes, header.tile, len(header.lengths)) or _layers_problem(header)


def _layers_problem(header: bitstream.Header) -> str | None:
    """Each layer record checked by its layer (`vqcodec.layers`: torch-free)."""
    from vqcodec import layers

    for record in header.layers:
        layer = layers.by_id(record.layer)
        if layer is None:
            raise FormatError(
                f"the file needs layer {record.layer}, which this version of vqcodec does not "
                "know (a newer version wrote it)"
            )
        if problem := layer.layout_problem(record, header.width, header.height):
            return problem
    return None


def check_layout(header: bitstream.Header) -> None:
    """Refuse a layout its model cannot have before anything is decoded (`layout_problem`)."""
    if problem := layout_problem(header):
        raise CorruptStreamError(f"invalid .vqz header: {problem}")


def read_header(source: VqzSource) -> tuple[bitstream.Header, int, int]:
    """(header, header bytes, file bytes) reading only the header. From bytes or a path the
    file's real size is checked against the header's; from a stream the header is believed."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        header = bitstream.unpack(data).header
        return header, len(data) - header.payload_bytes, len(data)
    stream, name, owned = _stream_of(source)
    try:
        found = bitstream.read_header(lambda n: _read(stream, n, name))
        header_bytes = len(found.raw)
        total = header_bytes + found.header.payload_bytes
        info = os.fstat(stream.fileno()) if owned else None
        if info is not None and stat.S_ISREG(info.st_mode):  # not a pipe or a device
            size = info.st_size
            if size < total:
                raise FormatError(f"truncated .vqz file ({size} bytes, header says {total})")
            if size > total:
                raise FormatError(f"trailing data after the .vqz payload ({size - total} bytes)")
        return found.header, header_bytes, total
    finally:
        if owned:
            stream.close()
