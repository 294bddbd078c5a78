"""Turning user input into an 8-bit sRGB array, and decoded arrays back into images.

Accepted: a path, an encoded image file (bytes or a binary file object), a PIL image, or a
uint8 numpy array (H x W x 3 RGB, or H x W grayscale; taken as sRGB).

The image is coded as a viewer shows it:
- EXIF orientation is applied first (a phone's portrait photo stays portrait).
- An embedded ICC profile is converted to sRGB with Pillow's ImageCms (its default, perceptual
  intent; matrix profiles such as Display P3 or Adobe RGB treat it as relative colorimetric).
  Why convert instead of carrying the profile: the models were trained on sRGB pixels, so
  sRGB is where their error is smallest, and the decoded file then shows the right colours in
  every viewer, colour-managed or not. A profile that does not fit the image (an RGB profile on
  a grayscale image) is ignored, as browsers do; one that cannot be read is an error.
- Only still images: an animation or a multi-page file (GIF, APNG, WebP, TIFF, ...) is refused,
  except the extra pictures of a camera's MPO file (viewers show its first picture, as we code).

Mode policy, one line for every PIL mode:
- RGB, RGBX, YCbCr, HSV, LAB and P (palette) are coded as RGB.
- L, 1 (bilevel) and 16-bit grayscale (I;16*) are coded as RGB and decoded as L. 16-bit images
  (grayscale, and RGB PNGs, which Pillow opens as 8-bit RGB) are reduced to 8 bits by keeping
  the high byte, the same reduction for both: the codec's error is far above 1/256.
- Alpha (RGBA, RGBa, LA, La, PA, a transparent palette entry or colour key): a fully opaque
  alpha is dropped silently; real transparency is refused unless `drop_alpha=True` (then it is
  discarded: colours are coded as stored, not composited).
- CMYK (its colours depend on a print profile), I (32-bit integer) and F (float) have no
  defined 8-bit sRGB meaning and are refused.
Images over `MAX_PIXELS` (or `MAX_SIDE` per side) are refused from the file header, before the
pixels are decoded. Any failure of Pillow on a broken file is an `ImageInputError`.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from vqcodec.errors import ImageInputError, InputTypeError, VQCodecError, read_failure, shown_path
from vqcodec.format.bitstream import COLOUR_GRAY, COLOUR_RGB, MAX_PIXELS, MAX_SIDE, size_problem

Encoded = str | os.PathLike | bytes | bytearray | memoryview | IO[bytes]  # a file, or its bytes
ImageLike = Encoded | Image.Image | np.ndarray

MAX_INPUT_BYTES = 1 << 30  # an encoded image read from a pipe; far above any codable image

_GRAY_MODES = {"L", "1", "LA", "La", "I;16", "I;16L", "I;16B", "I;16N"}
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_COLOUR_MODES = {"RGB", "RGBX", "YCbCr", "HSV", "LAB", "P"}
_WIDE_GRAY = {"I;16", "I;16L", "I;16B", "I;16N"}
_REFUSED = {
    "CMYK": "its colours depend on a print profile; convert it to RGB first",
    "I": "32-bit integer pixels have no defined 8-bit range; convert to 8 or 16 bits first",
    "F": "float pixels have no defined 8-bit range; convert to 8 or 16 bits first",
}
_PROFILE_SPACES = {"RGB": "RGB ", "L": "GRAY"}


def check_size(width: int, height: int) -> None:
    if problem := size_problem(width, height):
        raise ImageInputError(problem)


def _limit() -> str:
    return f"over the limit of {MAX_SIDE} per side and {MAX_PIXELS} pixels"


def _detail(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def _pillow_errors(name: str) -> Iterator[None]:
    """Pillow reading a file it did not write: any failure means the input cannot be read.

    Pillow raises many types on damaged data (OSError, ValueError, SyntaxError, struct.error,
    zlib.error, EOFError, IndexError, ...), so everything but an interrupt becomes one
    `ImageInputError` line. Its warnings (corrupt EXIF, ...) are not printed; the
    decompression-bomb warning is our size limit, an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except VQCodecError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageInputError(f"{name} is {_limit()}") from None
        except UnidentifiedImageError:
            raise ImageInputError(f"{name} is not an image file Pillow can read") from None
        except MemoryError:
            raise ImageInputError(f"{name} is corrupt (it asks for too much memory)") from None
        except Exception as exc:
            raise ImageInputError(f"{name} is truncated or corrupt: {_detail(exc)}") from None


def _read_bounded(stream: IO[bytes], name: str) -> bytes:
    """All of a non-seekable stream (a pipe), in chunks, refusing more than `MAX_INPUT_BYTES`."""
    parts, size = [], 0
    while size <= MAX_INPUT_BYTES:
        try:
            part = stream.read(min(1 << 20, MAX_INPUT_BYTES + 1 - size))
        except (OSError, ValueError) as exc:  # ValueError: a closed file
            raise ImageInputError(f"cannot read {name}: {read_failure(exc)}") from None
        if part is not None and not isinstance(part, bytes | bytearray):
            raise InputTypeError(f"{name} must be opened in binary mode ('rb')")
        if not part:  # the end (or, from a non-blocking stream, nothing ready: taken as the end)
            return b"".join(parts)
        parts.append(bytes(part))
        size += len(part)
    raise ImageInputError(f"{name} is over {MAX_INPUT_BYTES} bytes")


def _seekable(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, ValueError, OSError):
        return False


