"""The image formats `vqcodec decode` writes, chosen by `-o`'s extension or `--format`.

An allow-list, not everything Pillow knows: Pillow reads many formats it cannot write (PSD,
...), and writes some only for other modes (BLP, XBM, ...) or not as the image is (ICO resizes,
GIF reduces to 256 colours). Each of these writes both decoded modes, RGB and grayscale (QOI
has no grayscale: written as RGB); the lossy ones (JPEG, WebP, AVIF, JPEG 2000) use Pillow's
default quality. Formats this Pillow build cannot write (AVIF, JPEG 2000 need their libraries)
are left out, so the list in error messages is what works here.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

_EXTENSIONS = {
    "PNG": (".png",),
    "JPEG": (".jpg", ".jpeg"),
    "WEBP": (".webp",),
    "AVIF": (".avif",),
    "JPEG2000": (".jp2", ".j2k"),
    "TIFF": (".tif", ".tiff"),
    "BMP": (".bmp",),
    "PPM": (".ppm", ".pnm"),
    "TGA": (".tga",),
    "QOI": (".qoi",),
}
_RGB_ONLY = {"QOI"}


def writable() -> dict[str, tuple[str, ...]]:
    """Format name -> its extensions, for the formats this Pillow can write."""
    Image.init()
    return {fmt: exts for fmt, exts in _EXTENSIONS.items() if fmt in Image.SAVE}


def extensions_text() -> str:
    return ", ".join(ext for exts in writable().values() for ext in exts)


def format_names() -> list[str]:
    """Lower-case names for `--format` (jpeg, png, ...)."""
    return [fmt.lower() for fmt in writable()]


def format_for(path: str | Path) -> str | None:
    """The format an output file name asks for, or None if it is not one we write."""
    suffix = Path(path).suffix.lower()
    return next((fmt for fmt, exts in writable().items() if suffix in exts), None)


def encode_image(image: Image.Image, fmt: str) -> bytes:
    """`image` (RGB or L) as a file of format `fmt`."""
    if fmt in _RGB_ONLY and image.mode != "RGB":
        image = image.convert("RGB")
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()
