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
import struct
from pathlib import Path
from typing import IO

from vqcodec import bitstream
from vqcodec.errors import FormatError, InputReadError, InputTypeError

VqzSource = bytes | bytearray | memoryview | str | os.PathLike | IO[bytes]

# No .vqz payload comes near this: the coded indices cost a few bits per 16 pixels. A header
# claiming more is refused before its payload is read.
MAX_BYTES_PER_PIXEL = 4


def _read(stream: IO[bytes], n: int, name: str) -> bytes:
    """Up to `n` bytes (fewer only at the end of the stream)."""
    parts, left = [], n
    while left > 0:
        try:
            part = stream.read(left)
        except OSError as exc:
            raise InputReadError(f"cannot read {name}: {exc.strerror or exc}") from None
        if part is None:  # a non-blocking stream with nothing ready: treat as its end
            break
        if not isinstance(part, bytes | bytearray):
            raise InputTypeError(f"{name} must be opened in binary mode ('rb')")
        if not part:
            break
        parts.append(bytes(part))
        left -= len(part)
    return b"".join(parts)


def _header(read) -> tuple[bitstream.Header, bytes]:
    """(header, the header's bytes) pulled from `read(n)`, with a sanity bound on the payload
    it announces."""
    header, fields, crc = bitstream.read_header(read)
    payload = header.payload_bytes
    if payload > MAX_BYTES_PER_PIXEL * header.width * header.height + 4096:
        raise FormatError(
            f"invalid .vqz header: {payload} payload bytes for a "
            f"{header.width}x{header.height} image"
        )
    return header, fields + struct.pack("<HI", bitstream.header_check(fields), crc)


def _open_path(source: str | os.PathLike) -> tuple[IO[bytes], str]:
    path = Path(source)
    try:
        if stat.S_ISDIR(path.stat().st_mode):
            raise InputReadError(f"{path} is a folder, not a .vqz file")
        return path.open("rb"), str(path)
    except OSError as exc:
        raise InputReadError(f"{exc.strerror or exc}: {path}") from None


def _stream_of(source: object) -> tuple[IO[bytes], str, bool]:
    """(binary stream, name for messages, whether we opened it and must close it)."""
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


def read_vqz(source: VqzSource) -> bytes:
    """The bytes of a .vqz file, read no further than its header announces (plus one byte)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    stream, name, owned = _stream_of(source)
    try:
        header, head = _header(lambda n: _read(stream, n, name))
        return head + _read(stream, header.payload_bytes + 1, name)
    finally:
        if owned:
            stream.close()


def read_header(source: VqzSource) -> tuple[bitstream.Header, int, int]:
    """(header, header bytes, file bytes) reading only the header. From bytes or a path the
    file's real size is checked against the header's; from a stream the header is believed."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        header = bitstream.unpack(data).header
        return header, len(data) - header.payload_bytes, len(data)
    stream, name, owned = _stream_of(source)
    try:
        header, head = _header(lambda n: _read(stream, n, name))
        header_bytes, total = len(head), len(head) + header.payload_bytes
        info = os.fstat(stream.fileno()) if owned else None
        if info is not None and stat.S_ISREG(info.st_mode):  # not a pipe or a device
            size = info.st_size
            if size < total:
                raise FormatError(f"truncated .vqz file ({size} bytes, header says {total})")
            if size > total:
                raise FormatError(f"trailing data after the .vqz payload ({size - total} bytes)")
        return header, header_bytes, total
    finally:
        if owned:
            stream.close()