def _still_upright(im: Image.Image, name: str) -> Image.Image:
    """`im` decoded, refused if it has several frames, and turned as EXIF orientation says."""
    check_size(*im.size)
    if getattr(im, "n_frames", 1) > 1 and im.format != "MPO":
        raise ImageInputError(
            f"{name} has {im.n_frames} frames (an animation or a multi-page file); "
            "vqcodec codes still images: extract one frame first"
        )
    im.load()
    return ImageOps.exif_transpose(im)


def _decode(fp: IO[bytes], name: str) -> Image.Image:
    with _pillow_errors(name):
        return _still_upright(Image.open(fp), name)


def _open(source: object) -> tuple[Image.Image, str]:
    """A decoded, still, upright PIL image from a path, bytes or file object, and its name."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        shown = shown_path(path)
        if "\0" in str(path):
            raise ImageInputError("a file name cannot contain a NUL character")
        try:
            if not path.exists():
                raise ImageInputError(f"no such file: {shown}")
            if path.is_dir():
                raise ImageInputError(f"{shown} is a folder, not an image")
            fp = path.open("rb")
        except OSError as exc:
            raise ImageInputError(f"cannot read {shown}: {exc.strerror or exc}") from None
        with fp:
            return _decode(fp, str(path)), str(path)
    if isinstance(source, bytes | bytearray | memoryview):
        return _decode(io.BytesIO(bytes(source)), "the input"), "the input"
    if isinstance(source, io.TextIOBase):
        raise InputTypeError("file objects must be opened in binary mode ('rb')")
    name = str(getattr(source, "name", "") or "the input")
    fp = source if _seekable(source) else io.BytesIO(_read_bounded(source, name))
    return _decode(fp, name), name


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


def _to_8bit(im: Image.Image) -> Image.Image:
    """16-bit grayscale to L, keeping the high byte (Pillow's own 16-bit RGB reduction)."""
    wide = np.asarray(im).astype(np.uint16)
    return Image.fromarray((wide >> 8).astype(np.uint8), "L")


def _has_alpha(im: Image.Image) -> bool:
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        return True
    return im.mode == "P" and im.palette is not None and im.palette.mode == "RGBA"


def _without_alpha(im: Image.Image, drop_alpha: bool) -> Image.Image:
    """L or RGB without the alpha channel; an error if the alpha is real and not dropped."""
    if im.mode in _WIDE_GRAY:  # a 16-bit colour key
        opaque = not np.any(np.asarray(im) == im.info["transparency"])
        flat = _to_8bit(im)
    else:
        with_alpha = im.convert("LA" if im.mode in _GRAY_MODES else "RGBA")
        opaque = with_alpha.getchannel("A").getextrema() == (255, 255)
        flat = with_alpha.convert("L" if with_alpha.mode == "LA" else "RGB")
    if not opaque and not drop_alpha:
        raise ImageInputError(
            "image has transparency; vqcodec codes colour only (use --drop-alpha / "
            "drop_alpha=True to discard the alpha channel)"
        )
    return flat


def _to_srgb(im: Image.Image, icc: bytes | None, name: str) -> Image.Image:
    """An L or RGB image converted from its ICC profile to sRGB; as is without a profile."""
    if not icc:
        return im
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if source.profile.xcolor_space != _PROFILE_SPACES[im.mode]:
            return im
        srgb = ImageCms.createProfile("sRGB")
        out = ImageCms.profileToProfile(im, source, srgb, outputMode="RGB")
    except Exception as exc:  # ImageCms.PyCMSError, OSError, ValueError on a damaged profile
        problem = f"{name} has an ICC profile that cannot be used: {_detail(exc)}"
        raise ImageInputError(problem) from None
    return out.convert("L") if im.mode == "L" else out


def _rgb_or_gray(im: Image.Image, drop_alpha: bool, name: str) -> Image.Image:
    """Mode policy (see the module docstring): an L or RGB image in sRGB, or an error."""
    icc = im.info.get("icc_profile")
    if im.mode not in _GRAY_MODES | _ALPHA_MODES | _COLOUR_MODES:
        why = _REFUSED.get(im.mode, "vqcodec codes 8/16-bit RGB or grayscale")
        raise ImageInputError(f"{name} has unsupported image mode {im.mode} ({why})")
    if _has_alpha(im):
        im = _without_alpha(im, drop_alpha)
    elif im.mode in _WIDE_GRAY:
        im = _to_8bit(im)
    im = im.convert("L" if im.mode in _GRAY_MODES else "RGB")
    return _to_srgb(im, icc, name)


def _image_of(image: object) -> tuple[Image.Image, str]:
    if isinstance(image, np.ndarray):
        return _from_array(image), "the array"
    if isinstance(image, Image.Image):
        with _pillow_errors("the image"):
            return _still_upright(image, "the image"), "the image"
    if isinstance(image, str | os.PathLike | bytes | bytearray | memoryview) or hasattr(
        image, "read"
    ):
        return _open(image)
    raise InputTypeError(
        f"cannot code an object of type {type(image).__name__} (give a path, bytes, a binary "
        "file, a PIL image or a uint8 numpy array)"
    )


def to_rgb(image: ImageLike, drop_alpha: bool = False) -> tuple[np.ndarray, int]:
    """(H x W x 3 uint8 sRGB array, colour mode for the header) from any accepted input."""
    im, name = _image_of(image)
    with _pillow_errors(name):
        im = _rgb_or_gray(im, drop_alpha, name)
    return np.asarray(im.convert("RGB")), COLOUR_GRAY if im.mode == "L" else COLOUR_RGB


def to_image(rgb: np.ndarray, colour: int) -> Image.Image:
    """The decoded H x W x 3 uint8 array as a PIL image in the original colour mode."""
    im = Image.fromarray(rgb, "RGB")
    return im.convert("L") if colour == COLOUR_GRAY else im
