"""Turning user input into an 8-bit RGB array, and decoded arrays back into images.

Accepted: a path, a PIL image, or a uint8 numpy array (H x W x 3 RGB, or H x W grayscale).
Mode policy, lossless where possible:
- RGB as is; YCbCr converted to RGB.
- L (grayscale) and 1 (bilevel) are coded as RGB and decoded as L (grayscale).
- P (palette) is coded and decoded as RGB (a lossy codec cannot keep a palette).
- Alpha (RGBA, LA, PA, P with transparency): a fully opaque alpha is dropped silently; any real
  transparency is refused unless `drop_alpha=True` (then it is discarded: colours are coded as
  stored, not composited).
- Everything else (16-bit, 32-bit int, float, CMYK, LAB, HSV) is refused.
Images over `MAX_PIXELS` (or `MAX_SIDE` per side) are refused from the file header, before the
pixels are decoded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from vqcodec.bitstream import COLOUR_GRAY, COLOUR_RGB, MAX_PIXELS, size_problem
from vqcodec.errors import ImageInputError

ImageLike = str | Path | Image.Image | np.ndarray

_GRAY_MODES = {"L", "1", "LA", "La"}
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_COLOUR_MODES = {"RGB", "YCbCr", "P"}


def check_size(width: int, height: int) -> None:
    if problem := size_problem(width, height):
        raise ImageInputError(problem)


def _open(path: Path) -> Image.Image:
    if not path.exists():
        raise ImageInputError(f"no such file: {path}")
    if path.is_dir():
        raise ImageInputError(f"{path} is a folder, not an image")
    try:
        im = Image.open(path)
    except UnidentifiedImageError:
        raise ImageInputError(f"{path} is not an image file Pillow can read") from None
    except Image.DecompressionBombError:
        raise ImageInputError(f"{path} is over the limit of {MAX_PIXELS} pixels") from None
    except OSError as exc:
        raise ImageInputError(f"cannot read {path}: {exc}") from None
    check_size(*im.size)
    try:
        im.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageInputError(f"{path} is truncated or corrupt: {exc}") from None
    return im


def _from_array(arr: np.ndarray) -> Image.Image:
    if arr.dtype != np.uint8:
        raise ImageInputError(f"numpy input must be uint8, got {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 3:
        check_size(arr.shape[1], arr.shape[0])
        return Image.fromarray(np.ascontiguousarray(arr), "RGB")
    if arr.ndim == 2:
        check_size(arr.shape[1], arr.shape[0])
        return Image.fromarray(np.ascontiguousarray(arr), "L")
    raise ImageInputError(f"numpy input must be H x W x 3 or H x W, got shape {arr.shape}")


def _strip_alpha(im: Image.Image, drop_alpha: bool) -> Image.Image:
    if im.mode == "P":
        im = im.convert("RGBA")
    alpha = im.getchannel("A")
    if alpha.getextrema() != (255, 255) and not drop_alpha:
        raise ImageInputError(
            "image has transparency; vqcodec codes colour only (use --drop-alpha / "
            "drop_alpha=True to discard the alpha channel)"
        )
    return im.convert("L" if im.mode in _GRAY_MODES else "RGB")


def to_rgb(image: ImageLike, drop_alpha: bool = False) -> tuple[np.ndarray, int]:
    """(H x W x 3 uint8 array, colour mode for the header) from any accepted input."""
    if isinstance(image, np.ndarray):
        im = _from_array(image)
    elif isinstance(image, Image.Image):
        im = image
        check_size(*im.size)
    elif isinstance(image, str | Path):
        im = _open(Path(image))
    else:
        raise ImageInputError(f"cannot code an object of type {type(image).__name__}")
    has_alpha = im.mode in _ALPHA_MODES or (im.mode == "P" and "transparency" in im.info)
    if has_alpha:
        im = _strip_alpha(im, drop_alpha)
    if im.mode in _GRAY_MODES:
        return np.asarray(im.convert("RGB")), COLOUR_GRAY
    if im.mode in _COLOUR_MODES:
        return np.asarray(im.convert("RGB")), COLOUR_RGB
    raise ImageInputError(
        f"unsupported image mode {im.mode!r} (vqcodec codes 8-bit RGB or grayscale; "
        "convert 16-bit, float or CMYK images first)"
    )


def to_image(rgb: np.ndarray, colour: int) -> Image.Image:
    """The decoded H x W x 3 uint8 array as a PIL image in the original colour mode."""
    im = Image.fromarray(rgb, "RGB")
    return im.convert("L") if colour == COLOUR_GRAY else im
