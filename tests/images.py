"""Small test images built in memory: a phone-style rotated JPEG, a Display-P3 PNG, animations,
16-bit PNGs and hand-made chunks. Nothing here is read from disk."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

ORIENTATION = 0x0112  # the EXIF tag viewers rotate by


def encoded(im: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **options)
    return buf.getvalue()


def halves(width: int, height: int, left: tuple, right: tuple) -> Image.Image:
    """An RGB image whose left half is one flat colour and right half another."""
    arr = np.empty((height, width, 3), np.uint8)
    arr[:, : width // 2] = left
    arr[:, width // 2 :] = right
    return Image.fromarray(arr)


def rotated_jpeg(im: Image.Image, orientation: int = 6) -> bytes:
    """`im` stored as a phone stores a portrait photo: pixels as the sensor saw them, plus an
    EXIF Orientation tag (6: viewers rotate 90 degrees clockwise)."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    return encoded(im, "JPEG", quality=95, exif=exif.tobytes())


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _mluc(text: str) -> bytes:
    body = text.encode("utf-16-be")
    return b"mluc" + bytes(4) + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(body), 28) + body


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + bytes(4) + _s15(x) + _s15(y) + _s15(z)


def _profile(space: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    """An ICC v4 display profile of colour space `space` ('RGB ' or 'GRAY') with `tags`."""
    offset = 128 + 4 + 12 * len(tags)
    table, data = struct.pack(">I", len(tags)), b""
    for sig, body in tags:
        body += bytes(-len(body) % 4)
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = struct.pack(">I4sI4s4s4s", size, b"lcms", 0x04300000, b"mntr", space, b"XYZ ")
    header += struct.pack(">6H", 2024, 1, 1, 0, 0, 0) + b"acsp" + bytes(24)
    header += struct.pack(">I", 0) + _xyz(0.9642, 1.0, 0.8249)[8:] + bytes(4) + bytes(16)
    header += bytes(128 - len(header))
    return header + table + data


def display_p3_profile() -> bytes:
    """A Display P3 ICC profile (matrix + sRGB transfer curve), colorants adapted to D50 as in
    Apple's profile. Pillow can only create sRGB, Lab and XYZ profiles itself."""
    trc = b"para" + bytes(4) + struct.pack(">HH", 3, 0)
    trc += b"".join(_s15(v) for v in (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045))
    return _profile(
        b"RGB ",
        [
            (b"desc", _mluc("Display P3 (vqcodec test)")),
            (b"cprt", _mluc("No copyright, use freely")),
            (b"wtpt", _xyz(0.9642, 1.0, 0.8249)),
            (b"rXYZ", _xyz(0.515102, 0.241196, -0.001050)),
            (b"gXYZ", _xyz(0.291965, 0.692236, 0.041885)),
            (b"bXYZ", _xyz(0.157153, 0.066568, 0.784073)),
            (b"rTRC", trc),
            (b"gTRC", trc),
            (b"bTRC", trc),
        ],
    )


def gray_profile(gamma: float) -> bytes:
    """A grayscale ICC profile with a pure power-law tone curve."""
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)
    return _profile(
        b"GRAY",
        [
            (b"desc", _mluc(f"Gray gamma {gamma} (vqcodec test)")),
            (b"cprt", _mluc("No copyright, use freely")),
            (b"wtpt", _xyz(0.9642, 1.0, 0.8249)),
            (b"kTRC", curve),
        ],
    )


def chunk(kind: bytes, body: bytes) -> bytes:
    """A PNG chunk with its CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_16bit(arr: np.ndarray) -> bytes:
    """A 16-bit PNG (RGB for H x W x 3, grayscale for H x W) from a uint16 array."""
    gray = arr.ndim == 2
    height, width = arr.shape[:2]
    raw = b"".join(b"\0" + arr[y].astype(">u2").tobytes() for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 0 if gray else 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with no real pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def png_with_chunk(im: Image.Image, kind: bytes, body: bytes) -> bytes:
    """`im` as PNG with one extra chunk inserted right after IHDR."""
    data = encoded(im, "PNG")
    cut = 8 + 8 + 13 + 4
    return data[:cut] + chunk(kind, body) + data[cut:]


def frames(n: int, size: tuple[int, int] = (16, 12)) -> list[Image.Image]:
    return [Image.new("RGB", size, (40 * k, 255 - 40 * k, 90)) for k in range(n)]


def animated(fmt: str, n: int = 3) -> bytes:
    """An animated GIF / APNG / WebP, or a multi-page TIFF, of `n` distinct frames."""
    first, *rest = frames(n)
    return encoded(first, fmt, save_all=True, append_images=rest, duration=100)
